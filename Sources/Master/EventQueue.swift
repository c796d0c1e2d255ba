import Foundation
import ReplicaCore
import Synchronization
import Transport

/// Events the master has recorded and not yet written to the catalog (``EventWriter`` writes
/// them, in order). Recording never waits for the catalog and never fails: while the catalog is
/// away — the very time a `catalog_paused` event is recorded — events wait here, at most
/// ``capacity`` of them; beyond that the oldest are dropped and counted, and the log says how
/// many with an `events_dropped` event.
final class EventQueue: Sendable {
    /// Events kept in memory while the catalog cannot take them.
    static let capacity = 1_000

    private struct State {
        /// Each with a number local to this queue, so that a write removes exactly what it wrote
        /// even if the oldest were dropped meanwhile.
        var pending: [(number: Int, event: NewEvent)] = []
        var last = 0
        var dropped = 0
        var firstDropped: Date?
    }

    private let state = Mutex(State())
    /// Signalled when an event is recorded.
    let wakeup = Wakeup()

    func append(_ event: NewEvent) {
        state.withLock { state in
            state.last += 1
            state.pending.append((state.last, event))
            if state.pending.count > Self.capacity {
                let gone = state.pending.removeFirst()
                state.dropped += 1
                if state.firstDropped == nil { state.firstDropped = gone.event.time }
            }
        }
        wakeup.signal()
    }

    /// The oldest events to write, at most `limit`, preceded by an `events_dropped` event when
    /// some were dropped; `through` and `dropped` are what ``remove(through:dropped:)`` takes
    /// once they are written.
    func next(limit: Int) -> (events: [NewEvent], through: Int, dropped: Int)? {
        state.withLock { state in
            let batch = state.pending.prefix(limit)
            guard let last = batch.last else { return nil }
            var events = batch.map(\.event)
            if state.dropped > 0 {
                let since = state.firstDropped.map { " since \($0.formatted(.iso8601))" } ?? ""
                events.insert(NewEvent(
                    time: batch.first!.event.time, kind: .eventsDropped,
                    message: "\(state.dropped) events\(since) were dropped: the catalog could not take them and the master keeps at most \(Self.capacity) in memory"),
                    at: 0)
            }
            return (events, last.number, state.dropped)
        }
    }

    /// Forgets the events written: those numbered up to `through`, and `dropped` drops counted.
    func remove(through: Int, dropped: Int) {
        state.withLock { state in
            state.pending.removeAll { $0.number <= through }
            state.dropped -= dropped
            if state.dropped == 0 { state.firstDropped = nil }
        }
    }

    var isEmpty: Bool { state.withLock { $0.pending.isEmpty && $0.dropped == 0 } }
}
