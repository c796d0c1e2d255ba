import Foundation
import Testing
import ReplicaCore
@testable import Master

/// A planning pass reads the catalog without the placement lock; what uploads were granted
/// meanwhile is checked before its copies are booked (``Scheduler/stillFitting``).
@Suite("Scheduler: a pass checked against uploads granted meanwhile")
struct PlanCheckTests {
    static func order(_ file: Int64, size: Int64, to target: NodeID, evicting: [Int64] = []) throws -> CopyOrder {
        let record = FileRecord(
            id: FileID(file), path: try VirtualPath("f\(file)"), size: size, sha256: String(repeating: "a", count: 64), n: 2, k: 1,
            version: 1, created: Date())
        let evictions = try evicting.map { victim in
            EvictionOrder(
                plan: EvictionPlan(file: FileID(victim), node: target, size: 1, makingRoomFor: FileID(file)),
                version: FileRef(fileID: FileID(victim), path: try VirtualPath("v\(victim)")), address: "t")
        }
        return CopyOrder(
            plan: CopyPlan(file: FileID(file), size: size, source: "s", target: target, evicting: evicting.map(FileID.init)),
            file: record, source: "s", target: "t", evictions: evictions)
    }

    @Test("Copies stay unless an upload took more than the room the pass left on their target, or took their eviction")
    func stillFitting() throws {
        let orders = [
            try Self.order(1, size: 10, to: "a"), try Self.order(2, size: 10, to: "b"), try Self.order(3, size: 10, to: "c", evicting: [9]),
        ]
        let plan = Plan(actions: [], slack: ["a": 50, "b": 50, "c": 50])
        let before: [NodeID: Int64] = ["a": 1_000, "b": 1_000]

        // Nothing granted meanwhile, or less than the slack: everything stays.
        #expect(Scheduler.stillFitting(orders, plan: plan, grantedBefore: before, grantedNow: before, evicting: []).count == 3)
        let some: [NodeID: Int64] = ["a": 1_050, "b": 1_000, "c": 20]
        #expect(Scheduler.stillFitting(orders, plan: plan, grantedBefore: before, grantedNow: some, evicting: []).count == 3)

        // a was granted more than the pass left there; c's victim was evicted for an upload.
        let more: [NodeID: Int64] = ["a": 1_051, "b": 1_000]
        let kept = Scheduler.stillFitting(
            orders, plan: plan, grantedBefore: before, grantedNow: more, evicting: [Placement(file: FileID(9), node: "c")])
        #expect(kept.map(\.plan.file) == [FileID(2)])
    }
}
