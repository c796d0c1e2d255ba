import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ReplicaCore

/// Refuses every request that is not signed with the swarm key (ARCHITECTURE.md section 4)
/// with 401 before any handler runs, so a refused request changes nothing.
///
/// Every request is checked in two steps. First its headers, signature, freshness and nonce,
/// before a byte of its body is read: an unsigned or forged request is refused at once and
/// its connection closed, so an unauthenticated peer cannot make the node buffer anything.
/// Then its body's hash: control messages (small) are read whole and checked here; streamed
/// uploads (`PUT`) by the handler once the stream has been stored in a temporary file,
/// before anything becomes visible.
public struct SigningMiddleware: RouterMiddleware {
    public typealias Context = NodeRequestContext
    let verifier: RequestVerifier

    public init(verifier: RequestVerifier) {
        self.verifier = verifier
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var request = request
        var context = context
        let pathAndQuery = request.head.path ?? "/"
        let headers = SignedHeaders { name in
            HTTPField.Name(name).flatMap { request.headers[$0] }
        }
        let verified: VerifiedHeaders
        do throws(AuthError) {
            // Headers, freshness, signature and nonce first: a request that fails them is
            // refused before a byte of its body is read.
            verified = try verifier.verifyHeaders(
                method: request.method.rawValue, pathAndQuery: pathAndQuery, headers: headers, now: Date(),
                reserved: Self.nodeRoutes.contains(request.uri.path))
            if request.method == .put {
                context.pendingBodyCheck = verified
            } else {
                let body: ByteBuffer
                let cap = Self.smallBodyRoutes.contains(request.uri.path) ? Self.smallBodyLimit : context.maxUploadSize
                do {
                    body = try await request.collectBody(upTo: cap)
                } catch {
                    return Self.refusal(.contentTooLarge, "the body is larger than \(cap) bytes", code: "too_large", closing: context.channel)
                }
                try verifier.complete(verified, actualBodySHA256: RequestSignature.sha256Hex(of: body.readableBytesView), now: Date())
            }
        } catch {
            context.logger.notice("refused \(request.method) \(request.uri.path): \(error)")
            return Self.refusal(.unauthorized, error.description, code: error.code, closing: context.channel)
        }
        var response = try await next(request, context)
        // A successful JSON reply is signed for this request (its nonce): the client checks it.
        if (200..<300).contains(response.status.code), let bodySHA256 = response.headers[.replyBodySHA256] {
            response.headers[.replySignature] = verifier.replies.sign(
                method: request.method.rawValue, target: verified.target, pathAndQuery: pathAndQuery, nonce: verified.nonce,
                status: response.status.code, bodySHA256: bodySHA256)
        }
        return response
    }

    /// What nodes send their master: their requests may use the replay cache's reserve, so
    /// that client traffic never starves them (``RequestVerifier``).
    static let nodeRoutes: Set<String> = [Route.report, Route.inventory, Route.leave]

    /// Routes whose messages are small (one command, one file): their bodies may be at most
    /// ``smallBodyLimit``. The others carry lists (reports, inventories, batches, removals,
    /// moves) and may reach the context's `maxUploadSize`.
    static let smallBodyRoutes: Set<String> = [
        Route.copy, Route.leave, Route.nodeDrain, Route.nodeForget, Route.nodeMaintenance, Route.rename, Route.safeMode,
        Route.s3Keys, Route.scrub, Route.uploadAbort, Route.uploadCheck, Route.uploadCommit, Route.uploads, Route.verify,
    ]
    static let smallBodyLimit = 1 << 20

    /// A refusal that also ends the connection: reading stops now (the body the client may
    /// still be sending is never read, not even to be dropped), the answer goes out, then the
    /// connection closes.
    static func refusal(_ status: HTTPResponse.Status, _ message: String, code: String, closing channel: any Channel) -> Response {
        channel.close(mode: .input, promise: nil)
        var response = ErrorResponse.make(status, ErrorReply(error: message, code: code))
        response.headers[.connection] = "close"
        return response
    }
}
