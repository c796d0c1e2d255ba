/// Works out why files with K < N are not at N yet (``RepairReason``), for `status` and
/// `fsdfsd at-risk`.
///
/// Pure like the ``Planner``, and built on its ``PlanningPass``: the same free space (less the
/// copies in flight, plus the evictions in flight), the same candidate targets and the same
/// eviction rules, so a file it calls stuck is one the planner would not copy. It reads the
/// catalog only through ``PlannerQueries`` (a node's highest-kn files, when evictions are
/// considered), has no clock and no I/O. One diagnosis serves one view; it books nothing.
///
/// ## The rules, in order: the first that applies gives the reason
///
/// 1. **K = 0.** Live copies on nodes that are down → ``RepairReason/everyHolderDown(holders:)``:
///    the file counts again when one returns, and nothing can be copied meanwhile (a copy needs
///    a source that is up). No copy anywhere → ``RepairReason/noSource``: lost. Said even when
///    the scheduler is paused, as no scheduler could help.
/// 2. **Paused** (the master's catalog is unreachable) → ``RepairReason/schedulerPaused(_:)``.
/// 3. **A copy of the file is in flight** → ``RepairReason/copyInFlight``.
/// 4. **Candidates** are the nodes that are up, have a quota (a master started with `--quota 0`
///    stores nothing) and hold no replica of the file, in any state. None, with fewer such nodes
///    than N → ``RepairReason/tooFewNodes(n:up:downHolders:)``: more
///    nodes, or a lower N, is the only fix. None otherwise → replicas of the file are being
///    copied or evicted on the other nodes (``RepairReason/QueueWait/settling``).
/// 5. **Room.** No candidate has free space for the file: if the planner's eviction rules
///    (rule 3 of ``Planner``: the floor, the strict improvement, make before break) would make
///    room on one, the file waits for that (``RepairReason/QueueWait/eviction``), or, when the
///    master's safe mode turns evictions off, ``RepairReason/safeMode(size:)``. Otherwise
///    ``RepairReason/noRoom(size:mostFree:)``.
/// 6. **Targets with room that cannot take it now**: none of them fresh (all missed their last
///    report) → ``RepairReason/QueueWait/nodesReporting``; none below `--max-load` →
///    ``RepairReason/nodesBusy(maxLoad:)``; every one backed off for this file after a failed
///    copy → ``RepairReason/retrying``.
/// 7. Otherwise the next planning pass copies it, as soon as a target has a free copy slot
///    (``RepairReason/QueueWait/copySlot``).
///
/// Only rules 1–2 and the non-progressing outcomes of 4–6 need a person or a node to act;
/// ``RepairReason/progressing`` tells them apart.
public struct RepairDiagnosis {
    private var pass: PlanningPass
    private let allowEvictions: Bool
    private let paused: String?
    private let maxLoad: Double
    /// Nodes that are up with a quota above 0, neither draining nor in a maintenance window:
    /// those that can take a copy.
    private let storing: [NodeID]

    /// - Parameters:
    ///   - limits: the planner's limits as the scheduler uses them now (``PlannerLimits/allowEvictions``
    ///     off in safe mode).
    ///   - paused: why the scheduler is paused, when it is.
    public init(
        limits: PlannerLimits, nodes: [PlannerNode], inFlight: InFlight, queries: any PlannerQueries, paused: String? = nil
    ) {
        // Evictions are weighed even in safe mode, to say when safe mode is what holds a file back.
        var weighing = limits
        weighing.allowEvictions = true
        pass = PlanningPass(limits: weighing, nodes: nodes, inFlight: inFlight, queries: queries)
        allowEvictions = limits.allowEvictions
        self.paused = paused
        maxLoad = limits.maxLoad
        storing = nodes.filter { $0.alive && $0.quota > 0 && !$0.draining && !$0.maintenance }.map(\.id).sorted()
    }

    /// The reason `file` (K < N) is not at N yet.
    /// - Parameter replicas: every replica of the file, in any state (``PlannerQueries/replicas(of:)``).
    public mutating func reason(for file: FileState, replicas: [ReplicaRecord]) throws -> RepairReason {
        let downHolders = replicas.filter { $0.state == .live && pass.slots[$0.node]?.alive != true }.count
        // Rule 1.
        if file.k == 0 {
            return downHolders > 0 ? .everyHolderDown(holders: downHolders) : .noSource
        }
        // Rules 2 and 3.
        if let paused { return .schedulerPaused(paused) }
        if pass.copiesInFlight[file.id] != nil { return .copyInFlight }
        // Rule 4.
        let holders = Set(replicas.map(\.node))
        let candidates = storing.filter { !holders.contains($0) }
        if candidates.isEmpty {
            if storing.count < file.n { return .tooFewNodes(n: file.n, up: storing.count, downHolders: downHolders) }
            return .queued(.settling)
        }
        // Rule 5.
        let roomy = candidates.filter { pass.slots[$0]!.free >= file.size }
        if roomy.isEmpty {
            for node in candidates.sorted(by: { pass.preferred($0, $1) }) {
                if try pass.evictions(on: node, toFit: file.size, forKn: file.kn, excluding: file.id) != nil {
                    return allowEvictions ? .queued(.eviction) : .safeMode(size: file.size)
                }
            }
            let mostFree = candidates.map { max(0, pass.slots[$0]!.free) }.max() ?? 0
            return .noRoom(size: file.size, mostFree: mostFree)
        }
        // Rule 6.
        let fresh = roomy.filter { pass.slots[$0]!.fresh }
        if fresh.isEmpty { return .queued(.nodesReporting) }
        let calm = fresh.filter { pass.slots[$0]!.load < maxLoad }
        if calm.isEmpty { return .nodesBusy(maxLoad: maxLoad) }
        if calm.allSatisfy({ pass.backoff.contains(Placement(file: file.id, node: $0)) }) { return .retrying }
        // Rule 7.
        return .queued(.copySlot)
    }
}

extension Planner {
    /// A diagnosis with this planner's limits, over the same inputs as ``plan(queries:nodes:inFlight:)``.
    public func diagnosis(
        queries: any PlannerQueries, nodes: [PlannerNode], inFlight: InFlight, paused: String? = nil
    ) -> RepairDiagnosis {
        RepairDiagnosis(limits: limits, nodes: nodes, inFlight: inFlight, queries: queries, paused: paused)
    }
}
