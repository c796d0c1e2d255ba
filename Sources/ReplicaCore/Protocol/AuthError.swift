/// Why a node refused a request's signature.
///
/// Every case maps to HTTP **401 Unauthorized** (``httpStatus``): the request did not prove it
/// comes from a member of the swarm, now. The HTTP layer answers with the JSON error body
/// `{"error": description, "code": code}`. Descriptions are one line a user can act on; they
/// never include the key, the expected signature or anything else derived from the secret.
public enum AuthError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A signing header is absent or not in its format: `X-Fsdfs-Target`, `X-Fsdfs-Timestamp` (integer Unix
    /// seconds), `X-Fsdfs-Nonce` (32 lowercase hex characters), `X-Fsdfs-Content-SHA256` and
    /// `X-Fsdfs-Signature` (64 lowercase hex characters each). HTTP 401.
    case missingOrMalformed
    /// The timestamp is further than the verifier's window (±300 s by default) from the node's
    /// clock. Bounding a request's lifetime is what lets the replay cache forget old nonces. HTTP 401.
    case expired
    /// The HMAC does not match the method, path, query, timestamp, nonce and body hash under this
    /// node's swarm key: the sender uses another secret, or the request was altered. HTTP 401.
    case badSignature
    /// The body received does not have the SHA-256 the signed `X-Fsdfs-Content-SHA256` header
    /// declares: the body was altered or truncated in transit. HTTP 401.
    case bodyMismatch
    /// A request with this nonce was already accepted within the window: a captured request is
    /// being sent again. HTTP 401.
    case replayed
    /// The replay cache holds its maximum of live nonces, so the node cannot remember this one and
    /// refuses rather than forget a nonce that could still be replayed. HTTP 401; retry later.
    case replayCacheFull
    /// The request was signed before this node started: its replay cache, kept in memory, no
    /// longer knows the nonces of that time, so it takes no request from then (a captured one
    /// sent again after a restart). HTTP 401; sign it anew.
    case signedBeforeStart
    /// The request was signed for another node (its `X-Fsdfs-Target`, `target`, is none of this
    /// node's `names`): sent to the wrong address, or a captured request re-sent elsewhere.
    /// HTTP 401.
    case wrongTarget(target: String, names: String)

    /// The HTTP status to answer with: 401 for every case.
    public var httpStatus: Int { 401 }

    /// A short stable code for the JSON error body and for metric labels.
    public var code: String {
        switch self {
        case .missingOrMalformed: "unauthorized"
        case .expired: "expired"
        case .badSignature: "bad_signature"
        case .bodyMismatch: "body_mismatch"
        case .replayed: "replayed"
        case .replayCacheFull: "replay_cache_full"
        case .signedBeforeStart: "signed_before_start"
        case .wrongTarget: "wrong_target"
        }
    }

    public var description: String {
        switch self {
        case .missingOrMalformed:
            "the request is not signed: it lacks a well-formed X-Fsdfs-Target, X-Fsdfs-Timestamp, X-Fsdfs-Nonce, "
                + "X-Fsdfs-Content-SHA256 or X-Fsdfs-Signature header; send it with an fsdfs client of this version configured with the swarm secret"
        case .expired:
            "the request timestamp is outside the allowed clock skew of this node; "
                + "synchronise the clocks of every node and client (NTP) and send a freshly signed request"
        case .badSignature:
            "the request signature does not match: check that every node and client uses the same swarm secret"
        case .bodyMismatch:
            "the request body does not match its signed SHA-256: it was altered or cut short in transit; send it again"
        case .replayed:
            "this request was already received (its nonce was used before); sign every request anew instead of resending it"
        case .replayCacheFull:
            "this node is receiving more signed requests than its replay cache can track; retry shortly"
        case .signedBeforeStart:
            "the request was signed before this node started (it takes none from before, since it cannot tell a replay); sign it anew"
        case .wrongTarget(let target, let names):
            "the request was signed for \(target), which is not this node (it answers to \(names)); "
                + "call a node by an address it listens on or advertises, or start it with --alias \(target)"
        }
    }
}
