import Foundation
import Metrics
import ReplicaCore
import Synchronization
import Transport

/// The master's metrics (README.rst, "Metrics"). The gauges are set from the catalog when
/// Prometheus scrapes (``Master/refreshMetrics()``), from the same queries as `status`; the
/// counters are counted where copies and evictions end. Nothing here names a file.
public final class MasterMetrics: Sendable {
    /// What the master publishes.
    public enum Metric {
        static let files = MetricDescription("fsdfs_files", help: "Files in the catalog (current versions; deleted ones left out).")
        static let bytes = MetricDescription("fsdfs_bytes", help: "Bytes of those files, one copy each.")
        static let minKn = MetricDescription(
            "fsdfs_min_kn", help: "min(K - N) over all files, the health figure: below 0 some file has fewer copies than it should. Absent when there are no files.")
        static let filesByKn = MetricDescription(
            "fsdfs_files_by_kn", help: "Files by K - N, one series per value present (a value no file has any longer disappears).")
        static let underReplicated = MetricDescription("fsdfs_files_under_replicated", help: "Files with K < N.")
        static let lost = MetricDescription("fsdfs_files_lost", help: "Files with no verified copy on a node that is up (K = 0).")
        static let backlog = MetricDescription(
            "fsdfs_replication_backlog_bytes", help: "Bytes still to copy to bring every file up to N: the sum over files of size * max(0, N - K).")
        static let copiesInFlight = MetricDescription("fsdfs_copies_in_flight", help: "Copies commanded and not finished yet.")
        static let copies = MetricDescription("fsdfs_copies_total", help: "Copies ended, by result (ok or failed).")
        static let copiedBytes = MetricDescription("fsdfs_copied_bytes_total", help: "Bytes of the copies that ended ok.")
        static let evictions = MetricDescription(
            "fsdfs_evictions_total", help: "Replicas removed from a node to make room for a copy or an upload.")
        static let nodes = MetricDescription(
            "fsdfs_nodes", help: "Nodes by state: up, down, draining, maintenance, refused (of another swarm).")
        static let schedulerPaused = MetricDescription(
            "fsdfs_scheduler_paused", help: "1 while replication is paused (the catalog is unreachable), else 0.")
        /// Recorded by ``TimedCatalog``.
        public static let catalogSeconds = MetricDescription(
            "fsdfs_catalog_seconds", help: "Time of each catalog call, by call (the catalog method).",
            buckets: [
                .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(2500),
                .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
            ])

        static let plannerPassSeconds = MetricDescription(
            "fsdfs_planner_pass_seconds",
            help: "Time of each planning pass, by result: work (it planned copies), idle (it read the catalog and found nothing), skipped (nothing it depends on changed since an idle pass).",
            buckets: [
                .microseconds(10), .microseconds(100), .milliseconds(1), .milliseconds(10), .milliseconds(100),
                .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
            ])

        public static let all = [
            files, bytes, minKn, filesByKn, underReplicated, lost, backlog, copiesInFlight, copies, copiedBytes,
            evictions, nodes, schedulerPaused, catalogSeconds, plannerPassSeconds,
        ]
    }

    /// The values of `fsdfs_nodes{state}`.
    enum NodeState: String, CaseIterable {
        case up, down, draining, maintenance, refused
    }

    let files = Gauge(label: Metric.files.name)
    let bytes = Gauge(label: Metric.bytes.name)
    let underReplicated = Gauge(label: Metric.underReplicated.name)
    let lost = Gauge(label: Metric.lost.name)
    let backlog = Gauge(label: Metric.backlog.name)
    let copiesInFlight = Gauge(label: Metric.copiesInFlight.name)
    let schedulerPaused = Gauge(label: Metric.schedulerPaused.name)
    let nodes = Dictionary(uniqueKeysWithValues: NodeState.allCases.map {
        ($0, Gauge(label: Metric.nodes.name, dimensions: [("state", $0.rawValue)]))
    })
    let copiesOK = Counter(label: Metric.copies.name, dimensions: [("result", "ok")])
    let copiesFailed = Counter(label: Metric.copies.name, dimensions: [("result", "failed")])
    let copiedBytes = Counter(label: Metric.copiedBytes.name)
    let evictions = Counter(label: Metric.evictions.name)
    /// The outcomes of a planning pass (`fsdfs_planner_pass_seconds{result}`).
    enum PassResult: String, CaseIterable {
        case work, idle, skipped
    }

