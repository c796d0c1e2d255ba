import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import ReplicaCore

/// The HTTP client every role uses to call a node: each request is signed with the swarm key
/// (ARCHITECTURE.md section 4), JSON in and out, file bytes streamed.
public struct SignedClient: Sendable {
    public let http: HTTPClient
    private let signer: RequestSigner
    /// Checks the signatures of the nodes' replies (``ReplySignature``).
    private let replies: ReplySigner
    /// `http`, or `https` in a TLS swarm (the HTTP client must then be made with its TLS
    /// configuration: ``makeHTTPClient(connectTimeout:readTimeout:tls:)``).
    public let scheme: String

    /// Largest JSON reply accepted.
    static let maxReplyBytes = 64 * 1024 * 1024

    public init(http: HTTPClient, key: SwarmKey, tls: SwarmTLS? = nil) {
        self.http = http
        self.signer = RequestSigner(key: key)
        self.replies = ReplySigner(swarm: key)
        self.scheme = tls.scheme
    }

    /// Generous deadline for moving `size` bytes between nodes: 60 s plus 1 s per MiB.
    public static func transferTimeout(_ size: Int64) -> TimeAmount {
        .seconds(60 + size / (1 << 20))
    }

    /// Connections kept to one host at most (`--jobs` is capped to it).
    public static let connectionsPerHost = 64

