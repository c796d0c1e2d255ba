import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOFileSystem
import ReplicaCore
import Synchronization

/// Multipart uploads under way, kept on the master's disk until completed or aborted:
/// `DIR/ID/upload.json` (bucket, key, metadata, start) and one file per part,
/// `NNNNN-MD5.part`. Parts never go to a node on their own: completing the upload sends
/// their concatenation as one new version, as one `PutObject` would.
final class MultipartStore: Sendable {
    struct Upload: Sendable, Codable {
        var id: String
        var bucket: String
        var key: String
        var meta: S3ObjectMeta
        var initiated: Date
    }

    struct Part: Sendable {
        var number: Int
        var md5: String
        var size: Int64
        var modified: Date
        var file: String
    }

    let directory: String
    private let uploads = Mutex<[String: Upload]>([:])
    /// Uploads being completed: a second CompleteMultipartUpload (a client's retry) is refused.
    private let completing = Mutex<Set<String>>([])

    func beginCompleting(_ id: String) -> Bool { completing.withLock { $0.insert(id).inserted } }
    func endCompleting(_ id: String) { completing.withLock { _ = $0.remove(id) } }
    /// Uploads older than this are dropped at start (S3 leaves that to lifecycle rules).
    static let lifetime: TimeInterval = 7 * 24 * 3600

    init(directory: String) {
        self.directory = directory
    }

    func folder(_ id: String) -> String { directory + "/" + id }

    /// The names in a directory (NIOFileSystem: never blocking a cooperative thread).
    static func names(in directory: String) async throws -> [String] {
        try await FileSystem.shared.withDirectoryHandle(atPath: FilePath(directory)) { handle in
            var names: [String] = []
            for try await entry in handle.listContents() { names.append(entry.name.string) }
            return names
        }
    }

    /// Reads the uploads a previous run left.
    func load() async throws {
        var found: [String: Upload] = [:]
        for name in try await Self.names(in: directory) {
            let file = folder(name) + "/upload.json"
            let data: ByteBuffer
            do {
                data = try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(file)) { handle in
                    try await handle.readToEnd(maximumSizeAllowed: .mebibytes(1))
                }
            } catch {
                continue
            }
            guard let upload = try? JSONDecoder().decode(Upload.self, from: Data(buffer: data)) else { continue }
            if Date().timeIntervalSince(upload.initiated) > Self.lifetime {
                _ = try? await FileSystem.shared.removeItem(at: FilePath(folder(name)), recursively: true)
                continue
            }
            found[upload.id] = upload
        }
        uploads.withLock { $0 = found }
    }

    func create(bucket: String, key: String, meta: S3ObjectMeta) async throws -> Upload {
        let upload = Upload(
            id: UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: ""), bucket: bucket, key: key, meta: meta,
            initiated: Date())
        try await FileSystem.shared.createDirectory(at: FilePath(folder(upload.id)), withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        let data = try encoder.encode(upload)
        try await FileSystem.shared.withFileHandle(
            forWritingAt: FilePath(folder(upload.id) + "/upload.json"), options: .newFile(replaceExisting: true)
        ) { handle in
            _ = try await handle.write(contentsOf: data, toAbsoluteOffset: 0)
        }
        uploads.withLock { $0[upload.id] = upload }
        return upload
    }

    func upload(_ id: String, bucket: String, key: String) throws -> Upload {
        guard let upload = uploads.withLock({ $0[id] }), upload.bucket == bucket, upload.key == key else {
            throw S3Error("NoSuchUpload", .notFound, "The specified multipart upload does not exist: \(id)")
        }
        return upload
    }

    func all(bucket: String) -> [Upload] {
        uploads.withLock { Array($0.values) }.filter { $0.bucket == bucket }.sorted { ($0.key, $0.initiated) < ($1.key, $1.initiated) }
    }

    /// Every part kept, by number (the last one stored of each number).
    func parts(_ id: String) async throws -> [Part] {
        var parts: [Int: Part] = [:]
        for name in (try? await Self.names(in: folder(id))) ?? [] where name.hasSuffix(".part") {
            let fields = name.dropLast(".part".count).split(separator: "-")
            guard fields.count == 2, let number = Int(fields[0]) else { continue }
            let file = folder(id) + "/" + name
            guard let info = try await FileSystem.shared.info(forFileAt: FilePath(file)) else { continue }
            let modified = Date(timeIntervalSince1970: Double(info.lastDataModificationTime.seconds))
            if let kept = parts[number], kept.modified > modified { continue }
            parts[number] = Part(number: number, md5: String(fields[1]), size: info.size, modified: modified, file: file)
        }
        return parts.values.sorted { $0.number < $1.number }
    }

    /// Keeps a spooled part as part `number`, replacing an earlier one.
    func keep(_ body: SpooledBody, as number: Int, of id: String) async throws {
        let old = try await parts(id).filter { $0.number == number }
        let file = folder(id) + "/" + String(format: "%05d", number) + "-" + body.md5 + ".part"
        guard let source = body.pieces.first?.file else { return }
        // rename(2): an identical part already there is replaced in one step.
        try await FileSystem.shared.replaceItem(at: FilePath(file), withItemAt: FilePath(source))
        for part in old where part.file != file { _ = try? await FileSystem.shared.removeItem(at: FilePath(part.file)) }
    }

    /// Drops the uploads older than ``lifetime``; how many.
    func purgeStale() async -> Int {
        let stale = uploads.withLock { uploads in uploads.values.filter { Date().timeIntervalSince($0.initiated) > Self.lifetime } }
        for upload in stale { await remove(upload.id) }
        return stale.count
    }

    func remove(_ id: String) async {
        uploads.withLock { _ = $0.removeValue(forKey: id) }
        _ = try? await FileSystem.shared.removeItem(at: FilePath(folder(id)), recursively: true)
    }
}

