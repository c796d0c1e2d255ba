/// The working state of one planning pass: projected free space, copy slots and the effect
/// of the decisions already taken in this pass.
struct PlanningPass {
    struct Slot {
        var alive: Bool
        /// Heard from within the last report interval and not in a maintenance window (rule 9):
        /// a preferred source, counts for evictions.
        var fresh: Bool
        /// May receive copies and uploads: alive, fresh, not draining, not in maintenance.
        var receives: Bool
        var draining: Bool
        /// Its live copies count when a drain decides what is needed (rule 8).
        var countsForDrain: Bool
        var free: Int64
        var load: Double
        /// Copies of large files under way to the node, one slot each.
        var incoming = 0
        /// Copies of small files under way to the node, and their bytes: they share slots.
        var incomingSmall = 0
        var incomingSmallBytes: Int64 = 0
        var outgoing = 0

        /// Copy slots filled: one per large copy, one per ``PlannerLimits/batchesPerSlot`` full
        /// batches of small ones (by files or by bytes). A batch being filled leaves its slot open, so that a pass
        /// tops it up to a whole batch.
        func slotsFilled(_ limits: PlannerLimits) -> Int {
            let batches = max(1, limits.batchesPerSlot)
            let byFiles = incomingSmall / max(1, limits.batchFiles * batches)
            let byBytes = Int(incomingSmallBytes / max(1, limits.batchBytes * Int64(batches)))
            return incoming + max(byFiles, byBytes)
        }
    }

    let limits: PlannerLimits
    let queries: any PlannerQueries
    var slots: [NodeID: Slot] = [:]
    let order: [NodeID]
    let aliveCount: Int
    let backoff: Set<Placement>
    let survey: DrainSurvey
    /// Copies in flight of each file, from the master and from this pass.
    var copiesInFlight: [FileID: Int] = [:]
    /// Nodes sending or receiving a copy of each file in flight: the file may not be
    /// evicted from them.
    var copyEndpoints: [FileID: Set<NodeID>] = [:]
    /// kn lowered by evictions decided in this pass (the catalog snapshot does not show them).
    var knDelta: [FileID: Int] = [:]
    var evicted: Set<Placement> = []
    /// Highest stored kn of a live replica per node, read once per pass: an upper bound.
    var topKn: [NodeID: Int?] = [:]
    /// Nodes that are alive and fresh holding a live replica of each file checked as an
    /// eviction victim in this pass, read once per file.
    var freshHolders: [FileID: Set<NodeID>] = [:]
    /// Alive draining nodes holding a live replica of each file checked as a victim.
    var drainingHolders: [FileID: Set<NodeID>] = [:]
    private var openCache: [NodeID]?
    /// Nodes holding every file (``PlannerQueries/nodesHoldingEveryFile()``), read once per
    /// pass: true of the view the pass reads all along, whatever it books.
    private var holdingEverything: Set<NodeID>?

    init(limits: PlannerLimits, nodes: [PlannerNode], inFlight: InFlight, queries: any PlannerQueries) {
        self.limits = limits
        self.queries = queries
        self.backoff = inFlight.backoff
        order = nodes.map(\.id).sorted()
        aliveCount = nodes.filter(\.alive).count
        survey = DrainSurvey(nodes: nodes)
        for node in nodes {
            slots[node.id] = Slot(
                alive: node.alive, fresh: node.fresh && !node.maintenance, receives: node.canReceive, draining: node.draining,
                countsForDrain: node.countsForDrain, free: node.quota - node.used, load: node.load)
        }
        for copy in inFlight.copies {
            copiesInFlight[copy.file, default: 0] += 1
            copyEndpoints[copy.file, default: []].insert(copy.target)
            if let source = copy.source { copyEndpoints[copy.file, default: []].insert(source) }
            if !copy.recorded { slots[copy.target]?.free -= copy.size }
            if let source = copy.source {
                countIncoming(copy.size, on: copy.target)
                slots[source]?.outgoing += 1
            }
        }
        for eviction in inFlight.evictions {
            slots[eviction.node]?.free += eviction.size
        }
    }

