import Foundation

/// The budget of `--max-replication-rate`: a token bucket over the bytes of the copies the
/// scheduler starts. Client uploads and reads do not go through it.
///
/// The bucket holds one second of the rate and starts full; it refills continuously. Each
/// pass may start copies worth what the bucket holds (``budget(at:)``), and pays for them
/// when they start (``spend(_:at:)``). A file larger than the bucket could never fit, so a
/// full bucket lets the first copy of a pass be any size; the bucket then goes into debt,
/// and nothing else starts until it is repaid. Over any span of `t` seconds the copies
/// started add up to at most `rate × t` plus one bucket plus one file.
///
/// Pure: the caller passes the time, so tests need no clock.
public struct ReplicationRateLimiter: Sendable {
    /// Bytes per second.
    public let rate: Int64
    /// Bytes the bucket holds when full: one second of the rate.
    public var capacity: Int64 { rate }
    private var tokens: Double
    private var updated: Date

    public init(bytesPerSecond: Int64, now: Date) {
        precondition(bytesPerSecond > 0, "a replication rate must be above 0")
        rate = bytesPerSecond
        tokens = Double(bytesPerSecond)
        updated = now
    }

    private mutating func refill(at now: Date) {
        let elapsed = max(0, now.timeIntervalSince(updated))
        tokens = min(Double(capacity), tokens + elapsed * Double(rate))
        updated = max(updated, now)
    }

    /// What a pass may start now.
    public mutating func budget(at now: Date) -> CopyBudget {
        refill(at: now)
        return CopyBudget(bytes: Int64(tokens.rounded()), full: tokens >= Double(capacity))
    }

    /// Pays for copies started at `now`.
    public mutating func spend(_ bytes: Int64, at now: Date) {
        refill(at: now)
        tokens -= Double(bytes)
    }

    /// When a copy of `bytes` can start: when the bucket holds that much, or is full for a
    /// copy larger than the bucket.
    public mutating func whenAffordable(_ bytes: Int64, at now: Date) -> Date {
        refill(at: now)
        let needed = Double(min(bytes, capacity)) - tokens
        // A millisecond more, so that rounding never wakes the scheduler a hair too early.
        return needed <= 0 ? now : now.addingTimeInterval(needed / Double(rate) + 0.001)
    }
}
