import Foundation
import Testing
import ReplicaCore
import TestSupport

/// Planner rules 8 (drain), 9 (maintenance) and 10 (rate limit), case by case.
@Suite("Planner: drain, maintenance and rate limit")
struct PlannerDrainTests {
    @Test("A pass reads a draining node's files only as far as it plans: 2,000 files to drain, 10 copies, a few pages")
    func drainReadsLazily() async throws {
        let cluster = try InstantCluster(limits: PlannerLimits(maxCopiesPerNode: 100, maxActions: 10, batchSize: 50))
        for id in ["d", "a", "b"] { try await cluster.addNode(NodeID(id), quota: 1_000_000) }
        var imported: [ImportedFile] = []
        for i in 0..<2_000 {
            imported.append(ImportedFile(
                file: NewFile(path: try VirtualPath("f\(i)"), size: 10, sha256: String(repeating: "a", count: 64), n: 2),
                holders: ["d", "a"]))
        }
        try await cluster.catalog.importFiles(imported)
        try await cluster.catalog.setDraining("d", true)
        let nodes = try await cluster.plannerNodes()
        let planner = cluster.planner
        let (actions, reads) = try await cluster.catalog.withPlannerView { queries in
            let counting = CountingQueries(base: queries)
            let actions = try planner.plan(queries: counting, nodes: nodes, inFlight: .none)
            return (actions, counting.replicaReads)
        }
        #expect(actions.count == 10)
        #expect(actions.allSatisfy { if case .copy(let copy) = $0 { copy.target == "b" } else { false } })
        #expect(reads <= 200, "\(reads) replica reads for 10 copies")
    }

    @Test("A draining node receives nothing; every file it holds gets N copies on other nodes, and it keeps its own")
    func drainCopiesEverythingNeeded() async throws {
        var cluster = try InstantCluster()
        try await cluster.addNode("d", quota: 1_000)  // the most room: would be everyone's first target
        for id in ["a", "b", "c"] { try await cluster.addNode(NodeID(id), quota: 100) }
        let f = try await cluster.place("f", size: 10, n: 2, on: ["d", "a"])
        let g = try await cluster.place("g", size: 10, n: 1, on: ["d"])
        try await cluster.catalog.setDraining("d", true)
        #expect(try await cluster.drainProgress("d") == DrainProgress(filesLeft: 2, bytesLeft: 20, beyondSwarm: 0))
        #expect(try await cluster.catalog.file(id: f.id)?.k == 2, "the draining copy still counts in K")

        let copies = try await cluster.converge()
        #expect(!copies.isEmpty)
        #expect(copies.allSatisfy { $0.target != "d" })
        for file in [f, g] {
            let holders = try await cluster.holders(file.path.rawValue)
            #expect(holders.contains("d"), "the drain removes nothing from the node")
            #expect(holders.subtracting(["d"]).count >= file.n)
        }
        #expect(try await cluster.drainProgress("d") == DrainProgress(filesLeft: 0, bytesLeft: 0, beyondSwarm: 0))
        cluster.planner.limits.maxActions = 1
        try #require(try await cluster.upload("u", size: 10, n: 1) != nil)
        #expect(try await cluster.holders("u") != ["d"], "uploads avoid a draining node")
    }

    @Test("A file a draining node holds takes the priority of a file missing that copy")
    func drainedFilesComeFirst() async throws {
        let cluster = try InstantCluster()
        try await cluster.addNode("a", quota: 100)
        try await cluster.addNode("d", quota: 10)
        try await cluster.addNode("t", quota: 10)  // room for one more copy in the whole store
        let f = try await cluster.place("f", size: 10, n: 2, on: ["d", "a"])
        let g = try await cluster.place("g", size: 10, n: 1, on: ["a"])
        // Both at kn 0; by the scheduling order g (K = 1) would take t's room.
        #expect(try await cluster.plan() == [.copy(CopyPlan(file: g.id, size: 10, source: "a", target: "t"))])
        try await cluster.catalog.setDraining("d", true)
        #expect(try await cluster.plan() == [.copy(CopyPlan(file: f.id, size: 10, source: "a", target: "t"))])
    }

    @Test("A drain may evict over-replicated copies for a file only the draining node holds")
    func drainEvictsOverReplicatedCopies() async throws {
        let cluster = try InstantCluster()
        for id in ["d", "a", "t"] { try await cluster.addNode(NodeID(id), quota: 10) }
        let f = try await cluster.place("f", size: 10, n: 1, on: ["d"])
        let g = try await cluster.place("g", size: 10, n: 1, on: ["a", "t"])
        #expect(try await cluster.plan().isEmpty, "without a drain f is at N and g's extra copy stays")

        try await cluster.catalog.setDraining("d", true)
        let actions = try await cluster.plan()
        guard case .copy(let copy)? = actions.last else {
            Issue.record("no copy planned: \(actions)")
            return
        }
        #expect(copy.file == f.id)
        #expect(copy.source == "d", "the draining node is the source")
        #expect(copy.evicting == [g.id])
        try await cluster.converge()
        #expect(try await cluster.holders("f") == ["d", copy.target])
        #expect(try await cluster.kn("g") == 0)
        #expect(try await cluster.drainProgress("d").filesLeft == 0)
    }

