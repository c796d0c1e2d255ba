import Foundation
import ReplicaCore
import Transport

extension Master: MetricsSource {
    /// Sets the master's gauges: from the catalog (the totals of `status`, plus the counts by K
    /// and N: one pass over an index, a few rows back; ``MasterMetrics/reusable(_:now:)`` says
    /// how often), and from what the master keeps in memory (always).
    /// While the catalog is unreachable the catalog figures keep their last values and
    /// `fsdfs_scheduler_paused` is 1.
    public func refreshMetrics() async {
        await metrics.refreshing.withLock {
            let now = ContinuousClock.now
            if !MasterMetrics.reusable(metrics.lastRead.withLock { $0 }, now: now) {
                do {
                    let totals = try await catalog.totals()
                    let counts = try await catalog.replicationCounts()
                    let nodes = try await catalog.nodes()
                    let alive = nodes.filter(\.alive).count
                    metrics.record(totals: totals, counts: counts, alive: alive, down: nodes.count - alive)
                    metrics.record(
                        draining: nodes.filter { $0.alive && $0.draining }.count,
                        maintenance: nodes.filter { $0.inMaintenance(at: Date()) }.count)
                    metrics.lastRead.withLock { $0 = (now, ContinuousClock.now - now) }
                    noteCatalogReachable()
                } catch {
                    if !noteCatalogFailure(error) { logger.warning("metrics: could not read the catalog's figures: \(error)") }
                }
            }
            let (copies, refused) = state.withLock { ($0.copies.count, $0.refused.count) }
            metrics.record(copiesInFlight: copies, paused: pausedReason != nil, refused: refused)
        }
    }
}
