import Foundation
import Logging
import ReplicaCore
import Transport
import Synchronization

/// The master role: owns the catalog, the node registry with liveness, the replication
/// scheduler, upload placement, deletes, and the answers to `where`, `ls` and `status`.
public final class Master: Sendable {
    public let catalog: any Catalog
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
    let state = Mutex(MasterState())
    let policyState: Mutex<PolicySet>

    public init(
        catalog: any Catalog, settings: MasterSettings, policies: PolicySet, address: String,
        client: SignedClient, logger: Logger
    ) {
        self.catalog = catalog
        self.settings = settings
        self.address = address
        self.client = client
        self.logger = logger
        self.planner = Planner(limits: settings.planner)
        self.policyState = Mutex(policies)
    }

    public var policies: PolicySet { policyState.withLock { $0 } }

    /// Starts the liveness clock of every node in the catalog: a node that does not report
    /// within the down-after time of the master's start is declared down.
    public func start() async throws {
        let now = Date()
        let nodes = try await catalog.nodes()
        state.withLock { state in
            for node in nodes { state.lastSeen[node.id] = now }
        }
        let totals = try await catalog.totals()
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
