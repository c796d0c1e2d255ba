/// Paces the scrubber's reads to at most `bytesPerSecond`. After each chunk it answers how long
/// to wait so that everything read takes at least bytes ÷ rate. Idle time is saved up for at
/// most ``slack``, so the scrubber never bursts above the rate after a pause, while the time
/// spent reading a chunk still counts (a steady reader gets the whole rate, not less).
///
/// A pure function of the instants it is given, so it is tested without sleeping.
public struct ScrubRateLimiter: Sendable {
    /// Idle time that may be spent later: a chunk read right after a pause waits this much less.
    public static let slack = Duration.milliseconds(100)

    /// What checking one file costs beyond its bytes, counted as this many bytes read: the
    /// open, the index lookup, the close. A node of millions of small files is then scrubbed
    /// at most rate ÷ 64 KiB files a second (1,024 at the default 64M), not at 16,000 that
    /// would take a core from replication and reads.
    public static let perFileBytes = 64 << 10

    public let bytesPerSecond: Int64
    /// When the bytes read so far are paid for at the rate.
    private var paidUntil: ContinuousClock.Instant?

    /// - Parameter bytesPerSecond: above 0.
    public init(bytesPerSecond: Int64) {
        precondition(bytesPerSecond > 0, "a scrub rate must be above 0")
        self.bytesPerSecond = bytesPerSecond
    }

    /// Records that a file was checked at `now` (``perFileBytes`` of the rate); returns how
    /// long to wait before the next.
    public mutating func delay(afterFileAt now: ContinuousClock.Instant) -> Duration {
        delay(afterReading: Self.perFileBytes, at: now)
    }

    /// Records `bytes` just read at `now`; returns how long to wait before reading more.
    public mutating func delay(afterReading bytes: Int, at now: ContinuousClock.Instant) -> Duration {
        let earliest = now - Self.slack
        let start = max(paidUntil ?? earliest, earliest)
        let paid = start + .seconds(Double(bytes) / Double(bytesPerSecond))
        paidUntil = paid
        return max(.zero, paid - now)
    }
}
