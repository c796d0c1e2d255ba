import Foundation
import Testing
@testable import ReplicaCore
import TestSupport

/// A database of its own on the shared test server.
private func freshURI() async throws -> String {
    try await MongoTestServer.shared().uri(database: "fsdfs_layout_\(UUID().uuidString.prefix(8))")
}

/// How many documents of `collection` match `filter`, read directly.
private func count(_ catalog: MongoCatalog, _ collection: String, _ filter: BSONDocument) async throws -> Int {
    try await catalog.connection.withSession { try $0.count(collection, filter) }
}

/// What the MongoDB catalog keeps where: the collections behind the `Catalog` behaviour that
/// the conformance suite checks, and the repairs made when it opens.
@Suite("MongoDB catalog layout")
struct MongoCatalogLayoutTests {
    @Test("A deleted file moves to the tombstones collection until its last replica is gone")
    func deletedFilesAreTombstones() async throws {
        let catalog = try await MongoCatalog(uri: try await freshURI())
        try await catalog.registerNode(Fixture.node("n1"))
        let file = try await catalog.putFile(Fixture.newFile("gone", size: 30, n: 1))
        try await catalog.setReplica(file.id, on: "n1", state: .live)
        _ = try await catalog.deleteFile(at: Fixture.path("gone"))

        let key: BSONDocument = ["_id": .int64(file.id.rawValue)]
        #expect(try await count(catalog, Files.collection, key) == 0)
        #expect(try await count(catalog, Tombstones.collection, key) == 1)
        #expect(try await catalog.file(id: file.id)?.deleted == true)
        #expect(try await catalog.pendingDeletions(on: "n1").map(\.id) == [file.id])
        #expect(try await catalog.node("n1")?.used == 30, "a pending deletion still takes room")

        try await catalog.removeReplica(file.id, from: "n1")
        #expect(try await catalog.node("n1")?.used == 0)
        #expect(try await catalog.purgeTombstones() == 1)
        #expect(try await count(catalog, Tombstones.collection, [:]) == 0)
    }

    @Test("A move to tombstones cut short by a crash is finished when the catalog opens")
    func interruptedMoveIsFinishedAtOpen() async throws {
        let uri = try await freshURI()
        let file: FileRecord
        do {
            let catalog = try await MongoCatalog(uri: uri)
            try await catalog.registerNode(Fixture.node("n1"))
            file = try await catalog.putFile(Fixture.newFile("half", size: 25, n: 1))
            try await catalog.setReplica(file.id, on: "n1", state: .live)
            // The first step of a delete, as a master that died right after it left it.
            _ = try await catalog.connection.withSession { session in
                try session.update(
                    Files.collection, ["_id": .int64(file.id.rawValue)],
                    .pipeline([
                        ["$set": [
                            "deleted": true,
                            "replicas": ["$map": [
                                "input": "$replicas", "in": ["$mergeObjects": ["$$this", ["state": .int32(Files.evicting)]]],
                            ]],
                        ]],
                    ] + Files.derive))
            }
        }
        let reopened = try await MongoCatalog(uri: uri)
        let key: BSONDocument = ["_id": .int64(file.id.rawValue)]
        #expect(try await count(reopened, Files.collection, key) == 0)
        #expect(try await count(reopened, Tombstones.collection, key) == 1)
        #expect(try await reopened.pendingDeletions(on: "n1").map(\.id) == [file.id])
        #expect(try await reopened.totals() == CatalogTotals(files: 0, bytes: 0, underReplicated: 0, minKn: nil))
        #expect(try await reopened.node("n1")?.used == 25)
        #expect(try await reopened.file(at: Fixture.path("half")) == nil)
    }

