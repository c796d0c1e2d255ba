import Foundation
import Testing
import ReplicaCore
import TestSupport

/// One suite, every backend: what the master relies on from any catalog.
@Suite("Catalog conformance")
struct CatalogConformanceTests {
    @Test("A new file starts with K = 0 and kn = −N", arguments: CatalogBackend.all)
    func newFileStartsUnreplicated(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        let file = try await catalog.putFile(Fixture.newFile("a/b.txt", size: 26, n: 3))
        #expect(file.k == 0)
        #expect(file.kn == -3)
        #expect(file.version == 1)
        let totals = try await catalog.totals()
        #expect(totals == CatalogTotals(files: 1, bytes: 26, underReplicated: 1, minKn: -3))
    }

    @Test("Live replicas on alive nodes count towards K; copying and evicting do not", arguments: CatalogBackend.all)
    func onlyLiveReplicasCount(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        for id in ["n1", "n2", "n3"] { try await catalog.registerNode(Fixture.node(id)) }
        let file = try await catalog.putFile(Fixture.newFile("f", n: 2))
        try await catalog.setReplica(file.id, on: "n1", state: .live)
        try await catalog.setReplica(file.id, on: "n2", state: .copying)
        #expect(try await catalog.file(id: file.id)?.k == 1)
        try await catalog.setReplica(file.id, on: "n2", state: .live)
        #expect(try await catalog.file(id: file.id)?.kn == 0)
        try await catalog.setReplica(file.id, on: "n1", state: .evicting)
        #expect(try await catalog.file(id: file.id)?.k == 1)
        try await catalog.removeReplica(file.id, from: "n1")
        #expect(try await catalog.file(id: file.id)?.k == 1)
        #expect(try await catalog.replicas(of: file.id) == [ReplicaRecord(file: file.id, node: "n2", state: .live)])
    }

    @Test("A node's holdings list every replica on it, with deleted versions and states", arguments: CatalogBackend.all)
    func holdingsListEveryReplicaOnANode(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        for id in ["n1", "n2"] { try await catalog.registerNode(Fixture.node(id)) }
        let kept = try await catalog.putFile(Fixture.newFile("kept", n: 1))
        let gone = try await catalog.putFile(Fixture.newFile("gone", n: 1))
        let elsewhere = try await catalog.putFile(Fixture.newFile("elsewhere", n: 1))
        try await catalog.setReplica(kept.id, on: "n1", state: .live)
        try await catalog.setReplica(gone.id, on: "n1", state: .live)
        try await catalog.setReplica(elsewhere.id, on: "n2", state: .live)
        _ = try await catalog.deleteFile(at: gone.path)
        let holdings = try await catalog.holdings(on: "n1").sorted { $0.file.id < $1.file.id }
        #expect(holdings.map(\.file.id) == [kept.id, gone.id])
        #expect(holdings.map(\.state) == [.live, .evicting])
        #expect(holdings.map(\.file.deleted) == [false, true])
        #expect(try await catalog.holdings(on: "unknown").isEmpty)
    }

    @Test("Recording the same replica twice counts it once", arguments: CatalogBackend.all)
    func replicaIsNeverCountedTwice(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        try await catalog.registerNode(Fixture.node("n1"))
        let file = try await catalog.putFile(Fixture.newFile("f", size: 7, n: 1))
        for _ in 0..<3 { try await catalog.setReplica(file.id, on: "n1", state: .live) }
        #expect(try await catalog.file(id: file.id)?.k == 1)
        #expect(try await catalog.node("n1")?.used == 7)
        #expect(try await catalog.nodeFigures()["n1"] == NodeFigures(files: 1, used: 7, maxKn: 0))
    }

