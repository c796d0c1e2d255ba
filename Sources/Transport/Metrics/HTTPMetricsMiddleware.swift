import Hummingbird
import Metrics
import Synchronization

/// Times every request a node serves into `fsdfs_http_request_seconds{route,method,status}`,
/// from the request's arrival to the last byte of the response body (a file served is timed
/// until it has been sent). Added first, so it sees the status the client gets, refusals
/// included.
///
/// `route` is the route's template as registered (`/v1/blob`), never the request's path or
/// query (which name files); requests no route matches share the one label ``unmatched``.
/// Routes take their arguments in the query, and a template shows a capture as `{name}`.
public struct HTTPMetricsMiddleware: RouterMiddleware {
    public typealias Context = NodeRequestContext

    public static let requestSeconds = MetricDescription(
        "fsdfs_http_request_seconds",
        help: "Time to answer an HTTP request to the node's API, until the last byte of the body, by route template, method and status.",
        buckets: [
            .milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
            .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(300),
        ])
    /// The metrics this middleware publishes.
    public static let metrics = [requestSeconds]
    /// The route label of requests that matched no route.
    public static let unmatched = "unmatched"
    /// The methods counted by name; any other (a client may send any token) is `other`, so
    /// that no client can add series at will.
    static let methods: Set<String> = ["GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"]

    private struct Key: Hashable {
        var route: String
        var method: String
        var status: Int
    }

    private final class Timers: Sendable {
        let factory: any MetricsFactory
        let cache = Mutex<[Key: Metrics.Timer]>([:])

        init(factory: any MetricsFactory) {
            self.factory = factory
        }

        func timer(_ key: Key) -> Metrics.Timer {
            cache.withLock { cache in
                if let timer = cache[key] { return timer }
                let timer = Metrics.Timer(
                    label: HTTPMetricsMiddleware.requestSeconds.name,
                    dimensions: [("route", key.route), ("method", key.method), ("status", String(key.status))],
                    factory: factory)
                cache[key] = timer
                return timer
            }
        }
    }

    private let timers: Timers

    /// - Parameter factory: where the timers record; the process's backend by default.
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        timers = Timers(factory: factory)
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let start = ContinuousClock.now
        let method = Self.methods.contains(request.method.rawValue) ? request.method.rawValue : "other"
        do {
            var response = try await next(request, context)
            // Read after routing: the router sets the template on the way in.
            let key = Key(route: label(context.endpointPath), method: method, status: response.status.code)
            let timer = timers.timer(key)
            let body = response.body
            response.body = ResponseBody(contentLength: body.contentLength) { writer in
                defer { timer.record(duration: ContinuousClock.now - start) }
                try await body.write(writer)
            }
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            timers.timer(Key(route: label(context.endpointPath), method: method, status: status))
                .record(duration: ContinuousClock.now - start)
            throw error
        }
    }

    /// The router's template for a matched route (captures stay `{name}`, so a value never
    /// shows); Hummingbird's not-found responder and requests refused before routing share one.
    private func label(_ endpoint: String?) -> String {
        guard let endpoint, endpoint != "NotFound" else { return Self.unmatched }
        return endpoint
    }
}
