import Foundation
import HTTPTypes
import Hummingbird
import ReplicaCore

extension S3Gateway {
    /// The highest Unicode scalar: appended to a path, it sorts after every path under it
    /// (the catalogs order paths by their UTF-8 bytes), so a listing can skip a directory.
    static let afterEverything = "\u{10FFFF}"

    // MARK: ListBuckets, CreateBucket, DeleteBucket, HeadBucket

    /// The buckets created through the API, and the top-level directories of the store whose
    /// names are valid bucket names (files put with `fsdfsd put`).
    func listBuckets() async throws -> Response {
        var buckets: [String: Date] = [:]
        for bucket in try await master.catalog.buckets() { buckets[bucket.name] = bucket.created }
        var after: VirtualPath?
        while true {
            guard let file = try await master.catalog.listFiles(prefix: "", after: after, limit: 1).first else { break }
            let path = file.path.rawValue
            guard let slash = path.firstIndex(of: "/") else {
                after = file.path
                continue
            }
            let directory = String(path[..<slash])
            if S3BucketName.problem(directory) == nil, buckets[directory] == nil { buckets[directory] = file.created }
            guard let next = try? VirtualPath(directory + "/" + Self.afterEverything) else { break }
            after = next
        }
        var xml = S3XML("ListAllMyBucketsResult", namespace: true)
        xml.start("Owner")
        xml.element("ID", "fsdfs")
        xml.element("DisplayName", "fsdfs")
        xml.end()
        xml.start("Buckets")
        for (name, created) in buckets.sorted(by: { $0.key < $1.key }) {
            xml.start("Bucket")
            xml.element("Name", name)
            xml.element("CreationDate", S3Dates.iso8601(created))
            xml.end()
        }
        xml.end()
        return Self.xmlResponse(xml.finish())
    }

    func createBucket(_ name: String) async throws -> Response {
        do {
            try await master.catalog.createBucket(S3BucketRecord(name: name, created: Date()))
        } catch is S3BucketError {
            throw S3Error("BucketAlreadyOwnedByYou", .conflict, "Your previous request to create the named bucket succeeded and you already own it: \(name)")
        }
        logger.info("S3 bucket \(name) created")
        return Self.empty(.ok, [.location: "/\(name)"])
    }

    func deleteBucket(_ name: String) async throws -> Response {
        if try await !master.catalog.listFiles(prefix: name + "/", after: nil, limit: 1).isEmpty {
            throw S3Error("BucketNotEmpty", .conflict, "The bucket you tried to delete is not empty: \(name)")
        }
        guard try await master.catalog.deleteBucket(named: name) else { throw S3Error.noSuchBucket(name) }
        logger.info("S3 bucket \(name) deleted")
        return Self.empty(.noContent)
    }

    func headBucket(_ name: String) async throws -> Response {
        try await requireBucket(name)
        return Self.empty(.ok, [.init("x-amz-bucket-region")!: "us-east-1"])
    }

    func bucketLocation(_ name: String) async throws -> Response {
        try await requireBucket(name)
        // us-east-1 is written as an empty constraint.
        return Self.xmlResponse(S3XML("LocationConstraint", namespace: true).finishing())
    }

    // MARK: ListObjects (V1 and V2)

    /// One page of a listing: objects and common prefixes in key order.
    struct Listing {
        var objects: [FileRecord] = []
        var prefixes: [String] = []
        var truncated = false
        /// Where the next page starts (a key, or a common prefix followed by ``afterEverything``).
        var next: String?
        var count: Int { objects.count + prefixes.count }
    }

    /// Lists `bucket` under `prefix` after the key `after` (any string, as S3 takes it),
    /// rolling keys up to `delimiter` into common prefixes, up to `maxKeys` entries.
    func listing(_ bucket: String, prefix: String, delimiter: String?, after: String?, maxKeys: Int) async throws -> Listing {
        var listing = Listing()
        guard maxKeys > 0 else { return listing }
        let base = bucket + "/"
        let afterBytes = after.map { Array($0.utf8) }
        /// Keys at or before `after` are passed over (the catalog's cursor must be a valid
        /// path: the longest one not after it is used).
        func isAfter(_ key: String) -> Bool {
            guard let afterBytes else { return true }
            return afterBytes.lexicographicallyPrecedes(Array(key.utf8))
        }
        var cursor: VirtualPath? = after.flatMap { Self.cursor(base, $0) }
        var lastCommon: String?
        pages: while true {
            let page = try await master.catalog.listFiles(prefix: base + prefix, after: cursor, limit: 1000)
            guard !page.isEmpty else { break }
            for file in page {
                cursor = file.path
                let key = String(file.path.rawValue.dropFirst(base.count))
                guard isAfter(key) else { continue }
                if let delimiter, let found = key.dropFirst(prefix.count).range(of: delimiter) {
                    let common = String(key[..<found.upperBound])
                    // A common prefix at or before `after` was listed on an earlier page.
                    if common == lastCommon || !isAfter(common + Self.afterEverything) { continue }
                    if listing.count == maxKeys {
                        listing.truncated = true
                        break pages
                    }
                    listing.prefixes.append(common)
                    lastCommon = common
                    listing.next = common + Self.afterEverything
                    // Skip the rest of this prefix with a new query (when the skip is a valid
                    // path; otherwise its keys are passed over one by one).
                    if let skip = try? VirtualPath(base + common + Self.afterEverything) {
                        cursor = skip
                        continue pages
                    }
                    continue
                }
                if listing.count == maxKeys {
                    listing.truncated = true
                    break pages
                }
                listing.objects.append(file)
                listing.next = key
            }
            if page.count < 1000 { break }
        }
        return listing
    }

