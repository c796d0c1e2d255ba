/// Proof that a request's signing headers checked out, pending its streamed body.
///
/// Returned by ``RequestVerifier/verifyHeaders(method:pathAndQuery:headers:now:)``: the request is
/// fresh, its signature is valid and its nonce was not seen yet. Accept the body stream, hash it,
/// then call ``RequestVerifier/complete(_:actualBodySHA256:now:)`` on the same verifier before
/// acting on the body. Only a verifier can create one.
public struct VerifiedHeaders: Sendable, Equatable {
    /// The nonce, recorded as used only by a successful `complete`.
    public let nonce: String
    /// The signing time, Unix seconds.
    public let timestamp: Int64
    /// The SHA-256 the signer declared for the whole body, lowercase hex: what the streamed body
    /// must hash to (a receiver may also check it against the catalog's checksum up front).
    public let declaredBodySHA256: String
    /// The node the request was signed for, lower-cased (one of the verifier's names).
    public let target: String
    /// Whether the request may use the replay cache's reserve (a node's report).
    public let reserved: Bool

    init(nonce: String, timestamp: Int64, declaredBodySHA256: String, target: String, reserved: Bool) {
        self.target = target
        self.reserved = reserved
        self.nonce = nonce
        self.timestamp = timestamp
        self.declaredBodySHA256 = declaredBodySHA256
    }
}
