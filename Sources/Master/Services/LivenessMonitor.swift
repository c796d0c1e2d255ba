import Foundation
import ReplicaCore
import ServiceLifecycle

/// Declares a node down when it has missed `--missed-reports` reports in a row: its replicas
/// stop counting (the catalog recomputes K in the same step) and the scheduler re-plans. The
/// node's next report brings it back (ARCHITECTURE.md section 7).
///
/// A node in a maintenance window (`fsdfsd node maintenance`) is not declared down for
/// silence until the window ends: its copies keep counting and nothing is copied to replace
/// them. If it is still silent when the window ends, it is declared down then, as any other.
public struct LivenessMonitor: Service {
    let master: Master

    public init(master: Master) {
        self.master = master
    }

    public func run() async throws {
        let tick = Duration.milliseconds(Int64(min(1000, master.settings.reportInterval * 250)))
        await cancelWhenGracefulShutdown {
            var silent: Set<NodeID> = []
            while !Task.isCancelled {
                do {
                    // Reports fail while the catalog is away: silence then says nothing about a node.
                    if master.pausedReason == nil {
                        try await check()
                        await noteSilence(&silent)
                    }
                } catch {
                    if !master.noteCatalogFailure(error) { master.logger.error("liveness check failed: \(error)") }
                }
                try? await Task.sleep(for: tick)
            }
        }
    }

    func check() async throws {
        let now = Date()
        let limit = master.settings.downAfter
        // A node whose inventory is being matched, or whose report is being handled, is talking
        // to us, however long the catalog takes.
        let silent = master.state.withLock { state in
            state.lastSeen.filter { now.timeIntervalSince($0.value) > limit && !state.beingHeard($0.key, now: now, limit: max(60, limit)) }
        }
        for (node, last) in silent {
            guard let record = try await master.catalog.node(node), record.alive else {
                master.state.withLock { _ = $0.lastSeen.removeValue(forKey: node) }
                continue
            }
            if record.inMaintenance(at: now) {
                let first = master.state.withLock { $0.away.insert(node).inserted }
                if first {
                    let until = record.maintenanceUntil!.formatted(.iso8601)
                    master.logger.notice(
                        "node \(node) at \(record.address) is silent in its maintenance window (until \(until)): not declared down, its copies keep counting")
                }
                continue
            }
            try await master.catalog.setNodeAlive(node, alive: false)
            master.state.withLock { state in
                state.lastSeen[node] = nil
                state.inventoryKnown.remove(node)
                state.away.remove(node)
            }
            let seconds = Int(now.timeIntervalSince(last).rounded())
            if record.maintenanceUntil != nil {
                // The window is over (it was checked above): forget it, so status no longer shows it.
                try await master.catalog.setMaintenance(node, until: nil)
                master.logger.warning("node \(node) at \(record.address) is still silent at the end of its maintenance window: declared down")
                master.record(
                    .maintenanceEnded, node: node, address: record.address,
                    "node \(record.address) is still silent at the end of its maintenance window: declared down")
            }
            master.logger.warning("node \(node) at \(record.address) is down: no report for \(seconds) s; its replicas no longer count")
            master.record(.nodeDown, node: node, address: record.address,
                          "node \(record.address) is down: no report for \(seconds) s; its replicas no longer count")
            master.nodeReported(node)
            master.schedule.signal()
        }
    }

    /// Nodes that missed a report but are not down yet are *silent*: no copies or uploads go
    /// to them and their copies do not count for evictions (``MasterSettings/freshFor``).
    /// Says so when a node falls silent and when it reports again, and wakes the scheduler both
    /// times: the planner's freshness changed, and a return may allow what the silence held back.
    func noteSilence(_ announced: inout Set<NodeID>) async {
        let now = Date()
        let window = master.settings.freshFor
        let (silent, reporting) = master.state.withLock { state in
            let silent = state.lastSeen.filter { node, last in
                state.inventoryKnown.contains(node) && now.timeIntervalSince(last) > window
                    && !state.beingHeard(node, now: now, limit: max(60, window))
            }
            return (silent, Set(state.lastSeen.keys))
        }
        let newly = Set(silent.keys).subtracting(announced)
        // Those no longer in `lastSeen` were declared down, which has its own message.
        let back = announced.subtracting(silent.keys).intersection(reporting)
        announced = Set(silent.keys)
        for node in newly.sorted() {
            let address = (try? await master.catalog.node(node))?.address ?? "an unknown address"
            let seconds = Int(now.timeIntervalSince(silent[node]!).rounded())
            master.logger.notice(
                "node \(node) at \(address) missed a report (silent for \(seconds) s): no copies or uploads go there and its copies no longer count for evictions")
        }
        for node in back.sorted() {
            let address = (try? await master.catalog.node(node))?.address ?? "an unknown address"
            master.logger.notice("node \(node) at \(address) reports again")
        }
        if !newly.isEmpty || !back.isEmpty { master.schedule.signal() }
    }
}
