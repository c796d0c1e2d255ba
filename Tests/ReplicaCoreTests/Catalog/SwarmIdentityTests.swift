import Foundation
import ReplicaCore
import Testing
import TestSupport

/// The swarm id every catalog carries from its creation (ARCHITECTURE.md section 11).
@Suite("Catalog swarm identity")
struct SwarmIdentityTests {
    @Test("A new catalog has a swarm id of its own, stable while it lives", arguments: CatalogBackend.all)
    func newCatalogHasASwarm(backend: CatalogBackend) async throws {
        let first = try await backend.make()
        let second = try await backend.make()
        let id = try await first.swarmID()
        #expect(UUID(uuidString: id.rawValue) != nil)
        #expect(try await first.swarmID() == id)
        #expect(try await second.swarmID() != id)
    }

    @Test("Only an empty catalog takes another swarm's id", arguments: CatalogBackend.all)
    func onlyAnEmptyCatalogTakesASwarm(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        let theirs = SwarmID.make()
        try await catalog.setSwarmID(theirs)
        #expect(try await catalog.swarmID() == theirs)
        try await catalog.registerNode(Fixture.node("n1"))
        await #expect(throws: CatalogError.notEmpty(files: 0, nodes: 1)) {
            try await catalog.setSwarmID(SwarmID.make())
        }
        #expect(try await catalog.swarmID() == theirs)
    }

    @Test("The embedded catalog keeps its swarm id across reopening")
    func reopenedKeepsItsSwarm() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fsdfs-swarm-\(UUID().uuidString)/catalog.sqlite").path
        let id = try await SQLiteCatalog(path: path).swarmID()
        #expect(try await SQLiteCatalog(path: path).swarmID() == id)
    }

    @Test("A new version may keep the number the nodes recorded (recovery), never going back", arguments: CatalogBackend.all)
    func versionsKeepTheNodesNumbers(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        var file = Fixture.newFile("r/x")
        file.version = 7
        #expect(try await catalog.putFile(file).version == 7)
        file.version = 3
        #expect(try await catalog.putFile(file).version == 8)
    }
}
