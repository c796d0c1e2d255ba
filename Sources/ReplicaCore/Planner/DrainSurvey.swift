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
                let elsewhere = copiesElsewhere(replicas)
                if elsewhere < file.n {
                    try body(FileState(id: file.id, size: file.size, n: file.n, k: elsewhere), replicas)
                }
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
