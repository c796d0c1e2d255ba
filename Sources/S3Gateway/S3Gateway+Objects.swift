import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Master
import NIOCore
import ReplicaCore
import Transport

extension S3Gateway {
    // MARK: PutObject

    func putObject(_ bucket: String, _ key: String, _ call: S3Call, request: Request, caller: S3Caller) async throws -> Response {
        let path = try Self.path(bucket, key)
        if call.header("If-Match") != nil || call.header("If-None-Match") != nil {
            throw S3Error.notImplemented("a conditional PutObject (If-Match, If-None-Match)")
        }
        try await requireBucket(bucket)
        var meta = try Self.meta(from: call)
        let stored: StoredReply
        (stored, meta.etag) = try await receive(request.body, call: call, caller: caller, limit: Self.maxPutSize) { body in
            try await self.store(body, at: path)
        }
        try await master.catalog.setObjectMeta(meta, of: stored.fileID)
        logger.info("S3 PutObject \(path) (\(ByteSize.format(stored.size))) by \(caller.accessKey): version \(stored.version ?? 0), K=\(stored.k)")
        return Self.empty(.ok, [.eTag: "\"\(meta.etag)\""])
    }

    /// What a body is: known length and SHA-256 (streamed through), or to be spooled first.
    enum Incoming {
        case streamed(DigestingChunks<RequestBody>, length: Int64, sha256: String, result: DigestResult)
        case spooled(SpooledBody)
    }

    /// Reads a request body the way it was signed and hands it to `use`; returns what `use`
    /// returned and the body's MD5. A spooled body is removed afterwards.
    func receive<T: Sendable>(
        _ body: RequestBody, call: S3Call, caller: S3Caller, limit: Int64, use: (Incoming) async throws -> T
    ) async throws -> (T, md5: String) {
        let payload = caller.payloadHash
        let contentMD5 = call.header("Content-MD5")
        if Self.isSHA256(payload) {
            guard let lengthText = call.header("Content-Length"), let length = Int64(lengthText), length >= 0 else {
                throw S3Error("MissingContentLength", .lengthRequired, "You must provide the Content-Length HTTP header")
            }
            guard length <= limit else {
                throw S3Error("EntityTooLarge", .badRequest, "Your proposed upload exceeds the maximum allowed size (\(ByteSize.format(limit)))")
            }
            let result = DigestResult()
            // An empty body has no chunk to hash.
            if length == 0 { result.set(hex(Insecure.MD5.hash(data: [UInt8]()))) }
            let chunks = DigestingChunks(base: body, length: length, contentMD5: contentMD5, result: result)
            let value = try await use(.streamed(chunks, length: length, sha256: payload.lowercased(), result: result))
            guard let md5 = result.md5 else { throw S3Error.internalError("the body's MD5 was not computed") }
            return (value, md5)
        }
        let spooled = try await spoolBody(body, call: call, caller: caller, limit: limit)
        do {
            if let contentMD5 {
                guard let digest = Data(hexString: spooled.md5), digest.base64EncodedString() == contentMD5 else {
                    throw S3Error("BadDigest", .badRequest, "The Content-MD5 you specified did not match what was received")
                }
            }
            let value = try await use(.spooled(spooled))
            await spooled.remove()
            return (value, spooled.md5)
        } catch {
            await spooled.remove()
            throw error
        }
    }

    static func isSHA256(_ payload: String) -> Bool { payload.utf8.count == 64 && payload.allSatisfy(\.isHexDigit) }

