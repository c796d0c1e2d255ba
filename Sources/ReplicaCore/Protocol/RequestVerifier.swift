import Foundation
import Synchronization

/// Checks incoming requests' signatures and refuses replays.
///
/// One verifier per node, shared by every request handler: it holds the swarm key and the cache
/// of nonces already accepted. Checks run in this order, and the first failure is the answer
/// (every ``AuthError`` is an HTTP 401):
///
/// 1. all four signing headers are present and well-formed, else ``AuthError/missingOrMalformed``;
/// 2. the timestamp is within ±``window`` of `now`, else ``AuthError/expired``. Why: a captured
///    request must stop working soon, and this bound is what lets the nonce cache forget. Why both
///    directions: clocks of nodes and clients drift, so a request may look slightly from the future.
///    And it is not before ``notBefore`` (the node's start), else ``AuthError/signedBeforeStart``:
///    the nonce cache lives in memory, so a restarted node cannot tell a replay of an older one;
/// 3. the HMAC matches, compared in constant time, else ``AuthError/badSignature``. Why constant
///    time: see ``RequestSignature/constantTimeEqual(_:_:)``; and the signed target is one of
///    this node's ``names``, else ``AuthError/wrongTarget(_:)``: a request meant for another node;
/// 4. the signed body hash equals the hash of the body received, else ``AuthError/bodyMismatch``;
/// 5. the nonce was not accepted before within the window, else ``AuthError/replayed``.
///
/// The nonce is recorded only after every other check passed, so a forged or altered request
/// cannot use up the nonce of a genuine one still on its way.
///
/// **Bounded memory.** A nonce is remembered until `window` seconds after the later of its
/// timestamp and the moment it was accepted (by then check 2 refuses every copy of a one-step
/// request), plus at most a thirtieth of the window (the cache forgets in time buckets, see
/// ``NonceCache``), and at most ``maxNonces`` are remembered at once.
/// When the cache is full of nonces that are still live, new requests are refused with
/// ``AuthError/replayCacheFull`` instead of forgetting a live nonce: forgetting one would let its
/// request be replayed, and a node that refuses work under a flood of signed requests (which only
/// key holders can produce) fails safe and recovers as nonces expire. At the defaults that is
/// 6.5 million requests in about 5 minutes: 20,000 signed requests a second sustained, in at most
/// about 130 MB (a 64-bit fingerprint per nonce in hash sets), and far less at ordinary rates.
///
/// **Nodes before clients.** On top of ``maxNonces``, the cache keeps a reserve
/// (``reservedNonces``, a fiftieth more) that only requests verified with `reserved: true` may
/// use: the master passes it for its nodes' reports, so a flood of client requests that fills
/// the cache cannot starve them, and no node is declared down for it.
///
/// Thread-safe: the cache is behind a `Mutex`, held only for the lookup and insertion, never
/// while hashing.
public final class RequestVerifier: Sendable {
    /// How far a request's timestamp may be from the node's clock, in seconds, either way.
    public let window: TimeInterval
    /// The most nonces remembered at once for requests without a reserve.
    public let maxNonces: Int
    /// The room above ``maxNonces`` only reserved requests (node reports) may use.
    public let reservedNonces: Int

    /// Requests signed before this Unix second are refused (the node's start); nil: none.
    public let notBefore: Int64?

    /// The targets this node accepts (its addresses).
    public let names: NodeNames
    /// Signs this node's replies to the requests it verified (``ReplySignature``).
    public let replies: ReplySigner

    private let key: SwarmKey
    private let nonces: Mutex<NonceCache>

    /// - Parameters:
    ///   - key: the swarm key requests must be signed with.
    ///   - names: the `HOST:PORT` targets this node accepts (``NodeNames/any`` outside a node).
    ///   - window: the accepted clock skew in seconds, either way; 300 by default.
    ///   - maxNonces: how many accepted nonces may be remembered at once; 6.5 million by default.
    ///   - notBefore: refuse requests signed before this time (a node gives its start).
    public init(key: SwarmKey, names: NodeNames, window: TimeInterval = 300, maxNonces: Int = 6_500_000, notBefore: Date? = nil) {
        precondition(window > 0, "the timestamp window must be positive")
        precondition(maxNonces > 0, "the replay cache must hold at least one nonce")
        self.key = key
        self.names = names
        self.replies = ReplySigner(swarm: key)
        self.window = window
        self.maxNonces = maxNonces
        self.notBefore = notBefore.map { Int64($0.timeIntervalSince1970.rounded(.down)) }
        self.reservedNonces = max(1, maxNonces / 50)
        self.nonces = Mutex(NonceCache(capacity: maxNonces + reservedNonces, bucketSeconds: window / 30))
    }

    /// How many nonces are remembered now, for metrics. Expired ones are forgotten lazily, on the
    /// next verification.
    public var rememberedNonceCount: Int {
        nonces.withLock { $0.count }
    }

