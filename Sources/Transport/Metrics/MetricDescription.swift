/// A metric a role publishes: its Prometheus name, the one line `# HELP` gives for it, and the
/// histogram buckets of a timer. Each role lists its own (``HTTPMetricsMiddleware/metrics``,
/// `MasterMetrics.Metric.all`, `NodeMetrics.Metric.all`) and `serve` hands them all to
/// ``PrometheusExport/bootstrap(_:)``; code records with swift-metrics under ``name``.
public struct MetricDescription: Sendable, Hashable {
    /// The Prometheus name, counters ending in `_total`, durations in `_seconds`.
    public let name: String
    public let help: String
    /// The upper bounds of a timer's histogram buckets; nil for other metrics.
    public let buckets: [Duration]?

    public init(_ name: String, help: String, buckets: [Duration]? = nil) {
        self.name = name
        self.help = help
        self.buckets = buckets
    }
}
