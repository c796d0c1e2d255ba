import Foundation
import Testing
import ReplicaCore
import TestSupport

/// The event log and the K − N histogram, on every backend.
extension CatalogConformanceTests {
    static func event(_ kind: EventKind, _ message: String, node: NodeID? = nil, path: String? = nil) -> NewEvent {
        NewEvent(
            time: Date(timeIntervalSince1970: 1_700_000_000.25), kind: kind, node: node, address: node.map { "addr-\($0)" },
            path: path.map(Fixture.path), message: message)
    }

    @Test("Events come back as appended, numbered in order, the newest and those after a number", arguments: CatalogBackend.all)
    func eventsAreNumberedInOrder(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        #expect(try await catalog.latestEvents(limit: 10).isEmpty)
        try await catalog.appendEvents([
            Self.event(.nodeJoined, "joined", node: "n1"),
            Self.event(.replicaCorrupt, "rotten", node: "n1", path: "a/b.txt"),
        ], keep: 100)
        try await catalog.appendEvents([Self.event(.policyReload, "reloaded")], keep: 100)
        let all = try await catalog.latestEvents(limit: 10)
        #expect(all.map(\.kind) == [.nodeJoined, .replicaCorrupt, .policyReload])
        #expect(all.map(\.seq) == all.map(\.seq).sorted() && Set(all.map(\.seq)).count == 3)
        #expect(all[1] == EventRecord(seq: all[1].seq, Self.event(.replicaCorrupt, "rotten", node: "n1", path: "a/b.txt")))
        #expect(all[2].node == nil && all[2].address == nil && all[2].path == nil)
        #expect(abs(all[0].time.timeIntervalSince1970 - 1_700_000_000.25) < 0.001)

        #expect(try await catalog.latestEvents(limit: 2).map(\.message) == ["rotten", "reloaded"])
        #expect(try await catalog.events(after: all[0].seq, limit: 10).map(\.message) == ["rotten", "reloaded"])
        #expect(try await catalog.events(after: all[0].seq, limit: 1).map(\.message) == ["rotten"])
        #expect(try await catalog.events(after: all[2].seq, limit: 10).isEmpty)
    }

    @Test("The log keeps the newest events beyond its bound, and never reuses a number", arguments: CatalogBackend.all)
    func eventLogIsBounded(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        for batch in 0..<4 {
            try await catalog.appendEvents((0..<3).map { Self.event(.nodeDown, "e\(batch * 3 + $0)") }, keep: 5)
        }
        let kept = try await catalog.latestEvents(limit: 100)
        #expect(kept.map(\.message) == ["e7", "e8", "e9", "e10", "e11"])
        let last = try #require(kept.last?.seq)
        #expect(try await catalog.events(after: 0, limit: 100).map(\.message) == kept.map(\.message))
        try await catalog.appendEvents([Self.event(.nodeBack, "e12")], keep: 5)
        let next = try await catalog.latestEvents(limit: 1)
        #expect(next.map(\.message) == ["e12"] && next[0].seq > last)
        #expect(try await catalog.events(after: last, limit: 100).map(\.message) == ["e12"])
    }

    @Test("The K − N histogram follows uploads, copies, liveness, N and deletes", arguments: CatalogBackend.all)
    func knHistogramFollowsTheFiles(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        #expect(try await catalog.knHistogram().isEmpty)
        for id in ["n1", "n2"] { try await catalog.registerNode(Fixture.node(id)) }
        let a = try await catalog.putFile(Fixture.newFile("a", n: 2))
        let b = try await catalog.putFile(Fixture.newFile("b", n: 2))
        let c = try await catalog.putFile(Fixture.newFile("c", n: 1))
        #expect(try await catalog.knHistogram() == [KnBucket(kn: -2, files: 2), KnBucket(kn: -1, files: 1)])
        for file in [a, b, c] { try await catalog.setReplica(file.id, on: "n1", state: .live) }
        try await catalog.setReplica(a.id, on: "n2", state: .live)
        #expect(try await catalog.knHistogram() == [KnBucket(kn: -1, files: 1), KnBucket(kn: 0, files: 2)])
        try await catalog.setNodeAlive("n1", alive: false)
        #expect(try await catalog.knHistogram() == [
            KnBucket(kn: -2, files: 1), KnBucket(kn: -1, files: 2),
        ])
        try await catalog.setNodeAlive("n1", alive: true)
        try await catalog.setN(3, for: c.id)
        #expect(try await catalog.knHistogram() == [KnBucket(kn: -2, files: 1), KnBucket(kn: -1, files: 1), KnBucket(kn: 0, files: 1)])
        _ = try await catalog.deleteFile(at: Fixture.path("c"))
        // A new version of a path replaces the old one in the figures.
        _ = try await catalog.putFile(Fixture.newFile("a", n: 1))
        #expect(try await catalog.knHistogram() == [KnBucket(kn: -1, files: 2)])
        _ = try await catalog.purgeTombstones()
        #expect(try await catalog.knHistogram() == [KnBucket(kn: -1, files: 2)])
        let totals = try await catalog.totals()
        #expect(try await catalog.knHistogram().reduce(0) { $0 + $1.files } == totals.files)
    }
}
