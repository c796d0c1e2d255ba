/// Everything a planning pass depends on besides the files themselves, reduced to what can
/// change its outcome (``Planner`` rule 11). Two passes with equal inputs over a catalog that
/// was not written in between return the same plan, so a master that found nothing to do
/// need not look again until its inputs differ.
///
/// What is left out, and why that is safe:
/// - a node's load, except which side of ``PlannerLimits/maxLoad`` it is on: below the limit,
///   load only orders the candidates (rule 2), and the order never makes an impossible copy
///   possible;
/// - the order in which the master lists work in flight (sets, not arrays);
/// - the rate budget: an idle pass held nothing back (``Plan/isIdle``), and a budget only ever
///   stops a copy that the pass would otherwise plan.
public struct PlanningInputs: Sendable, Equatable {
    struct Node: Sendable, Equatable {
        var id: NodeID
        var alive: Bool
        var fresh: Bool
        var draining: Bool
        var maintenance: Bool
        var quota: Int64
        var used: Int64
        var belowMaxLoad: Bool
    }

    var nodes: [Node]
    var copies: Set<InFlightCopy>
    var evictions: Set<InFlightEviction>
    var backoff: Set<Placement>
    var limits: PlannerLimits
    var catalogWrites: Int

    /// - Parameter catalogWrites: a count of the catalog's writes, read before the pass reads
    ///   the catalog (a write that lands during the pass then changes the inputs of the next).
    public init(nodes: [PlannerNode], inFlight: InFlight, limits: PlannerLimits, catalogWrites: Int) {
        self.nodes = nodes.map { node in
            Node(id: node.id, alive: node.alive, fresh: node.fresh, draining: node.draining, maintenance: node.maintenance,
                 quota: node.quota, used: node.used, belowMaxLoad: node.load < limits.maxLoad)
        }.sorted { $0.id < $1.id }
        copies = Set(inFlight.copies)
        evictions = Set(inFlight.evictions)
        backoff = inFlight.backoff
        self.limits = limits
        self.catalogWrites = catalogWrites
    }
}