    @Test("Replica writes racing with deletes are neither lost nor counted twice")
    func replicaWritesRaceWithDeletes() async throws {
        let catalog = try await MongoCatalog(uri: try await freshURI())
        let nodes: [NodeID] = ["n1", "n2", "n3"]
        for node in nodes { try await catalog.registerNode(Fixture.node(node.rawValue)) }
        var files: [FileRecord] = []
        for i in 0..<12 { files.append(try await catalog.putFile(Fixture.newFile("race/\(i)", size: Int64(10 + i), n: 2))) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for file in files {
                group.addTask { _ = try await catalog.deleteFile(at: file.path) }
                for node in nodes {
                    group.addTask {
                        try await catalog.setReplica(file.id, on: node, state: .live)
                        if node == "n3" { try await catalog.removeReplica(file.id, from: node) }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await count(catalog, Files.collection, [:]) == 0, "every deleted file left `files`")
        for node in nodes {
            let pending = try await catalog.pendingDeletions(on: node)
            #expect(pending.count == (node == "n3" ? 0 : files.count), "pending deletions on \(node)")
            #expect(try await catalog.node(node)?.used == pending.reduce(0) { $0 + $1.size }, "used of \(node)")
        }
    }
}

/// One master per MongoDB database: the claim in `meta`.
@Suite("MongoDB catalog ownership")
struct MongoCatalogOwnershipTests {
    @Test("A second master is refused while the first holds the database; the same node may claim again; a clean stop frees it")
    func secondMasterIsRefused() async throws {
        let uri = try await freshURI()
        let first = try await MongoCatalog(uri: uri)
        try await first.claim(for: "node-one", address: "10.0.0.1:4242")
        let second = try await MongoCatalog(uri: uri)
        do {
            try await second.claim(for: "node-two", address: "10.0.0.2:4242")
            Issue.record("the second master was let in")
        } catch let error as CatalogError {
            guard case .inUse(let message) = error else { throw error }
            #expect(message.contains("in use by the master at 10.0.0.1:4242"), "\(message)")
            #expect(message.contains("node node-one"), "\(message)")
        }
        #expect(try await first.nodes().isEmpty, "the first master keeps working")
        // The same node restarting (its old process gone) takes its claim back at once.
        let restarted = try await MongoCatalog(uri: uri)
        try await restarted.claim(for: "node-one", address: "10.0.0.1:4242")
        await restarted.release()
        try await second.claim(for: "node-two", address: "10.0.0.2:4242")
        await second.release()
    }

    @Test("A refused master writes nothing, not even the repairs an opening catalog makes")
    func refusedMasterWritesNothing() async throws {
        let uri = try await freshURI()
        let first = try await MongoCatalog(uri: uri, master: ("node-one", "10.0.0.1:4242"))
        try await first.registerNode(Fixture.node("n1"))
        let file = try await first.putFile(Fixture.newFile("moving", size: 20, n: 1))
        try await first.setReplica(file.id, on: "n1", state: .live)
        // A delete of the first master half-way (retired, not yet moved), and a usage figure
        // that an opening catalog would recount.
        _ = try await first.connection.withSession { session in
            _ = try session.update(Files.collection, ["_id": .int64(file.id.rawValue)], .operators(["$set": ["deleted": true]]))
            return try session.update(Nodes.collection, ["_id": "n1"], .operators(["$set": ["used": .int64(999)]]))
        }
        await #expect(throws: CatalogError.self) {
            _ = try await MongoCatalog(uri: uri, master: ("node-two", "10.0.0.2:4242"))
        }
        #expect(try await count(first, Files.collection, ["_id": .int64(file.id.rawValue)]) == 1, "no move made")
        #expect(try await first.node("n1")?.used == 999, "no recount made")
    }

    @Test("A master that stops renewing is replaced after its lease, and stops writing itself")
    func expiredClaimIsTakenOver() async throws {
        let uri = try await freshURI()
        let frozen = try await MongoCatalog(uri: uri)
        try await frozen.claim(for: "node-one", address: "10.0.0.1:4242", lease: .seconds(2))
        // As if its process froze: no more renewals.
        frozen.ownership.withLock { $0.renewal?.cancel() }
        let next = try await MongoCatalog(uri: uri)
        try await eventually("the next master takes over once the lease has run out", timeout: .seconds(15)) {
            try await next.claim(for: "node-two", address: "10.0.0.2:4242", lease: .seconds(2))
            return true
        }
        do {
            _ = try await frozen.nodes()
            Issue.record("a master whose claim ran out still used the catalog")
        } catch let error as CatalogError {
            guard case .unreachable(let message) = error else { throw error }
            #expect(message.contains("could not renew its claim"), "\(message)")
        }
        await next.release()
    }

    @Test("A master whose claim was taken over writes nothing more and says who took it")
    func takenOverMasterFencesItself() async throws {
        let uri = try await freshURI()
        let catalog = try await MongoCatalog(uri: uri)
        try await catalog.claim(for: "node-one", address: "10.0.0.1:4242", lease: .seconds(3))
        // Another master took the database (as after a long partition of this one).
        _ = try await catalog.connection.withSession { session in
            try session.update(
                Meta.collection, ["_id": "master"],
                .operators(["$set": ["node": "node-two", "address": "10.0.0.2:4242", "token": "theirs"]]))
        }
        try await eventually("the master notices at its next renewal and stops", timeout: .seconds(15)) {
            do {
                _ = try await catalog.nodes()
                return false
            } catch CatalogError.unreachable(let message) {
                return message.contains("taken over by the master at 10.0.0.2:4242")
            }
        }
        await #expect(throws: CatalogError.self, "writes are refused too") {
            try await catalog.registerNode(Fixture.node("n1"))
        }
        #expect(try await MongoCatalog(uri: uri).nodes().isEmpty, "nothing was written")
    }

    // MARK: Puts cut short

    /// Leaves `catalog` as a master that died during a put of `path` left it: the new version
    /// staged (with `upload`), and with `retired` the current version also retired (the second
    /// step, before the staged one is made current). Returns the staged version's id.
    private func cutShortPut(
        _ catalog: MongoCatalog, _ path: String, size: Int64, version: Int64, upload: String, retired: FileRecord?
    ) async throws -> FileID {
        let id = Int64(1000 + version)
        try await catalog.reserveFileIDs(through: FileID(id))
        var file = Fixture.newFile(path, size: size, n: 1)
        file.upload = upload
        let staged = Files.newDocument(id: id, file: file, version: version, holders: [], staged: true)
        try await catalog.connection.withSession { session in
            try session.insert(Files.collection, [staged])
            if let retired {
                _ = try session.update(
                    Meta.collection, ["_id": "totals"], .operators(["$inc": ["files": -1, "bytes": .int64(-retired.size)]]))
                _ = try session.update(
                    Files.collection, ["_id": .int64(retired.id.rawValue)],
                    .pipeline([
                        ["$set": [
                            "deleted": true,
                            "replicas": ["$map": [
                                "input": "$replicas", "in": ["$mergeObjects": ["$$this", ["state": .int32(Files.evicting)]]],
                            ]],
                        ]],
                    ] + Files.derive))
            }
        }
        return FileID(id)
    }

    @Test("A put cut short by a crash, after staging its version or after retiring the old one, is carried through when the catalog opens", arguments: [false, true])
    func cutShortPutIsFinishedAtOpen(oldRetired: Bool) async throws {
        let uri = try await freshURI()
        let old: FileRecord
        let new: FileID
        do {
            let catalog = try await MongoCatalog(uri: uri)
            try await catalog.registerNode(Fixture.node("n1"))
            old = try await catalog.putFile(Fixture.newFile("cut", size: 30, n: 1))
            try await catalog.setReplica(old.id, on: "n1", state: .live)
            new = try await cutShortPut(catalog, "cut", size: 40, version: 2, upload: "u-1", retired: oldRetired ? old : nil)
            // Meanwhile the old version is no removal owed: its node keeps it.
            #expect(try await catalog.pendingDeletions(on: "n1").isEmpty)
        }
        let reopened = try await MongoCatalog(uri: uri)
        let current = try #require(try await reopened.file(at: Fixture.path("cut")))
        #expect(current.id == new)
        #expect(current.version == 2)
        #expect(try await reopened.file(upload: "u-1")?.id == new)
        #expect(try await reopened.pendingDeletions(on: "n1").map(\.id) == [old.id])
        #expect(try await count(reopened, Files.collection, ["staged": ["$exists": true]]) == 0)
        #expect(try await count(reopened, Tombstones.collection, ["_id": .int64(old.id.rawValue)]) == 1)
        #expect(try await reopened.totals() == CatalogTotals(files: 1, bytes: 40, underReplicated: 1, minKn: -1))
    }

    @Test("A node asking again about a put cut short carries it through, while the master runs")
    func cutShortPutIsFinishedWhenAsked() async throws {
        let catalog = try await MongoCatalog(uri: try await freshURI())
        try await catalog.registerNode(Fixture.node("n1"))
        let old = try await catalog.putFile(Fixture.newFile("asked", size: 30, n: 1))
        try await catalog.setReplica(old.id, on: "n1", state: .live)
        let new = try await cutShortPut(catalog, "asked", size: 40, version: 2, upload: "u-2", retired: old)
        #expect(try await catalog.file(at: Fixture.path("asked")) == nil, "between the retire and the new version")

        let recorded = try #require(try await catalog.file(upload: "u-2"))
        #expect(recorded.id == new)
        #expect(recorded.deleted == false)
        #expect(try await catalog.file(at: Fixture.path("asked"))?.id == new)
        #expect(try await catalog.pendingDeletions(on: "n1").map(\.id) == [old.id])
        var again = Fixture.newFile("asked", size: 40, n: 1)
        again.upload = "u-2"
        #expect(try await catalog.putFile(again).id == new, "the commit asked again records nothing more")
        #expect(try await catalog.totals() == CatalogTotals(files: 1, bytes: 40, underReplicated: 1, minKn: -1))
    }

    @Test("A put cut short never replaces a later version recorded meanwhile: it is retired unrecorded")
    func cutShortPutLosesToALaterVersion() async throws {
        let uri = try await freshURI()
        let later: FileRecord
        do {
            let catalog = try await MongoCatalog(uri: uri)
            try await catalog.registerNode(Fixture.node("n1"))
            let old = try await catalog.putFile(Fixture.newFile("raced", size: 30, n: 1))
            try await catalog.setReplica(old.id, on: "n1", state: .live)
            _ = try await cutShortPut(catalog, "raced", size: 40, version: 2, upload: "u-old", retired: nil)
            later = try await catalog.putFile(Fixture.newFile("raced", size: 50, n: 1))
            #expect(later.version == 3, "a staged version takes its number")
            try await catalog.setReplica(later.id, on: "n1", state: .live)
        }
        let reopened = try await MongoCatalog(uri: uri)
        #expect(try await reopened.file(at: Fixture.path("raced"))?.id == later.id)
        #expect(try await reopened.file(upload: "u-old")?.deleted == true)
        #expect(try await count(reopened, Files.collection, ["staged": ["$exists": true]]) == 0)
        #expect(try await reopened.totals() == CatalogTotals(files: 1, bytes: 50, underReplicated: 0, minKn: 0))
    }
}