    @Test("Copies on a draining node do not hold a victim above the eviction floor")
    func drainingCopiesDoNotCountForTheFloor() async throws {
        var cluster = try InstantCluster()
        for id in ["a", "d", "t"] { try await cluster.addNode(NodeID(id), quota: 10) }
        try await cluster.place("f", size: 10, n: 2, on: ["a"])
        let g = try await cluster.place("g", size: 10, n: 1, on: ["d", "t"])
        try await cluster.catalog.setDraining("d", true)
        #expect(try await cluster.plan().isEmpty, "g's other copy is on a draining node: evicting it from t would leave g below N once d stops")
        #expect(try await cluster.drainProgress("d").filesLeft == 0, "g has its N copies elsewhere")

        try await cluster.catalog.setDraining("d", false)
        let actions = try await cluster.plan()
        let victims = actions.compactMap { if case .evict(let plan) = $0 { plan.file } else { nil } }
        #expect(victims == [g.id], "with d counted, g's extra copy may go")
        cluster.planner.limits.allowEvictions = false
        #expect(try await cluster.plan().isEmpty)
    }

    @Test("With too few other nodes a drain stops at the copies the swarm can hold, and says so")
    func drainBeyondTheSwarm() async throws {
        let cluster = try InstantCluster()
        for id in ["a", "d"] { try await cluster.addNode(NodeID(id), quota: 100) }
        try await cluster.place("f", size: 10, n: 3, on: ["a", "d"])
        try await cluster.catalog.setDraining("d", true)
        #expect(try await cluster.plan().isEmpty)
        #expect(try await cluster.drainProgress("d") == DrainProgress(filesLeft: 1, bytesLeft: 10, beyondSwarm: 1))

        try await cluster.addNode("b", quota: 100)
        #expect(try await cluster.converge().map(\.target) == ["b"])
        #expect(try await cluster.drainProgress("d") == DrainProgress(filesLeft: 1, bytesLeft: 10, beyondSwarm: 1), "two copies elsewhere of three")
        try await cluster.addNode("c", quota: 100)
        #expect(try await cluster.drainProgress("d") == DrainProgress(filesLeft: 1, bytesLeft: 10, beyondSwarm: 0), "c can take the third")
        #expect(try await cluster.converge().map(\.target) == ["c"])
        #expect(try await cluster.drainProgress("d") == DrainProgress(filesLeft: 0, bytesLeft: 0, beyondSwarm: 0))
    }

