import Foundation
import Testing
import ReplicaCore
import TestSupport

/// Matching a node's whole inventory batch by batch (``Catalog/inventoryView(on:paths:range:)``,
/// ``Catalog/applyInventory(on:live:forget:)``), on every backend.
extension CatalogConformanceTests {
    @Test("An inventory view has the current versions of the paths and the node's replicas in a path range", arguments: CatalogBackend.all)
    func inventoryViewReadsOneBatch(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        for id in ["n1", "n2"] { try await catalog.registerNode(Fixture.node(id)) }
        let a = try await catalog.putFile(Fixture.newFile("a", n: 1))
        let oldB = try await catalog.putFile(Fixture.newFile("b", n: 1))
        let c = try await catalog.putFile(Fixture.newFile("c", n: 1))
        let d = try await catalog.putFile(Fixture.newFile("c/d", n: 1))
        let e = try await catalog.putFile(Fixture.newFile("e", n: 1))
        try await catalog.setReplica(a.id, on: "n1", state: .live)
        try await catalog.setReplica(oldB.id, on: "n1", state: .live)
        try await catalog.setReplica(c.id, on: "n1", state: .copying)
        try await catalog.setReplica(d.id, on: "n2", state: .live)
        try await catalog.setReplica(e.id, on: "n1", state: .live)
        // A newer version of b: the old one stays listed on n1, pending deletion.
        let newB = try await catalog.putFile(Fixture.newFile("b", size: 20, n: 1))

        let view = try await catalog.inventoryView(
            on: "n1", paths: [Fixture.path("a"), Fixture.path("b"), Fixture.path("x")],
            range: PathRange(after: Fixture.path("a"), through: Fixture.path("c/d")))
        #expect(view.current.mapValues(\.id) == [Fixture.path("a"): a.id, Fixture.path("b"): newB.id])
        #expect(Set(view.holdings.keys) == [oldB.id, c.id], "a is before the range, e after it, c/d on another node")
        #expect(view.holdings[oldB.id]?.file.deleted == true)
        #expect(view.holdings[oldB.id]?.state == .evicting)
        #expect(view.holdings[c.id]?.state == .copying)

        let all = try await catalog.inventoryView(on: "n1", paths: [], range: .all)
        #expect(all.current.isEmpty)
        #expect(Set(all.holdings.keys) == [a.id, oldB.id, c.id, e.id])
        // Paths the node holds in their current version (answered by its holdings, whatever the
        // replica's state), one it does not hold, and one with no current version at all.
        let held = try await catalog.inventoryView(
            on: "n1", paths: [Fixture.path("b"), Fixture.path("c"), Fixture.path("c/d"), Fixture.path("e"), Fixture.path("x")], range: .all)
        #expect(held.current.mapValues(\.id) == [
            Fixture.path("b"): newB.id, Fixture.path("c"): c.id, Fixture.path("c/d"): d.id, Fixture.path("e"): e.id,
        ])
        #expect(held.current[Fixture.path("c")]?.deleted == false)
        let tail = try await catalog.inventoryView(on: "n1", paths: [], range: PathRange(after: Fixture.path("c"), through: nil))
        #expect(Set(tail.holdings.keys) == [e.id])
        let empty = try await catalog.inventoryView(on: "n1", paths: [], range: PathRange(after: Fixture.path("b"), through: Fixture.path("b")))
        #expect(empty.holdings.isEmpty)

        let stranger = try await catalog.inventoryView(on: "ghost", paths: [Fixture.path("e")], range: .all)
        #expect(stranger.current.mapValues(\.id) == [Fixture.path("e"): e.id])
        #expect(stranger.holdings.isEmpty)
    }

    @Test("The current versions of scattered paths come with the node's replica of each, in one read", arguments: CatalogBackend.all)
    func currentVersionsOfAddedFiles(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        for id in ["n1", "n2"] { try await catalog.registerNode(Fixture.node(id)) }
        let live = try await catalog.putFile(Fixture.newFile("a/live", n: 1))
        let copying = try await catalog.putFile(Fixture.newFile("m/copying", n: 1))
        let elsewhere = try await catalog.putFile(Fixture.newFile("z/elsewhere", n: 1))
        let between = try await catalog.putFile(Fixture.newFile("m/between", n: 1))
        let oldB = try await catalog.putFile(Fixture.newFile("b", n: 1))
        try await catalog.setReplica(live.id, on: "n1", state: .live)
        try await catalog.setReplica(copying.id, on: "n1", state: .copying)
        try await catalog.setReplica(elsewhere.id, on: "n2", state: .live)
        try await catalog.setReplica(between.id, on: "n1", state: .live)
        try await catalog.setReplica(oldB.id, on: "n1", state: .live)
        // A newer version of b: only it is current.
        let newB = try await catalog.putFile(Fixture.newFile("b", size: 20, n: 1))

        let found = try await catalog.currentVersions(
            of: [Fixture.path("a/live"), Fixture.path("m/copying"), Fixture.path("z/elsewhere"), Fixture.path("b"), Fixture.path("nowhere")],
            on: "n1")
        #expect(Set(found.keys) == [Fixture.path("a/live"), Fixture.path("m/copying"), Fixture.path("z/elsewhere"), Fixture.path("b")],
                "m/between is not asked for, nowhere is not in the catalog")
        #expect(found[Fixture.path("a/live")] == CurrentVersion(file: try #require(try await catalog.file(id: live.id)), state: .live))
        #expect(found[Fixture.path("m/copying")]?.state == .copying)
        #expect(found[Fixture.path("z/elsewhere")]?.file.id == elsewhere.id)
        #expect(found[Fixture.path("z/elsewhere")]?.state == nil, "n1 holds no replica of it")
        #expect(found[Fixture.path("b")]?.file.id == newB.id)
        #expect(found[Fixture.path("b")]?.state == nil, "n1 holds the older version, not this one")

        #expect(try await catalog.currentVersions(of: [], on: "n1").isEmpty)
        let stranger = try await catalog.currentVersions(of: [Fixture.path("a/live")], on: "ghost")
        #expect(stranger[Fixture.path("a/live")]?.file.id == live.id)
        #expect(stranger[Fixture.path("a/live")]?.state == nil)
    }

    @Test("Applying a batch's matches makes replicas live and forgets others, each counted once", arguments: CatalogBackend.all)
    func applyInventoryRecordsOneBatch(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        try await catalog.registerNode(Fixture.node("n1"))
        let fresh = try await catalog.putFile(Fixture.newFile("fresh", size: 1, n: 1))
        let gone = try await catalog.putFile(Fixture.newFile("gone", size: 2, n: 1))
        let copying = try await catalog.putFile(Fixture.newFile("copying", size: 4, n: 1))
        let already = try await catalog.putFile(Fixture.newFile("already", size: 8, n: 1))
        let retired = try await catalog.putFile(Fixture.newFile("retired", size: 16, n: 1))
        try await catalog.setReplica(gone.id, on: "n1", state: .live)
        try await catalog.setReplica(copying.id, on: "n1", state: .copying)
        try await catalog.setReplica(already.id, on: "n1", state: .live)
        try await catalog.setReplica(retired.id, on: "n1", state: .live)
        _ = try await catalog.deleteFile(at: retired.path)

        try await catalog.applyInventory(
            on: "n1", live: [fresh.id, copying.id, already.id, retired.id, FileID(999_999)], forget: [gone.id])
        #expect(try await catalog.file(id: fresh.id)?.k == 1)
        #expect(try await catalog.file(id: copying.id)?.k == 1)
        #expect(try await catalog.file(id: already.id)?.k == 1)
        #expect(try await catalog.file(id: gone.id)?.k == 0)
        #expect(try await catalog.replicas(of: gone.id).isEmpty)
        #expect(try await catalog.replicas(of: retired.id) == [ReplicaRecord(file: retired.id, node: "n1", state: .evicting)],
                "a deleted version's replica stays pending deletion")
        #expect(try await catalog.node("n1")?.used == 1 + 4 + 8 + 16)
        #expect(try await catalog.totals() == CatalogTotals(files: 4, bytes: 1 + 2 + 4 + 8, underReplicated: 1, minKn: -1))

        // Again: nothing changes, nothing is counted twice.
        try await catalog.applyInventory(on: "n1", live: [fresh.id, copying.id], forget: [gone.id])
        #expect(try await catalog.node("n1")?.used == 1 + 4 + 8 + 16)
        #expect(try await catalog.file(id: fresh.id)?.k == 1)
        await #expect(throws: CatalogError.unknownNode("ghost")) {
            try await catalog.applyInventory(on: "ghost", live: [fresh.id], forget: [])
        }
    }
}