    /// Writes a body to a spool file, decoding `aws-chunked` and checking a signed SHA-256.
    func spoolBody(_ body: RequestBody, call: S3Call, caller: S3Caller, limit: Int64) async throws -> SpooledBody {
        var decoder: AwsChunkedDecoder?
        var expected: Int64?
        if let mode = AwsChunkedDecoder.mode(caller.payloadHash) {
            guard let text = call.header("x-amz-decoded-content-length"), let length = Int64(text), length >= 0 else {
                throw S3Error("MissingContentLength", .lengthRequired, "a streaming upload needs x-amz-decoded-content-length")
            }
            guard let secret = try await master.s3Secret(accessKey: caller.accessKey) else {
                throw S3AuthError.unknownKey(caller.accessKey)
            }
            decoder = AwsChunkedDecoder(mode: mode, caller: caller, secret: secret)
            expected = length
        } else if caller.payloadHash == SigV4.unsignedPayload || Self.isSHA256(caller.payloadHash) {
            expected = call.header("Content-Length").flatMap(Int64.init)
            guard expected != nil else {
                throw S3Error("MissingContentLength", .lengthRequired, "You must provide the Content-Length HTTP header")
            }
        } else {
            throw S3Error("InvalidArgument", .badRequest, "x-amz-content-sha256 '\(caller.payloadHash.prefix(80))' is not a SHA-256, UNSIGNED-PAYLOAD or a streaming mode")
        }
        if let expected, expected > limit {
            throw S3Error("EntityTooLarge", .badRequest, "Your proposed upload exceeds the maximum allowed size (\(ByteSize.format(limit)))")
        }
        // A checksum the client gives in a header, or announces as a trailer (x-amz-trailer).
        let checksumName = call.header("x-amz-trailer")?.trimmingCharacters(in: .whitespaces).lowercased()
            ?? call.headers.map { $0.name.lowercased() }.first { S3Checksum.algorithm(of: $0) != nil }
        var checksum = checksumName.flatMap(S3Checksum.algorithm(of:)).map(S3Checksum.init)
        if let checksumName, checksum == nil {
            throw S3Error.invalidArgument("\(checksumName) is not a checksum fsdfs checks (x-amz-checksum-crc32, -crc32c, -sha1, -sha256)")
        }
        // No more than announced is ever written.
        var spooler = try await Spooler.open(in: spool, limit: min(limit, expected ?? limit))
        do {
            for try await buffer in body {
                let decoded = decoder != nil ? try decoder!.feed(buffer) : [buffer]
                for piece in decoded {
                    piece.withUnsafeReadableBytes { checksum?.update($0) }
                    try await spooler.write(piece)
                }
            }
            if let decoder, !decoder.finished { throw AwsChunkedDecoder.malformed("the body ends before its last chunk") }
            if let checksum {
                let name = checksum.algorithm.header
                guard let given = decoder?.trailers[name] ?? call.header(name) else {
                    throw S3Error.invalidArgument("the body announced \(name) and did not send it")
                }
                guard given == checksum.finalize() else {
                    throw S3Error("BadDigest", .badRequest, "The \(checksum.algorithm.rawValue.uppercased()) you specified did not match the calculated checksum")
                }
            }
            let spooled = try await spooler.finish()
            if let expected, spooled.size != expected {
                await spooled.remove()
                throw S3Error("IncompleteBody", .badRequest, "the body has \(spooled.size) bytes, not the \(expected) announced")
            }
            if Self.isSHA256(caller.payloadHash), spooled.sha256 != caller.payloadHash.lowercased() {
                await spooled.remove()
                throw S3Error("XAmzContentSHA256Mismatch", .badRequest, "The provided 'x-amz-content-sha256' header does not match what was computed")
            }
            return spooled
        } catch {
            await spooler.discard()
            throw error
        }
    }

    /// Stores a body at `path` through the master's upload grant and the granted node, as
    /// `fsdfsd put` does. A spooled body is sent again to another node when the first cannot
    /// be reached at all; a streamed one cannot be (the client retries on 503).
    func store(_ incoming: Incoming, at path: VirtualPath) async throws -> StoredReply {
        let size: Int64, sha256: String
        switch incoming {
        case .streamed(_, let length, let hash, _): (size, sha256) = (length, hash)
        case .spooled(let body): (size, sha256) = (body.size, body.sha256)
        }
        var exclude: [NodeID] = []
        while true {
            let grant = try await master.grantUpload(UploadRequest(path: path, size: size, exclude: exclude.isEmpty ? nil : exclude))
            let target = Route.blob(path, upload: grant.upload)
            let timeout = SignedClient.transferTimeout(size)
            do {
                switch incoming {
                case .streamed(let chunks, _, _, _):
                    return try await client.upload(grant.address, target, length: size, sha256: sha256, chunks: chunks, timeout: timeout)
                case .spooled(let body):
                    return try await client.upload(grant.address, target, length: size, sha256: sha256, chunks: body.chunks(), timeout: timeout)
                }
            } catch {
                if case .streamed(_, _, _, let result) = incoming, let failure = result.failure { throw failure }
                guard let error = error as? NodeCallError, error.neverConnected else { throw error }
                master.abortUpload(UploadAbort(upload: grant.upload))
                guard case .spooled = incoming, exclude.count < 2 else { throw error }
                exclude.append(grant.node)
                logger.notice("S3 upload of \(path): \(error); asking the master for another node")
            }
        }
    }

