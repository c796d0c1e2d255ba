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

    @Test("A batch upload records each file with K = 1 on its node, replaces a path's version, and is recorded once when asked again",
          arguments: CatalogBackend.all)
    func putFilesInOneGo(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        for id in ["n1", "n2"] { try await catalog.registerNode(Fixture.node(id, quota: 1_000_000)) }
        let old = try await catalog.putFile(Fixture.newFile("up/3", size: 7, n: 2))
        try await catalog.setReplica(old.id, on: "n2", state: .live)
        let batch = (0..<5).map { i in
            var file = Fixture.newFile("up/\(i)", size: 10, n: 2)
            file.upload = "batch-1/\(i)"
            return file
        }
        let records = try await catalog.putFiles(batch, holder: "n1")
        #expect(records.map(\.path) == batch.map(\.path))
        #expect(records.allSatisfy { $0.k == 1 && !$0.deleted })
        #expect(records[3].version == 2, "a path that had a version gets the next one")
        #expect(try await catalog.pendingDeletions(on: "n2").map(\.id) == [old.id])
        for record in records {
            #expect(try await catalog.replicas(of: record.id) == [ReplicaRecord(file: record.id, node: "n1", state: .live)])
        }
        #expect(try await catalog.node("n1")?.used == 50)
        #expect(try await catalog.totals() == CatalogTotals(files: 5, bytes: 50, underReplicated: 5, minKn: -1))

        // Asked again (the reply was lost): the same versions, nothing counted twice.
        let again = try await catalog.putFiles(batch, holder: "n1")
        #expect(again.map(\.id) == records.map(\.id))
        #expect(try await catalog.file(upload: "batch-1/2")?.id == records[2].id)
        #expect(try await catalog.node("n1")?.used == 50)
        #expect(try await catalog.totals() == CatalogTotals(files: 5, bytes: 50, underReplicated: 5, minKn: -1))
        await #expect(throws: CatalogError.self) {
            _ = try await catalog.putFiles([Fixture.newFile("up/x", size: 1, n: 1)], holder: "nowhere")
        }
        #expect(try await catalog.file(at: Fixture.path("up/x")) == nil, "an unknown node records nothing")
    }
}