extension S3Gateway {
    static let minPartSize: Int64 = 5 << 20
    static let maxParts = 10_000

    func createMultipart(_ bucket: String, _ key: String, _ call: S3Call) async throws -> Response {
        _ = try Self.path(bucket, key)
        try await requireBucket(bucket)
        let upload = try await multipart.create(bucket: bucket, key: key, meta: try Self.meta(from: call))
        var xml = S3XML("InitiateMultipartUploadResult", namespace: true)
        xml.element("Bucket", bucket)
        xml.element("Key", key)
        xml.element("UploadId", upload.id)
        return Self.xmlResponse(xml.finish())
    }

    func uploadPart(_ bucket: String, _ key: String, _ call: S3Call, request: Request, caller: S3Caller) async throws -> Response {
        let upload = try multipart.upload(call.value("uploadId") ?? "", bucket: bucket, key: key)
        guard let text = call.value("partNumber"), let number = Int(text), (1...Self.maxParts).contains(number) else {
            throw S3Error.invalidArgument("Part number must be an integer between 1 and \(Self.maxParts), inclusive")
        }
        if call.header("x-amz-copy-source") != nil { throw S3Error.notImplemented("UploadPartCopy") }
        let spooled = try await spoolBody(request.body, call: call, caller: caller, limit: Self.maxPutSize)
        do {
            if let contentMD5 = call.header("Content-MD5") {
                guard let digest = Data(hexString: spooled.md5), digest.base64EncodedString() == contentMD5 else {
                    throw S3Error("BadDigest", .badRequest, "The Content-MD5 you specified did not match what was received")
                }
            }
            try await multipart.keep(spooled, as: number, of: upload.id)
        } catch {
            await spooled.remove()
            throw error
        }
        return Self.empty(.ok, [.eTag: "\"\(spooled.md5)\""])
    }

