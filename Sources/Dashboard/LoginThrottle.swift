import Foundation

/// Limits password guessing at the dashboard's login: each client (an IP address) may fail
/// ``maxFailures`` times in ``window`` seconds; after that every attempt from it is refused,
/// the right password too, until its oldest failure is ``window`` seconds old.
///
/// Why refuse the right password too: otherwise the limit would tell a guesser nothing it
/// could not learn anyway, and guessing would only be slower by the reply delay.
///
/// **Bounded memory.** At most ``capacity`` clients are tracked. When the table is full of
/// clients whose failures are all recent, a new client is refused as if it had failed too
/// often (failing closed), and the table empties itself as failures age.
public struct LoginThrottle: Sendable {
    public static let maxFailures = 5
    public static let window: TimeInterval = 60
    public static let capacity = 10_000

    private var failures: [String: [Date]] = [:]

    public init() {}

    /// Seconds until `client` may try again, or nil when it may try now.
    public mutating func retryAfter(client: String, now: Date) -> TimeInterval? {
        prune(now: now)
        if let recent = failures[client] {
            guard recent.count >= Self.maxFailures, let oldest = recent.first else { return nil }
            return max(1, (oldest.addingTimeInterval(Self.window).timeIntervalSince(now)).rounded(.up))
        }
        return failures.count >= Self.capacity ? Self.window : nil
    }

    public mutating func recordFailure(client: String, now: Date) {
        prune(now: now)
        guard failures[client] != nil || failures.count < Self.capacity else { return }
        failures[client, default: []].append(now)
    }

    /// A successful login clears the client's failures.
    public mutating func recordSuccess(client: String) {
        failures[client] = nil
    }

    private mutating func prune(now: Date) {
        for (client, dates) in failures {
            let recent = dates.filter { now.timeIntervalSince($0) < Self.window }
            failures[client] = recent.isEmpty ? nil : recent
        }
    }
}
