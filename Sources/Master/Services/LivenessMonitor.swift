import Foundation
import ReplicaCore
import ServiceLifecycle

/// Declares a node down when it has missed `--missed-reports` reports in a row: its replicas
/// stop counting (the catalog recomputes K in the same step) and the scheduler re-plans. The
/// node's next report brings it back (ARCHITECTURE.md section 7).
public struct LivenessMonitor: Service {
    let master: Master

    public init(master: Master) {
        self.master = master
    }

    public func run() async throws {
        let tick = Duration.milliseconds(Int64(min(1000, master.settings.reportInterval * 250)))
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    // Reports fail while the catalog is away: silence then says nothing about a node.
                    if master.pausedReason == nil { try await check() }
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
        let silent = master.state.withLock { state in
            state.lastSeen.filter { now.timeIntervalSince($0.value) > limit }
        }
        for (node, last) in silent {
            guard let record = try await master.catalog.node(node), record.alive else {
                master.state.withLock { _ = $0.lastSeen.removeValue(forKey: node) }
                continue
            }
            try await master.catalog.setNodeAlive(node, alive: false)
            master.state.withLock { state in
                state.lastSeen[node] = nil
                state.inventoryKnown.remove(node)
            }
            let seconds = Int(now.timeIntervalSince(last).rounded())
            master.logger.warning("node \(node) at \(record.address) is down: no report for \(seconds) s; its replicas no longer count")
            master.nodeReported(node)
            master.schedule.signal()
        }
    }
}