    /// Verifies a request whose whole body has been received, and records its nonce.
    ///
    /// - Parameters:
    ///   - method: the HTTP method of the request.
    ///   - pathAndQuery: the request target exactly as received on the request line.
    ///   - headers: the signing headers, `nil` when any is absent.
    ///   - bodySHA256: the lowercase hex SHA-256 of the body received
    ///     (``RequestSignature/emptyBodySHA256`` when there is none).
    ///   - now: the node's current time.
    /// - Throws: the first check that fails, in the order given in the type's documentation.
    public func verify(
        method: String,
        pathAndQuery: String,
        headers: SignedHeaders?,
        bodySHA256: String,
        now: Date,
        reserved: Bool = false
    ) throws(AuthError) {
        let verified = try checkHeaders(method: method, pathAndQuery: pathAndQuery, headers: headers, now: now, reserved: reserved)
        try complete(verified, actualBodySHA256: bodySHA256, now: now)
    }

    /// Verifies a streamed request before its body is read: headers, freshness, signature, and
    /// that the nonce is not already used. Records nothing.
    ///
    /// Call it before accepting an upload, so an unsigned, stale, forged or replayed request is
    /// refused before any byte is streamed; then hash the stream and call
    /// ``complete(_:actualBodySHA256:now:)``.
    ///
    /// - Throws: ``AuthError/missingOrMalformed``, ``AuthError/expired``, ``AuthError/badSignature``,
    ///   ``AuthError/replayed`` or ``AuthError/replayCacheFull``.
    public func verifyHeaders(
        method: String,
        pathAndQuery: String,
        headers: SignedHeaders?,
        now: Date,
        reserved: Bool = false
    ) throws(AuthError) -> VerifiedHeaders {
        let verified = try checkHeaders(method: method, pathAndQuery: pathAndQuery, headers: headers, now: now, reserved: reserved)
        let limit = reserved ? maxNonces + reservedNonces : maxNonces
        let refusal: AuthError? = nonces.withLock { cache in
            cache.removeExpired(now: now.timeIntervalSince1970)
            if cache.contains(verified.nonce) { return .replayed }
            if cache.count >= limit { return .replayCacheFull }
            return nil
        }
        if let refusal { throw refusal }
        return verified
    }

    /// Confirms a streamed request once its body has been received: the body's hash must be the
    /// signed one, and the nonce must still be unused; then the nonce is recorded.
    ///
    /// Freshness is not checked again, so an upload that takes longer than the window still
    /// completes. If two copies of one request stream at the same time, only the first to complete
    /// is accepted, as long as the other completes while the nonce is remembered: until `window`
    /// seconds after the later of its timestamp and the first completion. A copy that streams for
    /// longer than that is not caught; it can only deliver the same, hash-checked bytes to the
    /// same path.
    ///
    /// - Parameter actualBodySHA256: the lowercase hex SHA-256 of the whole body received.
    /// - Throws: ``AuthError/bodyMismatch``, ``AuthError/replayed`` or ``AuthError/replayCacheFull``.
    public func complete(_ verified: VerifiedHeaders, actualBodySHA256: String, now: Date) throws(AuthError) {
        guard verified.declaredBodySHA256 == actualBodySHA256.lowercased() else { throw .bodyMismatch }
        let nowSeconds = now.timeIntervalSince1970
        let expiresAt = max(Double(verified.timestamp), nowSeconds) + window
        let insertion = nonces.withLock { cache in
            cache.removeExpired(now: nowSeconds)
            return cache.insert(verified.nonce, expiresAt: expiresAt, limit: verified.reserved ? maxNonces + reservedNonces : maxNonces)
        }
        switch insertion {
        case .inserted: return
        case .alreadySeen: throw .replayed
        case .full: throw .replayCacheFull
        }
    }

    /// Checks 1 to 3: well-formed headers, freshness, signature.
    private func checkHeaders(
        method: String,
        pathAndQuery: String,
        headers: SignedHeaders?,
        now: Date,
        reserved: Bool
    ) throws(AuthError) -> VerifiedHeaders {
        guard let headers,
              let timestamp = Self.parseTimestamp(headers.timestamp),
              RequestSignature.isLowercaseHex(headers.nonce, count: 32),
              RequestSignature.isLowercaseHex(headers.contentSHA256, count: 64),
              RequestSignature.isLowercaseHex(headers.signature, count: 64),
              let presentedMAC = RequestSignature.bytes(fromLowercaseHex: headers.signature)
        else { throw .missingOrMalformed }

        guard abs(Double(timestamp) - now.timeIntervalSince1970) <= window else { throw .expired }
        if let notBefore, timestamp < notBefore { throw .signedBeforeStart }

        let canonical = RequestSignature.canonicalString(
            method: method,
            target: headers.target,
            pathAndQuery: pathAndQuery,
            timestamp: headers.timestamp,
            nonce: headers.nonce,
            bodySHA256: headers.contentSHA256
        )
        let expectedMAC = RequestSignature.authenticationCode(canonicalString: canonical, key: key)
        guard RequestSignature.constantTimeEqual(expectedMAC, presentedMAC) else { throw .badSignature }
        // After the signature: only a key holder learns which names this node answers to.
        guard names.contains(headers.target) else { throw .wrongTarget(target: headers.target, names: names.description) }

        return VerifiedHeaders(
            nonce: headers.nonce, timestamp: timestamp, declaredBodySHA256: headers.contentSHA256, target: headers.target,
            reserved: reserved)
    }

    /// Integer Unix seconds: 1 to 18 ASCII digits (no sign, no spaces).
    private static func parseTimestamp(_ text: String) -> Int64? {
        guard (1...18).contains(text.utf8.count),
              text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
        else { return nil }
        return Int64(text)
    }
}
