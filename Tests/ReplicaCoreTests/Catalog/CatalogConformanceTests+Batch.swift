import Foundation
import Testing
import ReplicaCore
import TestSupport

extension CatalogConformanceTests {
    @Test("Replicas recorded in bulk count as one by one: K, usage, deleted versions pending deletion", arguments: CatalogBackend.all)
    func setReplicasInBulk(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        for id in ["n1", "n2"] { try await catalog.registerNode(Fixture.node(id, quota: 1_000_000)) }
        var files: [FileRecord] = []
        for i in 0..<30 { files.append(try await catalog.putFile(Fixture.newFile("b/\(i)", size: 10, n: 2))) }
        for file in files { try await catalog.setReplica(file.id, on: "n1", state: .live) }
        // A copy under way to n2 for the first ten; the rest have no record there yet.
        #expect(try await catalog.setReplicas(files.prefix(10).map { ReplicaRecord(file: $0.id, node: "n2", state: .copying) }).isEmpty)
        #expect(try await catalog.node("n2")?.used == 100)
        let gone = files[3]
        _ = try await catalog.deleteFile(at: gone.path)

        let notCounting = try await catalog.setReplicas(files.map { ReplicaRecord(file: $0.id, node: "n2", state: .live) })
        #expect(notCounting == [gone.id])
        for file in files where file.id != gone.id {
            #expect(try await catalog.file(id: file.id)?.k == 2)
        }
        // The deleted version's copy is recorded pending deletion, not live.
        #expect(try await catalog.pendingDeletions(on: "n2").map(\.id) == [gone.id])
        #expect(try await catalog.node("n2")?.used == 300)
        #expect(try await catalog.nodeFigures()["n2"]?.files == 29)
        // Again: nothing counted twice.
        _ = try await catalog.setReplicas(files.map { ReplicaRecord(file: $0.id, node: "n2", state: .live) })
        #expect(try await catalog.node("n2")?.used == 300)
        #expect(try await catalog.totals().underReplicated == 0)
    }

    @Test("Bulk replicas: an unknown version is skipped, an unknown node refuses the whole write", arguments: CatalogBackend.all)
    func setReplicasUnknowns(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        try await catalog.registerNode(Fixture.node("n1", quota: 1_000_000))
        let file = try await catalog.putFile(Fixture.newFile("x", size: 10, n: 1))
        #expect(try await catalog.setReplicas([]).isEmpty)
        let skipped = try await catalog.setReplicas([
            ReplicaRecord(file: FileID(987_654), node: "n1", state: .live),
            ReplicaRecord(file: file.id, node: "n1", state: .live),
        ])
        #expect(skipped == [FileID(987_654)])
        #expect(try await catalog.file(id: file.id)?.k == 1)
        await #expect(throws: CatalogError.self) {
            _ = try await catalog.setReplicas([ReplicaRecord(file: file.id, node: "nowhere", state: .live)])
        }
        #expect(try await catalog.replicas(of: file.id) == [ReplicaRecord(file: file.id, node: "n1", state: .live)])
    }
}
