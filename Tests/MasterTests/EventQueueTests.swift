import Foundation
import Testing
import ReplicaCore
@testable import Master

@Suite("Event queue")
struct EventQueueTests {
    static func event(_ number: Int) -> NewEvent {
        NewEvent(time: Date(timeIntervalSince1970: Double(number)), kind: .nodeDown, message: "e\(number)")
    }

    @Test("Events wait in order until written; only those written are forgotten")
    func keepsOrderUntilWritten() throws {
        let queue = EventQueue()
        #expect(queue.next(limit: 10) == nil && queue.isEmpty)
        for number in 1...3 { queue.append(Self.event(number)) }
        let first = try #require(queue.next(limit: 2))
        #expect(first.events.map(\.message) == ["e1", "e2"] && first.dropped == 0)
        // Recorded while the batch was being written: it stays for the next one.
        queue.append(Self.event(4))
        queue.remove(through: first.through, dropped: first.dropped)
        #expect(queue.next(limit: 10)?.events.map(\.message) == ["e3", "e4"])
    }

    @Test("Beyond its capacity the oldest are dropped, and the next batch says how many first")
    func boundedWhileTheCatalogIsAway() throws {
        let queue = EventQueue()
        for number in 1...(EventQueue.capacity + 5) { queue.append(Self.event(number)) }
        let batch = try #require(queue.next(limit: 3))
        #expect(batch.dropped == 5)
        #expect(batch.events.map(\.kind) == [.eventsDropped, .nodeDown, .nodeDown, .nodeDown])
        #expect(batch.events[0].message.hasPrefix("5 events since 1970-01-01T00:00:01Z were dropped"), "\(batch.events[0].message)")
        #expect(batch.events.dropFirst().map(\.message) == ["e6", "e7", "e8"])
        queue.remove(through: batch.through, dropped: batch.dropped)
        let next = try #require(queue.next(limit: 1))
        #expect(next.dropped == 0 && next.events.map(\.message) == ["e9"])
    }
}
