/// The replication planner: decides which file to copy where, and what to evict for it.
///
/// It is pure — no I/O of its own, no `await`, no clock. It reads the catalog through
/// ``PlannerQueries`` and returns actions that the master executes elsewhere, so the same
/// inputs always give the same plan and tests need no sockets.
///
/// ## The rules (ARCHITECTURE.md section 3)
///
/// 1. Files are taken in ascending kn (ties: smaller K, then smaller size), skipping files
///    with as many copies in flight as they lack (rule 4). A file with no live replica on an
///    alive node cannot be copied.
/// 2. Candidate targets are alive and fresh (rule 6), do not hold the file, have a free copy slot
///    (``PlannerLimits/maxCopiesPerNode``; copies of small files share one per
///    ``PlannerLimits/batchesPerSlot`` batches of ``PlannerLimits/batchFiles``, as they go in
///    batches and a node writes one while it pulls the next), load below ``PlannerLimits/maxLoad`` and are not
///    backed off for that file. Among those with free space ≥ size, the one with most free
///    space wins, then the least loaded, then the lowest id. The source is a fresh holder
///    when there is one (then fewest outgoing copies, least load, lowest id).
/// 3. When no candidate has room, a candidate may evict its highest-kn files G, but only if
///    `kn(G) − 1 ≥ floor` (never below N + floor) **and** `kn(G) ≥ kn(F) + 2` (a strict
///    improvement, so two files never trade places back and forth). Several evictions are
///    fine for a large file. The freed space is reserved for F in the same decision. Never
///    G's last copy, whatever the floor.
///    **Make before break:** in the floor test, kn(G) counts only G's live replicas on fresh
///    nodes, so it may be lower than the catalog's. The catalog still counts a node that went
///    silent until it has missed `--missed-reports` reports; evicting against such a copy
///    could remove the last one that really exists (with N = 1, the only one).
/// 4. Space of copies in flight is reserved on their targets. A file short of copies gets as
///    many at once as it lacks (kn = −2: two, to two targets), each to a node neither holding
///    nor receiving it; one at a time once it has N. *Why*: a file that lost two copies is
///    whole again in the time of one copy, not two in a row. An eviction for a file weighs
///    the kn it will have once its copies under way land.
/// 5. Nothing stops at K = N: spare space keeps receiving copies of the lowest-kn files.
/// 6. Freshness (``PlannerNode/fresh``): a node is fresh when its last report is at most
///    one report interval old, plus a margin for jitter that the master chooses. Copies and
///    uploads go only to fresh nodes, so a node that died seconds ago, and is not yet declared
///    down, is not handed bytes it cannot take. K itself (rule 1 of the project: K is the
///    truth) is unchanged: scheduling order and the strict-improvement test use the catalog's.
/// 7. With ``PlannerLimits/allowEvictions`` off (the master's safe mode) nothing is evicted:
///    a file that needs room waits.
/// 8. Drain (``PlannerNode/draining``, HDFS decommissioning): a draining node is never a copy
///    or upload target, and nothing is evicted from it. Its copies still count in the
///    catalog's K — what the operator sees — but not in the K the planner uses to decide
///    what a file it holds needs: such a file is planned with K = its copies *elsewhere*
///    (``DrainSurvey``), so with the priority and the eviction rights (rule 3) of a file
///    missing that many copies, until it has N copies on other nodes (read lazily from the
///    node's own index, ``DrainStream``; among drain files of equal kn, the node's order
///    stands in for the tie-breaks of rule 1). The draining node
///    stays a source. The drain never removes its copies: the operator stops the node once
///    no file needs them. For the floor of rule 3, copies on draining nodes do not count.
///    *Why*: a drain is a promise that stopping the node costs no file a copy it needs;
///    counting the node's copies would keep it, and only it, holding them.
/// 9. Maintenance (``PlannerNode/maintenance``, a planned restart): the node is treated as
///    silent (rule 6) whatever its last report says — no copies or uploads, a source only
///    when no one else holds the file, its copies do not count for evictions — while its
///    copies keep counting in K, so nothing is copied to replace them.
/// 10. Rate limit (``CopyBudget``): a pass starts copies while their sizes fit in the budget
///    (the first copy may exceed a full bucket, and then goes alone). The first copy that
///    does not fit ends the pass: the files after it do not overtake it, and the pass tells
///    the scheduler how much it waits for (``Plan/heldBack``).
/// 11. Idle is cheap (``PlanningInputs``): the plan is a function of the catalog and of the
///    inputs the master passes, so a pass over the same inputs that found nothing before finds
///    nothing again. The master keeps the inputs of its last idle pass and skips the pass while
///    nothing the plan depends on has changed: no catalog write, the same nodes (state, quota,
///    usage, load on the same side of the limit), the same work in flight, the same limits. An
///    idle swarm then plans in O(nodes), however many files it holds.
///    And a pass reads only the files some open target could take (``CandidateBounds``): K
///    below the number of alive nodes, and either no bigger than the most room on an open
///    target or with an eviction conceivable for it (rule 3); a target that holds every file
///    (the catalog counts each node's live replicas) counts for neither. The catalog tests
///    this in its scheduling index, so a pass over a swarm where every node holds every file,
///    where no target has room, or where the only targets with room hold everything already
///    (files short of copies with nowhere to go), reads no file. The bounds are taken for each page of files; a booking
///    that frees more room than it takes (an eviction of a bigger file) widens them only
///    from the next page on, and a file passed over meanwhile waits for the next pass.
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
        try plan(queries: queries, nodes: nodes, inFlight: inFlight, budget: nil).actions
    }

    /// Plans as ``plan(queries:nodes:inFlight:)`` does, starting no more copies than `budget`
    /// allows (rule 10; nil: no limit).
    ///
    /// Files come in scheduling order from the catalog, merged with the files draining nodes
    /// hold that need a copy (rule 8), which take their place by the kn the drain sees.
    public func plan(
        queries: any PlannerQueries, nodes: [PlannerNode], inFlight: InFlight, budget: CopyBudget?
    ) throws -> Plan {
        var pass = PlanningPass(limits: limits, nodes: nodes, inFlight: inFlight, queries: queries)
        var drain = DrainStream(survey: pass.survey, batchSize: limits.batchSize)
        var collector = PlanCollector(limits: limits, budget: budget)
        var cursor: FileState?
        scan: while collector.open(&pass) {
            // Rule 11: only the files a target could take, bounded afresh for each page.
            let bounds = try pass.candidateBounds()
            let batch = try queries.files(after: cursor, limit: limits.batchSize, within: bounds)
            if batch.isEmpty { break }
            for file in batch {
                cursor = file
                while let next = try drain.next(before: file, queries: queries) {
                    guard try collector.consider(next, in: &pass) else { break scan }
                }
                // A drain file comes out of the stream, by the kn the drain sees, before its
                // place here: the stream has read every file of the draining nodes up to a kn
                // above this one.
                if drain.seen.contains(file.id) { continue }
                guard try collector.consider(file, in: &pass) else { break scan }
            }
        }
        while collector.open(&pass), let next = try drain.next(before: nil, queries: queries) {
            guard try collector.consider(next, in: &pass) else { break }
        }
        var slack: [NodeID: Int64] = [:]
        for case .copy(let copy) in collector.actions { slack[copy.target] = pass.slots[copy.target]?.free }
        return Plan(actions: collector.actions, heldBack: collector.heldBack, slack: slack)
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

/// The actions of one pass as they are decided, within the action limit and the budget.
private struct PlanCollector {
    let limits: PlannerLimits
    let budget: CopyBudget?
    var actions: [ReplicationAction] = []
    var copies = 0
    var spent: Int64 = 0
    var heldBack: Int64?

    init(limits: PlannerLimits, budget: CopyBudget?) {
        self.limits = limits
        self.budget = budget
    }

    /// Whether the pass may go on: actions left, the budget not exhausted, a target open.
    mutating func open(_ pass: inout PlanningPass) -> Bool {
        heldBack == nil && copies < limits.maxActions && pass.hasOpenTarget
    }

    /// Plans `file`, as many copies as it may have at once (rule 4); false when the pass must stop.
    mutating func consider(_ file: FileState, in pass: inout PlanningPass) throws -> Bool {
        while let (plan, victims) = try pass.planCopy(of: file) {
            if let budget {
                // Rule 10. The decision is already booked in the pass, which ends here.
                let fits = spent + plan.size <= budget.bytes || (copies == 0 && budget.full)
                guard fits else {
                    heldBack = plan.size
                    return false
                }
                spent += plan.size
            }
            for victim in victims {
                actions.append(.evict(EvictionPlan(file: victim.id, node: plan.target, size: victim.size, makingRoomFor: plan.file)))
            }
            actions.append(.copy(plan))
            copies += 1
            guard open(&pass) else { return false }
        }
        return true
    }
}
