import Foundation
import Testing
import ReplicaCore
import TestSupport

/// Each reason a file below N is not being fixed, on the real catalog, and that the diagnosis
/// agrees with the planner: a file it calls stuck is one the planner does not copy.
@Suite("Planner: why a file is not at N")
struct RepairDiagnosisTests {
    /// Records `path` with copies on `holders` (live) and returns it.
    @discardableResult
    static func place(
        _ cluster: InstantCluster, _ path: String, size: Int64 = 10, n: Int, on holders: [NodeID]
    ) async throws -> FileRecord {
        let file = try await cluster.catalog.putFile(Fixture.newFile(path, size: size, n: n))
        for node in holders { try await cluster.catalog.setReplica(file.id, on: node, state: .live) }
        return try #require(try await cluster.catalog.file(id: file.id))
    }

    static func reason(
        _ cluster: InstantCluster, _ path: String, inFlight: InFlight = .none, paused: String? = nil,
        limits: PlannerLimits? = nil
    ) async throws -> RepairReason {
        let nodes = try await cluster.plannerNodes()
        let planner = limits.map { Planner(limits: $0) } ?? cluster.planner
        let file = try #require(try await cluster.catalog.file(at: Fixture.path(path)))
        return try await cluster.catalog.withPlannerView { queries in
            var diagnosis = planner.diagnosis(queries: queries, nodes: nodes, inFlight: inFlight, paused: paused)
            return try diagnosis.reason(
                for: FileState(id: file.id, size: file.size, n: file.n, k: file.k), replicas: try queries.replicas(of: file.id))
        }
    }

    /// Whether the planner would copy `path` now.
    static func planned(_ cluster: InstantCluster, _ path: String, inFlight: InFlight = .none) async throws -> Bool {
        let file = try #require(try await cluster.catalog.file(at: Fixture.path(path)))
        return try await cluster.plan(inFlight: inFlight).contains { action in
            if case .copy(let plan) = action { return plan.file == file.id }
            return false
        }
    }

    @Test("Two nodes and N = 3, both holding the file: too few nodes, add 1 more or lower N")
    func tooFewNodes() async throws {
        let cluster = try InstantCluster()
        for id in ["n1", "n2"] { try await cluster.addNode(NodeID(id), quota: 100) }
        try await Self.place(cluster, "f", n: 3, on: ["n1", "n2"])
        let reason = try await Self.reason(cluster, "f")
        #expect(reason == .tooFewNodes(n: 3, up: 2, downHolders: 0))
        #expect(reason.code == "too-few-nodes")
        #expect(!reason.progressing)
        #expect(reason.message().contains("add 1 more node, or lower N for this path"), "\(reason.message())")
        #expect(try await !Self.planned(cluster, "f"))
    }

    @Test("A master with quota 0 stores nothing: it does not count as a node for N")
    func nodesWithoutQuotaDoNotCount() async throws {
        let cluster = try InstantCluster()
        try await cluster.addNode("master", quota: 0)
        for id in ["n1", "n2"] { try await cluster.addNode(NodeID(id), quota: 100) }
        try await Self.place(cluster, "f", n: 3, on: ["n1", "n2"])
        #expect(try await Self.reason(cluster, "f") == .tooFewNodes(n: 3, up: 2, downHolders: 0))
    }

    @Test("A node that is down and holds a copy is named in the fix")
    func tooFewNodesWithADownHolder() async throws {
        let cluster = try InstantCluster()
        for id in ["n1", "n2", "n3"] { try await cluster.addNode(NodeID(id), quota: 100) }
        try await Self.place(cluster, "f", n: 3, on: ["n1", "n2", "n3"])
        try await cluster.catalog.setNodeAlive("n3", alive: false)
        let reason = try await Self.reason(cluster, "f")
        #expect(reason == .tooFewNodes(n: 3, up: 2, downHolders: 1))
        #expect(reason.message().contains("bring back the 1 down node holding a copy"), "\(reason.message())")
    }

    @Test("No node without a copy has room, and nothing may be evicted: no room, with the most free space")
    func noRoom() async throws {
        let cluster = try InstantCluster()
        try await cluster.addNode("n1", quota: 100)
        try await cluster.addNode("n2", quota: 30)
        try await Self.place(cluster, "big", size: 50, n: 2, on: ["n1"])
        let reason = try await Self.reason(cluster, "big")
        #expect(reason == .noRoom(size: 50, mostFree: 30))
        #expect(reason.code == "no-room")
        #expect(reason.message().contains("add a node or quota"), "\(reason.message())")
        #expect(try await !Self.planned(cluster, "big"))
    }

