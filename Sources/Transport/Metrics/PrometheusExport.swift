import CoreMetrics
import Prometheus

/// The process's metrics in the Prometheus text format: one registry per process, made the
/// swift-metrics backend by ``bootstrap(_:)`` (once, in `serve`, before any metric is made),
/// and read by the ``MetricsServer``.
public struct PrometheusExport: Sendable {
    let registry: PrometheusCollectorRegistry

    /// Makes the registry the backend of swift-metrics for the whole process. Metrics made
    /// before this call, and all of them when it is never made, record nothing.
    /// - Parameter metrics: every metric the process may publish, for their help lines and
    ///   histogram buckets.
    public static func bootstrap(_ metrics: [MetricDescription]) -> PrometheusExport {
        let (export, factory) = make(metrics)
        MetricsSystem.bootstrap(factory)
        return export
    }

    /// An export and the factory that records into it, not bootstrapped (for tests).
    static func make(_ metrics: [MetricDescription]) -> (PrometheusExport, any MetricsFactory) {
        let registry = PrometheusCollectorRegistry()
        return (PrometheusExport(registry: registry), DescribedMetricsFactory(registry: registry, metrics: metrics))
    }

    /// Every metric, in the text exposition format (version 0.0.4).
    public func text() -> String {
        registry.emitToString()
    }

    /// The `Content-Type` of ``text()``.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"
}

/// swift-prometheus's own factory gives every metric an empty help text; this one gives the
/// metrics it is told about their `# HELP` line and buckets, and leaves the rest to it.
struct DescribedMetricsFactory: MetricsFactory {
    let registry: PrometheusCollectorRegistry
    private let plain: PrometheusMetricsFactory
    private let described: [String: MetricDescription]
    /// For timers without buckets of their own: 1 ms to 5 minutes.
    static let defaultBuckets: [Duration] = [
        .milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(300),
    ]

    init(registry: PrometheusCollectorRegistry, metrics: [MetricDescription]) {
        self.registry = registry
        self.plain = PrometheusMetricsFactory(registry: registry)
        self.described = Dictionary(metrics.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    private func descriptor(_ label: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: label, unitName: "", helpText: described[label]?.help ?? "")
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard aggregate else { return registry.makeGauge(descriptor: descriptor(label), labels: dimensions) }
        return plain.makeRecorder(label: label, dimensions: dimensions, aggregate: aggregate)
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        registry.makeDurationHistogram(
            descriptor: descriptor(label), labels: dimensions, buckets: described[label]?.buckets ?? Self.defaultBuckets)
    }

    func destroyCounter(_ handler: any CounterHandler) { plain.destroyCounter(handler) }
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) { plain.destroyFloatingPointCounter(handler) }
    func destroyRecorder(_ handler: any RecorderHandler) { plain.destroyRecorder(handler) }
    func destroyMeter(_ handler: any MeterHandler) { plain.destroyMeter(handler) }
    func destroyTimer(_ handler: any TimerHandler) { plain.destroyTimer(handler) }
}
