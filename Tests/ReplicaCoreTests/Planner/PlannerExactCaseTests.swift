import Foundation
import Testing
import ReplicaCore
import TestSupport

/// The cases ARCHITECTURE.md and the issue spell out, step by step, on the real catalog.
@Suite("Planner: exact cases")
struct PlannerExactCaseTests {
    @Test("Three 10-byte nodes, N = 2: fill-up, one eviction, a refused upload, then a fourth node")
    func threeSmallNodes() async throws {
        let cluster = try InstantCluster()
        for id in ["n1", "n2", "n3"] { try await cluster.addNode(NodeID(id), quota: 10) }

        try #require(try await cluster.upload("f1", size: 10, n: 2) != nil)
        try await cluster.converge()
        #expect(try await cluster.holders("f1").count == 3)
        #expect(try await cluster.kn("f1") == 1)

        try #require(try await cluster.upload("f2", size: 10, n: 2) != nil)
        let after = try await cluster.converge()
        #expect(after.isEmpty, "nothing can improve once f1 is at N")
        #expect(try await cluster.kn("f1") == 0)
        #expect(try await cluster.kn("f2") == -1)
        #expect(try await cluster.holders("f1").count == 2, "f1 lost exactly one copy")

        #expect(try await cluster.upload("f3", size: 10, n: 2) == nil, "evicting f1 or f2 would drop it below N")
        #expect(try await cluster.catalog.totals().files == 2)

        try await cluster.addNode("n4", quota: 10)
        let fourth = try await cluster.converge()
        #expect(fourth.map(\.target) == ["n4"])
        #expect(fourth.map(\.evicting) == [[]])
        #expect(try await cluster.kn("f2") == 0)
        #expect(try await cluster.catalog.totals().minKn == 0)
    }

    @Test("One 50-byte node and five 10-byte nodes end with every file at K = 2, one per small node",
          arguments: [0, 1, 2, 3, 4, 5])
    func oneBigFiveSmall(order: Int) async throws {
        let cluster = try InstantCluster()
        // Vary which node sorts first and the upload order, and whether the store converges
        // between uploads.
        let big = NodeID(order.isMultiple(of: 2) ? "a-big" : "z-big")
        try await cluster.addNode(big, quota: 50)
        for i in 1...5 { try await cluster.addNode(NodeID("small-\(i)"), quota: 10) }
        var names = (1...5).map { "f\($0)" }
        var generator = SplitMix64(seed: UInt64(order))
        names.shuffle(using: &generator)
        for name in names {
            try #require(try await cluster.upload(name, size: 10, n: 2) != nil)
            if order < 3 { try await cluster.converge() }
        }
        try await cluster.converge()
        var smallHolders: [NodeID] = []
        for name in names {
            let holders = try await cluster.holders(name)
            #expect(holders.count == 2, "\(name) on \(holders.sorted())")
            #expect(holders.contains(big))
            smallHolders += holders.subtracting([big])
        }
        #expect(Set(smallHolders).count == 5, "each small node holds a different file")
        #expect(try await cluster.catalog.totals().minKn == 0)
    }

    @Test("A node that goes down drops K at once and restores it on return with no copy")
    func nodeDownAndBack() async throws {
        let cluster = try InstantCluster()
        for id in ["n1", "n2"] { try await cluster.addNode(NodeID(id), quota: 10) }
        try #require(try await cluster.upload("f", size: 10, n: 2) != nil)
        try await cluster.converge()
        #expect(try await cluster.kn("f") == 0)

        try await cluster.catalog.setNodeAlive("n2", alive: false)
        #expect(try await cluster.kn("f") == -1)
        #expect(try await cluster.catalog.totals().underReplicated == 1)
        #expect(try await cluster.plan().isEmpty, "n1 already holds f; nowhere else to copy")

        try await cluster.catalog.setNodeAlive("n2", alive: true)
        #expect(try await cluster.kn("f") == 0)
        #expect(try await cluster.plan().isEmpty, "the returning copy counts again; nothing to copy")
    }