    /// n1 holds f (N = 2, K = 1); n2 and n3 are full of g (N = 1, K = 2): evicting one copy of
    /// g keeps it at N and is a strict improvement.
    static func roomByEviction() async throws -> InstantCluster {
        let cluster = try InstantCluster()
        for id in ["n1", "n2", "n3"] { try await cluster.addNode(NodeID(id), quota: 10) }
        try await place(cluster, "g", n: 1, on: ["n2", "n3"])
        try await place(cluster, "f", n: 2, on: ["n1"])
        return cluster
    }

    @Test("Room needs an eviction the rules allow: queued for it, and the planner does plan it")
    func queuedForEviction() async throws {
        let cluster = try await Self.roomByEviction()
        let reason = try await Self.reason(cluster, "f")
        #expect(reason == .queued(.eviction))
        #expect(reason.progressing)
        #expect(try await Self.planned(cluster, "f"))
    }

    @Test("Room needs an eviction but the master is in safe mode: safe mode is the reason")
    func safeModeHoldsEvictions() async throws {
        var limits = PlannerLimits()
        limits.allowEvictions = false
        var cluster = try await Self.roomByEviction()
        cluster.planner = Planner(limits: limits)
        let reason = try await Self.reason(cluster, "f")
        #expect(reason == .safeMode(size: 10))
        #expect(reason.code == "safe-mode")
        #expect(reason.message().contains("fsdfsd safe-mode leave"), "\(reason.message())")
        #expect(try await !Self.planned(cluster, "f"))
    }

    @Test("An eviction that would take the other file below N is no way out: no room")
    func evictionBelowTheFloorIsNoRoom() async throws {
        let cluster = try InstantCluster()
        for id in ["n1", "n2"] { try await cluster.addNode(NodeID(id), quota: 10) }
        try await Self.place(cluster, "g", n: 1, on: ["n2"])
        try await Self.place(cluster, "f", n: 2, on: ["n1"])
        #expect(try await Self.reason(cluster, "f") == .noRoom(size: 10, mostFree: 0))
        #expect(try await !Self.planned(cluster, "f"))
    }

    @Test("K = 0 with the only copy on a node that is down: every holder down, it comes back with the node")
    func everyHolderDown() async throws {
        let cluster = try InstantCluster()
        for id in ["n1", "n2"] { try await cluster.addNode(NodeID(id), quota: 100) }
        try await Self.place(cluster, "f", n: 2, on: ["n1"])
        try await cluster.catalog.setNodeAlive("n1", alive: false)
        let reason = try await Self.reason(cluster, "f", paused: "the catalog is unreachable")
        #expect(reason == .everyHolderDown(holders: 1))
        #expect(reason.code == "every-holder-down")
        #expect(reason.message().contains("it counts again when it returns"), "\(reason.message())")
    }

    @Test("K = 0 and no copy anywhere: no source, the file is lost")
    func noSource() async throws {
        let cluster = try InstantCluster()
        try await cluster.addNode("n1", quota: 100)
        try await Self.place(cluster, "f", n: 1, on: [])
        let reason = try await Self.reason(cluster, "f")
        #expect(reason == .noSource)
        #expect(reason.code == "no-source")
        #expect(reason.message().contains("lost"))
    }

    @Test("The catalog is unreachable: the scheduler is paused")
    func schedulerPaused() async throws {
        let cluster = try InstantCluster()
        for id in ["n1", "n2"] { try await cluster.addNode(NodeID(id), quota: 100) }
        try await Self.place(cluster, "f", n: 2, on: ["n1"])
        let reason = try await Self.reason(cluster, "f", paused: "catalog unreachable since 12:00")
        #expect(reason == .schedulerPaused("catalog unreachable since 12:00"))
        #expect(reason.code == "scheduler-paused")
        #expect(!reason.progressing)
    }