    /// A client with the timeouts nodes use among themselves. A refused connection is retried
    /// until `connectTimeout`, so commands that try several nodes use a short one.
    ///
    /// Up to ``connectionsPerHost`` connections to one host: a request waiting for a free
    /// connection counts against `connectTimeout`, so a pool smaller than the transfers a
    /// command runs at once (`put -r --jobs 16` sends 16 batches to one node) fails requests
    /// that only had to wait their turn.
    ///
    /// With `tls`, it trusts what the swarm's `--tls-ca` names.
    public static func makeHTTPClient(
        connectTimeout: TimeAmount = .seconds(5), readTimeout: TimeAmount = .seconds(60), tls: SwarmTLS? = nil
    ) -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.tlsConfiguration = tls?.client
        configuration.timeout = .init(connect: connectTimeout, read: readTimeout)
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: connectionsPerHost)
        configuration.decompression = .disabled
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Sends a JSON request (or none) and decodes a JSON reply.
    public func call<Reply: Decodable>(
        _ method: HTTPMethod, _ address: String, _ pathAndQuery: String,
        body: (some Encodable)? = Optional<Empty>.none, as: Reply.Type = Reply.self,
        timeout: TimeAmount = .seconds(30)
    ) async throws -> Reply {
        let data = try body.map { try JSONEncoder().encode($0) } ?? Data()
        var attempt = 0
        while true {
            attempt += 1
            var request = HTTPClientRequest(url: "\(scheme)://\(address)\(pathAndQuery)")
            request.method = method
            let signed = sign(&request, address: address, method: method, pathAndQuery: pathAndQuery, bodySHA256: RequestSignature.sha256Hex(of: data))
            if !data.isEmpty {
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(data: data))
            }
            let response = try await execute(request, address: address, timeout: timeout)
            let bytes = try await collect(response, address: address)
            guard response.status == .ok || response.status == .created else {
                let reply = Self.errorReply(bytes, response.status)
                // Signed while the node was down and delivered once it was back (the HTTP
                // client retries a refused connection with the request as it was signed): the
                // node did nothing, so the request is signed anew and sent once more.
                if attempt == 1, response.status == .unauthorized, reply.code == AuthError.signedBeforeStart.code { continue }
                throw NodeCallError.rejected(address: address, status: Int(response.status.code), reply: reply)
            }
            try checkReply(response, bytes, to: signed, method: method, address: address, pathAndQuery: pathAndQuery)
            return try Self.decode(Reply.self, bytes, address: address)
        }
    }

    private static func decode<Reply: Decodable>(_ type: Reply.Type, _ bytes: ByteBuffer, address: String) throws -> Reply {
        do {
            return try JSONDecoder().decode(Reply.self, from: Data(buffer: bytes))
        } catch {
            throw NodeCallError.badReply(address: address, message: "\(error)")
        }
    }

    /// Streams a file from `address` to `write`; returns the reply's headers
    /// (``BlobHeaders``). Non-200 replies throw before any byte is delivered.
    public func download(
        _ address: String, path: VirtualPath, version: BlobVersion? = nil, receiverVerifies: Bool = false,
        range: ClosedRange<Int64>? = nil, timeout: TimeAmount, into write: (ByteBuffer) async throws -> Void
    ) async throws -> BlobHeaders {
        let (headers, stream) = try await openBlob(
            address, path: path, version: version, receiverVerifies: receiverVerifies, range: range, timeout: timeout)
        do {
            for try await chunk in stream { try await write(chunk) }
        } catch let error as NodeCallError {
            throw error
        } catch {
            throw NodeCallError.unreachable(address: address, message: "transfer interrupted: \(error)")
        }
        return headers
    }

    /// Asks `address` for a file (or `range` of it) and returns once it answered 200: its
    /// headers and its bytes to read (a refusal throws before any byte). For a server that
    /// must choose its answer's status before it sends a body (the S3 API).
    public func openBlob(
        _ address: String, path: VirtualPath, version: BlobVersion? = nil, receiverVerifies: Bool = false,
        range: ClosedRange<Int64>? = nil, timeout: TimeAmount
    ) async throws -> (BlobHeaders, BlobStream) {
        let pathAndQuery = Route.blob(path, version: version, receiverVerifies: receiverVerifies, range: range)
        var request = HTTPClientRequest(url: "\(scheme)://\(address)\(pathAndQuery)")
        request.method = .GET
        let signed = sign(&request, address: address, method: .GET, pathAndQuery: pathAndQuery, bodySHA256: RequestSignature.emptyBodySHA256)
        let response = try await execute(request, address: address, timeout: timeout)
        guard response.status == .ok else {
            let bytes = try await collect(response, address: address)
            throw NodeCallError.rejected(address: address, status: Int(response.status.code), reply: Self.errorReply(bytes, response.status))
        }
        // The reply is signed with the file's SHA-256, which the reader checks the bytes against.
        let headers = BlobHeaders(response.headers)
        guard let signature = response.headers.first(name: ReplySignature.signatureHeader), let sha256 = headers.sha256,
            replies.isValid(
                signature, method: "GET", target: signed.target, pathAndQuery: pathAndQuery, nonce: signed.nonce, status: 200,
                bodySHA256: sha256)
        else {
            throw NodeCallError.badReply(address: address, message: Self.unsignedFile)
        }
        return (headers, BlobStream(body: response.body, address: address))
    }

    /// `POST`s `body` as JSON and streams the answer's bytes to `read` (the files of a
    /// `POST /v1/blobs`, for instance). A non-2xx answer is thrown as ``NodeCallError/rejected(address:status:reply:)``.
    public func stream(
        _ address: String, _ pathAndQuery: String, body: some Encodable, timeout: TimeAmount,
        into read: (ByteBuffer) async throws -> Void
    ) async throws {
        let data = try JSONEncoder().encode(body)
        var request = HTTPClientRequest(url: "\(scheme)://\(address)\(pathAndQuery)")
        request.method = .POST
        sign(&request, address: address, method: .POST, pathAndQuery: pathAndQuery, bodySHA256: RequestSignature.sha256Hex(of: data))
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(data: data))
        let response = try await execute(request, address: address, timeout: timeout)
        guard response.status == .ok else {
            let bytes = try await collect(response, address: address)
            throw NodeCallError.rejected(address: address, status: Int(response.status.code), reply: Self.errorReply(bytes, response.status))
        }
        do {
            for try await chunk in response.body { try await read(chunk) }
        } catch let error as NodeCallError {
            throw error
        } catch let error as BlobFrameError {
            throw error
        } catch {
            throw NodeCallError.unreachable(address: address, message: "transfer interrupted: \(error)")
        }
    }

    /// Streams `length` bytes whose SHA-256 is `sha256` to `address`.
    public func upload<Chunks: AsyncSequence & Sendable, Reply: Decodable>(
        _ address: String, _ pathAndQuery: String, length: Int64, sha256: String,
        chunks: Chunks, as: Reply.Type = Reply.self, timeout: TimeAmount
    ) async throws -> Reply where Chunks.Element == ByteBuffer {
        var request = HTTPClientRequest(url: "\(scheme)://\(address)\(pathAndQuery)")
        request.method = .PUT
        let signed = sign(&request, address: address, method: .PUT, pathAndQuery: pathAndQuery, bodySHA256: sha256)
        request.headers.add(name: "Content-Type", value: "application/octet-stream")
        request.body = .stream(chunks, length: .known(length))
        let response = try await execute(request, address: address, timeout: timeout)
        let bytes = try await collect(response, address: address)
        guard response.status == .ok || response.status == .created else {
            throw NodeCallError.rejected(address: address, status: Int(response.status.code), reply: Self.errorReply(bytes, response.status))
        }
        try checkReply(response, bytes, to: signed, method: .PUT, address: address, pathAndQuery: pathAndQuery)
        do {
            return try JSONDecoder().decode(Reply.self, from: Data(buffer: bytes))
        } catch {
            throw NodeCallError.badReply(address: address, message: "\(error)")
        }
    }

    @discardableResult
    private func sign(
        _ request: inout HTTPClientRequest, address: String, method: HTTPMethod, pathAndQuery: String, bodySHA256: String
    ) -> SignedHeaders {
        let headers = signer.sign(method: method.rawValue, target: address, pathAndQuery: pathAndQuery, bodySHA256: bodySHA256, now: Date())
        for (name, value) in headers.headerPairs() { request.headers.add(name: name, value: value) }
        return headers
    }

    static let unsignedFile = "the file's reply is not signed for its checksum: altered on its way, or not from a node of this swarm"

    /// Refuses a successful reply whose signature is missing or wrong (``ReplySignature``):
    /// altered on its way, or not from a node of the swarm at all.
    private func checkReply(
        _ response: HTTPClientResponse, _ body: ByteBuffer, to request: SignedHeaders, method: HTTPMethod, address: String,
        pathAndQuery: String
    ) throws {
        guard let signature = response.headers.first(name: ReplySignature.signatureHeader) else {
            throw NodeCallError.badReply(address: address, message: "the reply is not signed: it does not come from a node of this swarm (or an older fsdfs)")
        }
        guard replies.isValid(
            signature, method: method.rawValue, target: request.target, pathAndQuery: pathAndQuery, nonce: request.nonce,
            status: Int(response.status.code), body: body.readableBytesView)
        else {
            throw NodeCallError.badReply(address: address, message: "the reply's signature does not match: it was altered on its way, or is not the answer to this request")
        }
    }

    private func execute(_ request: HTTPClientRequest, address: String, timeout: TimeAmount) async throws -> HTTPClientResponse {
        do {
            return try await http.execute(request, timeout: timeout)
        } catch {
            throw NodeCallError.unreachable(address: address, message: Self.describe(error))
        }
    }

    private func collect(_ response: HTTPClientResponse, address: String) async throws -> ByteBuffer {
        do {
            return try await response.body.collect(upTo: Self.maxReplyBytes)
        } catch {
            throw NodeCallError.unreachable(address: address, message: "reply interrupted: \(Self.describe(error))")
        }
    }

    static func errorReply(_ bytes: ByteBuffer, _ status: HTTPResponseStatus) -> ErrorReply {
        if let reply = try? JSONDecoder().decode(ErrorReply.self, from: Data(buffer: bytes)) { return reply }
        return ErrorReply(error: "HTTP \(status.code) \(status.reasonPhrase)", code: "http_\(status.code)")
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout: return NodeCallError.connectionTimedOut
            case .readTimeout: return "no answer in time"
            case .deadlineExceeded: return "no answer in time"
            case .remoteConnectionClosed: return "connection closed by the node"
            default: return error.shortDescription
            }
        }
        if let error = error as? ChannelError, case .connectTimeout = error { return NodeCallError.connectionTimedOut }
        let text = "\(error)"
        if text.contains("connectionRefused") || text.contains("Connection refused") { return NodeCallError.connectionRefused }
        // TLS failures, by BoringSSL's reason names: say what to check rather than print them.
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            return "TLS: the node's certificate cannot be verified: not from a trusted CA (--tls-ca), expired or not yet valid (CERTIFICATE_VERIFY_FAILED)"
        }
        if text.contains("failedToValidateHostname") || text.contains("in certificate from peer") {
            return "TLS: the node's certificate does not name the address it was called at (its subject alternative names)"
        }
        if text.contains("WRONG_VERSION_NUMBER") || text.contains("PACKET_LENGTH_TOO_LONG") {
            return "TLS handshake failed: the node does not speak TLS (a plain-HTTP swarm needs no --tls-ca)"
        }
        return text
    }
}

