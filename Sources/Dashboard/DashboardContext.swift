import Hummingbird
import NIOCore
import Transport

/// The request context of the dashboard's routes (`/ui/…`). They are not signed with the swarm
/// key: a browser proves itself with the session cookie instead (``SessionSigner``).
public struct DashboardContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The peer's address, which failed logins are throttled by.
    public var remoteAddress: SocketAddress?
    /// Set by ``RequireSession`` for the routes behind a login.
    public var session: DashboardSession?

    public init(source: Source) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The context of a request the node's server handed over to the dashboard.
    init(_ node: NodeRequestContext) {
        coreContext = node.coreContext
        remoteAddress = node.remoteAddress
    }

    /// Who a throttled login is counted against: the peer's IP address.
    var client: String {
        remoteAddress?.ipAddress ?? "unknown"
    }
}