    let passes = Dictionary(uniqueKeysWithValues: PassResult.allCases.map {
        ($0, Metrics.Timer(label: Metric.plannerPassSeconds.name, dimensions: [("result", $0.rawValue)]))
    })

    /// Made while there are files, destroyed (so absent) while there are none.
    private let minKn = Mutex<Gauge?>(nil)
    /// One gauge per kn present at the last refresh.
    private let byKn = Mutex<[Int: Gauge]>([:])
    /// One refresh at a time; scrapes that come while one runs wait for it and reuse it.
    let refreshing = AsyncLock()
    /// When the catalog's figures were last read, and how long that took.
    let lastRead = Mutex<(at: ContinuousClock.Instant, took: Duration)?>(nil)

    /// Whether figures read `last` are recent enough to publish again at `now` rather than
    /// read anew: younger than one second, or than ten times what reading them took. Several
    /// Prometheus servers, or an impatient one, then cost the catalog one read a second at
    /// most, and never more than a tenth of its time (the counts by K and N read an index
    /// entry per file: 0.8 s at a million files on SQLite, measured on 2 busy cores).
    static func reusable(_ last: (at: ContinuousClock.Instant, took: Duration)?, now: ContinuousClock.Instant) -> Bool {
        guard let last else { return false }
        return now - last.at < max(.seconds(1), last.took * 10)
    }

    public init() {
        // Known from the start, so that rates and alerts have a series before the first copy.
        for counter in [copiesOK, copiesFailed, copiedBytes, evictions] { counter.increment(by: 0) }
    }

    /// Sets the figures read from the catalog.
    func record(totals: CatalogTotals, counts: [ReplicationCount], alive: Int, down: Int) {
        files.record(totals.files)
        bytes.record(totals.bytes)
        underReplicated.record(totals.underReplicated)
        minKn.withLock { gauge in
            if let value = totals.minKn {
                if gauge == nil { gauge = Gauge(label: Metric.minKn.name) }
                gauge?.record(value)
            } else {
                gauge?.destroy()
                gauge = nil
            }
        }
        lost.record(counts.filter { $0.k == 0 }.reduce(0) { $0 + $1.files })
        backlog.record(counts.reduce(Int64(0)) { $0 + $1.missingBytes })
        let present = Dictionary(counts.map { ($0.kn, $0.files) }, uniquingKeysWith: +)
        byKn.withLock { gauges in
            for (kn, gauge) in gauges where present[kn] == nil {
                gauge.destroy()
                gauges[kn] = nil
            }
            for (kn, count) in present {
                let gauge = gauges[kn] ?? Gauge(label: Metric.filesByKn.name, dimensions: [("kn", String(kn))])
                gauges[kn] = gauge
                gauge.record(count)
            }
        }
        nodes[.up]?.record(alive)
        nodes[.down]?.record(down)
    }

    /// Sets the figures the master keeps in memory.
    func record(copiesInFlight: Int, paused: Bool, refused: Int) {
        self.copiesInFlight.record(copiesInFlight)
        schedulerPaused.record(paused ? 1 : 0)
        nodes[.refused]?.record(refused)
    }

    /// Nodes draining (`fsdfsd node drain`) and in a maintenance window; they are also
    /// counted as up (or, for a silent node in maintenance, as up until its window ends).
    func record(draining: Int, maintenance: Int) {
        nodes[.draining]?.record(draining)
        nodes[.maintenance]?.record(maintenance)
    }

    /// A copy of `bytes` bytes is on its target, verified.
    func copySucceeded(bytes: Int64) {
        copiesOK.increment()
        copiedBytes.increment(by: bytes)
    }

    /// A planning pass ended.
    func planned(_ result: PassResult, took: Duration) {
        passes[result]?.record(duration: took)
    }

    /// A copy failed (or the master could not record its success).
    func copyFailed() {
        copiesFailed.increment()
    }
}
