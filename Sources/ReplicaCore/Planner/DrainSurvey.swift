/// Which files on a draining node still need its copy (``Planner`` rule 8), read from the
/// catalog a page at a time, most at risk first. The planner schedules from it; `status`
/// measures a drain's progress with it, so both always agree on what "drained" means.
///
/// ## What counts
///
/// A file's copies *elsewhere* are its live copies on nodes that are alive, not draining, and
/// either fresh or in a maintenance window (the operator said those count while silent). A
/// copy on a node that went silent without a window does not count: it may be gone, and the
/// drained node will be stopped. A file the draining node holds needs its copy while its
/// copies elsewhere are fewer than its N.
///
/// ## Why the scan can stop early
///
/// The catalog's K counts every live copy on an alive node. Only the alive nodes that do not
/// count for a drain (the draining ones and the silent ones) make the copies elsewhere fewer
/// than K, by one each at most. So with `b` such nodes, a file with `kn ≥ b` has at least N
/// copies elsewhere, and since the node's files come in ascending kn the scan stops at the
/// first of them. A drained node is one page of reading.
///
/// The same bound lets the planner read a draining node's files lazily (``DrainStream``):
/// the files not read yet have a kn at least the last one read, so their drain kn is at
/// least that minus `b`.
public struct DrainSurvey: Sendable {
    /// Nodes whose live copies count for a drain.
    let counting: Set<NodeID>
    /// Nodes that could receive a copy (alive, fresh, not draining, not in maintenance), with
    /// their quotas: a node whose quota is below a file's size can never hold it.
    let receivers: [NodeID: Int64]
    /// Alive nodes that do not count: no file with kn at or above this needs a drain copy.
    let bound: Int
    /// Draining nodes that are alive, in id order: the planner's sources of drain work.
    let drainingAlive: [NodeID]

    public init(nodes: [PlannerNode]) {
        counting = Set(nodes.filter(\.countsForDrain).map(\.id))
        receivers = Dictionary(nodes.filter(\.canReceive).map { ($0.id, $0.quota) }, uniquingKeysWith: max)
        bound = nodes.filter { $0.alive && !$0.countsForDrain }.count
        drainingAlive = nodes.filter { $0.alive && $0.draining }.map(\.id).sorted()
    }

    /// Live copies of a file on nodes that count for a drain.
    func copiesElsewhere(_ replicas: [ReplicaRecord]) -> Int {
        replicas.filter { $0.state == .live && counting.contains($0.node) }.count
    }

    /// Whether a file on a draining node needs a copy elsewhere: the file with its K replaced
    /// by its copies elsewhere when it does, nil when it does not.
    func needed(_ file: FileState, replicas: [ReplicaRecord]) -> FileState? {
        let elsewhere = copiesElsewhere(replicas)
        return elsewhere < file.n ? FileState(id: file.id, size: file.size, n: file.n, k: elsewhere) : nil
    }

    /// Calls `body` for every file on `node` that needs its copy, lowest kn first, with the
    /// file's K replaced by its copies elsewhere (so its kn is what the drain sees), and the
    /// file's replicas.
    func forEachNeeded(
        on node: NodeID, queries: any PlannerQueries, batchSize: Int,
        _ body: (FileState, [ReplicaRecord]) throws -> Void
    ) throws {
        var cursor: FileState?
        while true {
            let page = try queries.lowestKnFiles(on: node, after: cursor, limit: batchSize)
            guard let last = page.last else { return }
            cursor = last
            for file in page {
                if file.kn >= bound { return }
                let replicas = try queries.replicas(of: file.id)
                if let needed = needed(file, replicas: replicas) { try body(needed, replicas) }
            }
        }
    }