    @Test("A node going down drops K of its files at once; coming back restores it", arguments: CatalogBackend.all)
    func nodeLivenessMovesK(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        for id in ["n1", "n2"] { try await catalog.registerNode(Fixture.node(id)) }
        var files: [FileRecord] = []
        for i in 0..<20 {
            let file = try await catalog.putFile(Fixture.newFile("d/\(i)", n: 2))
            try await catalog.setReplica(file.id, on: "n1", state: .live)
            if i.isMultiple(of: 2) { try await catalog.setReplica(file.id, on: "n2", state: .live) }
            files.append(file)
        }
        #expect(try await catalog.totals().minKn == -1)
        try await catalog.setNodeAlive("n1", alive: false)
        for (i, file) in files.enumerated() {
            #expect(try await catalog.file(id: file.id)?.k == (i.isMultiple(of: 2) ? 1 : 0))
        }
        #expect(try await catalog.totals() == CatalogTotals(files: 20, bytes: 200, underReplicated: 20, minKn: -2))
        // A replica added while the node is down does not count either.
        let late = try await catalog.putFile(Fixture.newFile("late", n: 1))
        try await catalog.setReplica(late.id, on: "n1", state: .live)
        #expect(try await catalog.file(id: late.id)?.k == 0)
        try await catalog.setNodeAlive("n1", alive: true)
        for (i, file) in files.enumerated() {
            #expect(try await catalog.file(id: file.id)?.k == (i.isMultiple(of: 2) ? 2 : 1))
        }
        #expect(try await catalog.file(id: late.id)?.k == 1)
        #expect(try await catalog.totals() == CatalogTotals(files: 21, bytes: 210, underReplicated: 10, minKn: -1))
    }

    @Test("Changing N moves kn and the under-replicated count", arguments: CatalogBackend.all)
    func changingNMovesKn(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        try await catalog.registerNode(Fixture.node("n1"))
        let file = try await catalog.putFile(Fixture.newFile("f", n: 1))
        try await catalog.setReplica(file.id, on: "n1", state: .live)
        #expect(try await catalog.totals().underReplicated == 0)
        try await catalog.setN(3, for: file.id)
        #expect(try await catalog.file(id: file.id)?.kn == -2)
        #expect(try await catalog.totals().underReplicated == 1)
        await #expect(throws: CatalogError.invalidReplicaCount(0)) { try await catalog.setN(0, for: file.id) }
        let changed = try await catalog.reevaluateN { path, _ in path.rawValue == "f" ? 1 : 5 }
        #expect(changed == 1)
        #expect(try await catalog.file(id: file.id)?.kn == 0)
    }

    @Test("Deleting writes a tombstone; holders are told until they confirm", arguments: CatalogBackend.all)
    func deleteLeavesPendingDeletions(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        for id in ["n1", "n2"] { try await catalog.registerNode(Fixture.node(id)) }
        let file = try await catalog.putFile(Fixture.newFile("gone.txt", size: 5, n: 2))
        try await catalog.setReplica(file.id, on: "n1", state: .live)
        try await catalog.setReplica(file.id, on: "n2", state: .live)
        let tombstone = try #require(try await catalog.deleteFile(at: Fixture.path("gone.txt")))
        #expect(tombstone.deleted)
        #expect(try await catalog.file(at: Fixture.path("gone.txt")) == nil)
        #expect(try await catalog.totals() == CatalogTotals(files: 0, bytes: 0, underReplicated: 0, minKn: nil))
        #expect(try await catalog.pendingDeletions(on: "n1").map(\.id) == [file.id])
        // The bytes stay on the node until it removes them.
        #expect(try await catalog.node("n1")?.used == 5)
        #expect(try await catalog.purgeTombstones() == 0)
        try await catalog.removeReplica(file.id, from: "n1")
        try await catalog.removeReplica(file.id, from: "n2")
        #expect(try await catalog.pendingDeletions(on: "n1").isEmpty)
        #expect(try await catalog.purgeTombstones() == 1)
        #expect(try await catalog.deleteFile(at: Fixture.path("gone.txt")) == nil)
    }

