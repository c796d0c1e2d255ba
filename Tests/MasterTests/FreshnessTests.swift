import Foundation
import Testing
import ReplicaCore
@testable import Master

/// Which nodes the planner may send copies to (``MasterState/freshNodes(now:within:)``): heard
/// from lately, or being heard right now.
@Suite("Freshness")
struct FreshnessTests {
    @Test("A node whose report is being handled is fresh, however long the master takes with it; silent otherwise")
    func aReportBeingHandledKeepsItsNodeFresh() {
        var state = MasterState()
        let now = Date(timeIntervalSince1970: 2_000_000)
        for node: NodeID in ["busy", "quiet", "recent"] { state.inventoryKnown.insert(node) }
        // Two seconds since the last answer, with a window of 1.5 s: a node receiving batches
        // of copies reports thousands of added files, and its report can take that long.
        state.lastSeen["busy"] = now.addingTimeInterval(-2)
        state.reportsInFlight["busy"] = ReportsInFlight(since: now.addingTimeInterval(-0.8), count: 1)
        state.lastSeen["quiet"] = now.addingTimeInterval(-2)
        state.lastSeen["recent"] = now.addingTimeInterval(-1)
        // Heard from, but its inventory is not matched yet (a master that just started).
        state.lastSeen["unmatched"] = now

        #expect(state.freshNodes(now: now, within: 1.5) == ["busy", "recent"])
        #expect(state.isFresh("busy", now: now, within: 1.5))
        #expect(!state.isFresh("quiet", now: now, within: 1.5))

        // A report handler stuck for more than a minute no longer keeps its node fresh.
        #expect(!state.isFresh("busy", now: now.addingTimeInterval(61), within: 1.5))
    }
}
