import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import ServiceLifecycle

/// The S3 API's listener (`serve --s3-listen HOST:PORT`): a Hummingbird server whose one
/// responder is the ``S3Gateway``. A service of the master's service group.
public struct S3Server: Service {
    let gateway: S3Gateway
    let host: String
    let port: Int
    let logger: Logger

    public init(gateway: S3Gateway, host: String, port: Int, logger: Logger) {
        self.gateway = gateway
        self.host = host
        self.port = port
        self.logger = logger
    }

    public func run() async throws {
        try await gateway.prepare()
        let gateway = gateway
        let app = Application(
            responder: CallbackResponder { (request: Request, context: BasicRequestContext) in
                await gateway.respond(to: request, context: context)
            },
            server: .http1(configuration: .init(additionalChannelHandlers: [ContinueHandler()], idleTimeout: .seconds(300))),
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            logger: logger)
        logger.info("S3 API on http://\(host):\(port)")
        try await app.runService()
    }
}

/// Answers `Expect: 100-continue` at once, so that clients that wait for it (botocore waits
/// a second) send their bodies straight away. The request itself is still checked as a
/// whole by the gateway, which answers before reading a body it refuses.
final class ContinueHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundOut = HTTPResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data), head.headerFields[.expect]?.lowercased() == "100-continue" {
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponse(status: .continue))), promise: nil)
        }
        context.fireChannelRead(data)
    }
}