    func listParts(_ bucket: String, _ key: String, _ call: S3Call) async throws -> Response {
        let upload = try multipart.upload(call.value("uploadId") ?? "", bucket: bucket, key: key)
        let marker = call.value("part-number-marker").flatMap(Int.init) ?? 0
        let maxParts = call.value("max-parts").flatMap(Int.init) ?? 1000
        guard marker >= 0, (0...1000).contains(maxParts) else {
            throw S3Error.invalidArgument("part-number-marker must be 0 or more and max-parts 0 to 1000")
        }
        let all = try await multipart.parts(upload.id).filter { $0.number > marker }
        let page = all.prefix(maxParts)
        var xml = S3XML("ListPartsResult", namespace: true)
        xml.element("Bucket", bucket)
        xml.element("Key", key)
        xml.element("UploadId", upload.id)
        xml.element("PartNumberMarker", String(marker))
        if let last = page.last { xml.element("NextPartNumberMarker", String(last.number)) }
        xml.element("MaxParts", String(maxParts))
        xml.element("IsTruncated", all.count > page.count ? "true" : "false")
        xml.element("StorageClass", "STANDARD")
        for part in page {
            xml.start("Part")
            xml.element("PartNumber", String(part.number))
            xml.element("LastModified", S3Dates.iso8601(part.modified))
            xml.element("ETag", "\"\(part.md5)\"")
            xml.element("Size", String(part.size))
            xml.end()
        }
        return Self.xmlResponse(xml.finish())
    }

    func abortMultipart(_ bucket: String, _ key: String, _ call: S3Call) async throws -> Response {
        let upload = try multipart.upload(call.value("uploadId") ?? "", bucket: bucket, key: key)
        await multipart.remove(upload.id)
        return Self.empty(.noContent)
    }

    func listMultipartUploads(_ bucket: String, _ call: S3Call) async throws -> Response {
        try await requireBucket(bucket)
        let prefix = call.value("prefix") ?? ""
        let uploads = multipart.all(bucket: bucket).filter { $0.key.hasPrefix(prefix) }
        var xml = S3XML("ListMultipartUploadsResult", namespace: true)
        xml.element("Bucket", bucket)
        xml.element("KeyMarker", "")
        xml.element("UploadIdMarker", "")
        xml.element("Prefix", prefix)
        xml.element("MaxUploads", "1000")
        xml.element("IsTruncated", uploads.count > 1000 ? "true" : "false")
        for upload in uploads.prefix(1000) {
            xml.start("Upload")
            xml.element("Key", upload.key)
            xml.element("UploadId", upload.id)
            xml.start("Initiator")
            xml.element("ID", "fsdfs")
            xml.element("DisplayName", "fsdfs")
            xml.end()
            xml.start("Owner")
            xml.element("ID", "fsdfs")
            xml.element("DisplayName", "fsdfs")
            xml.end()
            xml.element("StorageClass", "STANDARD")
            xml.element("Initiated", S3Dates.iso8601(upload.initiated))
            xml.end()
        }
        return Self.xmlResponse(xml.finish())
    }