    // MARK: Targets

    /// Nodes that can receive a copy now: alive and fresh, neither draining nor in
    /// maintenance, a free slot, load below the limit.
    mutating func openTargets() -> [NodeID] {
        if let openCache { return openCache }
        let open = order.filter { id in
            let slot = slots[id]!
            return slot.receives && slot.slotsFilled(limits) < limits.maxCopiesPerNode
                && slot.load < limits.maxLoad
        }
        openCache = open
        return open
    }

    var hasOpenTarget: Bool {
        mutating get { !openTargets().isEmpty }
    }

    /// Most free space first, then least load, then lowest id.
    func preferred(_ a: NodeID, _ b: NodeID) -> Bool {
        let x = slots[a]!, y = slots[b]!
        if x.free != y.free { return x.free > y.free }
        if x.load != y.load { return x.load < y.load }
        return a < b
    }

    /// kn as the catalog will have it once this pass's evictions are done.
    func effectiveKn(_ file: FileState) -> Int {
        file.kn + (knDelta[file.id] ?? 0)
    }

    mutating func topKn(of node: NodeID) throws -> Int? {
        if let known = topKn[node] { return known }
        let top = try queries.highestKnFiles(on: node, after: nil, limit: 1).first?.kn
        topKn[node] = top
        return top
    }

    /// Whether any of `nodes` could evict something for a file of kn `kn` (an upper bound:
    /// evictions in this pass only lower kn).
    mutating func evictionConceivable(for kn: Int, on nodes: [NodeID]) throws -> Bool {
        guard limits.allowEvictions else { return false }
        for node in nodes {
            if let top = try topKn(of: node), top - 1 >= limits.evictionFloor, top >= kn + 2 { return true }
        }
        return false
    }

    /// The bounds of the files this pass could still copy (``CandidateBounds``), from its
    /// open targets as they are now: what ``planCopy(of:)`` tests first, for every file.
    mutating func candidateBounds() throws -> CandidateBounds {
        // A target that holds every file can take none, whatever its room.
        if holdingEverything == nil { holdingEverything = try queries.nodesHoldingEveryFile() }
        let open = openTargets().filter { !holdingEverything!.contains($0) }
        var evictable: Int?
        if limits.allowEvictions {
            for node in open {
                // As evictionConceivable(for:on:): top − 1 ≥ floor and top ≥ kn + 2.
                if let top = try topKn(of: node), top - 1 >= limits.evictionFloor { evictable = max(evictable ?? top - 2, top - 2) }
            }
        }
        return CandidateBounds(
            kBelow: aliveCount, roomFor: open.map { slots[$0]!.free }.max() ?? -1, evictionUpToKn: evictable)
    }

    // MARK: Copies

