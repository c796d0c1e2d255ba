/// The replication planner: decides which file to copy where, and what to evict for it.
///
/// It is pure — no I/O of its own, no `await`, no clock. It reads the catalog through
/// ``PlannerQueries`` and returns actions that the master executes elsewhere, so the same
/// inputs always give the same plan and tests need no sockets.
///
/// ## The rules (ARCHITECTURE.md section 3)
///
/// 1. Files are taken in ascending kn (ties: smaller K, then smaller size), skipping files
///    with a copy in flight. A file with no live replica on an alive node cannot be copied.
/// 2. Candidate targets are alive and fresh (rule 6), do not hold the file, have a free copy slot
///    (``PlannerLimits/maxCopiesPerNode``), load below ``PlannerLimits/maxLoad`` and are not
///    backed off for that file. Among those with free space ≥ size, the one with most free
///    space wins, then the least loaded, then the lowest id. The source is a fresh holder
///    when there is one (then fewest outgoing copies, least load, lowest id).
/// 3. When no candidate has room, a candidate may evict its highest-kn files G, but only if
///    `kn(G) − 1 ≥ floor` (never below N + floor) **and** `kn(G) ≥ kn(F) + 2` (a strict
///    improvement, so two files never trade places back and forth). Several evictions are
///    fine for a large file. The freed space is reserved for F in the same decision.
///    **Make before break:** in the floor test, kn(G) counts only G's live replicas on fresh
///    nodes, so it may be lower than the catalog's. The catalog still counts a node that went
///    silent until it has missed `--missed-reports` reports; evicting against such a copy
///    could remove the last one that really exists (with N = 1, the only one).
/// 4. Space of copies in flight is reserved on their targets; a file gets one copy at a time.
/// 5. Nothing stops at K = N: spare space keeps receiving copies of the lowest-kn files.
/// 6. Freshness (``PlannerNode/fresh``): a node is fresh when its last report is at most
///    one report interval old, plus a margin for jitter that the master chooses. Copies and
///    uploads go only to fresh nodes, so a node that died seconds ago, and is not yet declared
///    down, is not handed bytes it cannot take. K itself (rule 1 of the project: K is the
///    truth) is unchanged: scheduling order and the strict-improvement test use the catalog's.
/// 7. With ``PlannerLimits/allowEvictions`` off (the master's safe mode) nothing is evicted:
///    a file that needs room waits.
public struct Planner: Sendable {
    public var limits: PlannerLimits

    public init(limits: PlannerLimits = PlannerLimits()) {
        self.limits = limits
    }

    /// Plans up to ``PlannerLimits/maxActions`` copies for the current state, each preceded by
    /// the evictions it needs.
    public func plan(
        queries: any PlannerQueries, nodes: [PlannerNode], inFlight: InFlight
    ) throws -> [ReplicationAction] {
        var pass = PlanningPass(limits: limits, nodes: nodes, inFlight: inFlight, queries: queries)
        var actions: [ReplicationAction] = []
        var copies = 0
        var cursor: FileState?
        scan: while copies < limits.maxActions {
            guard pass.hasOpenTarget else { break }
            let batch = try queries.files(after: cursor, limit: limits.batchSize)
            if batch.isEmpty { break }
            for file in batch {
                cursor = file
                if let (plan, victims) = try pass.planCopy(of: file) {
                    for victim in victims {
                        actions.append(.evict(EvictionPlan(file: victim.id, node: plan.target, size: victim.size, makingRoomFor: plan.file)))
                    }
                    actions.append(.copy(plan))
                    copies += 1
                    if copies >= limits.maxActions || !pass.hasOpenTarget { break scan }
                }
            }
        }
        return actions
    }

    /// Chooses the node that receives an upload of `size` bytes whose policy asks for `n`
    /// copies (its kn is −n), evicting over-replicated files under the same rules as
    /// replication. Uploads ignore copy slots and load: they only need room, on an alive and
    /// fresh node (a node the client could not reach is passed as not fresh). Returns nil when
    /// no node can take the file without breaking the eviction floor.
    public func placeUpload(
        size: Int64, n: Int, queries: any PlannerQueries, nodes: [PlannerNode], inFlight: InFlight
    ) throws -> UploadPlacement? {
        var pass = PlanningPass(limits: limits, nodes: nodes, inFlight: inFlight, queries: queries)
        return try pass.placeUpload(size: size, kn: -n)
    }
}
