import Foundation
import ReplicaCore

/// A cluster whose copies finish the moment they are commanded: the catalog is real, the
/// planner is real, only the bytes are imaginary. For the exact, step-by-step cases.
struct InstantCluster {
    let catalog: SQLiteCatalog
    var planner: Planner
    /// Alive nodes not heard from within the last report interval (``PlannerNode/fresh`` false).
    var silent: Set<NodeID> = []
    /// Nodes inside a maintenance window (``PlannerNode/maintenance``).
    var maintenance: Set<NodeID> = []

    init(limits: PlannerLimits = PlannerLimits()) throws {
        catalog = try SQLiteCatalog()
        planner = Planner(limits: limits)
    }

    func addNode(_ id: NodeID, quota: Int64, load: Double = 0) async throws {
        try await catalog.registerNode(NodeRecord(id: id, address: "sim:\(id)", quota: quota, load: load))
    }

    func plannerNodes() async throws -> [PlannerNode] {
        try await catalog.nodes().map { PlannerNode($0, fresh: !silent.contains($0.id), maintenance: maintenance.contains($0.id)) }
    }

    /// Uploads a file the way `put` does: the planner picks the node (evicting if the rules
    /// allow), the file lands there with K = 1. Returns nil when the upload is refused.
    @discardableResult
    func upload(_ path: String, size: Int64, n: Int) async throws -> FileRecord? {
        let nodes = try await plannerNodes()
        let planner = self.planner
        let placement = try await catalog.withPlannerView { queries in
            try planner.placeUpload(size: size, n: n, queries: queries, nodes: nodes, inFlight: .none)
        }
        guard let placement else { return nil }
        try await evict(placement.evicting, from: placement.target)
        let file = try await catalog.putFile(
            NewFile(path: try VirtualPath(path), size: size, sha256: String(repeating: "a", count: 64), n: n))
        try await catalog.setReplica(file.id, on: placement.target, state: .live)
        return try await catalog.file(id: file.id)
    }

    func evict(_ files: [FileID], from node: NodeID) async throws {
        for file in files {
            try await catalog.setReplica(file, on: node, state: .evicting)
            try await catalog.removeReplica(file, from: node)
        }
    }

    func plan(inFlight: InFlight = .none) async throws -> [ReplicationAction] {
        let nodes = try await plannerNodes()
        let planner = self.planner
        return try await catalog.withPlannerView { queries in
            try planner.plan(queries: queries, nodes: nodes, inFlight: inFlight)
        }
    }

    /// One pass within a copy budget (rule 10).
    func plan(budget: CopyBudget, inFlight: InFlight = .none) async throws -> Plan {
        let nodes = try await plannerNodes()
        let planner = self.planner
        return try await catalog.withPlannerView { queries in
            try planner.plan(queries: queries, nodes: nodes, inFlight: inFlight, budget: budget)
        }
    }

    /// How far the drain of `node` is, as `status` measures it.
    func drainProgress(_ node: NodeID) async throws -> DrainProgress {
        let survey = DrainSurvey(nodes: try await plannerNodes())
        return try await catalog.withPlannerView { try survey.progress(of: node, queries: $0) }
    }

    /// Records a file with copies on `holders` (placed by the test, not by an upload).
    @discardableResult
    func place(_ path: String, size: Int64, n: Int, on holders: [NodeID]) async throws -> FileRecord {
        let file = try await catalog.putFile(
            NewFile(path: try VirtualPath(path), size: size, sha256: String(repeating: "a", count: 64), n: n))
        for holder in holders { try await catalog.setReplica(file.id, on: holder, state: .live) }
        return try await catalog.file(id: file.id)!
    }

    /// Plans and executes until the planner has nothing left to do; returns every action.
    @discardableResult
    func converge(maxRounds: Int = 1_000) async throws -> [CopyPlan] {
        var done: [CopyPlan] = []
        for _ in 0..<maxRounds {
            let actions = try await plan()
            if actions.isEmpty { return done }
            for case .copy(let copy) in actions {
                try await evict(copy.evicting, from: copy.target)
                try await catalog.setReplica(copy.file, on: copy.target, state: .live)
                done.append(copy)
            }
        }
        throw ConvergenceError(rounds: maxRounds, actions: done.count)
    }

    func kn(_ path: String) async throws -> Int? {
        try await catalog.file(at: try VirtualPath(path))?.kn
    }

    func holders(_ path: String) async throws -> Set<NodeID> {
        guard let file = try await catalog.file(at: try VirtualPath(path)) else { return [] }
        return Set(try await catalog.replicas(of: file.id).filter { $0.state == .live }.map(\.node))
    }
}

struct ConvergenceError: Error, CustomStringConvertible {
    let rounds: Int
    let actions: Int
    var description: String { "no convergence after \(rounds) rounds (\(actions) actions)" }
}
