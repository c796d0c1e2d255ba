import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Master
import NIOCore
import NIOFileSystem
import ReplicaCore
import Transport

/// The S3 API of the master (`serve --s3-listen`): requests signed with Signature Version 4
/// by an `fsdfsd s3-key`, answered from the catalog and the nodes. A bucket is a top-level
/// directory of the store and an object the file at `BUCKET/KEY`: the same policies, K and N
/// as any other file, visible to `ls` and `get`.
///
/// Objects go to a node as `fsdfsd put` sends them: a grant from the master, then the bytes
/// streamed to the granted node, which checks their SHA-256 and commits the version. When the
/// client signed the body's SHA-256 (every client over plain HTTP does) the body streams
/// straight through; when it did not (`UNSIGNED-PAYLOAD`, `aws-chunked` streaming uploads)
/// it is first written to a spool file on this master's disk to learn its SHA-256, then sent
/// from there. Either way no body is held in memory.
public final class S3Gateway: Sendable {
    let master: Master
    let client: SignedClient
    /// Where bodies are spooled: `DATA/.fsdfs/s3-spool`, emptied at start.
    let spool: String
    let logger: Logger
    /// Multipart uploads under way (``MultipartStore``).
    let multipart: MultipartStore

    /// S3's limit for one `PutObject` and for one part.
    static let maxPutSize: Int64 = 5 << 30
    /// The largest XML request body read (`DeleteObjects` of 1,000 keys fits).
    static let maxXMLBody = 2 << 20

    public init(master: Master, client: SignedClient, spool: String, logger: Logger) {
        self.master = master
        self.client = client
        self.spool = spool
        self.logger = logger
        self.multipart = MultipartStore(directory: spool + "/multipart")
    }

    /// Makes the spool directory and removes what a previous run left in it (spooled bodies
    /// are never the only copy of anything: the client still waits for its answer); multipart
    /// uploads under way are kept.
    func prepare() async throws {
        do {
            try await FileSystem.shared.createDirectory(at: FilePath(spool), withIntermediateDirectories: true)
            try await FileSystem.shared.createDirectory(at: FilePath(multipart.directory), withIntermediateDirectories: true)
            for name in try await MultipartStore.names(in: spool) where name.hasSuffix(".spool") {
                try await FileSystem.shared.removeItem(at: FilePath(spool + "/" + name))
            }
            try await multipart.load()
        } catch {
            throw S3Error.internalError("cannot prepare the S3 spool directory \(spool): \(error)")
        }
    }

