import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL

/// TLS for a swarm (`--tls-cert`, `--tls-key`, `--tls-ca`): what a node serves with and what
/// every client of the swarm (nodes among themselves, commands, the S3 gateway, the mount)
/// trusts.
///
/// A swarm is either all TLS or all plain HTTP: a node with a certificate serves only TLS on
/// its node port, its S3 port and its metrics port, and calls every other node over TLS.
/// Requests stay signed with the swarm key either way; TLS adds privacy (file bytes, paths,
/// S3 secrets on the wire) and makes a reply impossible to alter in transit.
///
/// Certificates are checked in full: the chain must lead to `--tls-ca` (or, without it, to
/// the system's roots), and the name or IP address a node is reached by (its advertised
/// HOST:PORT) must be in its certificate's subject alternative names.
public struct SwarmTLS: Sendable {
    /// What this process serves with: nil for a client only.
    public let server: TLSConfiguration?
    /// What this process's client trusts.
    public let client: TLSConfiguration

    /// Loads the PEM files. Every error names the file and what was wrong with it.
    ///
    /// - Parameters:
    ///   - certificate: the certificate chain to serve (leaf first), or nil for a client.
    ///   - privateKey: its private key; refused when anyone but its owner and group may read it.
    ///   - authority: the CA certificates to trust, or nil for the system's roots.
    public static func load(certificate: String?, privateKey: String?, authority: String?) throws(TLSFileError) -> SwarmTLS {
        var client = TLSConfiguration.makeClientConfiguration()
        client.minimumTLSVersion = .tlsv12
        if let authority {
            client.trustRoots = .certificates(try certificates(authority, what: "CA certificate (--tls-ca)"))
        }
        var server: TLSConfiguration?
        switch (certificate, privateKey) {
        case (nil, nil):
            server = nil
        case (let certificate?, let privateKey?):
            let chain = try certificates(certificate, what: "certificate (--tls-cert)")
            let key = try Self.privateKey(privateKey)
            var configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
            configuration.minimumTLSVersion = .tlsv12
            // Built once here, so that a key that does not match the certificate is refused
            // before the node starts anything.
            do {
                _ = try NIOSSLContext(configuration: configuration)
            } catch {
                throw .invalid(path: privateKey, what: "private key (--tls-key)", reason: "it does not match the certificate \(certificate) (\(error))")
            }
            server = configuration
        default:
            throw .incomplete
        }
        return SwarmTLS(server: server, client: client)
    }

    private static func certificates(_ path: String, what: String) throws(TLSFileError) -> [NIOSSLCertificate] {
        guard FileManager.default.isReadableFile(atPath: path) else { throw .unreadable(path: path, what: what) }
        let loaded: [NIOSSLCertificate]
        do {
            loaded = try NIOSSLCertificate.fromPEMFile(path)
        } catch {
            throw .invalid(path: path, what: what, reason: "not a PEM certificate: \(error)")
        }
        guard !loaded.isEmpty else { throw .invalid(path: path, what: what, reason: "no certificate in it") }
        return loaded
    }

    private static func privateKey(_ path: String) throws(TLSFileError) -> NIOSSLPrivateKey {
        let what = "private key (--tls-key)"
        let attributes: [FileAttributeKey: Any]
        do {
            // The file a link leads to (certbot's live/ directory, a Kubernetes secret mount).
            let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
            attributes = try FileManager.default.attributesOfItem(atPath: resolved)
        } catch {
            throw .unreadable(path: path, what: what)
        }
        if let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue, mode & 0o007 != 0 {
            throw .readableByOthers(path: path, mode: mode & 0o777)
        }
        guard FileManager.default.isReadableFile(atPath: path) else { throw .unreadable(path: path, what: what) }
        do {
            return try NIOSSLPrivateKey(file: path, format: .pem)
        } catch {
            throw .invalid(path: path, what: what, reason: "not a PEM private key: \(error)")
        }
    }

    /// An HTTP/1.1 server with `configuration`, over TLS when this process has a certificate.
    ///
    /// A plain-HTTP request to a TLS port gets a plain-HTTP 400 (`tls_required`) that says
    /// so, then the connection is closed: a client left without `--tls-ca` hears why, rather
    /// than seeing its connection dropped.
    public func server(_ configuration: HTTP1Channel.Configuration) throws -> HTTPServerBuilder {
        guard let server else { return .http1(configuration: configuration) }
        return HTTPServerBuilder { responder in
            try PlaintextRefusingChannel(
                base: TLSChannel(HTTP1Channel(responder: responder, configuration: configuration), tlsConfiguration: server))
        }
    }
}

extension Optional where Wrapped == SwarmTLS {
    /// An HTTP/1.1 server with `configuration`, over TLS when the swarm uses it.
    public func server(_ configuration: HTTP1Channel.Configuration) throws -> HTTPServerBuilder {
        guard let tls = self else { return .http1(configuration: configuration) }
        return try tls.server(configuration)
    }

    /// The URL scheme nodes are called with: `https` in a TLS swarm.
    public var scheme: String { self == nil ? "http" : "https" }
}

/// A TLS server's connections, each first looked at by a ``PlaintextRefusal``.
struct PlaintextRefusingChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value
    let base: Base

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(PlaintextRefusal())
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

extension PlaintextRefusingChannel: HTTPChannelHandler where Base: HTTPChannelHandler {
    var responder: HTTPChannelHandler.Responder { base.responder }
}

/// First in a TLS connection's pipeline, before the TLS handler: looks at the first byte the
/// client sends. A TLS handshake starts with 0x16; a plain HTTP request with a method's
/// capital letter, which gets a plain-HTTP 400 in JSON, as every node error is, and the
/// connection closed. Either way the handler then leaves the pipeline.
final class PlaintextRefusal: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let reply: ByteBuffer = {
        let body = #"{"error":"this node serves TLS only: call it with https (a command needs --tls-ca or FSDFS_TLS_CA)","code":"tls_required"}"#
        return ByteBuffer(string: "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
    }()

    /// Set once a plain request was answered: what follows is dropped until the close.
    private var refused = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        let bytes = unwrapInboundIn(data)
        if let first = bytes.getInteger(at: bytes.readerIndex, as: UInt8.self),
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(first) || first == UInt8(ascii: "\r") || first == UInt8(ascii: "\n")
        {
            refused = true
            context.writeAndFlush(wrapOutboundOut(Self.reply)).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
            return
        }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

/// A TLS file that cannot be used.
public enum TLSFileError: Error, Equatable, CustomStringConvertible {
    case incomplete
    case unreadable(path: String, what: String)
    case readableByOthers(path: String, mode: Int)
    case invalid(path: String, what: String, reason: String)

    public var description: String {
        switch self {
        case .incomplete:
            "--tls-cert and --tls-key go together: give both, or neither"
        case .unreadable(let path, let what):
            "cannot read the TLS \(what) \(path): no such file or no permission"
        case .readableByOthers(let path, let mode):
            "the TLS private key \(path) may be read by any user (mode \(String(mode, radix: 8))): run chmod o-rwx \(path)"
        case .invalid(let path, let what, let reason):
            "the TLS \(what) \(path) cannot be used: \(reason)"
        }
    }
}
