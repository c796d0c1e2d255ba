import Foundation
import ReplicaCore
import Transport

extension Master: MetricsSource {
    /// Sets the master's gauges: from the catalog (the queries of `status`, plus the counts by
    /// K and N: a few rows, no file record read), and from what the master keeps in memory.
    /// While the catalog is unreachable the catalog figures keep their last values and
    /// `fsdfs_scheduler_paused` is 1.
    public func refreshMetrics() async {
        await metrics.refreshing.withLock {
            let now = ContinuousClock.now
            let fresh = metrics.lastRefresh.withLock { $0.map { now - $0 < MasterMetrics.reuseFor } ?? false }
            if !fresh {
                do {
                    let totals = try await catalog.totals()
                    let counts = try await catalog.replicationCounts()
                    let nodes = try await catalog.nodes()
                    let alive = nodes.filter(\.alive).count
                    metrics.record(totals: totals, counts: counts, alive: alive, down: nodes.count - alive)
                    metrics.lastRefresh.withLock { $0 = now }
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