    /// Answers one request; every failure becomes S3's XML error.
    func respond(to request: Request, context: S3RequestContext) async -> Response {
        let requestID = UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).uppercased()
        let resource = request.uri.path
        do {
            let call = try S3Call(request)
            let caller = try await authenticate(call)
            var response = try await route(call, request: request, caller: caller)
            response.headers[.init("x-amz-request-id")!] = requestID
            return response
        } catch {
            let s3 = Self.s3Error(error)
            if s3.status.code >= 500 {
                logger.warning("S3 \(request.method) \(resource): \(s3.code): \(s3.message)")
            } else {
                logger.debug("S3 \(request.method) \(resource): \(s3.code): \(s3.message)")
            }
            var headers: HTTPFields = [.contentType: "application/xml"]
            headers[.init("x-amz-request-id")!] = requestID
            if request.method == .head {
                return Response(status: s3.status, headers: headers)
            }
            let body = ByteBuffer(string: s3.xml(resource: resource, requestID: String(requestID)))
            headers[.contentLength] = String(body.readableBytes)
            // A body this request may still carry is not read: the connection ends with the
            // answer instead (nothing more is taken from a refused client).
            if request.headers[.contentLength].map({ $0 != "0" }) ?? (request.headers[.transferEncoding] != nil) {
                headers[.connection] = "close"
                context.channel.close(mode: .input, promise: nil)
            }
            return Response(status: s3.status, headers: headers, body: .init(byteBuffer: body))
        }
    }

    /// S3's form of any error: S3's own errors as they are, the master's refusals and the
    /// nodes' with the closest S3 code.
    static func s3Error(_ error: any Error) -> S3Error {
        switch error {
        case let error as S3Error: return error
        case let error as S3AuthError: return S3Error(error)
        case let error as RouteError:
            switch error.code {
            case "no_space": return S3Error("InsufficientStorage", .init(code: 507), error.message)
            case "catalog_unreachable", "recovering", "safe_mode": return .unavailable(error.message)
            case "not_found": return S3Error("NoSuchKey", .notFound, error.message)
            default:
                return error.status.code >= 500 ? .internalError(error.message) : S3Error("InvalidRequest", .badRequest, error.message)
            }
        case let error as NodeCallError:
            switch error.code {
            case "checksum_mismatch", "body_mismatch":
                return S3Error("XAmzContentSHA256Mismatch", .badRequest, "The provided 'x-amz-content-sha256' header does not match what was computed")
            case "size_mismatch": return S3Error("IncompleteBody", .badRequest, "You did not provide the number of bytes specified by the Content-Length HTTP header")
            case "over_quota", "no_space": return S3Error("InsufficientStorage", .init(code: 507), error.description)
            case "path_conflict": return S3Error("InvalidRequest", .conflict, "\(error) (a key cannot be both an object and a prefix of others)")
            case "version_conflict": return S3Error("OperationAborted", .conflict, "\(error); try again")
            default:
                // A node's refusal is the request's fault; only an unreachable node is an outage.
                if let status = error.status, (400..<500).contains(status) {
                    return S3Error("InvalidRequest", .badRequest, "a storage node refused: \(error)")
                }
                return .unavailable("a storage node failed: \(error)")
            }
        case let error as CatalogError: return .unavailable("the catalog failed: \(error)")
        default: return .internalError("\(error)")
        }
    }

    func authenticate(_ call: S3Call) async throws -> S3Caller {
        if call.has("AWSAccessKeyId") || call.header("Authorization")?.hasPrefix("AWS ") == true {
            throw S3Error(
                "InvalidRequest", .badRequest,
                "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256 (boto3: Config(signature_version='s3v4'))")
        }
        let signed = S3SignedRequest(method: call.method, path: call.path, query: call.query, headers: call.headers)
        let master = master
        return try await SigV4Verifier.verify(signed, now: Date()) { access in try await master.s3Secret(accessKey: access) }
    }

    /// Picks the operation from the method, the path (`/`, `/BUCKET`, `/BUCKET/KEY`) and the
    /// query's sub-resources.
    func route(_ call: S3Call, request: Request, caller: S3Caller) async throws -> Response {
        guard let bucket = call.bucket else {
            guard call.method == "GET" else { throw S3Error("MethodNotAllowed", .methodNotAllowed, "only GET (ListBuckets) is allowed on /") }
            return try await listBuckets()
        }
        if let problem = S3BucketName.problem(bucket) {
            throw S3Error("InvalidBucketName", .badRequest, "The specified bucket is not valid: \(problem)")
        }
        guard let key = call.key else {
            switch call.method {
            case "PUT" where call.has("versioning") || call.has("acl") || call.has("policy") || call.has("tagging"):
                throw S3Error.notImplemented("this bucket sub-resource")
            case "PUT": return try await createBucket(bucket)
            case "DELETE": return try await deleteBucket(bucket)
            case "HEAD": return try await headBucket(bucket)
            case "POST" where call.has("delete"): return try await deleteObjects(bucket, request: request, call: call, caller: caller)
            case "GET" where call.has("location"): return try await bucketLocation(bucket)
            case "GET" where call.has("uploads"): return try await listMultipartUploads(bucket, call)
            case "GET" where call.has("versioning") || call.has("acl") || call.has("policy") || call.has("tagging")
                || call.has("lifecycle") || call.has("cors") || call.has("encryption") || call.has("object-lock"):
                throw S3Error.notImplemented("this bucket sub-resource")
            case "GET": return try await listObjects(bucket, call)
            default: throw S3Error("MethodNotAllowed", .methodNotAllowed, "\(call.method) is not allowed on a bucket")
            }
        }
        switch call.method {
        case "PUT" where call.value("uploadId") != nil:
            return try await uploadPart(bucket, key, call, request: request, caller: caller)
        case "PUT" where call.header("x-amz-copy-source") != nil: return try await copyObject(bucket, key, call)
        case "PUT" where call.has("acl") || call.has("tagging") || call.has("retention") || call.has("legal-hold"):
            throw S3Error.notImplemented("this object sub-resource")
        case "PUT": return try await putObject(bucket, key, call, request: request, caller: caller)
        case "GET" where call.value("uploadId") != nil: return try await listParts(bucket, key, call)
        case "GET" where call.has("acl") || call.has("tagging") || call.has("attributes"):
            throw S3Error.notImplemented("this object sub-resource")
        case "GET": return try await getObject(bucket, key, call, head: false)
        case "HEAD": return try await getObject(bucket, key, call, head: true)
        case "DELETE" where call.value("uploadId") != nil: return try await abortMultipart(bucket, key, call)
        case "DELETE": return try await deleteObject(bucket, key)
        case "POST" where call.has("uploads"): return try await createMultipart(bucket, key, call)
        case "POST" where call.value("uploadId") != nil: return try await completeMultipart(bucket, key, call, request: request, caller: caller)
        default: throw S3Error("MethodNotAllowed", .methodNotAllowed, "\(call.method) is not allowed on an object")
        }
    }

    // MARK: Shared

    /// The store's path of `key` in `bucket`.
    static func path(_ bucket: String, _ key: String) throws -> VirtualPath {
        guard !key.isEmpty else { throw S3Error.invalidArgument("an object key cannot be empty") }
        do {
            return try VirtualPath(bucket + "/" + key)
        } catch {
            if case .tooLong = error { throw S3Error("KeyTooLongError", .badRequest, "Your key is too long: \(error)") }
            throw S3Error.invalidArgument("the key '\(key)' cannot be a path of the store: \(error) (fsdfs keys are file paths: no empty, '.' or '..' segment, no trailing '/')")
        }
    }

    /// A bucket exists when it was created, or when files lie under its directory (put by
    /// `fsdfsd put`, or kept after a master restarted without the registry entry).
    func bucketExists(_ name: String) async throws -> Bool {
        if try await master.catalog.bucket(named: name) != nil { return true }
        return try await !master.catalog.listFiles(prefix: name + "/", after: nil, limit: 1).isEmpty
    }

    func requireBucket(_ name: String) async throws {
        guard try await bucketExists(name) else { throw S3Error.noSuchBucket(name) }
    }

    static func xmlResponse(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        let body = ByteBuffer(string: text)
        return Response(
            status: status, headers: [.contentType: "application/xml", .contentLength: String(body.readableBytes)],
            body: .init(byteBuffer: body))
    }

    static func empty(_ status: HTTPResponse.Status, _ headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentLength] = "0"
        return Response(status: status, headers: headers)
    }
}

