import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import ServiceLifecycle
import Transport

/// The S3 API's listener (`serve --s3-listen HOST:PORT`): a Hummingbird server whose one
/// responder is the ``S3Gateway``. A service of the master's service group.
public struct S3Server: Service {
    let gateway: S3Gateway
    let host: String
    let port: Int
    /// The swarm's TLS: the S3 API is served over TLS when the node is.
    let tls: SwarmTLS?
    /// Shared with the node's own server: one budget of connections for the process.
    let limits: ConnectionLimits
    let logger: Logger

    public init(gateway: S3Gateway, host: String, port: Int, tls: SwarmTLS? = nil, limits: ConnectionLimits, logger: Logger) {
        self.gateway = gateway
        self.host = host
        self.port = port
        self.tls = tls
        self.limits = limits
        self.logger = logger
    }

    public func run() async throws {
        try await gateway.prepare()
        let gateway = gateway
        let app = Application(
            responder: CallbackResponder { (request: Request, context: S3RequestContext) in
                await gateway.respond(to: request, context: context)
            },
            server: try tls.server(.init(additionalChannelHandlers: [limits.handler(), ContinueHandler()], idleTimeout: .seconds(120))),
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            logger: logger)
        logger.info("S3 API on \(tls.scheme)://\(host):\(port)")
        let multipart = gateway.multipart, logger = logger
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService() }
            // Multipart uploads nobody finished or aborted go after their lifetime.
            group.addTask {
                while !Task.isCancelled {
                    try await Task.sleep(for: .seconds(3600))
                    let dropped = await multipart.purgeStale()
                    if dropped > 0 { logger.notice("S3: \(dropped) multipart uploads older than 7 days dropped") }
                }
            }
            // The server ends at graceful shutdown; the purge loop goes with it.
            try await group.next()
            group.cancelAll()
        }
    }
}

/// Answers `Expect: 100-continue` of a signed request at once, so that clients that wait for
/// it (botocore waits a second) send their bodies straight away. The signature itself is
/// checked by the gateway, which answers before reading a body it refuses and then closes
/// the connection.
final class ContinueHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundOut = HTTPResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Only to requests that carry a signature (checked by the gateway before it reads a
        // byte of the body); the others get their refusal without being invited to send.
        if case .head(let head) = unwrapInboundIn(data), head.headerFields[.expect]?.lowercased() == "100-continue",
           head.headerFields[.authorization] != nil || head.path?.contains("X-Amz-Signature=") == true
        {
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponse(status: .continue))), promise: nil)
        }
        context.fireChannelRead(data)
    }
}

/// The request context of the S3 API: Hummingbird's core storage and the connection, which a
/// refusal closes for reading.
struct S3RequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}
