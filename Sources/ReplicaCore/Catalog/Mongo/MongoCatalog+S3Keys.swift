import Foundation

/// S3 access keys (`fsdfsd s3-key`): the `s3_keys` collection, one document each, `_id` the
/// access key, the sealed secret in base64.
extension MongoCatalog {
    static let s3KeysCollection = "s3_keys"

    public func addS3Key(_ key: S3KeyRecord) async throws {
        try await withSession { session in
            var document: BSONDocument = [
                "_id": .string(key.accessKey), "secret": .string(Data(key.sealedSecret).base64EncodedString()),
                "created": .datetime(Int64((key.created.timeIntervalSince1970 * 1000).rounded())),
            ]
            if let name = key.name { document["name"] = .string(name) }
            do {
                try session.insert(Self.s3KeysCollection, [document])
            } catch let error as MongoError where error.isDuplicateKey {
                throw S3KeyError.exists(key.accessKey)
            }
        }
    }

    public func s3Keys() async throws -> [S3KeyRecord] {
        try await withSession { session in
            try session.find(Self.s3KeysCollection, [:], sort: ["_id": 1]).map(Self.s3KeyRecord)
        }
    }

    public func s3Key(accessKey: String) async throws -> S3KeyRecord? {
        try await withSession { session in
            try session.findOne(Self.s3KeysCollection, ["_id": .string(accessKey)]).map(Self.s3KeyRecord)
        }
    }

    public func deleteS3Key(accessKey: String) async throws -> Bool {
        try await withSession { session in
            try session.delete(Self.s3KeysCollection, ["_id": .string(accessKey)]) > 0
        }
    }

    static func s3KeyRecord(_ document: BSONDocument) throws -> S3KeyRecord {
        guard let access = document["_id"]?.stringValue, let text = document["secret"]?.stringValue,
              let sealed = Data(base64Encoded: text)
        else { throw CatalogError.corrupt("an S3 key document lacks its access key or secret") }
        let created: Date = if case .datetime(let milliseconds) = document["created"] {
            Date(timeIntervalSince1970: Double(milliseconds) / 1000)
        } else {
            Date(timeIntervalSince1970: 0)
        }
        return S3KeyRecord(accessKey: access, name: document["name"]?.stringValue, sealedSecret: Array(sealed), created: created)
    }
}

/// The S3 API's buckets: the `s3_buckets` collection, `_id` the name.
extension MongoCatalog {
    static let bucketsCollection = "s3_buckets"

    public func createBucket(_ bucket: S3BucketRecord) async throws {
        try await withSession { session in
            do {
                try session.insert(Self.bucketsCollection, [[
                    "_id": .string(bucket.name), "created": .datetime(Int64((bucket.created.timeIntervalSince1970 * 1000).rounded())),
                ]])
            } catch let error as MongoError where error.isDuplicateKey {
                throw S3BucketError.exists(bucket.name)
            }
        }
    }

    public func buckets() async throws -> [S3BucketRecord] {
        try await withSession { session in
            try session.find(Self.bucketsCollection, [:], sort: ["_id": 1]).map(Self.bucketRecord)
        }
    }

    public func bucket(named name: String) async throws -> S3BucketRecord? {
        try await withSession { session in
            try session.findOne(Self.bucketsCollection, ["_id": .string(name)]).map(Self.bucketRecord)
        }
    }

    public func deleteBucket(named name: String) async throws -> Bool {
        try await withSession { session in
            try session.delete(Self.bucketsCollection, ["_id": .string(name)]) > 0
        }
    }

    static func bucketRecord(_ document: BSONDocument) throws -> S3BucketRecord {
        guard let name = document["_id"]?.stringValue else { throw CatalogError.corrupt("a bucket document lacks its name") }
        let created: Date = if case .datetime(let milliseconds) = document["created"] {
            Date(timeIntervalSince1970: Double(milliseconds) / 1000)
        } else {
            Date(timeIntervalSince1970: 0)
        }
        return S3BucketRecord(name: name, created: created)
    }
}

/// The S3 metadata of versions: the `s3_objects` collection, `_id` the version's id, `meta`
/// the JSON of ``S3ObjectMeta``. Dropped with the tombstones that are purged.
extension MongoCatalog {
    static let objectsCollection = "s3_objects"

    public func setObjectMeta(_ meta: S3ObjectMeta, of file: FileID) async throws {
        let text = try meta.encoded()
        try await withSession { session in
            let key = BSON.int64(file.rawValue)
            guard try session.findOne(Files.collection, ["_id": key], projection: ["_id": 1]) != nil
                || session.findOne(Tombstones.collection, ["_id": key], projection: ["_id": 1]) != nil
            else { throw CatalogError.unknownFile(file) }
            _ = try session.update(Self.objectsCollection, ["_id": key], .operators(["$set": ["meta": .string(text)]]), upsert: true)
        }
    }

    public func objectMeta(of files: [FileID]) async throws -> [FileID: S3ObjectMeta] {
        guard !files.isEmpty else { return [:] }
        return try await withSession { session in
            var found: [FileID: S3ObjectMeta] = [:]
            for start in stride(from: 0, to: files.count, by: 1000) {
                let slice = files[start..<min(start + 1000, files.count)]
                for document in try session.find(Self.objectsCollection, ["_id": ["$in": .array(slice.map { .int64($0.rawValue) })]]) {
                    guard let id = document["_id"]?.int64Value, let text = document["meta"]?.stringValue else { continue }
                    found[FileID(id)] = try S3ObjectMeta.decoded(text)
                }
            }
            return found
        }
    }
}
