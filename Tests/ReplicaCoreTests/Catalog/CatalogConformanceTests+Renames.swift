import Foundation
import Testing
import ReplicaCore
import TestSupport

/// Renames (``Catalog/renameFiles(_:)``) and the moves they leave nodes to make, on every backend.
extension CatalogConformanceTests {
    @Test("A rename keeps the version's id, replicas and K, takes N and a version number for the new path, and marks where each node holds it", arguments: CatalogBackend.all)
    func renameKeepsReplicas(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        for id in ["n1", "n2", "n3"] { try await catalog.registerNode(Fixture.node(id)) }
        let a = try await catalog.putFile(Fixture.newFile("dir/a", n: 2))
        try await catalog.setReplica(a.id, on: "n1", state: .live)
        try await catalog.setReplica(a.id, on: "n2", state: .live)
        try await catalog.setReplica(a.id, on: "n3", state: .copying)

        let renamed = try await catalog.renameFiles([FileRename(from: Fixture.path("dir/a"), to: Fixture.path("other/b"), n: 3)])
        #expect(renamed.map(\.id) == [a.id])
        let b = try #require(try await catalog.file(at: Fixture.path("other/b")))
        #expect(b.id == a.id && b.k == 2 && b.n == 3 && !b.deleted)
        #expect(try await catalog.file(at: Fixture.path("dir/a")) == nil)
        #expect(try await catalog.totals().files == 1)
        #expect(Set(try await catalog.replicas(of: a.id).map(\.node)) == ["n1", "n2", "n3"])
        // Live replicas must move; the copy under way lands under the old path, then moves.
        #expect(try await catalog.pendingMoves(on: "n1") == [PendingMove(file: b, from: Fixture.path("dir/a"))])
        #expect(try await catalog.pendingMoves(on: "n3") == [PendingMove(file: b, from: Fixture.path("dir/a"), state: .copying)])
        try await catalog.setReplica(a.id, on: "n3", state: .live)
        let landed = try #require(try await catalog.file(at: Fixture.path("other/b")))
        #expect(landed.k == 3)
        #expect(try await catalog.pendingMoves(on: "n3") == [PendingMove(file: landed, from: Fixture.path("dir/a"), state: .live)])
        #expect(try await catalog.holdings(on: "n1").first?.movedFrom == Fixture.path("dir/a"))

        try await catalog.confirmMoves([a.id], on: "n1")
        #expect(try await catalog.pendingMoves(on: "n1").isEmpty)
        #expect(try await catalog.holdings(on: "n1").first?.movedFrom == nil)

        // A second rename before n2 moved: n2 still holds it under the first path; renamed back
        // there, it is not moving on n2 any more, and moving on n1 (which moved it).
        _ = try await catalog.renameFiles([FileRename(from: Fixture.path("other/b"), to: Fixture.path("third/c"), n: 3)])
        #expect(try await catalog.pendingMoves(on: "n2").map(\.from) == [Fixture.path("dir/a")])
        #expect(try await catalog.pendingMoves(on: "n1").map(\.from) == [Fixture.path("other/b")])
        _ = try await catalog.renameFiles([FileRename(from: Fixture.path("third/c"), to: Fixture.path("dir/a"), n: 2)])
        #expect(try await catalog.pendingMoves(on: "n2").isEmpty)
        #expect(try await catalog.pendingMoves(on: "n1").map(\.from) == [Fixture.path("other/b")])
        let back = try #require(try await catalog.file(at: Fixture.path("dir/a")))
        #expect(back.id == a.id && back.k == 3 && back.n == 2)
    }