    /// How far the drain of `node` is: the files that still need its copy, and how many of
    /// them need more copies than the nodes that could take one can give.
    public func progress(of node: NodeID, queries: any PlannerQueries, batchSize: Int = 256) throws -> DrainProgress {
        var progress = DrainProgress(filesLeft: 0, bytesLeft: 0, beyondSwarm: 0)
        try forEachNeeded(on: node, queries: queries, batchSize: batchSize) { file, replicas in
            progress.filesLeft += 1
            progress.bytesLeft += file.size
            let holders = Set(replicas.map(\.node))
            let room = receivers.filter { !holders.contains($0.key) && $0.value >= file.size }.count
            if file.k + room < file.n { progress.beyondSwarm += 1 }
        }
        return progress
    }
}

/// A drain's progress, for `status`.
public struct DrainProgress: Sendable, Equatable {
    /// Files on the node whose copies elsewhere are fewer than their N.
    public var filesLeft: Int
    public var bytesLeft: Int64
    /// Of those, files that need more copies than every node able to take one could give
    /// (too few other nodes): the drain cannot finish for them until nodes are added.
    public var beyondSwarm: Int

    public init(filesLeft: Int, bytesLeft: Int64, beyondSwarm: Int) {
        self.filesLeft = filesLeft
        self.bytesLeft = bytesLeft
        self.beyondSwarm = beyondSwarm
    }
}

/// The files draining nodes hold that need a copy elsewhere, for one planning pass, read a
/// page at a time only as far as the pass gets (a node with a million files to drain costs a
/// pass what the pass plans, not a million reads).
///
/// Files come out in scheduling order by their drain kn (K = copies elsewhere), merged by the
/// planner with the catalog's order. Among files of equal drain kn they come in the order of
/// the node's index (catalog kn, size, id) rather than by K, size and id: reading far enough
/// to sort ties exactly would mean reading every file of that kn.
struct DrainStream {
    private struct Source {
        let node: NodeID
        var cursor: FileState?
        var exhausted = false
    }

    let survey: DrainSurvey
    let batchSize: Int
    private var sources: [Source]
    /// Read and needed, not handed out yet; kept in scheduling order.
    private var buffer: [FileState] = []
    /// Every needed file read so far: the planner skips them in the catalog's order.
    private(set) var seen: Set<FileID> = []

    init(survey: DrainSurvey, batchSize: Int) {
        self.survey = survey
        self.batchSize = batchSize
        sources = survey.drainingAlive.map { Source(node: $0) }
    }

    /// The lowest drain kn a file of `source` not read yet can have.
    private func floorKn(_ source: Source) -> Int {
        source.cursor.map { $0.kn - survey.bound } ?? Int.min
    }

    /// Removes and returns the next file in order if it comes before `file` in scheduling
    /// order (any next file when `file` is nil), reading pages as needed to know.
    mutating func next(before file: FileState?, queries: any PlannerQueries) throws -> FileState? {
        while true {
            let limit = buffer.first?.kn ?? file?.kn ?? Int.max
            guard let index = sources.indices.first(where: { !sources[$0].exhausted && floorKn(sources[$0]) < limit }) else { break }
            try read(index, queries: queries)
        }
        guard let first = buffer.first else { return nil }
        if let file, !FileState.schedulingOrder(first, file) { return nil }
        buffer.removeFirst()
        return first
    }

    private mutating func read(_ index: Int, queries: any PlannerQueries) throws {
        var source = sources[index]
        defer { sources[index] = source }
        let page = try queries.lowestKnFiles(on: source.node, after: source.cursor, limit: batchSize)
        if page.count < batchSize { source.exhausted = true }
        for file in page {
            // Past the bound no file of this node needs a copy (see DrainSurvey).
            if file.kn >= survey.bound {
                source.exhausted = true
                return
            }
            source.cursor = file
            guard !seen.contains(file.id),
                  let needed = survey.needed(file, replicas: try queries.replicas(of: file.id))
            else { continue }
            seen.insert(needed.id)
            let at = buffer.firstIndex { FileState.schedulingOrder(needed, $0) } ?? buffer.endIndex
            buffer.insert(needed, at: at)
        }
    }
}