    @Test("A node in maintenance receives nothing, is a source of last resort, and its copies keep counting")
    func maintenanceNode() async throws {
        var cluster = try InstantCluster()
        try await cluster.addNode("m", quota: 1_000)
        for id in ["a", "b"] { try await cluster.addNode(NodeID(id), quota: 100) }
        let f = try await cluster.place("f", size: 10, n: 2, on: ["m", "a"])
        let h = try await cluster.place("h", size: 10, n: 1, on: ["m"])
        cluster.maintenance = ["m"]
        #expect(try await cluster.catalog.file(id: f.id)?.kn == 0, "its copy counts")
        let actions = try await cluster.plan()
        for case .copy(let copy) in actions {
            #expect(copy.target != "m")
            if copy.file == f.id { #expect(copy.source == "a", "a fresh source first") }
            if copy.file == h.id { #expect(copy.source == "m", "the only holder") }
        }
        try #require(try await cluster.upload("u", size: 10, n: 1) != nil)
        #expect(try await cluster.holders("u") != ["m"])
    }

    @Test("Copies on a node in maintenance do not count for the eviction floor")
    func maintenanceCopiesDoNotCountForTheFloor() async throws {
        var cluster = try InstantCluster()
        for id in ["a", "m", "t"] { try await cluster.addNode(NodeID(id), quota: 10) }
        try await cluster.place("f", size: 10, n: 2, on: ["a"])
        try await cluster.place("g", size: 10, n: 1, on: ["m", "t"])
        cluster.maintenance = ["m"]
        #expect(try await cluster.plan().isEmpty)
        cluster.maintenance = []
        #expect(!(try await cluster.plan()).isEmpty)
    }

    @Test("A budget starts copies in order until it is spent; a full bucket lets one larger copy go alone")
    func copyBudget() async throws {
        let cluster = try InstantCluster()
        for id in ["a", "b"] { try await cluster.addNode(NodeID(id), quota: 1_000) }
        var files: [FileRecord] = []
        for i in 0..<4 { files.append(try await cluster.place("f\(i)", size: 10, n: 2, on: ["a"])) }
        let unlimited = try await cluster.plan()
        #expect(unlimited.count == 2, "two copy slots on b")

        let two = try await cluster.plan(budget: CopyBudget(bytes: 25, full: false))
        #expect(two.actions.count == 2)
        #expect(two.heldBack == nil, "the slots, not the budget, ended the pass")
        let one = try await cluster.plan(budget: CopyBudget(bytes: 15, full: false))
        #expect(one.actions == Array(unlimited.prefix(1)), "the first file in order goes first")
        #expect(one.heldBack == 10)
        let alone = try await cluster.plan(budget: CopyBudget(bytes: 5, full: true))
        #expect(alone.actions == Array(unlimited.prefix(1)))
        #expect(alone.heldBack == 10)
        for budget in [CopyBudget(bytes: 5, full: false), CopyBudget(bytes: -100, full: false)] {
            let none = try await cluster.plan(budget: budget)
            #expect(none.actions.isEmpty)
            #expect(none.heldBack == 10)
        }
    }

    @Test("The rate limiter starts full, refills at its rate, and lets an oversized copy go into debt")
    func rateLimiter() {
        let start = Date(timeIntervalSince1970: 1_000)
        var limiter = ReplicationRateLimiter(bytesPerSecond: 1_000, now: start)
        #expect(limiter.budget(at: start) == CopyBudget(bytes: 1_000, full: true))
        limiter.spend(600, at: start)
        #expect(limiter.budget(at: start) == CopyBudget(bytes: 400, full: false))
        #expect(limiter.budget(at: start.addingTimeInterval(0.3)) == CopyBudget(bytes: 700, full: false))
        #expect(limiter.budget(at: start.addingTimeInterval(60)) == CopyBudget(bytes: 1_000, full: true), "never above one second")
        let later = start.addingTimeInterval(60)
        limiter.spend(3_000, at: later)
        #expect(limiter.budget(at: later).bytes == -2_000)
        let affordable = limiter.whenAffordable(3_000, at: later)
        #expect(abs(affordable.timeIntervalSince(later) - 3.001) < 0.0001, "a bucket's worth, from -2000 to 1000")
        #expect(limiter.whenAffordable(100, at: affordable) == affordable)
    }

    @Test("Over any run the copies a limiter lets start stay within rate × time plus one bucket plus one file")
    func rateLimiterBound() {
        var rng = SplitMix64(seed: 7)
        let rate: Int64 = 1_000
        let start = Date(timeIntervalSince1970: 0)
        var limiter = ReplicationRateLimiter(bytesPerSecond: rate, now: start)
        var started: Int64 = 0
        var largest: Int64 = 0
        var queue: [Int64] = (0..<400).map { _ in Int64(1 + rng.next() % 2_500) }
        for step in 0..<2_000 {
            let now = start.addingTimeInterval(Double(step) * 0.05)
            var budget = limiter.budget(at: now)
            var spent: Int64 = 0
            var first = true
            while let size = queue.first, spent + size <= budget.bytes || (first && budget.full) {
                queue.removeFirst()
                spent += size
                largest = max(largest, size)
                first = false
                budget.full = false
            }
            limiter.spend(spent, at: now)
            started += spent
            let bound = rate * Int64(Double(step) * 0.05) + rate + largest
            #expect(started <= bound, "step \(step): \(started) bytes started, bound \(bound)")
        }
        #expect(queue.count < 400, "copies did start")
    }
}

/// Counts the planner's reads of files and of a file's replicas (one query each on a real catalog).
final class CountingQueries: PlannerQueries {
    let base: any PlannerQueries
    private(set) var replicaReads = 0
    /// Files the scheduling order handed to the planner.
    private(set) var filesRead = 0

    init(base: any PlannerQueries) { self.base = base }

    func files(after cursor: FileState?, limit: Int) throws -> [FileState] {
        let page = try base.files(after: cursor, limit: limit)
        filesRead += page.count
        return page
    }
    func files(after cursor: FileState?, limit: Int, within bounds: CandidateBounds) throws -> [FileState] {
        let page = try base.files(after: cursor, limit: limit, within: bounds)
        filesRead += page.count
        return page
    }
    func replicas(of file: FileID) throws -> [ReplicaRecord] {
        replicaReads += 1
        return try base.replicas(of: file)
    }
    func highestKnFiles(on node: NodeID, after cursor: FileState?, limit: Int) throws -> [FileState] {
        try base.highestKnFiles(on: node, after: cursor, limit: limit)
    }
    func lowestKnFiles(on node: NodeID, after cursor: FileState?, limit: Int) throws -> [FileState] {
        try base.lowestKnFiles(on: node, after: cursor, limit: limit)
    }
    func records(of files: [FileID]) throws -> [FileRecord] { try base.records(of: files) }
    func nodesHoldingEveryFile() throws -> Set<NodeID> { try base.nodesHoldingEveryFile() }
}
