import Foundation
import Testing
import ReplicaCore
import TestSupport

/// S3 access keys (``Catalog/addS3Key(_:)``), on every backend.
extension CatalogConformanceTests {
    @Test("S3 keys are added, listed by access key, read, refused twice and deleted", arguments: CatalogBackend.all)
    func s3Keys(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        let created = Date(timeIntervalSince1970: 1_700_000_000)
        let b = S3KeyRecord(accessKey: "FSDFBBBBBBBBBBBBBBBB", name: nil, sealedSecret: [1, 2, 3, 0, 255], created: created)
        let a = S3KeyRecord(accessKey: "FSDFAAAAAAAAAAAAAAAA", name: "backups", sealedSecret: Array(repeating: 7, count: 68), created: created)
        #expect(try await catalog.s3Keys().isEmpty)
        try await catalog.addS3Key(b)
        try await catalog.addS3Key(a)
        #expect(try await catalog.s3Keys() == [a, b])
        #expect(try await catalog.s3Key(accessKey: a.accessKey) == a)
        #expect(try await catalog.s3Key(accessKey: "FSDFCCCCCCCCCCCCCCCC") == nil)
        await #expect(throws: S3KeyError.exists(a.accessKey)) {
            try await catalog.addS3Key(S3KeyRecord(accessKey: a.accessKey, name: "other", sealedSecret: [9], created: created))
        }
        #expect(try await catalog.s3Key(accessKey: a.accessKey)?.name == "backups", "the first stays")
        #expect(try await catalog.deleteS3Key(accessKey: a.accessKey))
        #expect(try await !catalog.deleteS3Key(accessKey: a.accessKey))
        #expect(try await catalog.s3Keys() == [b])
    }
}

extension CatalogConformanceTests {
    @Test("S3 buckets are created, listed by name, refused twice and deleted", arguments: CatalogBackend.all)
    func s3Buckets(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        let created = Date(timeIntervalSince1970: 1_700_000_000)
        #expect(try await catalog.buckets().isEmpty)
        try await catalog.createBucket(S3BucketRecord(name: "photos", created: created))
        try await catalog.createBucket(S3BucketRecord(name: "backups", created: created.addingTimeInterval(60)))
        #expect(try await catalog.buckets().map(\.name) == ["backups", "photos"])
        #expect(try await catalog.bucket(named: "photos") == S3BucketRecord(name: "photos", created: created))
        #expect(try await catalog.bucket(named: "nothing") == nil)
        await #expect(throws: S3BucketError.exists("photos")) {
            try await catalog.createBucket(S3BucketRecord(name: "photos", created: created.addingTimeInterval(99)))
        }
        #expect(try await catalog.bucket(named: "photos")?.created == created, "the first stays")
        #expect(try await catalog.deleteBucket(named: "photos"))
        #expect(try await !catalog.deleteBucket(named: "photos"))
        #expect(try await catalog.buckets().map(\.name) == ["backups"])
    }
}

extension CatalogConformanceTests {
    @Test("S3 metadata is kept per version: replaced, kept by a rename, not shared with a new version, dropped with a purged tombstone", arguments: CatalogBackend.all)
    func s3ObjectMeta(backend: CatalogBackend) async throws {
        let catalog = try await backend.make()
        try await catalog.registerNode(Fixture.node("n1"))
        let first = try await catalog.putFile(Fixture.newFile("photos/a.jpg", size: 10, n: 1))
        #expect(try await catalog.objectMeta(of: [first.id]).isEmpty)
        let meta = S3ObjectMeta(
            etag: "5eb63bbbe01eeed093cb22bb8f5acdc3", contentType: "image/jpeg", headers: ["cache-control": "max-age=60"],
            user: ["owner": "ann", "note": "ünïcode & <xml>"])
        try await catalog.setObjectMeta(meta, of: first.id)
        #expect(try await catalog.objectMeta(of: [first.id]) == [first.id: meta])
        var replaced = meta
        replaced.user = ["owner": "bob"]
        try await catalog.setObjectMeta(replaced, of: first.id)
        #expect(try await catalog.objectMeta(of: [first.id])[first.id] == replaced)

        // A rename keeps the version, so its metadata.
        try await catalog.setReplica(first.id, on: "n1", state: .live)
        _ = try await catalog.renameFiles([FileRename(from: first.path, to: try VirtualPath("photos/b.jpg"), n: 1)])
        let renamed = try #require(try await catalog.file(at: try VirtualPath("photos/b.jpg")))
        #expect(renamed.id == first.id)
        #expect(try await catalog.objectMeta(of: [renamed.id])[renamed.id] == replaced)

        // A new version of the path starts without any; many are read at once.
        let second = try await catalog.putFile(Fixture.newFile("photos/b.jpg", size: 12, n: 1))
        #expect(try await catalog.objectMeta(of: [second.id]).isEmpty)
        var others: [FileID] = []
        for index in 0..<510 {
            let file = try await catalog.putFile(Fixture.newFile("many/\(index)", size: 1, n: 1))
            if index % 2 == 0 {
                try await catalog.setObjectMeta(S3ObjectMeta(etag: String(index)), of: file.id)
            }
            others.append(file.id)
        }
        let found = try await catalog.objectMeta(of: others + [first.id])
        #expect(found.count == 256)
        #expect(found[others[508]]?.etag == "508")

        // The old version, retired and gone from its node, is purged with its metadata.
        try await catalog.removeReplica(first.id, from: "n1")
        _ = try await catalog.purgeTombstones()
        #expect(try await catalog.objectMeta(of: [first.id]).isEmpty)
        await #expect(throws: CatalogError.unknownFile(FileID(999_999))) {
            try await catalog.setObjectMeta(meta, of: FileID(999_999))
        }
    }
}
