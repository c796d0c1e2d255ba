import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Master
import ReplicaCore
import Synchronization
import Transport

/// Uploads and downloads through the dashboard. The master moves the bytes between the
/// browser and a node as they come, never holding a whole file: an upload is the same as
/// `fsdfsd put` (a grant from the master, the bytes to that node in a signed request, the
/// node verifying them), a download the same as `fsdfsd get` (from a live holder, checksum
/// verified before the response ends).
extension Dashboard {
    static let sha256Header = HTTPField.Name("X-Content-SHA256")!
    /// Grants tried before giving up on nodes that cannot be reached (as `put` does).
    static let maxUploadAttempts = 3

    /// `PUT /ui/api/upload?path=…` with the file as the body, its length in `Content-Length`
    /// and its SHA-256 (the page computes it) in `X-Content-SHA256`: the node refuses bytes
    /// that do not match it, so a broken transfer stores nothing.
    func upload(_ request: Request, context: DashboardContext) async throws -> Response {
        let path = try request.pathParameter()
        guard let length = request.headers[.contentLength].flatMap(Int64.init), length >= 0 else {
            throw RouteError(.lengthRequired, "an upload needs a Content-Length", code: "length_required")
        }
        guard let sha256 = request.headers[Self.sha256Header]?.lowercased(), sha256.count == 64, sha256.allSatisfy(\.isHexDigit)
        else {
            throw RouteError(.badRequest, "an upload needs the SHA-256 of its bytes in X-Content-SHA256 (64 hex digits)", code: "bad_request")
        }
        let body = UploadBody(base: request.body)
        var unreachable: [(node: NodeID, error: NodeCallError)] = []
        while true {
            let grant = try await master.grantUpload(
                UploadRequest(path: path, size: length, exclude: unreachable.isEmpty ? nil : unreachable.map(\.node)))
            do {
                let stored: StoredReply = try await client.upload(
                    grant.address, Route.blob(path, upload: grant.upload), length: length, sha256: sha256, chunks: body,
                    timeout: SignedClient.transferTimeout(length))
                logger.info("dashboard: stored \(path) (\(ByteSize.format(length))) on \(grant.address)")
                return ErrorResponse.json(stored)
            } catch let error as NodeCallError where error.neverConnected && !body.started {
                // No byte left the browser's stream: give the grant back and try another node.
                master.abortUpload(UploadAbort(upload: grant.upload))
                unreachable.append((grant.node, error))
                if unreachable.count >= Self.maxUploadAttempts {
                    let tried = unreachable.map(\.error.description).joined(separator: "; ")
                    throw RouteError(.badGateway, "none of the \(unreachable.count) nodes granted could be reached (\(tried))", code: "unreachable")
                }
            } catch let error as NodeCallError {
                switch await uploadOutcome(error, path: path, sha256: sha256, node: grant.address) {
                case .success(let stored): return ErrorResponse.json(stored)
                case .failure(let refusal): throw refusal
                }
            }
        }
    }

    /// What to answer when the upload to the node failed: the node's own reason, or, when its
    /// answer was lost, what the master recorded.
    private func uploadOutcome(
        _ error: NodeCallError, path: VirtualPath, sha256: String, node: String
    ) async -> Result<StoredReply, RouteError> {
        switch error {
        case .rejected(_, let status, let reply) where status != 401 && status != 504:
            // No room, a version conflict, bytes that do not match their checksum…
            return .failure(RouteError(HTTPResponse.Status(code: status), reply.error, code: reply.code))
        default:
            // The node may have stored the file and then the answer was lost: the master knows.
            if let found = try? await master.whereIs(path), found.sha256 == sha256, let fileID = found.fileID {
                return .success(StoredReply(
                    path: path, fileID: fileID, size: found.size, sha256: found.sha256, k: found.k, version: found.version))
            }
            return .failure(RouteError(
                .gatewayTimeout,
                "the upload of \(path) to \(node) ended without an answer (\(error)): the node may still record it; look for it in the list and upload again if needed",
                code: "outcome_unknown"))
        }
    }