    @Test("Uploading a path again makes a new version and retires the old replicas", arguments: CatalogBackend.all)
    func reuploadMakesNewVersion(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        try await catalog.registerNode(Fixture.node("n1"))
        let first = try await catalog.putFile(Fixture.newFile("v.txt", size: 3, n: 1))
        try await catalog.setReplica(first.id, on: "n1", state: .live)
        let second = try await catalog.putFile(Fixture.newFile("v.txt", size: 4, n: 1))
        #expect(second.version == 2)
        #expect(second.id != first.id)
        #expect(try await catalog.file(at: Fixture.path("v.txt"))?.id == second.id)
        #expect(try await catalog.pendingDeletions(on: "n1").map(\.id) == [first.id])
        #expect(try await catalog.totals() == CatalogTotals(files: 1, bytes: 4, underReplicated: 1, minKn: -1))
        // Deleted and uploaded again: works, and the version keeps counting.
        _ = try await catalog.deleteFile(at: Fixture.path("v.txt"))
        let third = try await catalog.putFile(Fixture.newFile("v.txt", size: 5, n: 1))
        #expect(third.version == 3)
    }

    @Test("A commit asked again records one version: putting the same upload twice returns the version it stored", arguments: CatalogBackend.all)
    func sameUploadRecordsOneVersion(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        try await catalog.registerNode(Fixture.node("n1"))
        let first = try await catalog.putFile(Fixture.newFile("u.txt", size: 3, n: 1))
        try await catalog.setReplica(first.id, on: "n1", state: .live)
        var upload = Fixture.newFile("u.txt", size: 4, n: 1)
        upload.upload = "upload-1"
        let stored = try await catalog.putFile(upload)
        let again = try await catalog.putFile(upload)
        #expect(again.id == stored.id)
        #expect(again.version == 2)
        #expect(again.deleted == false)
        #expect(try await catalog.file(at: Fixture.path("u.txt"))?.id == stored.id)
        #expect(try await catalog.file(upload: "upload-1")?.id == stored.id)
        #expect(try await catalog.pendingDeletions(on: "n1").map(\.id) == [first.id])
        #expect(try await catalog.totals() == CatalogTotals(files: 1, bytes: 4, underReplicated: 1, minKn: -1))
    }

    @Test("Ids nodes report are never given to another version: the counter only goes up", arguments: CatalogBackend.all)
    func reservedIDsAreNeverReused(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        try await catalog.reserveFileIDs(through: FileID(100))
        let first = try await catalog.putFile(Fixture.newFile("a"))
        #expect(first.id > FileID(100))
        try await catalog.reserveFileIDs(through: FileID(50))
        let second = try await catalog.putFile(Fixture.newFile("b"))
        #expect(second.id > first.id)
        try await catalog.reserveFileIDs(through: FileID(second.id.rawValue + 1000))
        let third = try await catalog.putFile(Fixture.newFile("c"))
        #expect(third.id.rawValue > second.id.rawValue + 1000)
    }

    @Test("The recovery marker is off in a new catalog and stays as set", arguments: CatalogBackend.all)
    func recoveryMarker(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        #expect(try await catalog.isRecovering() == false)
        try await catalog.setRecovering(true)
        #expect(try await catalog.isRecovering())
        try await catalog.setRecovering(false)
        #expect(try await catalog.isRecovering() == false)
    }

    @Test("Listing by prefix is in path order and pages", arguments: CatalogBackend.all)
    func listingByPrefix(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        for name in ["b/2", "a/1", "b/1", "c", "b/3/x"] { _ = try await catalog.putFile(Fixture.newFile(name)) }
        _ = try await catalog.deleteFile(at: Fixture.path("b/2"))
        #expect(try await catalog.listFiles(prefix: "b/", after: nil, limit: 10).map(\.path.rawValue) == ["b/1", "b/3/x"])
        #expect(try await catalog.listFiles(prefix: "", after: nil, limit: 2).map(\.path.rawValue) == ["a/1", "b/1"])
        #expect(try await catalog.listFiles(prefix: "", after: Fixture.path("b/1"), limit: 5).map(\.path.rawValue) == ["b/3/x", "c"])
    }

