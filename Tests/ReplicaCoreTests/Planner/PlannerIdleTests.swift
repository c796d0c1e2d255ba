import Foundation
import Testing
import ReplicaCore

/// Planner rule 11: a pass that finds nothing reads no file, and the master can tell when a
/// pass need not run at all.
@Suite("Planner: idle passes")
struct PlannerIdleTests {
    static func files(_ count: Int, prefix: String, size: Int64 = 10, n: Int, on holders: [NodeID]) throws -> [ImportedFile] {
        try (0..<count).map { i in
            ImportedFile(
                file: NewFile(path: try VirtualPath("\(prefix)/\(i)"), size: size, sha256: String(repeating: "a", count: 64), n: n),
                holders: holders)
        }
    }

    /// Plans one pass and returns its plan with the number of files the catalog handed over.
    static func countedPass(_ cluster: InstantCluster) async throws -> (Plan, filesRead: Int) {
        let nodes = try await cluster.plannerNodes()
        let planner = cluster.planner
        return try await cluster.catalog.withPlannerView { queries in
            let counting = CountingQueries(base: queries)
            let plan = try planner.plan(queries: counting, nodes: nodes, inFlight: .none, budget: nil)
            return (plan, counting.filesRead)
        }
    }

    /// A pass over `cluster` finds nothing and reads no file; once a node with room and no
    /// file joins, the files are read again and its two copy slots fill.
    static func expectIdleUntilNodeWithRoomJoins(_ cluster: InstantCluster) async throws {
        let (plan, read) = try await countedPass(cluster)
        #expect(plan.isIdle)
        #expect(read == 0, "files read by an idle pass: \(read)")
        try await cluster.addNode("c", quota: 100)
        let (work, _) = try await countedPass(cluster)
        #expect(work.actions.count == 2, "c's slots (2 copies) fill")
    }

    @Test("Every node holds every file: a pass over 3,000 files reads none; one new file is the only one read")
    func everythingEverywhere() async throws {
        let cluster = try InstantCluster()
        for id in ["a", "b", "c"] { try await cluster.addNode(NodeID(id), quota: 1_000_000) }
        try await cluster.catalog.importFiles(try Self.files(3_000, prefix: "old", n: 2, on: ["a", "b", "c"]))

        let (idle, read) = try await Self.countedPass(cluster)
        #expect(idle.isIdle)
        #expect(read == 0, "files read by an idle pass: \(read)")

        try await cluster.catalog.importFiles(try Self.files(1, prefix: "new", n: 2, on: ["a"]))
        let (work, readForWork) = try await Self.countedPass(cluster)
        #expect(work.actions.count == 1)
        #expect(readForWork == 1, "files read to plan one copy: \(readForWork)")
    }

    @Test("No target has room and no eviction is a strict improvement: a pass over 2,000 files reads none")
    func noRoomAnywhere() async throws {
        let cluster = try InstantCluster()
        // Each node exactly full of its own files, all at kn = 0.
        for id in ["a", "b"] { try await cluster.addNode(NodeID(id), quota: 10_000) }
        try await cluster.catalog.importFiles(try Self.files(1_000, prefix: "a", n: 1, on: ["a"]))
        try await cluster.catalog.importFiles(try Self.files(1_000, prefix: "b", n: 1, on: ["b"]))

        try await Self.expectIdleUntilNodeWithRoomJoins(cluster)
    }

    @Test("Files short of copies with nowhere to go (the one node with room holds them all): a pass over 2,000 reads none")
    func onlyHolderHasRoom() async throws {
        let cluster = try InstantCluster()
        // A master that stores nothing and one node with every file, each asking for 2 copies.
        try await cluster.addNode("m", quota: 0)
        try await cluster.addNode("a", quota: 1_000_000)
        try await cluster.catalog.importFiles(try Self.files(2_000, prefix: "f", n: 2, on: ["a"]))

        try await Self.expectIdleUntilNodeWithRoomJoins(cluster)
    }

    @Test("Planning inputs ignore load below the limit and the order of work in flight, and nothing else")
    func planningInputs() {
        let limits = PlannerLimits(maxLoad: 4)
        let nodes = [
            PlannerNode(id: "a", alive: true, quota: 100, used: 10, load: 0.5),
            PlannerNode(id: "b", alive: true, quota: 100, used: 20, load: 1),
        ]
        let copies = [
            InFlightCopy(file: FileID(1), size: 5, source: "a", target: "b"),
            InFlightCopy(file: FileID(2), size: 5, source: "b", target: "a"),
        ]
        let base = PlanningInputs(nodes: nodes, inFlight: InFlight(copies: copies), limits: limits, catalogWrites: 7)

        var calmer = nodes
        calmer[0].load = 3.9
        #expect(PlanningInputs(nodes: calmer.reversed(), inFlight: InFlight(copies: copies.reversed()), limits: limits, catalogWrites: 7) == base)

        var loaded = nodes
        loaded[1].load = 4
        var silent = nodes
        silent[0].fresh = false
        var fuller = nodes
        fuller[1].used = 21
        var unsafe = limits
        unsafe.allowEvictions = false
        let changed: [PlanningInputs] = [
            PlanningInputs(nodes: loaded, inFlight: InFlight(copies: copies), limits: limits, catalogWrites: 7),
            PlanningInputs(nodes: silent, inFlight: InFlight(copies: copies), limits: limits, catalogWrites: 7),
            PlanningInputs(nodes: fuller, inFlight: InFlight(copies: copies), limits: limits, catalogWrites: 7),
            PlanningInputs(nodes: nodes, inFlight: InFlight(copies: copies), limits: limits, catalogWrites: 8),
            PlanningInputs(nodes: nodes, inFlight: InFlight(copies: Array(copies.prefix(1))), limits: limits, catalogWrites: 7),
            PlanningInputs(
                nodes: nodes, inFlight: InFlight(copies: copies, backoff: [Placement(file: FileID(3), node: "a")]), limits: limits,
                catalogWrites: 7),
            PlanningInputs(nodes: nodes, inFlight: InFlight(copies: copies), limits: unsafe, catalogWrites: 7),
        ]
        for inputs in changed { #expect(inputs != base) }
    }

    @Test("A store's smallest file and lowest kn tell whether any file may be within the bounds")
    func mayAdmitAny() {
        let tight = CandidateBounds(kBelow: 3, roomFor: 99, evictionUpToKn: nil)
        #expect(!tight.mayAdmitAny(smallestSize: 100, lowestKn: -5))
        #expect(tight.mayAdmitAny(smallestSize: 99, lowestKn: 0))
        #expect(!tight.mayAdmitAny(smallestSize: nil, lowestKn: nil), "an empty store")
        let evicting = CandidateBounds(kBelow: 3, roomFor: 0, evictionUpToKn: -1)
        #expect(evicting.mayAdmitAny(smallestSize: 100, lowestKn: -1))
        #expect(!evicting.mayAdmitAny(smallestSize: 100, lowestKn: 0))
    }
}
