import Foundation
import Testing
import ReplicaCore
@testable import Master

/// What a node confirmed holding lately (``MasterState/landed``), which inventory matching
/// keeps: remembered for ``MasterState/landedMemory``, forgotten after, and cheap to note in
/// bursts of thousands of copies.
@Suite("Confirmed copies")
struct LandedMemoryTests {
    @Test("Confirmations are remembered for two minutes, forgotten after, per node; a restarted node's are dropped")
    func rememberedThenForgotten() {
        var state = MasterState()
        let start = Date(timeIntervalSince1970: 1_000_000)
        for id in 1...20_000 { state.noteLanded(FileID(Int64(id)), on: "a", at: start) }
        state.noteLanded(FileID(1), on: "b", at: start)
        #expect(state.landed(on: "a", now: start.addingTimeInterval(119)).count == 20_000)

        // Later ones stay, the old ones go, once the memory has passed.
        let later = start.addingTimeInterval(121)
        state.noteLanded(FileID(50_000), on: "a", at: later)
        #expect(state.landed(on: "a", now: later) == [FileID(50_000)])
        #expect(state.landed[NodeID("a")]?.count == 1, "the old entries are dropped from memory, not only hidden")
        #expect(state.landed(on: "b", now: later).isEmpty)

        // Another instance of the node took its inventory after them: none holds any more.
        state.noteInstance("run-1", of: "a")
        state.noteInstance("run-2", of: "a")
        #expect(state.landed(on: "a", now: later).isEmpty)
    }
}
