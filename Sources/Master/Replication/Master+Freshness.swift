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
    /// Nodes heard from within `window` seconds of `now` whose inventory is matched since they
    /// (re)joined. The second condition matters after a master starts: it starts every known
    /// node's liveness clock without having heard from any of them.
    func freshNodes(now: Date, within window: Double) -> Set<NodeID> {
        Set(lastSeen.keys.filter { isFresh($0, now: now, within: window) })
    }

    /// Whether `node` is fresh at `now` (``freshNodes(now:within:)``). A report being handled
    /// does not make it so: until its answer goes out, the removals and damage it tells of are
    /// not taken in, and evictions count only copies on fresh nodes (make before break).
    func isFresh(_ node: NodeID, now: Date, within window: Double) -> Bool {
        guard inventoryKnown.contains(node), let last = lastSeen[node] else { return false }
        return now.timeIntervalSince(last) <= window
    }

    /// A report of `node` that counted is answered at `now`: its last contact is now.
    /// - Returns: whether that made it fresh again (it was stale just before): the planner
    ///   must look again, since a pass that found nothing while it was stale may find copies
    ///   for it now (no other event need follow: the node may have nothing new to say).
    mutating func noteAnswered(_ node: NodeID, at now: Date, within window: Double) -> Bool {
        guard lastSeen[node] != nil else { return false }
        let wasStale = !isFresh(node, now: now, within: window)
        lastSeen[node] = now
        return wasStale && inventoryKnown.contains(node)
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
