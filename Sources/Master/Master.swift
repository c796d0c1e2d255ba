import Foundation
import Logging
import ReplicaCore
import Transport
import Synchronization

/// The master role: owns the catalog, the node registry with liveness, the replication
/// scheduler, upload placement, deletes, and the answers to `where`, `ls` and `status`.
public final class Master: Sendable {
    /// The catalog given, every call timed (``TimedCatalog``).
    public let catalog: any Catalog
    /// The same catalog, for its count of writes (``TimedCatalog/writes``).
    let timedCatalog: TimedCatalog
    public let settings: MasterSettings
    /// The master's own address, as clients and nodes reach it.
    public let address: String
    let client: SignedClient
    let logger: Logger
    let planner: Planner
    /// Wakes the scheduler: uploads, reports, completions, node changes.
    let schedule = Wakeup()
    /// Wakes the deletion pusher: deletes, replaced versions, nodes returning.
    let deletions = Wakeup()
    /// One placement decision at a time (scheduler passes and upload grants).
    let placement = AsyncLock()
    /// One rename or push of moves and removals at a time (``pushMoves(to:)``): orders are read
    /// from the catalog and their replies recorded with no rename in between.
    let moves = AsyncLock()
    /// One report at a time while the catalog is being rebuilt: two nodes reporting the same
    /// path must not both take it in.
    let recovery = AsyncLock()
    let state: Mutex<MasterState>
    /// Events recorded, on their way to the catalog (``EventWriter``).
    let events = EventQueue()
    let policyState: Mutex<PolicySet>
    /// Made with the master: a metrics backend bootstrapped before records into it.
    public let metrics = MasterMetrics()

    public init(
        catalog: any Catalog, settings: MasterSettings, policies: PolicySet, address: String,
        client: SignedClient, logger: Logger
    ) {
        let timed = TimedCatalog(catalog)
        self.catalog = timed
        self.timedCatalog = timed
        self.settings = settings
        self.address = address
        self.client = client
        self.logger = logger
        self.planner = Planner(limits: settings.planner)
        self.policyState = Mutex(policies)
        var initial = MasterState()
        initial.rateLimiter = settings.maxReplicationRate.map { ReplicationRateLimiter(bytesPerSecond: $0, now: Date()) }
        self.state = Mutex(initial)
    }

    public var policies: PolicySet { policyState.withLock { $0 } }

    /// The swarm of the catalog (nil while a recovering master has not learnt it yet).
    public var swarm: SwarmID? { state.withLock { $0.swarm } }

    /// The planner for a decision now: no evictions in safe mode.
    var currentPlanner: Planner {
        var planner = self.planner
        if inSafeMode { planner.limits.allowEvictions = false }
        return planner
    }

    /// Checks the swarm identity, decides on safe mode, and starts the liveness clock of every
    /// node in the catalog: a node that does not report within the down-after time of the
    /// master's start is declared down.
    /// - Parameter dataSwarm: the swarm of the master's own data directory, if it joined one.
    public func start(dataSwarm: SwarmID?) async throws {
        let now = Date()
        let nodes = try await catalog.nodes()
        let totals = try await catalog.totals()
        try await beginSafety(dataSwarm: dataSwarm, nodes: nodes, totals: totals, now: now)
        state.withLock { state in
            for node in nodes { state.lastSeen[node.id] = now }
        }
        logger.info("master on \(address): \(nodes.count) nodes known, \(totals.files) files, min(K−N) \(totals.minKn.map(String.init) ?? "n/a")")
        schedule.signal()
        deletions.signal()
    }

    /// Replaces the policies and re-evaluates N for every file; returns how many changed.
    public func replacePolicies(_ policies: PolicySet) async throws -> Int {
        policyState.withLock { $0 = policies }
        let changed = try await catalog.reevaluateN { path, size in policies.replicas(for: path, size: size) }
        if changed > 0 { schedule.signal() }
        return changed
    }

    /// Alive nodes and their state for a planning decision.
    func plannerNodes() async throws -> [PlannerNode] {
        try await catalog.nodes().map(PlannerNode.init)
    }

    func address(of node: NodeID) async throws -> String {
        guard let record = try await catalog.node(node) else { throw CatalogError.unknownNode(node) }
        return record.address
    }
}