    @Test("Unknown nodes and files are reported, not ignored", arguments: CatalogBackend.all)
    func unknownNodeOrFile(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        let file = try await catalog.putFile(Fixture.newFile("f"))
        await #expect(throws: CatalogError.unknownNode("ghost")) {
            try await catalog.setReplica(file.id, on: "ghost", state: .live)
        }
        await #expect(throws: CatalogError.unknownNode("ghost")) { try await catalog.setNodeAlive("ghost", alive: false) }
        try await catalog.registerNode(Fixture.node("n1"))
        await #expect(throws: CatalogError.unknownFile(FileID(999))) {
            try await catalog.setReplica(FileID(999), on: "n1", state: .live)
        }
    }

    @Test("Removing a node forgets its replicas", arguments: CatalogBackend.all)
    func removingNodeDropsReplicas(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        for id in ["n1", "n2"] { try await catalog.registerNode(Fixture.node(id)) }
        let file = try await catalog.putFile(Fixture.newFile("f", n: 2))
        try await catalog.setReplica(file.id, on: "n1", state: .live)
        try await catalog.setReplica(file.id, on: "n2", state: .live)
        try await catalog.removeNode("n2")
        #expect(try await catalog.file(id: file.id)?.k == 1)
        #expect(try await catalog.nodes().map(\.id) == ["n1"])
    }

    @Test("Files are counted per K and N present, deleted ones left out, and the counts follow liveness", arguments: CatalogBackend.all)
    func replicationCountsGroupByKAndN(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        #expect(try await catalog.replicationCounts().isEmpty)
        for id in ["n1", "n2", "n3"] { try await catalog.registerNode(Fixture.node(id)) }
        // (size, n, holders)
        let specs: [(Int64, Int, [NodeID])] = [
            (30, 2, ["n1"]), (10, 2, ["n2"]), (20, 3, ["n1", "n2"]), (10, 1, ["n1", "n2", "n3"]),
            (5, 3, []), (40, 1, ["n2"]), (7, 2, ["n1", "n3"]), (8, 2, []),
        ]
        for (i, spec) in specs.enumerated() {
            let file = try await catalog.putFile(Fixture.newFile("f\(i)", size: spec.0, n: spec.1))
            for node in spec.2 { try await catalog.setReplica(file.id, on: node, state: .live) }
        }
        let gone = try await catalog.putFile(Fixture.newFile("gone", size: 1000, n: 2))
        try await catalog.setReplica(gone.id, on: "n1", state: .live)
        _ = try await catalog.deleteFile(at: gone.path)

        let counts = try await catalog.replicationCounts()
        #expect(counts == [
            ReplicationCount(k: 0, n: 3, files: 1, bytes: 5),
            ReplicationCount(k: 0, n: 2, files: 1, bytes: 8),
            ReplicationCount(k: 1, n: 2, files: 2, bytes: 40),
            ReplicationCount(k: 2, n: 3, files: 1, bytes: 20),
            ReplicationCount(k: 1, n: 1, files: 1, bytes: 40),
            ReplicationCount(k: 2, n: 2, files: 1, bytes: 7),
            ReplicationCount(k: 3, n: 1, files: 1, bytes: 10),
        ])
        // The same store as the totals, and the backlog is what is missing of each file.
        let totals = try await catalog.totals()
        #expect(counts.reduce(0) { $0 + $1.files } == totals.files)
        #expect(counts.reduce(0) { $0 + $1.bytes } == totals.bytes)
        #expect(counts.filter { $0.kn < 0 }.reduce(0) { $0 + $1.files } == totals.underReplicated)
        #expect(counts.map(\.kn).min() == totals.minKn)
        let missing: Int64 = 5 * 3 + 8 * 2 + 30 + 10 + 20
        #expect(counts.reduce(Int64(0)) { $0 + $1.missingBytes } == missing)

        // n2 going down moves its files to lower K in the same step.
        try await catalog.setNodeAlive("n2", alive: false)
        let down = try await catalog.replicationCounts()
        #expect(down.filter { $0.k == 0 }.reduce(0) { $0 + $1.files } == 4)
        #expect(down.reduce(0) { $0 + $1.files } == 8)
    }

    @Test("Planner queries follow the scheduling order and page without gaps", arguments: CatalogBackend.all)
    func plannerQueriesOrder(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        for id in ["n1", "n2", "n3"] { try await catalog.registerNode(Fixture.node(id)) }
        // (size, n, holders)
        let specs: [(Int64, Int, [NodeID])] = [
            (30, 2, ["n1"]), (10, 2, ["n1"]), (20, 3, ["n1", "n2"]), (10, 1, ["n1", "n2", "n3"]),
            (5, 3, []), (40, 1, ["n2"]), (10, 2, ["n1", "n3"]),
        ]
        var states: [FileState] = []
        for (i, spec) in specs.enumerated() {
            let file = try await catalog.putFile(Fixture.newFile("f\(i)", size: spec.0, n: spec.1))
            for node in spec.2 { try await catalog.setReplica(file.id, on: node, state: .live) }
            states.append(FileState(id: file.id, size: spec.0, n: spec.1, k: spec.2.count))
        }
        let expected = states.sorted(by: FileState.schedulingOrder)
        let (paged, onN1) = try await catalog.withPlannerView { queries in
            var all: [FileState] = []
            var cursor: FileState?
            while true {
                let page = try queries.files(after: cursor, limit: 2)
                if page.isEmpty { break }
                all += page
                cursor = page.last
            }
            var byNode: [FileState] = []
            cursor = nil
            while true {
                let page = try queries.highestKnFiles(on: "n1", after: cursor, limit: 2)
                if page.isEmpty { break }
                byNode += page
                cursor = page.last
            }
            return (all, byNode)
        }
        #expect(paged == expected)
        // Bounded pages (planner rule 11): the same order, only the files within the bounds.
        let bounds: [CandidateBounds] = [
            CandidateBounds(kBelow: 3, roomFor: 1_000, evictionUpToKn: nil),
            CandidateBounds(kBelow: 2, roomFor: 10, evictionUpToKn: nil),
            CandidateBounds(kBelow: 3, roomFor: 5, evictionUpToKn: -2),
            CandidateBounds(kBelow: 1, roomFor: 100, evictionUpToKn: 0),
            CandidateBounds(kBelow: 3, roomFor: -1, evictionUpToKn: nil),
        ]
        for bound in bounds {
            let bounded = try await catalog.withPlannerView { queries in
                var all: [FileState] = []
                var cursor: FileState?
                while true {
                    let page = try queries.files(after: cursor, limit: 2, within: bound)
                    if page.isEmpty { break }
                    all += page
                    cursor = page.last
                }
                return all
            }
            #expect(bounded == expected.filter(bound.admits), "\(bound)")
        }
        let n1Expected = zip(specs, states).filter { $0.0.2.contains("n1") }.map(\.1)
            .sorted { ($0.kn, $0.size, $0.id.rawValue) > ($1.kn, $1.size, $1.id.rawValue) }
        #expect(onN1 == n1Expected)
    }

    @Test("Many concurrent replica and liveness changes leave kn = K − N for every file", arguments: CatalogBackend.all)
    func concurrentUpdatesLoseNothing(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        let nodes: [NodeID] = (0..<4).map { NodeID("n\($0)") }
        for node in nodes { try await catalog.registerNode(Fixture.node(node.rawValue)) }
        var files: [FileRecord] = []
        for i in 0..<12 { files.append(try await catalog.putFile(Fixture.newFile("c/\(i)", n: 2))) }
        let fileIDs = files.map(\.id)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var generator = SplitMix64(seed: UInt64(worker))
                    for _ in 0..<60 {
                        let file = fileIDs[Int(generator.next() % UInt64(fileIDs.count))]
                        let node = nodes[Int(generator.next() % UInt64(nodes.count))]
                        switch generator.next() % 5 {
                        case 0, 1: try await catalog.setReplica(file, on: node, state: .live)
                        case 2: try await catalog.removeReplica(file, from: node)
                        case 3: try await catalog.setReplica(file, on: node, state: .evicting)
                        default: try await catalog.setNodeAlive(node, alive: generator.next() % 2 == 0)
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let alive = Set(try await catalog.nodes().filter(\.alive).map(\.id))
        var under = 0
        var minKn = Int.max
        for file in files {
            let record = try #require(try await catalog.file(id: file.id))
            let replicas = try await catalog.replicas(of: file.id)
            let k = replicas.filter { $0.state == .live && alive.contains($0.node) }.count
            #expect(record.k == k, "K of \(file.path)")
            #expect(Set(replicas.map(\.node)).count == replicas.count)
            if record.kn < 0 { under += 1 }
            minKn = min(minKn, record.kn)
        }
        let totals = try await catalog.totals()
        #expect(totals.underReplicated == under)
        #expect(totals.minKn == minKn)
        // The stored kn the scheduling index sorts by agrees with K − N.
        let order = try await catalog.withPlannerView { try $0.files(after: nil, limit: 100) }
        var records: [FileRecord] = []
        for file in files { records.append(try #require(try await catalog.file(id: file.id))) }
        #expect(order.map(\.id) == records.sorted { ($0.kn, $0.k, $0.size, $0.id) < ($1.kn, $1.k, $1.size, $1.id) }.map(\.id))
        // No lost update on node usage either: each node's used is the size of what it holds.
        for node in try await catalog.nodes() {
            let held = try await catalog.holdings(on: node.id)
            #expect(node.used == held.reduce(0) { $0 + $1.file.size }, "used of \(node.id)")
        }
    }

    @Test("A MongoDB catalog survives reopening, and usage kept beside the files is recounted")
    func mongoCatalogSurvivesReopen() async throws {
        let uri = try await MongoTestServer.shared().uri(database: "fsdfs_reopen_\(UUID().uuidString.prefix(8))")
        do {
            let catalog = try await MongoCatalog(uri: uri)
            try await catalog.registerNode(Fixture.node("n1"))
            let file = try await catalog.putFile(Fixture.newFile("keep", size: 40, n: 1))
            try await catalog.setReplica(file.id, on: "n1", state: .live)
        }
        let reopened = try await MongoCatalog(uri: uri)
        #expect(try await reopened.file(at: Fixture.path("keep"))?.k == 1)
        #expect(try await reopened.totals() == CatalogTotals(files: 1, bytes: 40, underReplicated: 0, minKn: 0))
        #expect(try await reopened.node("n1")?.used == 40)
        let next = try await reopened.putFile(Fixture.newFile("next", n: 1))
        #expect(next.id.rawValue > (try await reopened.file(at: Fixture.path("keep"))!.id.rawValue), "ids are never reused")
    }

    @Test("A catalog file survives reopening", arguments: [CatalogBackend.sqliteFile])
    func catalogFileSurvivesReopen(backend: CatalogBackend) async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fsdfs-reopen-\(UUID().uuidString)/c.sqlite").path
        do {
            let catalog = try SQLiteCatalog(path: path)
            try await catalog.registerNode(Fixture.node("n1"))
            let file = try await catalog.putFile(Fixture.newFile("keep", n: 1))
            try await catalog.setReplica(file.id, on: "n1", state: .live)
        }
        let reopened = try SQLiteCatalog(path: path)
        #expect(try await reopened.file(at: Fixture.path("keep"))?.k == 1)
        #expect(try await reopened.totals().minKn == 0)
    }
}
