import Foundation
import Testing
import ReplicaCore
@testable import Master

/// Which nodes the planner may send copies to and count for evictions
/// (``MasterState/freshNodes(now:within:)``), and when a report makes a node fresh again.
@Suite("Freshness")
struct FreshnessTests {
    @Test("Fresh means answered within the window; a report still being handled does not count (its removals are not taken in yet)")
    func freshMeansAnsweredLately() {
        var state = MasterState()
        let now = Date(timeIntervalSince1970: 2_000_000)
        for node: NodeID in ["busy", "quiet", "recent"] { state.inventoryKnown.insert(node) }
        state.lastSeen["busy"] = now.addingTimeInterval(-2)
        state.reportsInFlight["busy"] = ReportsInFlight(since: now.addingTimeInterval(-0.8), count: 1)
        state.lastSeen["quiet"] = now.addingTimeInterval(-2)
        state.lastSeen["recent"] = now.addingTimeInterval(-1)
        // Heard from, but its inventory is not matched yet (a master that just started).
        state.lastSeen["unmatched"] = now

        #expect(state.freshNodes(now: now, within: 1.5) == ["recent"])
        #expect(!state.isFresh("busy", now: now, within: 1.5), "make before break: its report may say it lost copies")
        // Being heard still keeps it from being declared down.
        #expect(state.beingHeard("busy", now: now, limit: 60))
    }

    @Test("A stale node's answered report makes it fresh and says the planner must look again; a fresh one's does not")
    func answeringAStaleNodeWakesThePlanner() {
        var state = MasterState()
        let now = Date(timeIntervalSince1970: 2_000_000)
        for node: NodeID in ["stale", "fresh"] { state.inventoryKnown.insert(node) }
        state.lastSeen["stale"] = now.addingTimeInterval(-2)
        state.lastSeen["fresh"] = now.addingTimeInterval(-1)
        state.lastSeen["matching"] = now.addingTimeInterval(-5)

        let answeredStale = state.noteAnswered("stale", at: now, within: 1.5)
        #expect(answeredStale)
        #expect(state.isFresh("stale", now: now, within: 1.5))
        let answeredFresh = state.noteAnswered("fresh", at: now, within: 1.5)
        #expect(!answeredFresh)
        #expect(state.lastSeen["fresh"] == now)
        // Not fresh before nor after (inventory not matched): nothing for the planner.
        let answeredMatching = state.noteAnswered("matching", at: now, within: 1.5)
        #expect(!answeredMatching)
        // Declared down meanwhile (no last contact): the answer brings nothing back.
        let answeredGone = state.noteAnswered("gone", at: now, within: 1.5)
        #expect(!answeredGone)
        #expect(state.lastSeen["gone"] == nil)
    }
}
