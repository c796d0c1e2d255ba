import Foundation
import GRDB

/// S3 access keys (`fsdfsd s3-key`), one row each.
extension SQLiteCatalog {
    public func addS3Key(_ key: S3KeyRecord) async throws {
        try await writer.write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM s3_keys WHERE access_key = ?", arguments: [key.accessKey]) == true {
                throw S3KeyError.exists(key.accessKey)
            }
            try db.execute(
                sql: "INSERT INTO s3_keys (access_key, name, secret, created) VALUES (?, ?, ?, ?)",
                arguments: [key.accessKey, key.name, Data(key.sealedSecret), key.created.timeIntervalSince1970])
        }
    }

    public func s3Keys() async throws -> [S3KeyRecord] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM s3_keys ORDER BY access_key").map(Self.s3KeyRecord)
        }
    }

    public func s3Key(accessKey: String) async throws -> S3KeyRecord? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM s3_keys WHERE access_key = ?", arguments: [accessKey]).map(Self.s3KeyRecord)
        }
    }

    public func deleteS3Key(accessKey: String) async throws -> Bool {
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM s3_keys WHERE access_key = ?", arguments: [accessKey])
            return db.changesCount > 0
        }
    }

    static func s3KeyRecord(_ row: Row) -> S3KeyRecord {
        S3KeyRecord(
            accessKey: row["access_key"], name: row["name"], sealedSecret: Array(row["secret"] as Data),
            created: Date(timeIntervalSince1970: row["created"]))
    }
}

/// The S3 API's buckets, one row each.
extension SQLiteCatalog {
    public func createBucket(_ bucket: S3BucketRecord) async throws {
        try await writer.write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM s3_buckets WHERE name = ?", arguments: [bucket.name]) == true {
                throw S3BucketError.exists(bucket.name)
            }
            try db.execute(
                sql: "INSERT INTO s3_buckets (name, created) VALUES (?, ?)", arguments: [bucket.name, bucket.created.timeIntervalSince1970])
        }
    }

    public func buckets() async throws -> [S3BucketRecord] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM s3_buckets ORDER BY name").map(Self.bucketRecord)
        }
    }

    public func bucket(named name: String) async throws -> S3BucketRecord? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM s3_buckets WHERE name = ?", arguments: [name]).map(Self.bucketRecord)
        }
    }

    public func deleteBucket(named name: String) async throws -> Bool {
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM s3_buckets WHERE name = ?", arguments: [name])
            return db.changesCount > 0
        }
    }

    static func bucketRecord(_ row: Row) -> S3BucketRecord {
        S3BucketRecord(name: row["name"], created: Date(timeIntervalSince1970: row["created"]))
    }
}

/// The S3 metadata of versions, one row each (``S3ObjectMeta``).
extension SQLiteCatalog {
    public func setObjectMeta(_ meta: S3ObjectMeta, of file: FileID) async throws {
        let text = try meta.encoded()
        try await writer.write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM files WHERE id = ?", arguments: [file.rawValue]) == true else {
                throw CatalogError.unknownFile(file)
            }
            try db.execute(sql: "INSERT OR REPLACE INTO s3_objects (file, meta) VALUES (?, ?)", arguments: [file.rawValue, text])
        }
    }

    public func objectMeta(of files: [FileID]) async throws -> [FileID: S3ObjectMeta] {
        guard !files.isEmpty else { return [:] }
        return try await writer.read { db in
            var found: [FileID: S3ObjectMeta] = [:]
            for start in stride(from: 0, to: files.count, by: 500) {
                let slice = files[start..<min(start + 500, files.count)]
                let marks = Array(repeating: "?", count: slice.count).joined(separator: ",")
                for row in try Row.fetchAll(
                    db, sql: "SELECT file, meta FROM s3_objects WHERE file IN (\(marks))",
                    arguments: StatementArguments(slice.map(\.rawValue)))
                {
                    found[FileID(row["file"])] = try S3ObjectMeta.decoded(row["meta"])
                }
            }
            return found
        }
    }
}