    /// Checks the list of parts against those kept (order, ETags, S3's 5 MiB minimum but for
    /// the last), hashes their concatenation and stores it as one version; the ETag is the
    /// MD5 of the parts' MD5s, `-` and their count.
    func completeMultipart(_ bucket: String, _ key: String, _ call: S3Call, request: Request, caller: S3Caller) async throws -> Response {
        let upload = try multipart.upload(call.value("uploadId") ?? "", bucket: bucket, key: key)
        let path = try Self.path(bucket, key)
        let text = try await Self.xmlBody(request, call: call, caller: caller)
        let listed = S3XML.blocks("Part", in: text).map { block in
            (number: S3XML.values(of: "PartNumber", in: block).first.flatMap(Int.init),
             etag: S3XML.values(of: "ETag", in: block).first?.trimmingCharacters(in: CharacterSet(charactersIn: "\" ")))
        }
        guard !listed.isEmpty else { throw S3Error("MalformedXML", .badRequest, "The XML you provided was not well-formed: no <Part>") }
        let kept = Dictionary(uniqueKeysWithValues: try await multipart.parts(upload.id).map { ($0.number, $0) })
        let numbers = listed.compactMap(\.number)
        if numbers.count == listed.count, zip(numbers, numbers.dropFirst()).contains(where: { $0 >= $1 }) {
            throw S3Error("InvalidPartOrder", .badRequest, "The list of parts was not in ascending order")
        }
        var chosen: [MultipartStore.Part] = []
        for entry in listed {
            guard let number = entry.number, let part = kept[number], entry.etag == nil || entry.etag == part.md5 else {
                throw S3Error("InvalidPart", .badRequest, "One or more of the specified parts could not be found or its ETag does not match (part \(entry.number.map(String.init) ?? "?"))")
            }
            chosen.append(part)
        }
        for part in chosen.dropLast() where part.size < Self.minPartSize {
            throw S3Error("EntityTooSmall", .badRequest, "Your proposed upload is smaller than the minimum allowed object size (part \(part.number) has \(part.size) bytes; every part but the last needs 5 MiB)")
        }
        guard multipart.beginCompleting(upload.id) else {
            throw S3Error("OperationAborted", .conflict, "A conflicting operation is in progress: this upload is being completed")
        }
        // S3's own way for long completions: 200 at once, spaces while the parts are hashed
        // and stored (a client's read timeout never fires), then the result or the error.
        let gateway = self, parts = chosen
        let body = ResponseBody { writer in
            defer { gateway.multipart.endCompleting(upload.id) }
            try await writer.write(ByteBuffer(string: #"<?xml version="1.0" encoding="UTF-8"?>"# + "\n"))
            let document = try await withThrowingTaskGroup(of: String?.self) { group in
                group.addTask {
                    do {
                        return try await gateway.finishMultipart(upload, parts, path: path, bucket: bucket, key: key)
                    } catch {
                        return Self.s3Error(error).xml(resource: "/\(bucket)/\(key)", requestID: upload.id)
                    }
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(10))
                    return nil
                }
                while let next = try await group.next() {
                    if let document = next {
                        group.cancelAll()
                        return document
                    }
                    try await writer.write(ByteBuffer(string: " "))
                    group.addTask {
                        try await Task.sleep(for: .seconds(10))
                        return nil
                    }
                }
                throw S3Error.internalError("the completion ended without an answer")
            }
            // Without its own XML declaration: it was sent first.
            try await writer.write(ByteBuffer(string: document.replacingOccurrences(of: #"<?xml version="1.0" encoding="UTF-8"?>"# + "\n", with: "")))
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "application/xml"], body: body)
    }

    /// Hashes the chosen parts, stores their concatenation and records its metadata; the
    /// CompleteMultipartUploadResult document.
    func finishMultipart(
        _ upload: MultipartStore.Upload, _ chosen: [MultipartStore.Part], path: VirtualPath, bucket: String, key: String
    ) async throws -> String {
        var sha = SHA256()
        var md5s: [UInt8] = []
        var size: Int64 = 0
        for part in chosen {
            try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(part.file)) { handle in
                for try await chunk in handle.readChunks(chunkLength: .mebibytes(2)) {
                    chunk.withUnsafeReadableBytes { sha.update(bufferPointer: $0) }
                }
            }
            guard let digest = Data(hexString: part.md5) else { throw S3Error.internalError("part \(part.number) has no valid MD5") }
            md5s += digest
            size += part.size
        }
        let etag = hex(Insecure.MD5.hash(data: md5s)) + "-\(chosen.count)"
        let body = SpooledBody(
            pieces: chosen.map { SpooledBody.Piece(file: $0.file, size: $0.size) }, size: size, sha256: hex(sha.finalize()), md5: etag)
        let stored = try await store(.spooled(body), at: path)
        var meta = upload.meta
        meta.etag = etag
        try await master.catalog.setObjectMeta(meta, of: stored.fileID)
        await multipart.remove(upload.id)
        logger.info("S3 multipart upload \(upload.id) completed as \(path) (\(chosen.count) parts, \(ByteSize.format(size)))")
        var xml = S3XML("CompleteMultipartUploadResult", namespace: true)
        xml.element("Location", "/\(bucket)/\(key)")
        xml.element("Bucket", bucket)
        xml.element("Key", key)
        xml.element("ETag", "\"\(etag)\"")
        return xml.finish()
    }
}