    /// The greatest valid store path not after `BUCKET/after` (nil: from the start).
    static func cursor(_ base: String, _ after: String) -> VirtualPath? {
        var text = base + after
        while text.count > base.count {
            if let path = try? VirtualPath(text) { return path }
            text.removeLast()
        }
        return nil
    }

    func listObjects(_ bucket: String, _ call: S3Call) async throws -> Response {
        try await requireBucket(bucket)
        let v2 = call.value("list-type") == "2"
        let prefix = call.value("prefix") ?? ""
        let delimiter = call.value("delimiter").flatMap { $0.isEmpty ? nil : $0 }
        var maxKeys = 1000
        if let text = call.value("max-keys") {
            guard let value = Int(text), value >= 0 else { throw S3Error.invalidArgument("max-keys must be a number from 0") }
            maxKeys = min(value, 1000)
        }
        let encode = call.value("encoding-type") == "url"
        if let type = call.value("encoding-type"), type != "url" { throw S3Error.invalidArgument("Invalid Encoding Method specified in Request") }
        func encoded(_ text: String) -> String { encode ? SigV4.uriEncode(text, encodeSlash: false) : text }

        var after: String?
        var token: String?
        if v2 {
            if let text = call.value("continuation-token") {
                guard let data = Data(base64Encoded: text), let decoded = String(data: data, encoding: .utf8) else {
                    throw S3Error.invalidArgument("The continuation token provided is incorrect")
                }
                token = text
                after = decoded
            } else {
                after = call.value("start-after")
            }
        } else if let marker = call.value("marker"), !marker.isEmpty {
            // A marker that is a common prefix skips what it rolled up.
            after = delimiter.map { marker.hasSuffix($0) } == true ? marker + Self.afterEverything : marker
        }
        let page = try await listing(bucket, prefix: prefix, delimiter: delimiter, after: after, maxKeys: maxKeys)
        let metas = try await master.catalog.objectMeta(of: page.objects.map(\.id))

        var xml = S3XML("ListBucketResult", namespace: true)
        xml.element("Name", bucket)
        xml.element("Prefix", encoded(prefix))
        if v2 {
            if let token { xml.element("ContinuationToken", token) }
            if let start = call.value("start-after") { xml.element("StartAfter", encoded(start)) }
            xml.element("KeyCount", String(page.count))
        } else {
            xml.element("Marker", encoded(call.value("marker") ?? ""))
        }
        xml.element("MaxKeys", String(maxKeys))
        if let delimiter { xml.element("Delimiter", encoded(delimiter)) }
        if encode { xml.element("EncodingType", "url") }
        xml.element("IsTruncated", page.truncated ? "true" : "false")
        if page.truncated, let next = page.next {
            if v2 {
                xml.element("NextContinuationToken", Data(next.utf8).base64EncodedString())
            } else {
                let marker = next.hasSuffix(Self.afterEverything) ? String(next.dropLast()) : next
                xml.element("NextMarker", encoded(marker))
            }
        }
        let owner = v2 ? call.value("fetch-owner") == "true" : true
        for file in page.objects {
            xml.start("Contents")
            xml.element("Key", encoded(String(file.path.rawValue.dropFirst(bucket.count + 1))))
            xml.element("LastModified", S3Dates.iso8601(file.created))
            xml.element("ETag", "\"\(metas[file.id]?.etag ?? Self.fallbackETag(file))\"")
            xml.element("Size", String(file.size))
            if owner {
                xml.start("Owner")
                xml.element("ID", "fsdfs")
                xml.element("DisplayName", "fsdfs")
                xml.end()
            }
            xml.element("StorageClass", "STANDARD")
            xml.end()
        }
        for common in page.prefixes {
            xml.start("CommonPrefixes")
            xml.element("Prefix", encoded(common))
            xml.end()
        }
        return Self.xmlResponse(xml.finish())
    }
}

extension S3XML {
    /// The document as it is (an empty root).
    func finishing() -> String {
        var copy = self
        return copy.finish()
    }
}
