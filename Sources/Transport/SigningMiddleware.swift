import Foundation
import HTTPTypes
import Hummingbird
import ReplicaCore

/// Refuses every request that is not signed with the swarm key (ARCHITECTURE.md section 4)
/// with 401 before any handler runs, so a refused request changes nothing.
///
/// Control messages are small: their body is read whole, hashed and checked here. Streamed
/// uploads (`PUT`) are checked in two steps: headers, signature, freshness and nonce here,
/// before a byte is read; the body hash by the handler once the stream has been stored in a
/// temporary file, before anything becomes visible.
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
        do {
            if request.method == .put {
                context.pendingBodyCheck = try verifier.verifyHeaders(
                    method: request.method.rawValue, pathAndQuery: pathAndQuery, headers: headers, now: Date())
            } else {
                let body = try await request.collectBody(upTo: context.maxUploadSize)
                let sha = RequestSignature.sha256Hex(of: body.readableBytesView)
                try verifier.verify(
                    method: request.method.rawValue, pathAndQuery: pathAndQuery, headers: headers,
                    bodySHA256: sha, now: Date())
            }
        } catch let error as AuthError {
            context.logger.notice("refused \(request.method) \(request.uri.path): \(error)")
            return ErrorResponse.make(.unauthorized, ErrorReply(error: error.description, code: error.code))
        }
        return try await next(request, context)
    }
}