/// A request of the S3 API taken apart: method, decoded path, bucket and key, query pairs,
/// headers.
struct S3Call: Sendable {
    var method: String
    var path: String
    var bucket: String?
    var key: String?
    var query: [S3Pair]
    var headers: [S3Pair]

    init(_ request: Request) throws {
        method = request.method.rawValue
        guard let decoded = request.uri.path.removingPercentEncoding else {
            throw S3Error("InvalidURI", .badRequest, "Couldn't parse the specified URI")
        }
        path = decoded
        let trimmed = decoded.drop { $0 == "/" }
        if trimmed.isEmpty {
            bucket = nil
            key = nil
        } else if let slash = trimmed.firstIndex(of: "/") {
            bucket = String(trimmed[..<slash])
            let rest = String(trimmed[trimmed.index(after: slash)...])
            key = rest.isEmpty ? nil : rest
        } else {
            bucket = String(trimmed)
            key = nil
        }
        var pairs: [S3Pair] = []
        for item in (request.uri.query ?? "").split(separator: "&", omittingEmptySubsequences: true) {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = String(parts[0]).removingPercentEncoding,
                  let value = (parts.count > 1 ? String(parts[1]) : "").removingPercentEncoding
            else { throw S3Error("InvalidURI", .badRequest, "Couldn't parse the specified URI's query") }
            pairs.append(S3Pair(name, value))
        }
        query = pairs
        headers = request.headers.map { S3Pair($0.name.rawName, $0.value) }
        // HTTP/1's Host is the request's authority in HTTP types, not one of its fields.
        if let authority = request.head.authority, !headers.contains(where: { $0.name.lowercased() == "host" }) {
            headers.append(S3Pair("host", authority))
        }
    }

    func has(_ name: String) -> Bool { query.contains { $0.name == name } }
    func value(_ name: String) -> String? { query.first { $0.name == name }?.value }
    func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }
}