    /// `GET /ui/api/download?path=…`: streams the current version from the first live holder
    /// that serves it. The last chunk is held back until the whole file has been hashed: bytes
    /// that do not match the checksum end the response short of its `Content-Length`, so the
    /// browser reports a failed download instead of saving a wrong file.
    func download(_ request: Request, context: DashboardContext) async throws -> Response {
        let path = try request.pathParameter()
        let found = try await master.whereIs(path)
        guard !found.nodes.isEmpty else {
            throw RouteError(.serviceUnavailable, "\(path): no node holding a copy is up (K=\(found.k) of N=\(found.n))", code: "no_holder")
        }
        let headers: HTTPFields = [
            .contentType: "application/octet-stream",
            .contentDisposition: Self.attachment(path.name),
        ]
        let logger = self.logger
        let client = self.client
        return Response(status: .ok, headers: headers, body: ResponseBody(contentLength: Int(found.size)) { writer in
            var failures: [String] = []
            // In random order: downloads spread over the holders, and one that broke off on a
            // bad copy most likely goes to another holder when the user tries again.
            for node in found.nodes.shuffled() {
                var hasher = SHA256()
                var received: Int64 = 0
                var held: ByteBuffer?
                var wrote = false
                do {
                    _ = try await client.download(
                        node, path: path, version: BlobVersion(file: found.fileID, sha256: found.sha256),
                        timeout: SignedClient.transferTimeout(found.size)
                    ) { chunk in
                        chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                        received += Int64(chunk.readableBytes)
                        if let previous = held {
                            try await writer.write(previous)
                            wrote = true
                        }
                        held = chunk
                    }
                } catch {
                    guard !wrote else {
                        logger.warning("dashboard: download of \(path) from \(node) broke off: \(error)")
                        throw error
                    }
                    failures.append("\(node): \(error)")
                    continue
                }
                let actual = hasher.finalize().map { String(format: "%02x", $0) }.joined()
                guard actual == found.sha256, received == found.size else {
                    logger.error("dashboard: the copy of \(path) on \(node) does not match its checksum; download aborted")
                    guard !wrote else { throw DownloadRefused("the bytes of \(path) from \(node) do not match its checksum") }
                    failures.append("\(node): the bytes do not match the checksum")
                    continue
                }
                if let held { try await writer.write(held) }
                try await writer.finish(nil)
                return
            }
            logger.warning("dashboard: no node could serve \(path): \(failures.joined(separator: "; "))")
            throw DownloadRefused("no node could serve \(path)")
        })
    }

    /// `Content-Disposition` naming the file, in ASCII for old browsers and UTF-8 for the rest.
    static func attachment(_ name: String) -> String {
        let ascii = String(name.unicodeScalars.map { $0.isASCII && $0 != "\"" && $0 != "\\" && $0.value >= 0x20 ? Character($0) : "_" })
        return "attachment; filename=\"\(ascii)\"; filename*=UTF-8''\(Route.encode(name))"
    }
}

struct DownloadRefused: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The browser's request body, passed to the node's upload. It remembers whether a byte was
/// asked for: until then a failed connection to the node consumed nothing, and the upload may
/// go to another node; the body itself is read once at most.
struct UploadBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer

    final class Flag: Sendable {
        let value = Atomic<Bool>(false)
    }

    let base: RequestBody
    let flag = Flag()

    var started: Bool { flag.value.load(ordering: .acquiring) }

    struct AsyncIterator: AsyncIteratorProtocol {
        let base: RequestBody
        let flag: Flag
        var iterator: RequestBody.AsyncIterator?

        mutating func next() async throws -> ByteBuffer? {
            if iterator == nil {
                flag.value.store(true, ordering: .releasing)
                iterator = base.makeAsyncIterator()
            }
            return try await iterator!.next()
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base, flag: flag)
    }
}
