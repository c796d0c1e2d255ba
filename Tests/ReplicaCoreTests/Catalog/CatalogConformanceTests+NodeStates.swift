import Foundation
import Testing
import ReplicaCore
import TestSupport

/// Drain and maintenance states (`fsdfsd node drain|maintenance|forget`), on every backend.
extension CatalogConformanceTests {
    @Test("Drain and maintenance states are kept, survive a node re-registering, and move no K", arguments: CatalogBackend.all)
    func nodeStatesAreKept(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        for id in ["n1", "n2"] { try await catalog.registerNode(Fixture.node(id)) }
        let file = try await catalog.putFile(Fixture.newFile("f", n: 2))
        try await catalog.setReplica(file.id, on: "n1", state: .live)
        try await catalog.setReplica(file.id, on: "n2", state: .live)
        #expect(try await catalog.node("n1")?.draining == false)
        #expect(try await catalog.node("n1")?.maintenanceUntil == nil)

        let until = Date(timeIntervalSince1970: 1_800_000_000.25)
        try await catalog.setDraining("n1", true)
        try await catalog.setMaintenance("n2", until: until)
        #expect(try await catalog.file(id: file.id)?.k == 2, "a draining node's copies still count")
        #expect(try await catalog.totals().minKn == 0)

        // A report re-registers the node: the operator's states stay.
        for id in ["n1", "n2"] { try await catalog.registerNode(Fixture.node(id, quota: 2_000)) }
        let nodes = Dictionary(uniqueKeysWithValues: try await catalog.nodes().map { ($0.id, $0) })
        #expect(nodes["n1"]?.draining == true)
        #expect(nodes["n1"]?.maintenanceUntil == nil)
        #expect(nodes["n2"]?.draining == false)
        let stored = try #require(nodes["n2"]?.maintenanceUntil)
        #expect(abs(stored.timeIntervalSince(until)) < 0.001)
        #expect(nodes["n2"]?.inMaintenance(at: until.addingTimeInterval(-1)) == true)
        #expect(nodes["n2"]?.inMaintenance(at: until.addingTimeInterval(1)) == false)

        // Going down and back does not clear them either.
        try await catalog.setNodeAlive("n1", alive: false)
        try await catalog.setNodeAlive("n1", alive: true)
        #expect(try await catalog.node("n1")?.draining == true)

        try await catalog.setDraining("n1", false)
        try await catalog.setMaintenance("n2", until: nil)
        #expect(try await catalog.node("n1")?.draining == false)
        #expect(try await catalog.node("n2")?.maintenanceUntil == nil)
        #expect(try await catalog.file(id: file.id)?.k == 2)
    }

    @Test("Node states of an unknown node are refused", arguments: CatalogBackend.all)
    func nodeStatesOfUnknownNode(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        await #expect(throws: CatalogError.unknownNode("ghost")) { try await catalog.setDraining("ghost", true) }
        await #expect(throws: CatalogError.unknownNode("ghost")) {
            try await catalog.setMaintenance("ghost", until: Date())
        }
        #expect(try await catalog.nodes().isEmpty)
    }

    @Test("A forgotten node comes back as a new node: no replicas, no drain, no window", arguments: CatalogBackend.all)
    func forgottenNodeStartsAfresh(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        for id in ["n1", "n2"] { try await catalog.registerNode(Fixture.node(id)) }
        let file = try await catalog.putFile(Fixture.newFile("f", size: 9, n: 2))
        try await catalog.setReplica(file.id, on: "n1", state: .live)
        try await catalog.setReplica(file.id, on: "n2", state: .live)
        try await catalog.setDraining("n2", true)
        try await catalog.setMaintenance("n2", until: Date().addingTimeInterval(600))
        try await catalog.setNodeAlive("n2", alive: false)
        try await catalog.removeNode("n2")
        #expect(try await catalog.file(id: file.id)?.k == 1)
        #expect(try await catalog.replicas(of: file.id).map(\.node) == ["n1"])

        try await catalog.registerNode(Fixture.node("n2"))
        let back = try #require(try await catalog.node("n2"))
        #expect(!back.draining)
        #expect(back.maintenanceUntil == nil)
        #expect(back.used == 0)
        #expect(try await catalog.holdings(on: "n2").isEmpty)
    }

    @Test("A node's files come lowest kn first for a drain, and page without gaps", arguments: CatalogBackend.all)
    func lowestKnFilesOnANode(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        for id in ["n1", "n2", "n3"] { try await catalog.registerNode(Fixture.node(id)) }
        // (size, n, holders)
        let specs: [(Int64, Int, [NodeID])] = [
            (30, 2, ["n1"]), (10, 2, ["n1"]), (20, 3, ["n1", "n2"]), (10, 1, ["n1", "n2", "n3"]),
            (5, 3, []), (40, 1, ["n2"]), (10, 2, ["n1", "n3"]), (10, 1, ["n1", "n3"]),
        ]
        var states: [FileState] = []
        for (i, spec) in specs.enumerated() {
            let file = try await catalog.putFile(Fixture.newFile("f\(i)", size: spec.0, n: spec.1))
            for node in spec.2 { try await catalog.setReplica(file.id, on: node, state: .live) }
            states.append(FileState(id: file.id, size: spec.0, n: spec.1, k: spec.2.count))
        }
        // Neither a copy under way nor a deleted file's replica is a file the node holds.
        let copying = try await catalog.putFile(Fixture.newFile("copying", n: 1))
        try await catalog.setReplica(copying.id, on: "n1", state: .copying)
        let deleted = try await catalog.putFile(Fixture.newFile("deleted", n: 1))
        try await catalog.setReplica(deleted.id, on: "n1", state: .live)
        _ = try await catalog.deleteFile(at: deleted.path)

        let onN1 = try await catalog.withPlannerView { queries in
            var all: [FileState] = []
            var cursor: FileState?
            while true {
                let page = try queries.lowestKnFiles(on: "n1", after: cursor, limit: 2)
                if page.isEmpty { break }
                all += page
                cursor = page.last
            }
            return all
        }
        let expected = zip(specs, states).filter { $0.0.2.contains("n1") }.map(\.1)
            .sorted { ($0.kn, $0.size, $0.id.rawValue) < ($1.kn, $1.size, $1.id.rawValue) }
        #expect(onN1 == expected)
        #expect(try await catalog.withPlannerView { try $0.lowestKnFiles(on: "ghost", after: nil, limit: 10) }.isEmpty)
    }
}
