import Foundation

/// Signs outgoing requests with the swarm key, for nodes and clients alike.
///
/// Each call draws a fresh random nonce and stamps the current time, so two signatures of the same
/// request differ and each can be accepted exactly once (see ``RequestVerifier``). Sign a request
/// just before sending it: it is only accepted within the verifier's window (±300 s by default).
public struct RequestSigner: Sendable {
    private let key: SwarmKey

    public init(key: SwarmKey) {
        self.key = key
    }

    /// Signs a request whose whole body is at hand (JSON bodies, empty bodies).
    ///
    /// - Parameters:
    ///   - method: the HTTP method; it is upper-cased for signing.
    ///   - target: the node's `HOST:PORT` as the request addresses it; lower-cased for signing.
    ///   - pathAndQuery: the request target exactly as it will be sent on the request line,
    ///     e.g. `/files/a%20b?replicas=3` (see ``RequestSignature/pathAndQuery(path:query:)``).
    ///   - body: the body bytes, empty when there is none.
    ///   - now: the signing time.
    public func sign(method: String, target: String, pathAndQuery: String, body: some DataProtocol, now: Date) -> SignedHeaders {
        sign(method: method, target: target, pathAndQuery: pathAndQuery, bodySHA256: RequestSignature.sha256Hex(of: body), now: now)
    }

    /// Signs a request whose body is streamed, given the SHA-256 of the whole stream.
    ///
    /// Hash the file first (the catalog usually knows it already), sign, then stream it: the
    /// receiver checks the headers before accepting the stream and the hash after it
    /// (``RequestVerifier/verifyHeaders(method:pathAndQuery:headers:now:)`` and
    /// ``RequestVerifier/complete(_:actualBodySHA256:now:)``).
    ///
    /// - Parameter bodySHA256: the SHA-256 of the whole body as 64 hex characters (lower-cased
    ///   for signing).
    public func sign(method: String, target: String, pathAndQuery: String, bodySHA256: String, now: Date) -> SignedHeaders {
        let target = target.lowercased()
        let timestamp = String(Int64(now.timeIntervalSince1970.rounded(.down)))
        let nonce = RequestSignature.makeNonce()
        let bodySHA256 = bodySHA256.lowercased()
        let canonical = RequestSignature.canonicalString(
            method: method,
            target: target,
            pathAndQuery: pathAndQuery,
            timestamp: timestamp,
            nonce: nonce,
            bodySHA256: bodySHA256
        )
        return SignedHeaders(
            target: target,
            timestamp: timestamp,
            nonce: nonce,
            contentSHA256: bodySHA256,
            signature: RequestSignature.signature(canonicalString: canonical, key: key)
        )
    }
}
