import Metrics
import Transport

/// The metrics every node publishes (README.rst, "Metrics"), the master's storage role
/// included: read from the blob store, the transfers under way and the scrubber when
/// Prometheus scrapes (``StorageNode/refreshMetrics()``); the scrubber's findings are counted
/// as it makes them (``ScrubControl``).
public final class NodeMetrics: Sendable {
    /// What a node publishes.
    public enum Metric {
        static let usedBytes = MetricDescription(
            "fsdfs_node_used_bytes", help: "Bytes of replicas this node holds, with the space booked for uploads under way.")
        static let quotaBytes = MetricDescription("fsdfs_node_quota_bytes", help: "Bytes this node may fill with replicas (--quota).")
        static let transfers = MetricDescription(
            "fsdfs_node_transfers", help: "Transfers under way on this node: uploads received, copies pulled, files served.")
        static let scrubProgress = MetricDescription(
            "fsdfs_node_scrub_progress_ratio", help: "How far the scrub pass under way is, by bytes (0 to 1); 1 between passes, 0 before the first.")
        static let scrubCorrupt = MetricDescription(
            "fsdfs_node_scrub_corrupt_total", help: "Replicas the scrubber found corrupt or unreadable and quarantined, over every pass of this node (kept across restarts).")
        static let scrubMissing = MetricDescription(
            "fsdfs_node_scrub_missing_total", help: "Replicas the scrubber found missing from the disk, over every pass of this node (kept across restarts).")

        public static let all = [usedBytes, quotaBytes, transfers, scrubProgress, scrubCorrupt, scrubMissing]
    }

    let used = Gauge(label: Metric.usedBytes.name)
    let quota = Gauge(label: Metric.quotaBytes.name)
    let transfers = Gauge(label: Metric.transfers.name)
    let scrubProgress = Gauge(label: Metric.scrubProgress.name)

    public init() {}
}

extension StorageNode: MetricsSource {
    public func refreshMetrics() async {
        metrics.used.record(await store.used())
        metrics.quota.record(store.quota)
        metrics.transfers.record(activeTransfers)
        metrics.scrubProgress.record(scrubbing.progress)
    }
}
