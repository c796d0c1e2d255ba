import Foundation
import Testing
import ReplicaCore
@testable import Master

/// The replication rate `status` shows (``MasterState/rate(now:)``), from the copies that
/// finished in the last minute.
@Suite("Replication rate")
struct ReplicationRateTests {
    @Test("The rate is the bytes of the last minute over the time since the first of them; memory stays one entry per second")
    func rateOverTheLastMinute() {
        var state = MasterState()
        let start = Date(timeIntervalSince1970: 3_000_000)
        #expect(state.rate(now: start) == 0)
        // 90 seconds of batches of small copies: 5,000 copies of 4 KiB a second.
        for tick in 0..<(90 * 10) {
            let at = start.addingTimeInterval(Double(tick) / 10)
            for _ in 0..<500 { state.recordFinished(bytes: 4096, at: at) }
        }
        #expect(state.finished.count <= 61, "one entry per second of the last minute, not one per copy")
        let now = start.addingTimeInterval(90)
        let rate = state.rate(now: now)
        #expect(abs(rate - 5000 * 4096) / (5000 * 4096) < 0.05, "rate \(rate)")

        // Nothing for two minutes: the old copies no longer count.
        #expect(state.rate(now: now.addingTimeInterval(120)) == 0)
        state.recordFinished(bytes: 1000, at: now.addingTimeInterval(120))
        #expect(state.finished.count == 1)
        // One copy just now: its bytes over at least one second.
        #expect(state.rate(now: now.addingTimeInterval(120.5)) == 1000)
    }
}