    /// Decides the copy of `file`, if one is possible now, and books it in this pass.
    /// Rule 4: a file short of copies gets as many at once as it lacks (one while it has N).
    mutating func planCopy(of file: FileState) throws -> (CopyPlan, victims: [FileState])? {
        let underway = copiesInFlight[file.id] ?? 0
        if underway >= max(1, -effectiveKn(file)) { return nil }
        // Every alive node already holds a live copy or is receiving one: nowhere to put another.
        if file.k + underway >= aliveCount { return nil }
        let open = openTargets()
        // The kn the file will have once its copies under way land: an eviction for it must
        // still be a strict improvement then (rule 3).
        let kn = effectiveKn(file) + underway
        // Cheap test before reading the file's replicas: room somewhere, or an eviction that
        // could be allowed somewhere.
        let roomSomewhere = open.contains { slots[$0]!.free >= file.size }
        if !roomSomewhere, try !evictionConceivable(for: kn, on: open) { return nil }

        let replicas = try queries.replicas(of: file.id)
        let holders = Set(replicas.map(\.node))
        let sources = replicas.filter { replica in
            replica.state == .live && slots[replica.node]?.alive == true
                && !evicted.contains(Placement(file: file.id, node: replica.node))
        }.map(\.node)
        guard !sources.isEmpty else { return nil }
        let receiving = copyEndpoints[file.id] ?? []
        let targets = open.filter { node in
            !holders.contains(node) && !receiving.contains(node) && !backoff.contains(Placement(file: file.id, node: node))
        }
        guard !targets.isEmpty else { return nil }

        var target: NodeID?
        var evicting: [FileState] = []
        if let best = targets.filter({ slots[$0]!.free >= file.size }).min(by: { preferred($0, $1) }) {
            target = best
        } else {
            for node in targets.sorted(by: { preferred($0, $1) }) {
                if let victims = try evictions(on: node, toFit: file.size, forKn: kn, excluding: file.id) {
                    target = node
                    evicting = victims
                    break
                }
            }
        }
        guard let target else { return nil }
        // Fresh sources first: a silent one may be dead and the copy would only time out.
        let source = sources.min { a, b in
            let x = slots[a]!, y = slots[b]!
            return (x.fresh ? 0 : 1, x.outgoing, x.load, a.rawValue) < (y.fresh ? 0 : 1, y.outgoing, y.load, b.rawValue)
        }!
        book(file: file, on: target, evicting: evicting)
        countIncoming(file.size, on: target)
        slots[source]!.outgoing += 1
        copiesInFlight[file.id, default: 0] += 1
        copyEndpoints[file.id, default: []].formUnion([source, target])
        openCache = nil
        return (CopyPlan(file: file.id, size: file.size, source: source, target: target, evicting: evicting.map(\.id)), evicting)
    }

    /// Takes a copy slot on `node` for a copy of `size` bytes (a share of one for a small file).
    mutating func countIncoming(_ size: Int64, on node: NodeID) {
        if limits.isBatched(size) {
            slots[node]?.incomingSmall += 1
            slots[node]?.incomingSmallBytes += size
        } else {
            slots[node]?.incoming += 1
        }
    }

    // MARK: Uploads

    mutating func placeUpload(size: Int64, kn: Int) throws -> UploadPlacement? {
        let alive = order.filter { slots[$0]!.receives }
        if let best = alive.filter({ slots[$0]!.free >= size }).min(by: { preferred($0, $1) }) {
            return UploadPlacement(target: best, evicting: [])
        }
        for node in alive.sorted(by: { preferred($0, $1) }) {
            if let victims = try evictions(on: node, toFit: size, forKn: kn, excluding: nil) {
                return UploadPlacement(target: node, evicting: victims.map(\.id))
            }
        }
        return nil
    }

    // MARK: Evictions

    /// A node's live files in eviction order (highest stored kn first), read from the
    /// catalog a page at a time and kept for the whole pass, so that the hundredth eviction
    /// on a node does not re-read the ninety-nine before it.
    struct VictimBuffer {
        var items: [FileState] = []
        var cursor: FileState?
        var exhausted = false
    }

    var victimBuffers: [NodeID: VictimBuffer] = [:]

    /// Reads the next page of `node`'s eviction order into its buffer; false at the end.
    mutating func fetchVictims(on node: NodeID) throws -> Bool {
        var buffer = victimBuffers[node] ?? VictimBuffer()
        defer { victimBuffers[node] = buffer }
        if buffer.exhausted { return false }
        let page = try queries.highestKnFiles(on: node, after: buffer.cursor, limit: limits.batchSize)
        guard let last = page.last else {
            buffer.exhausted = true
            return false
        }
        buffer.cursor = last
        buffer.items += page
        return true
    }