/// An empty JSON body placeholder for requests without one.
public struct Empty: Codable, Sendable, Equatable {
    public init() {}
}

/// What a node says about a file it serves, in its reply headers.
public struct BlobHeaders: Sendable, Equatable {
    public static let sha256 = "X-Fsdfs-File-SHA256"
    public static let fileID = "X-Fsdfs-File-ID"

    public var sha256: String?
    public var fileID: FileID?
    public var length: Int64?

    init(_ headers: HTTPHeaders) {
        sha256 = headers.first(name: Self.sha256)
        fileID = headers.first(name: Self.fileID).flatMap(Int64.init).map(FileID.init)
        length = headers.first(name: "Content-Length").flatMap(Int64.init)
    }
}

/// A call to a node that did not succeed.
public enum NodeCallError: Error, Sendable, CustomStringConvertible {
    /// No connection, or it broke before the reply was complete.
    case unreachable(address: String, message: String)
    /// The node answered with an error.
    case rejected(address: String, status: Int, reply: ErrorReply)
    /// The node answered something that is not the expected JSON.
    case badReply(address: String, message: String)

    public var description: String {
        switch self {
        case .unreachable(let address, let message): "cannot reach \(address): \(message)"
        case .rejected(_, _, let reply): reply.error
        case .badReply(let address, let message): "unexpected reply from \(address): \(message)"
        }
    }