    /// The metadata S3 keeps from an upload's headers (the ETag comes later).
    static func meta(from call: S3Call) throws -> S3ObjectMeta {
        var meta = S3ObjectMeta(etag: "")
        var size = 0
        for header in call.headers {
            let name = header.name.lowercased()
            if name.hasPrefix("x-amz-meta-") {
                meta.user[String(name.dropFirst("x-amz-meta-".count))] = header.value
                size += name.utf8.count + header.value.utf8.count
            } else if name == "content-type" {
                meta.contentType = header.value
            } else if name == "content-encoding" {
                // aws-chunked is how the body travelled, not how the object is encoded.
                let kept = header.value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                    .filter { !$0.isEmpty && $0.lowercased() != "aws-chunked" }
                if !kept.isEmpty { meta.headers[name] = kept.joined(separator: ", ") }
            } else if S3ObjectMeta.storedHeaders.contains(name) {
                meta.headers[name] = header.value
            }
        }
        // S3's limit on user metadata.
        guard size <= 2048 else {
            throw S3Error("MetadataTooLarge", .badRequest, "Your metadata headers exceed the maximum allowed metadata size (2 KB)")
        }
        return meta
    }

    // MARK: GetObject, HeadObject

    func getObject(_ bucket: String, _ key: String, _ call: S3Call, head: Bool) async throws -> Response {
        let path = try Self.path(bucket, key)
        guard let file = try await master.catalog.file(at: path) else {
            try await requireBucket(bucket)
            throw S3Error.noSuchKey(key)
        }
        let meta = try await master.catalog.objectMeta(of: [file.id])[file.id]
        let etag = meta?.etag ?? Self.fallbackETag(file)
        var headers: HTTPFields = [
            .eTag: "\"\(etag)\"", .lastModified: S3Dates.http(file.created), .acceptRanges: "bytes",
            .contentType: meta?.contentType ?? "binary/octet-stream",
        ]
        for (name, value) in meta?.headers ?? [:] {
            if let field = HTTPField.Name(name) { headers[field] = value }
        }
        for (name, value) in meta?.user ?? [:] {
            if let field = HTTPField.Name("x-amz-meta-" + name) { headers[field] = value }
        }
        for (query, header) in Self.responseOverrides {
            if let value = call.value(query), let field = HTTPField.Name(header) { headers[field] = value }
        }
        if let status = try Self.preconditions(call, etag: etag, modified: file.created) {
            var kept: HTTPFields = [:]
            if status == .notModified { kept[.eTag] = headers[.eTag]; kept[.lastModified] = headers[.lastModified] }
            if status == .preconditionFailed { throw S3Error.preconditionFailed }
            return Self.empty(status, kept)
        }
        var range: ClosedRange<Int64>?
        var status = HTTPResponse.Status.ok
        if let text = call.header("Range"), let parsed = try Self.range(text, size: file.size) {
            range = parsed
            status = .partialContent
            headers[.contentRange] = "bytes \(parsed.lowerBound)-\(parsed.upperBound)/\(file.size)"
        }
        let length = range.map { $0.upperBound - $0.lowerBound + 1 } ?? file.size
        headers[.contentLength] = String(length)
        if head { return Response(status: status, headers: headers) }
        let found = try await master.whereIs(path)
        guard found.fileID == file.id, !found.nodes.isEmpty else {
            throw S3Error.unavailable("no node holding \(path) is up (K=\(found.k) of N=\(found.n))")
        }
        // The first holder that answers serves it; the status is chosen only then.
        var failures: [String] = []
        var opened: (node: String, stream: BlobStream)?
        for node in found.nodes {
            do {
                let (_, stream) = try await client.openBlob(
                    node, path: found.heldAt?[node] ?? file.path, version: BlobVersion(file: file.id, sha256: file.sha256),
                    range: range.flatMap { $0 == 0...(file.size - 1) ? nil : $0 },
                    // The client sets the pace (it may read slowly): 10 minutes, plus 10 s per MiB.
                    timeout: .seconds(600 + 10 * length / (1 << 20)))
                opened = (node, stream)
                break
            } catch {
                failures.append("\(node): \(error)")
            }
        }
        guard let opened else {
            logger.warning("S3 GetObject \(path): no node could serve it (\(failures.joined(separator: "; ")))")
            throw S3Error.unavailable("no node could serve \(path)")
        }
        let whole = range == nil || range == 0...(file.size - 1)
        let body = ResponseBody(contentLength: Int(length)) { writer in
            var hasher = SHA256()
            var position: Int64 = 0
            for try await chunk in opened.stream {
                position += Int64(chunk.readableBytes)
                guard position <= length else { throw S3Error.internalError("\(opened.node) sent more than \(length) bytes of \(file.path)") }
                if whole {
                    chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                    // Checked before the last byte goes out: a bad copy is never a whole body.
                    if position == length, hex(hasher.finalize()) != file.sha256 {
                        throw S3Error.internalError("the copy of \(file.path) on \(opened.node) does not match its checksum")
                    }
                }
                try await writer.write(chunk)
            }
            guard position == length else { throw S3Error.internalError("\(opened.node) sent \(position) of \(length) bytes of \(file.path)") }
            try await writer.finish(nil)
        }
        return Response(status: status, headers: headers, body: body)
    }