    @Test("A rename onto a file replaces it as a put would; a missing source renames nothing", arguments: CatalogBackend.all)
    func renameReplacesTarget(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        try await catalog.registerNode(Fixture.node("n1"))
        let a = try await catalog.putFile(Fixture.newFile("a", n: 1))
        let b = try await catalog.putFile(Fixture.newFile("b", size: 20, n: 1))
        try await catalog.setReplica(a.id, on: "n1", state: .live)
        try await catalog.setReplica(b.id, on: "n1", state: .live)

        await #expect(throws: CatalogError.noFile(Fixture.path("nothing"))) {
            try await catalog.renameFiles([FileRename(from: Fixture.path("nothing"), to: Fixture.path("x"), n: 1)])
        }
        _ = try await catalog.renameFiles([FileRename(from: Fixture.path("a"), to: Fixture.path("b"), n: 1)])
        let now = try #require(try await catalog.file(at: Fixture.path("b")))
        #expect(now.id == a.id && now.version > b.version && now.k == 1)
        #expect(try await catalog.file(at: Fixture.path("a")) == nil)
        // The replaced version is pending deletion where the node holds it; the renamed one moves.
        #expect(try await catalog.pendingDeletions(on: "n1").map(\.id) == [b.id])
        #expect(try await catalog.pendingMoves(on: "n1") == [PendingMove(file: now, from: Fixture.path("a"))])
        #expect(try await catalog.totals() == CatalogTotals(files: 1, bytes: 10, underReplicated: 0, minKn: 0))

        // Deleted before n1 moved it: its removal names the path n1 holds it under.
        _ = try await catalog.deleteFile(at: Fixture.path("b"))
        let owed = try await catalog.pendingDeletions(on: "n1")
        #expect(Set(owed.map(\.id)) == [a.id, b.id])
        #expect(owed.first { $0.id == a.id }?.path == Fixture.path("a"))
        #expect(try await catalog.pendingMoves(on: "n1").isEmpty)
    }

    @Test("A replica its node has not moved yet is no eviction candidate there", arguments: CatalogBackend.all)
    func movingReplicaIsNotEvicted(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        try await catalog.registerNode(Fixture.node("n1"))
        let a = try await catalog.putFile(Fixture.newFile("a", n: 1))
        let b = try await catalog.putFile(Fixture.newFile("b", n: 1))
        try await catalog.setReplica(a.id, on: "n1", state: .live)
        try await catalog.setReplica(b.id, on: "n1", state: .live)
        _ = try await catalog.renameFiles([FileRename(from: Fixture.path("a"), to: Fixture.path("c"), n: 1)])
        let candidates = try await catalog.withPlannerView { try $0.highestKnFiles(on: "n1", after: nil, limit: 10).map(\.id) }
        #expect(candidates == [b.id])
        try await catalog.confirmMoves([a.id], on: "n1")
        let after = try await catalog.withPlannerView { try $0.highestKnFiles(on: "n1", after: nil, limit: 10).map(\.id) }
        #expect(Set(after) == [a.id, b.id])
    }

    @Test("An inventory view lists the node's replicas renamed since, by the path the node holds them under", arguments: CatalogBackend.all)
    func inventoryViewOfRenamed(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        try await catalog.registerNode(Fixture.node("n1"))
        let a = try await catalog.putFile(Fixture.newFile("a", n: 1))
        try await catalog.setReplica(a.id, on: "n1", state: .live)
        _ = try await catalog.renameFiles([FileRename(from: Fixture.path("a"), to: Fixture.path("z"), n: 1)])

        let first = try await catalog.inventoryView(
            on: "n1", paths: [Fixture.path("a")], range: PathRange(after: nil, through: Fixture.path("m")))
        #expect(first.current.isEmpty)
        #expect(first.holdings.isEmpty)
        #expect(first.moving[a.id]?.movedFrom == Fixture.path("a"))
        #expect(first.moving[a.id]?.file.path == Fixture.path("z"))
        let second = try await catalog.inventoryView(on: "n1", paths: [], range: PathRange(after: Fixture.path("m"), through: nil))
        #expect(second.moving.isEmpty)
        #expect(second.holdings[a.id]?.movedFrom == Fixture.path("a"))
    }
}
