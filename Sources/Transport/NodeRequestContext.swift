import Hummingbird
import NIOCore
import ReplicaCore

/// The request context of every fsdfs route: Hummingbird's core storage plus what the signing
/// middleware found.
public struct NodeRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set for streamed uploads: the headers were verified, the body hash is checked by the
    /// handler once the stream ends (``RequestVerifier/complete(_:actualBodySHA256:now:)``).
    public var pendingBodyCheck: VerifiedHeaders?

    /// The peer's address (the dashboard throttles failed logins by it); nil when unknown.
    public var remoteAddress: SocketAddress?
    /// The connection, which a refusal closes for reading (``SigningMiddleware``).
    public let channel: any Channel

    public init(source: Source) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
        channel = source.channel
    }

    /// JSON bodies of control messages; file bytes are streamed and not bound by this.
    public var maxUploadSize: Int { 64 * 1024 * 1024 }
}
