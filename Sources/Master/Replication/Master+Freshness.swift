import Foundation
import ReplicaCore

extension MasterSettings {
    /// How long after its last report a node is still *fresh* (ARCHITECTURE.md section 11):
    /// one report interval plus half of one.
    ///
    /// Why the margin: a node reports one interval after its previous report finished, so the
    /// gap the master sees is the interval plus a report's round trip and scheduling jitter on
    /// both sides; half an interval absorbs that without calling a healthy node silent. It is
    /// also below two intervals, so a node that misses a single report stops being fresh —
    /// long before it is declared down after `--missed-reports` reports.
    public var freshFor: Double { reportInterval * 1.5 }
}

extension MasterState {
    /// Nodes heard from within `window` seconds of `now`, or whose report is being handled,
    /// and whose inventory is matched since they (re)joined. The second condition matters
    /// after a master starts: it starts every known node's liveness clock without having heard
    /// from any of them.
    ///
    /// A report being handled counts: a node receiving batches of copies reports thousands of
    /// added files at a time, and while the master takes them in, the node is talking to it.
    /// Counted stale meanwhile, it would get no further copies until its next report.
    func freshNodes(now: Date, within window: Double) -> Set<NodeID> {
        Set(lastSeen.keys.filter { isFresh($0, now: now, within: window) })
    }

    func isFresh(_ node: NodeID, now: Date, within window: Double) -> Bool {
        guard inventoryKnown.contains(node), let last = lastSeen[node] else { return false }
        return now.timeIntervalSince(last) <= window || beingHeard(node, now: now, limit: max(60, window))
    }
}

extension Master {
    /// The planner's view of the nodes at `now`, with freshness from the report times this
    /// master keeps, and maintenance windows from the catalog. Nodes in `unreachable` (a client could not connect to them) count as not
    /// fresh whatever their last report says.
    func plannerNodes(_ records: [NodeRecord], now: Date, unreachable: Set<NodeID> = []) -> [PlannerNode] {
        let fresh = state.withLock { $0.freshNodes(now: now, within: settings.freshFor) }.subtracting(unreachable)
        return records.map { PlannerNode($0, fresh: fresh.contains($0.id), maintenance: $0.inMaintenance(at: now)) }
    }
}