    /// The highest-kn files on `node` whose eviction frees room for `size` bytes under the
    /// rules, or nil when the rules do not allow enough.
    ///
    /// Both rules use the kn the catalog will have after this pass's evictions. For the floor,
    /// kn(G) counts only G's live replicas on fresh nodes (``freshKn(of:)``): a copy on a node
    /// that has gone silent may already be gone. A file with a copy in flight may be evicted,
    /// but never from that copy's source or target.
    mutating func evictions(
        on node: NodeID, toFit size: Int64, forKn kn: Int, excluding file: FileID?
    ) throws -> [FileState]? {
        let floor = limits.evictionFloor
        guard limits.allowEvictions else { return nil }
        guard let top = try topKn(of: node), top - 1 >= floor, top >= kn + 2 else { return nil }
        var needed = size - slots[node]!.free
        var victims: [FileState] = []
        var index = 0
        while needed > 0 {
            if index == victimBuffers[node]?.items.count ?? 0 {
                guard try fetchVictims(on: node) else { return nil }
            }
            let candidate = victimBuffers[node]!.items[index]
            // The order is by stored kn, which bounds the effective kn from above (evictions
            // only lower it): past these bounds no later file can qualify.
            if candidate.kn - 1 < floor || candidate.kn < kn + 2 { return nil }
            // Gone from this node, at the floor, or not over-replicated enough for this file:
            // drop it for the rest of the pass. Files come in ascending kn, so a victim too low
            // for this file is too low for the next ones too (a file whose kn this pass lowered
            // may miss one; the next pass reads the buffers afresh).
            if evicted.contains(Placement(file: candidate.id, node: node)) || effectiveKn(candidate) - 1 < floor
                || effectiveKn(candidate) < kn + 2 {
                victimBuffers[node]!.items.remove(at: index)
                continue
            }
            index += 1
            guard candidate.id != file,
                  !(copyEndpoints[candidate.id]?.contains(node) ?? false)
            else { continue }
            // Read last, as it costs a query: with silent holders not counted, G would drop
            // below the floor. Fresh kn only falls during a pass, so G stays out for this pass.
            // Nor is G's kn over-stated by copies on draining nodes (rule 8): without them
            // the eviction must still be a strict improvement, or a drain would only trade places.
            // Whatever the floor (the simulator tries negative ones), never a file's last copy.
            if try freshKn(of: candidate) - 1 < max(floor, 1 - candidate.n) || drainKn(of: candidate) < kn + 2 {
                index -= 1
                victimBuffers[node]!.items.remove(at: index)
                continue
            }
            victims.append(candidate)
            needed -= candidate.size
        }
        // Keep only the evictions the file needs: a victim whose space turns out to be
        // superfluous (a later, larger one covered it) stays. Otherwise it would fit in the
        // space left over and be copied straight back.
        for index in victims.indices.reversed() where needed + victims[index].size <= 0 {
            needed += victims[index].size
            victims.remove(at: index)
        }
        return victims
    }

    /// kn of `file` counting only its live replicas on alive, fresh nodes that are not draining,
    /// less those this pass evicts: at most the catalog's kn, lower while a holder is silent,
    /// in maintenance or draining (its copy is about to go away with the node).
    mutating func freshKn(of file: FileState) throws -> Int {
        try readVictimHolders(of: file)
        return freshHolders[file.id]!.filter { !evicted.contains(Placement(file: file.id, node: $0)) }.count - file.n
    }

    /// kn of `file` as the catalog will have it after this pass's evictions, less its live
    /// copies on draining nodes (rule 8).
    mutating func drainKn(of file: FileState) throws -> Int {
        try readVictimHolders(of: file)
        return effectiveKn(file) - drainingHolders[file.id]!.count
    }

    private mutating func readVictimHolders(of file: FileState) throws {
        guard freshHolders[file.id] == nil else { return }
        var fresh: Set<NodeID> = [], draining: Set<NodeID> = []
        for replica in try queries.replicas(of: file.id) where replica.state == .live {
            guard let slot = slots[replica.node], slot.alive else { continue }
            if slot.draining {
                draining.insert(replica.node)
            } else if slot.fresh {
                fresh.insert(replica.node)
            }
        }
        freshHolders[file.id] = fresh
        drainingHolders[file.id] = draining
    }

    /// Books a placement: the evicted files lose one replica, their space goes to `file`.
    mutating func book(file: FileState, on node: NodeID, evicting victims: [FileState]) {
        let chosen = Set(victims.map(\.id))
        victimBuffers[node]?.items.removeAll { chosen.contains($0.id) }
        for victim in victims {
            knDelta[victim.id, default: 0] -= 1
            evicted.insert(Placement(file: victim.id, node: node))
            slots[node]!.free += victim.size
        }
        slots[node]!.free -= file.size
        openCache = nil
    }
}
