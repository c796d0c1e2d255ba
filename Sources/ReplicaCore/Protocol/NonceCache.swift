/// The nonces a ``RequestVerifier`` accepted and must still refuse to see again.
///
/// Each nonce is kept at least until its expiry time, after which the verifier's timestamp
/// check alone refuses any copy of the request, so the nonce can be forgotten.
///
/// **Layout, and why.** A node serving 20,000 signed requests per second must remember six
/// million nonces (a 300 s window), so both the memory per nonce and the cost of forgetting
/// matter:
/// - Nonces are grouped in *buckets* by expiry time, `bucketSeconds` wide. Forgetting is
///   dropping whole buckets whose end has passed: O(1) per bucket, no per-nonce bookkeeping,
///   no heap. The price: a nonce may be remembered up to `bucketSeconds` longer than needed,
///   which is only ever on the safe side (a replay is refused a little longer).
/// - Each bucket is a `Set<UInt64>` of 64-bit *fingerprints* of the nonces (a hash seeded at
///   random per process), not of the 32-character strings: about 8–20 bytes a nonce instead of
///   over 100. A replay has the same nonce, hence the same fingerprint, so it is always
///   refused. Two distinct nonces sharing a fingerprint can only make a genuine request look
///   replayed (refused, never accepted), with odds of one in 2^64 / (nonces remembered); the
///   random seed stops anyone from choosing nonces that collide on purpose.
/// - A lookup checks every live bucket: with the verifier's buckets (a thirtieth of the window)
///   that is at most about 60 set lookups, well under a microsecond.
///
/// Memory is bounded by `capacity` nonces; a full cache refuses new ones rather than forget a
/// live one (see ``RequestVerifier``). Not thread-safe: the verifier wraps it in a `Mutex`.
struct NonceCache: Sendable {
    /// What ``insert(_:expiresAt:)`` did.
    enum Insertion: Equatable {
        case inserted
        case alreadySeen
        case full
    }

    /// The most nonces kept at once.
    let capacity: Int
    /// The width of a bucket, in seconds.
    let bucketSeconds: Double
    /// Bucket number → fingerprints of the nonces expiring in it. Bucket `b` holds the expiry
    /// times in `[b·width, (b+1)·width)` and is dropped once `now ≥ (b+1)·width`.
    private var buckets: [Int64: Set<UInt64>] = [:]
    /// The lowest bucket number held, so that most calls to ``removeExpired(now:)`` cost one
    /// comparison.
    private var oldest: Int64?
    private(set) var count = 0

    init(capacity: Int, bucketSeconds: Double = 10) {
        precondition(capacity > 0, "a nonce cache needs room for at least one nonce")
        precondition(bucketSeconds > 0, "a bucket must have a positive width")
        self.capacity = capacity
        self.bucketSeconds = bucketSeconds
    }

    /// How many buckets are held (for tests: memory is in the buckets).
    var bucketCount: Int { buckets.count }

    /// Whether `nonce` is remembered.
    func contains(_ nonce: String) -> Bool {
        let print = Self.fingerprint(nonce)
        return buckets.values.contains { $0.contains(print) }
    }

    /// Forgets every bucket whose whole time span is before `now` (seconds since 1970).
    mutating func removeExpired(now: Double) {
        guard let oldest, Double(oldest + 1) * bucketSeconds <= now else { return }
        // The first bucket still live; everything before it goes.
        let live = Int64((now / bucketSeconds).rounded(.down))
        for (number, nonces) in buckets where number < live {
            count -= nonces.count
            buckets[number] = nil
        }
        self.oldest = buckets.keys.min()
    }

    /// Remembers `nonce` until at least `expiresAt`, unless it is already remembered or the
    /// cache holds `limit` nonces (at most ``capacity``) already.
    mutating func insert(_ nonce: String, expiresAt: Double, limit: Int? = nil) -> Insertion {
        let print = Self.fingerprint(nonce)
        if buckets.values.contains(where: { $0.contains(print) }) { return .alreadySeen }
        if count >= min(limit ?? capacity, capacity) { return .full }
        let number = Int64((expiresAt / bucketSeconds).rounded(.down))
        buckets[number, default: []].insert(print)
        count += 1
        oldest = min(oldest ?? number, number)
        return .inserted
    }

    /// A 64-bit keyed hash of `nonce`: `Hasher` is seeded at random when the process starts.
    private static func fingerprint(_ nonce: String) -> UInt64 {
        var hasher = Hasher()
        hasher.combine(nonce)
        return UInt64(bitPattern: Int64(hasher.finalize()))
    }
}