    @Test("Copies in flight reserve space and take slots; a file has at once as many copies as it lacks, never two to one node")
    func inFlightReservesSpace() async throws {
        let cluster = try InstantCluster(limits: PlannerLimits(maxCopiesPerNode: 1))
        for id in ["n1", "n2", "n3"] { try await cluster.addNode(NodeID(id), quota: 20) }
        let f = try #require(try await cluster.upload("f", size: 10, n: 2))
        let g = try #require(try await cluster.upload("g", size: 10, n: 2))
        let first = try await cluster.plan()
        #expect(first.count == 2)
        // With f's copy in flight to n2, f (one copy short) is not planned again and n2 has
        // no slot left.
        let source = try #require(try await cluster.holders("f").first)
        let inFlight = InFlight(copies: [InFlightCopy(file: f.id, size: 10, source: source, target: "n2")])
        let second = try await cluster.plan(inFlight: inFlight)
        for case .copy(let copy) in second {
            #expect(copy.file == g.id)
            #expect(copy.target != "n2")
        }
        // A pending upload reserves space without taking a slot.
        let upload = InFlightCopy(file: FileID(999), size: 20, source: nil, target: "n3")
        let third = try await cluster.plan(inFlight: InFlight(copies: [upload]))
        for case .copy(let copy) in third { #expect(copy.target != "n3") }
    }

    @Test("A file two copies short gets both at once, to two nodes, from one pass; with one under way it gets the other; at N, one at a time")
    func aFileShortOfSeveralCopiesGetsThemAtOnce() async throws {
        let cluster = try InstantCluster(limits: PlannerLimits(maxCopiesPerNode: 2))
        for id in ["n1", "n2", "n3", "n4"] { try await cluster.addNode(NodeID(id), quota: 100) }
        let f = try #require(try await cluster.upload("f", size: 10, n: 3))
        let source = try #require(try await cluster.holders("f").first)
        let both = try await cluster.plan()
        let targets = both.compactMap { action -> NodeID? in
            if case .copy(let copy) = action, copy.file == f.id { return copy.target }
            return nil
        }
        #expect(targets.count == 2 && Set(targets).count == 2 && !targets.contains(source), "\(both)")

        // One copy under way: the other, never to the node receiving the first.
        let underway = InFlight(copies: [InFlightCopy(file: f.id, size: 10, source: source, target: targets[0])])
        let other = try await cluster.plan(inFlight: underway)
        let next = other.compactMap { action -> NodeID? in
            if case .copy(let copy) = action, copy.file == f.id { return copy.target }
            return nil
        }
        #expect(next.count == 1 && next[0] != targets[0] && next[0] != source, "\(other)")

        // Both under way: nothing more for f until they land.
        let bothUnderway = InFlight(copies: targets.map { InFlightCopy(file: f.id, size: 10, source: source, target: $0) })
        #expect(try await cluster.plan(inFlight: bothUnderway).isEmpty)

        // At N (K = 3), spare room gets one extra copy at a time.
        try await cluster.converge()
        let g = try #require(try await cluster.upload("g", size: 10, n: 1))
        let spare = try await cluster.plan()
        let copiesOfG = spare.filter { if case .copy(let copy) = $0 { return copy.file == g.id } else { return false } }
        #expect(copiesOfG.count == 1, "\(spare)")
    }

    @Test("Batches of small files share a copy slot, two batches to a slot, by files or by bytes whichever fills first",
          arguments: [(size: Int64(10), perTarget: 8), (size: Int64(40), perTarget: 5)])
    func smallFileBatchesShareASlot(size: Int64, perTarget: Int) async throws {
        var limits = PlannerLimits(maxCopiesPerNode: 1)
        limits.batchFiles = 4
        limits.batchBytes = 100
        limits.batchesPerSlot = 2
        let cluster = try InstantCluster(limits: limits)
        for id in ["n1", "n2"] { try await cluster.addNode(NodeID(id), quota: 10_000) }
        for index in 0..<20 { try #require(try await cluster.upload("f\(index)", size: size, n: 2) != nil) }
        let plan = try await cluster.plan()
        var perNode: [NodeID: Int] = [:]
        for case .copy(let copy) in plan { perNode[copy.target, default: 0] += 1 }
        // 4 files a batch, two batches a slot: 8 files; at 40 B, 200 B a slot: 5 files.
        #expect(perNode == ["n1": perTarget, "n2": perTarget], "\(plan)")
    }

    @Test("The eviction floor keeps files above N + floor")
    func evictionFloorIsRespected() async throws {
        let cluster = try InstantCluster(limits: PlannerLimits(evictionFloor: 1))
        for id in ["n1", "n2", "n3"] { try await cluster.addNode(NodeID(id), quota: 10) }
        try #require(try await cluster.upload("f1", size: 10, n: 1) != nil)
        try await cluster.converge()
        #expect(try await cluster.kn("f1") == 2)
        // Evicting f1 (kn 2) would leave kn 1 = floor: allowed once, not twice.
        try #require(try await cluster.upload("f2", size: 10, n: 1) != nil)
        try await cluster.converge()
        #expect(try await cluster.kn("f1") == 1)
        #expect(try await cluster.upload("f3", size: 10, n: 1) == nil)
    }

    @Test("Targets: most free space first, then least load; overloaded and full nodes are skipped")
    func targetPreference() async throws {
        let cluster = try InstantCluster(limits: PlannerLimits(maxLoad: 2.0))
        try await cluster.addNode("src", quota: 100)
        try await cluster.addNode("roomy", quota: 80, load: 1.0)
        try await cluster.addNode("roomy-idle", quota: 80, load: 0.1)
        try await cluster.addNode("huge-but-busy", quota: 1_000, load: 3.0)
        try await cluster.addNode("tiny", quota: 5)
        let file = try #require(try await cluster.upload("f", size: 10, n: 2))
        #expect(try await cluster.holders("f") == ["huge-but-busy"], "uploads only need room")
        // Move it so the test controls the source.
        try await cluster.catalog.removeReplica(file.id, from: "huge-but-busy")
        try await cluster.catalog.setReplica(file.id, on: "src", state: .live)
        let actions = try await cluster.plan()
        #expect(actions == [.copy(CopyPlan(file: file.id, size: 10, source: "src", target: "roomy-idle"))])
    }

    @Test("A large file may evict several over-replicated files at once")
    func severalEvictionsForALargeFile() async throws {
        let cluster = try InstantCluster()
        for id in ["n1", "n2"] { try await cluster.addNode(NodeID(id), quota: 30) }
        for i in 0..<3 { try #require(try await cluster.upload("small-\(i)", size: 10, n: 1) != nil) }
        try await cluster.converge()
        for i in 0..<3 { #expect(try await cluster.kn("small-\(i)") == 1) }
        let big = try #require(try await cluster.upload("big", size: 30, n: 1))
        #expect(try await cluster.holders("big").count == 1)
        for i in 0..<3 { #expect(try await cluster.kn("small-\(i)") == 0) }
        #expect(big.k == 1)
    }

    @Test("A file with no live copy on an alive node is not scheduled")
    func lostFileIsNotScheduled() async throws {
        let cluster = try InstantCluster()
        for id in ["n1", "n2"] { try await cluster.addNode(NodeID(id), quota: 100) }
        try #require(try await cluster.upload("f", size: 10, n: 2) != nil)
        let holder = try #require(try await cluster.holders("f").first)
        try await cluster.catalog.setNodeAlive(holder, alive: false)
        #expect(try await cluster.plan().isEmpty)
    }

    @Test("A (file, node) pair in back-off is not tried")
    func backoffIsHonoured() async throws {
        let cluster = try InstantCluster()
        for id in ["n1", "n2"] { try await cluster.addNode(NodeID(id), quota: 100) }
        let file = try #require(try await cluster.upload("f", size: 10, n: 2))
        let other: NodeID = try await cluster.holders("f") == ["n1"] ? "n2" : "n1"
        #expect(try await cluster.plan().count == 1)
        #expect(try await cluster.plan(inFlight: InFlight(backoff: [Placement(file: file.id, node: other)])).isEmpty)
    }

    @Test("Only the evictions a file needs are made: a victim covered by a larger one stays")
    func superfluousEvictionsArePruned() async throws {
        let cluster = try InstantCluster()
        try await cluster.addNode("x", quota: 40)
        try await cluster.addNode("y", quota: 26)
        try await cluster.addNode("z", quota: 9)
        try await cluster.catalog.importFiles([
            ImportedFile(file: Fixture.newFile("a", size: 9, n: 1), holders: ["x", "y", "z"]),
            ImportedFile(file: Fixture.newFile("b", size: 17, n: 1), holders: ["x", "y"]),
        ])
        #expect(try await cluster.kn("a") == 2)
        // x has 14 bytes free; evicting a (kn 2) then b (kn 1) frees 26 but b alone is enough.
        try #require(try await cluster.upload("c", size: 29, n: 1) != nil)
        #expect(try await cluster.holders("c") == ["x"])
        #expect(try await cluster.holders("a") == ["x", "y", "z"])
        #expect(try await cluster.holders("b") == ["y"])
    }

    // MARK: Make before break: freshness

    /// n1 and n2 hold G (N = 1, K = 2, so kn 1) and are full; n3 holds F (N = 2, K = 1) and
    /// is full. F's copy can only go to n1 or n2 by evicting G, which the rules allow while
    /// both of G's holders are fresh.
    static func clusterWithGTwice() async throws -> (InstantCluster, g: FileRecord, f: FileRecord) {
        let cluster = try InstantCluster()
        for id in ["n1", "n2", "n3"] { try await cluster.addNode(NodeID(id), quota: 10) }
        try await cluster.catalog.importFiles([
            ImportedFile(file: Fixture.newFile("g", size: 10, n: 1), holders: ["n1", "n2"]),
            ImportedFile(file: Fixture.newFile("f", size: 10, n: 2), holders: ["n3"]),
        ])
        let g = try #require(try await cluster.catalog.file(at: Fixture.path("g")))
        let f = try #require(try await cluster.catalog.file(at: Fixture.path("f")))
        #expect(g.kn == 1)
        #expect(f.kn == -1)
        return (cluster, g, f)
    }

    @Test("N = 1, K = 2 with one holder silent: G's one fresh copy is not evicted, for a copy or an upload")
    func evictionCountsOnlyFreshCopies() async throws {
        var (cluster, _, _) = try await Self.clusterWithGTwice()
        cluster.silent = ["n2"]
        // Counting only fresh copies, G has kn 0 on n1: evicting it would go below the floor.
        #expect(try await cluster.plan().isEmpty, "no eviction of G's copy on n1 while n2 is silent")
        #expect(try await cluster.upload("u", size: 10, n: 1) == nil, "the upload may not evict G either")
        #expect(try await cluster.holders("g") == ["n1", "n2"])
        #expect(try await cluster.kn("g") == 1, "the catalog's K is unchanged: K is the truth")
    }

    @Test("N = 1, K = 2 with both holders fresh: G's extra copy is evicted for F")
    func evictionWithBothHoldersFresh() async throws {
        let (cluster, g, f) = try await Self.clusterWithGTwice()
        let actions = try await cluster.plan()
        #expect(actions == [
            .evict(EvictionPlan(file: g.id, node: "n1", size: 10, makingRoomFor: f.id)),
            .copy(CopyPlan(file: f.id, size: 10, source: "n3", target: "n1", evicting: [g.id])),
        ])
        #expect(try await cluster.upload("u", size: 10, n: 1) != nil, "an upload may evict it too")
    }

    @Test("A silent node is never a copy or upload target, even with the most free space")
    func silentNodeIsNoTarget() async throws {
        var cluster = try InstantCluster()
        try await cluster.addNode("src", quota: 10)
        try await cluster.addNode("silent", quota: 1_000)
        try await cluster.addNode("small", quota: 10)
        try await cluster.catalog.importFiles([ImportedFile(file: Fixture.newFile("f", size: 10, n: 3), holders: ["src"])])
        let f = try #require(try await cluster.catalog.file(at: Fixture.path("f")))
        cluster.silent = ["silent"]
        #expect(try await cluster.plan() == [.copy(CopyPlan(file: f.id, size: 10, source: "src", target: "small"))])
        try #require(try await cluster.upload("u", size: 10, n: 1) != nil)
        #expect(try await cluster.holders("u") == ["small"])
        // Every fresh node is full now: the upload is refused rather than sent to the silent one.
        #expect(try await cluster.upload("v", size: 10, n: 1) == nil)
        cluster.silent = []
        try #require(try await cluster.upload("v", size: 10, n: 1) != nil)
        #expect(try await cluster.holders("v") == ["silent"])
    }

    @Test("A silent holder is a copy source only when no fresh holder has the file")
    func freshSourcesFirst() async throws {
        var cluster = try InstantCluster()
        for id in ["a", "b", "c"] { try await cluster.addNode(NodeID(id), quota: 100) }
        try await cluster.catalog.importFiles([ImportedFile(file: Fixture.newFile("f", size: 10, n: 3), holders: ["a", "b"])])
        let f = try #require(try await cluster.catalog.file(at: Fixture.path("f")))
        // By id, a would be the source.
        #expect(try await cluster.plan() == [.copy(CopyPlan(file: f.id, size: 10, source: "a", target: "c"))])
        cluster.silent = ["a"]
        #expect(try await cluster.plan() == [.copy(CopyPlan(file: f.id, size: 10, source: "b", target: "c"))])
        cluster.silent = ["a", "b"]
        #expect(try await cluster.plan() == [.copy(CopyPlan(file: f.id, size: 10, source: "a", target: "c"))],
                "a silent source is still better than none")
    }
}