    @Test("A copy under way: being fixed, not stuck")
    func copyInFlight() async throws {
        let cluster = try InstantCluster()
        for id in ["n1", "n2"] { try await cluster.addNode(NodeID(id), quota: 100) }
        let file = try await Self.place(cluster, "f", n: 2, on: ["n1"])
        let inFlight = InFlight(copies: [InFlightCopy(file: file.id, size: 10, source: "n1", target: "n2")])
        let reason = try await Self.reason(cluster, "f", inFlight: inFlight)
        #expect(reason == .copyInFlight)
        #expect(reason.progressing)
    }

    @Test("A node with room and a free slot: queued, and the planner copies it")
    func queuedForACopySlot() async throws {
        let cluster = try InstantCluster()
        for id in ["n1", "n2"] { try await cluster.addNode(NodeID(id), quota: 100) }
        try await Self.place(cluster, "f", n: 2, on: ["n1"])
        let reason = try await Self.reason(cluster, "f")
        #expect(reason == .queued(.copySlot))
        #expect(reason.code == "queued")
        #expect(try await Self.planned(cluster, "f"))
    }

    @Test("Every node with room failed a copy of it lately: retrying after the back-off")
    func retrying() async throws {
        let cluster = try InstantCluster()
        for id in ["n1", "n2", "n3"] { try await cluster.addNode(NodeID(id), quota: 100) }
        let file = try await Self.place(cluster, "f", n: 2, on: ["n1"])
        let inFlight = InFlight(backoff: [Placement(file: file.id, node: "n2"), Placement(file: file.id, node: "n3")])
        #expect(try await Self.reason(cluster, "f", inFlight: inFlight) == .retrying)
        #expect(try await !Self.planned(cluster, "f", inFlight: inFlight))
    }

    @Test("Every node with room is at --max-load: nodes busy")
    func nodesBusy() async throws {
        let cluster = try InstantCluster(limits: PlannerLimits(maxLoad: 2))
        try await cluster.addNode("n1", quota: 100)
        try await cluster.addNode("n2", quota: 100, load: 3)
        try await Self.place(cluster, "f", n: 2, on: ["n1"])
        let reason = try await Self.reason(cluster, "f")
        #expect(reason == .nodesBusy(maxLoad: 2))
        #expect(!reason.progressing)
        #expect(try await !Self.planned(cluster, "f"))
    }

    @Test("The nodes with room missed a report: queued until they report")
    func waitingForSilentNodes() async throws {
        var cluster = try InstantCluster()
        for id in ["n1", "n2"] { try await cluster.addNode(NodeID(id), quota: 100) }
        try await Self.place(cluster, "f", n: 2, on: ["n1"])
        cluster.silent = ["n2"]
        #expect(try await Self.reason(cluster, "f") == .queued(.nodesReporting))
    }

    // MARK: The backlog as a whole

    @Test("The backlog is stuck only when no file progresses; the reason most files share wins")
    func stuckBacklog() {
        #expect(RepairReason.stuck([]) == nil)
        let few = RepairReason.tooFewNodes(n: 3, up: 2, downHolders: 0)
        #expect(RepairReason.stuck([(few, true), (.queued(.copySlot), true)]) == nil)
        let stuck = RepairReason.stuck([(.noRoom(size: 5, mostFree: 1), true), (few, true), (few, true)])
        #expect(stuck?.reason == few && stuck?.files == 2)
        #expect(StuckReplication(few, files: 2).message.contains("lower N for these paths"))
        // A bigger need stands for the smaller ones.
        let wider = RepairReason.stuck([(few, true), (.tooFewNodes(n: 5, up: 2, downHolders: 0), true)])
        #expect(wider?.reason == .tooFewNodes(n: 5, up: 2, downHolders: 0) && wider?.files == 2)
    }

    @Test("Lost files do not decide the backlog's reason while others still have a copy")
    func lostFilesAreApart() {
        let few = RepairReason.tooFewNodes(n: 3, up: 2, downHolders: 0)
        let stuck = RepairReason.stuck([(.noSource, false), (.noSource, false), (few, true)])
        #expect(stuck?.reason == few && stuck?.files == 1)
        let onlyLost = RepairReason.stuck([(.everyHolderDown(holders: 1), false), (.noSource, false), (.everyHolderDown(holders: 2), false)])
        #expect(onlyLost?.reason == .everyHolderDown(holders: 2) && onlyLost?.files == 2)
    }
}