    /// When no ETag was kept (a file put by `fsdfsd put`): the first 32 hex digits of its
    /// SHA-256, so that it changes with the content like S3's.
    static func fallbackETag(_ file: FileRecord) -> String { String(file.sha256.prefix(32)) }

    static let responseOverrides = [
        ("response-content-type", "Content-Type"), ("response-content-language", "Content-Language"),
        ("response-expires", "Expires"), ("response-cache-control", "Cache-Control"),
        ("response-content-disposition", "Content-Disposition"), ("response-content-encoding", "Content-Encoding"),
    ]

    /// S3's conditional request rules: `If-Match` and `If-Unmodified-Since` fail with 412,
    /// `If-None-Match` and `If-Modified-Since` answer 304; `If-Match` that holds overrides a
    /// failing `If-Unmodified-Since`, `If-None-Match` that fails overrides `If-Modified-Since`.
    static func preconditions(_ call: S3Call, etag: String, modified: Date) throws -> HTTPResponse.Status? {
        func matches(_ header: String) -> Bool {
            header.split(separator: ",").contains { tag in
                let trimmed = tag.trimmingCharacters(in: .whitespaces)
                return trimmed == "*" || trimmed.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) == etag
            }
        }
        // HTTP dates have whole seconds.
        let seconds = modified.timeIntervalSince1970.rounded(.down)
        let ifMatch = call.header("If-Match").map(matches)
        if ifMatch == false { return .preconditionFailed }
        if ifMatch == nil, let text = call.header("If-Unmodified-Since"), let date = S3Dates.parseHTTP(text),
           seconds > date.timeIntervalSince1970
        {
            return .preconditionFailed
        }
        let ifNoneMatch = call.header("If-None-Match").map(matches)
        if ifNoneMatch == true { return .notModified }
        if ifNoneMatch == nil, let text = call.header("If-Modified-Since"), let date = S3Dates.parseHTTP(text),
           seconds <= date.timeIntervalSince1970
        {
            return .notModified
        }
        return nil
    }

    /// One range of `Range: bytes=…` within `size` bytes; nil for a header S3 ignores (not
    /// bytes, several ranges); S3's InvalidRange when it lies wholly outside.
    static func range(_ text: String, size: Int64) throws -> ClosedRange<Int64>? {
        guard text.hasPrefix("bytes="), !text.contains(",") else { return nil }
        let spec = text.dropFirst("bytes=".count).trimmingCharacters(in: .whitespaces)
        let parts = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        if parts[0].isEmpty {
            guard let suffix = Int64(parts[1]), suffix >= 0 else { return nil }
            guard suffix > 0, size > 0 else { throw S3Error.invalidRange(size) }
            return max(0, size - suffix)...(size - 1)
        }
        guard let start = Int64(parts[0]), start >= 0 else { return nil }
        let end = parts[1].isEmpty ? size - 1 : Int64(parts[1])
        guard let end, end >= start else { return nil }
        guard start < size else { throw S3Error.invalidRange(size) }
        return start...min(end, size - 1)
    }

    // MARK: DeleteObject, DeleteObjects

    func deleteObject(_ bucket: String, _ key: String) async throws -> Response {
        let path = try Self.path(bucket, key)
        do {
            _ = try await master.delete(path)
        } catch let error as RouteError where error.code == "not_found" {
            // S3 answers the same whether or not there was an object.
            try await requireBucket(bucket)
        }
        return Self.empty(.noContent)
    }

    func deleteObjects(_ bucket: String, request: Request, call: S3Call, caller: S3Caller) async throws -> Response {
        try await requireBucket(bucket)
        let text = try await Self.xmlBody(request, call: call, caller: caller)
        let objects = S3XML.blocks("Object", in: text)
        guard !objects.isEmpty else { throw S3Error("MalformedXML", .badRequest, "The XML you provided was not well-formed: no <Object>") }
        guard objects.count <= 1000 else { throw S3Error("MalformedXML", .badRequest, "at most 1,000 objects may be deleted at once") }
        let quiet = S3XML.values(of: "Quiet", in: text).first == "true"
        var result = S3XML("DeleteResult", namespace: true)
        for object in objects {
            guard let key = S3XML.values(of: "Key", in: object).first else { continue }
            do {
                _ = try await deleteObject(bucket, key)
                if !quiet {
                    result.start("Deleted")
                    result.element("Key", key)
                    result.end()
                }
            } catch {
                let s3 = Self.s3Error(error)
                result.start("Error")
                result.element("Key", key)
                result.element("Code", s3.code)
                result.element("Message", s3.message)
                result.end()
            }
        }
        return Self.xmlResponse(result.finish())
    }

    /// An XML request body (at most ``maxXMLBody``), checked against the SHA-256 the request
    /// signed and its Content-MD5.
    static func xmlBody(_ request: Request, call: S3Call, caller: S3Caller) async throws -> String {
        guard isSHA256(caller.payloadHash) || caller.payloadHash == SigV4.unsignedPayload else {
            throw S3Error.invalidArgument("this request's body cannot be streamed (x-amz-content-sha256: \(caller.payloadHash.prefix(60)))")
        }
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: maxXMLBody)
        } catch {
            throw S3Error("MaxMessageLengthExceeded", .badRequest, "Your request was too big (at most \(maxXMLBody) bytes of XML)")
        }
        let bytes = Array(buffer.readableBytesView)
        if isSHA256(caller.payloadHash), hex(SHA256.hash(data: bytes)) != caller.payloadHash.lowercased() {
            throw S3Error("XAmzContentSHA256Mismatch", .badRequest, "The provided 'x-amz-content-sha256' header does not match what was computed")
        }
        if let md5 = call.header("Content-MD5"), Data(Insecure.MD5.hash(data: bytes)).base64EncodedString() != md5 {
            throw S3Error("BadDigest", .badRequest, "The Content-MD5 you specified did not match what was received")
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: CopyObject

    func copyObject(_ bucket: String, _ key: String, _ call: S3Call) async throws -> Response {
        let path = try Self.path(bucket, key)
        var source = call.header("x-amz-copy-source") ?? ""
        if let question = source.firstIndex(of: "?") {
            guard source[question...].hasPrefix("?versionId=null") else { throw S3Error.notImplemented("copying a version") }
            source = String(source[..<question])
        }
        guard let decoded = source.removingPercentEncoding else { throw S3Error.invalidArgument("x-amz-copy-source is not URL-encoded") }
        let trimmed = decoded.drop { $0 == "/" }
        guard let slash = trimmed.firstIndex(of: "/") else {
            throw S3Error.invalidArgument("x-amz-copy-source must be BUCKET/KEY")
        }
        let sourceBucket = String(trimmed[..<slash]), sourceKey = String(trimmed[trimmed.index(after: slash)...])
        let sourcePath = try Self.path(sourceBucket, sourceKey)
        try await requireBucket(bucket)
        guard let file = try await master.catalog.file(at: sourcePath) else {
            try await requireBucket(sourceBucket)
            throw S3Error.noSuchKey(sourceKey)
        }
        let sourceMeta = try await master.catalog.objectMeta(of: [file.id])[file.id]
        let etag = sourceMeta?.etag ?? Self.fallbackETag(file)
        // The four conditions together, with GetObject's precedence; any failure is a 412.
        var probe = call
        probe.headers = [("x-amz-copy-source-if-match", "If-Match"), ("x-amz-copy-source-if-none-match", "If-None-Match"),
                         ("x-amz-copy-source-if-modified-since", "If-Modified-Since"),
                         ("x-amz-copy-source-if-unmodified-since", "If-Unmodified-Since")]
            .compactMap { header, test in call.header(header).map { S3Pair(test, $0) } }
        if try Self.preconditions(probe, etag: etag, modified: file.created) != nil { throw S3Error.preconditionFailed }
        let replace = call.header("x-amz-metadata-directive")?.uppercased() == "REPLACE"
        var meta = replace ? try Self.meta(from: call) : (sourceMeta ?? S3ObjectMeta(etag: etag))
        meta.etag = etag
        let target: FileRecord
        if sourcePath == path {
            guard replace else {
                throw S3Error(
                    "InvalidRequest", .badRequest,
                    "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata")
            }
            target = file
        } else {
            let spooled = try await fetchToSpool(file)
            do {
                let stored = try await store(.spooled(spooled), at: path)
                await spooled.remove()
                target = try await master.catalog.file(at: path).flatMap { $0.id == stored.fileID ? $0 : nil }
                    ?? FileRecord(id: stored.fileID, path: path, size: stored.size, sha256: stored.sha256, n: 0, k: stored.k,
                                  version: stored.version ?? 0, created: stored.created ?? Date())
            } catch {
                await spooled.remove()
                throw error
            }
        }
        try await master.catalog.setObjectMeta(meta, of: target.id)
        logger.info("S3 CopyObject \(sourcePath) → \(path)")
        var result = S3XML("CopyObjectResult", namespace: true)
        result.element("LastModified", S3Dates.iso8601(target.created))
        result.element("ETag", "\"\(etag)\"")
        return Self.xmlResponse(result.finish())
    }

    /// Copies a file from its first holder that serves it into a spool file, checked against
    /// its SHA-256.
    func fetchToSpool(_ file: FileRecord) async throws -> SpooledBody {
        let found = try await master.whereIs(file.path)
        var failures: [String] = []
        for node in found.nodes where found.fileID == file.id {
            var spooler = try await Spooler.open(in: spool, limit: .max)
            do {
                _ = try await client.download(
                    node, path: found.heldAt?[node] ?? file.path, version: BlobVersion(file: file.id, sha256: file.sha256),
                    timeout: SignedClient.transferTimeout(file.size)
                ) { chunk in try await spooler.write(chunk) }
                let spooled = try await spooler.finish()
                guard spooled.sha256 == file.sha256, spooled.size == file.size else {
                    await spooled.remove()
                    failures.append("\(node): its copy does not match the checksum")
                    continue
                }
                return spooled
            } catch {
                await spooler.discard()
                failures.append("\(node): \(error)")
            }
        }
        throw S3Error.unavailable("no node could serve \(file.path) to copy it (\(failures.joined(separator: "; ")))")
    }
}

extension Data {
    init?(hexString: String) {
        var bytes: [UInt8] = []
        var iterator = hexString.utf8.makeIterator()
        while let high = iterator.next() {
            guard let low = iterator.next(), let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(value)
        }
        self.init(bytes)
    }
}