    /// The error code of a rejection (`over_quota`, `not_found`…), or a code for the failure.
    public var code: String {
        switch self {
        case .unreachable: "unreachable"
        case .rejected(_, _, let reply): reply.code
        case .badReply: "bad_reply"
        }
    }

    public var status: Int? {
        if case .rejected(_, let status, _) = self { return status }
        return nil
    }

    /// The message of an ``unreachable(address:message:)`` whose connection was refused.
    public static let connectionRefused = "connection refused"
    /// The message of an ``unreachable(address:message:)`` whose connection was not
    /// established in time.
    public static let connectionTimedOut = "connection timed out"

    /// The request never reached the node: no connection was made, so the node took none of
    /// it (unlike a connection that broke later, after the node may have acted on it).
    public var neverConnected: Bool {
        guard case .unreachable(_, let message) = self else { return false }
        return message == Self.connectionRefused || message == Self.connectionTimedOut
    }
}

/// One buffer as an upload body (``SignedClient/upload(_:_:length:sha256:chunks:as:timeout:)``).
public struct OneChunk: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    let buffer: ByteBuffer

    public init(buffer: ByteBuffer) { self.buffer = buffer }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var buffer: ByteBuffer?
        public mutating func next() async throws -> ByteBuffer? {
            defer { buffer = nil }
            return buffer
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(buffer: buffer) }
}

/// The bytes of a file a node serves (``SignedClient/openBlob(_:path:version:range:timeout:)``);
/// a broken transfer is thrown as ``NodeCallError/unreachable(address:message:)``.
public struct BlobStream: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    let body: HTTPClientResponse.Body
    let address: String

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: HTTPClientResponse.Body.AsyncIterator
        let address: String

        public mutating func next() async throws -> ByteBuffer? {
            do {
                return try await base.next()
            } catch {
                throw NodeCallError.unreachable(address: address, message: "transfer interrupted: \(error)")
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: body.makeAsyncIterator(), address: address) }
}
