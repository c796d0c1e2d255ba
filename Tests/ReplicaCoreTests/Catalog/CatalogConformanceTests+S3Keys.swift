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
