import Hummingbird
import Transport

/// The responder of a node's HTTP server: `/ui` and everything under `/ui/` go to the
/// dashboard (a master only), everything else to the node's signed router.
///
/// Why two routers rather than an exception inside the signing middleware: the signed router
/// never sees a dashboard request and the dashboard router holds only dashboard routes, so no
/// spelling of a path can reach a signed route without a signature. On a node that is not the
/// master, `/ui/` goes to the signed router like any other path, and is refused unsigned.
public struct DashboardDispatch: HTTPResponder {
    public typealias Context = NodeRequestContext
    let signed: RouterResponder<NodeRequestContext>
    let dashboard: RouterResponder<DashboardContext>?

    public init(signed: RouterResponder<NodeRequestContext>, dashboard: RouterResponder<DashboardContext>?) {
        self.signed = signed
        self.dashboard = dashboard
    }

    public func respond(to request: Request, context: NodeRequestContext) async throws -> Response {
        if let dashboard, Self.isDashboardPath(request.uri.path) {
            return try await dashboard.respond(to: request, context: DashboardContext(context))
        }
        return try await signed.respond(to: request, context: context)
    }

    /// `/ui` and the paths under `/ui/`.
    static func isDashboardPath(_ path: String) -> Bool {
        path == Dashboard.root || path.hasPrefix(Dashboard.root + "/")
    }
}
