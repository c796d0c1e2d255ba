import Logging
import NIOCore
import Synchronization

/// Caps a server's open connections, in all and per peer address, so that idle or slow
/// sockets opened by one peer (thousands of them, say) cannot use up the descriptors and
/// memory the node needs for its own peers. A connection over either cap is closed as soon
/// as it opens, before anything is read from it.
public final class ConnectionLimits: Sendable {
    public let total: Int
    public let perPeer: Int
    private let open = Mutex(Counts())
    private let logger: Logger

    struct Counts {
        var total = 0
        var byPeer: [String: Int] = [:]
        var refused = 0
    }

    public init(total: Int, perPeer: Int, logger: Logger) {
        self.total = total
        self.perPeer = perPeer
        self.logger = logger
    }

    /// Counts a new connection; false when it is over a cap (then not counted).
    func admit(_ peer: String) -> Bool {
        let admitted = open.withLock { counts -> Bool in
            guard counts.total < total, counts.byPeer[peer, default: 0] < perPeer else {
                counts.refused += 1
                return false
            }
            counts.total += 1
            counts.byPeer[peer, default: 0] += 1
            return true
        }
        if !admitted {
            let refused = open.withLock { $0.refused }
            // Once, then every thousandth: a flood does not flood the log too.
            if refused == 1 || refused % 1000 == 0 {
                logger.warning("refused a connection from \(peer): \(total) connections in all or \(perPeer) from one address at most (\(refused) refused so far)")
            }
        }
        return admitted
    }

    func release(_ peer: String) {
        open.withLock { counts in
            counts.total -= 1
            counts.byPeer[peer, default: 1] -= 1
            if counts.byPeer[peer] == 0 { counts.byPeer[peer] = nil }
        }
    }

    /// A handler for one connection (``HTTP1Channel``'s additional handlers).
    public func handler() -> any RemovableChannelHandler {
        ConnectionLimitHandler(limits: self)
    }

    /// The connections open now, for tests and metrics.
    public var openConnections: Int { open.withLock { $0.total } }
}

/// Counts its connection in ``ConnectionLimits`` while it is open; closes it at once when it
/// is over a cap.
final class ConnectionLimitHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    let limits: ConnectionLimits
    private var peer: String?

    init(limits: ConnectionLimits) {
        self.limits = limits
    }

    func handlerAdded(context: ChannelHandlerContext) {
        // The channel is active already when a server's child handlers are added.
        guard context.channel.isActive, peer == nil else { return }
        admit(context: context)
    }

    func channelActive(context: ChannelHandlerContext) {
        if peer == nil { admit(context: context) }
        context.fireChannelActive()
    }

    private func admit(context: ChannelHandlerContext) {
        let address = context.channel.remoteAddress?.ipAddress ?? "unknown"
        if limits.admit(address) {
            peer = address
        } else {
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let peer {
            limits.release(peer)
            self.peer = nil
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }
}
