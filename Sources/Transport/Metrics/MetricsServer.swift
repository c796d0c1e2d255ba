import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle

/// Something whose gauges are read from state at scrape time (the catalog's figures, the
/// blob store's usage) rather than kept up to date as things happen.
public protocol MetricsSource: Sendable {
    /// Brings the gauges up to date. Never throws: on failure the last values stay.
    func refreshMetrics() async
}

/// `GET /metrics` on `--metrics-listen`: the process's metrics in the Prometheus text format,
/// after every ``MetricsSource`` has refreshed its gauges.
///
/// Plain HTTP without a signature, because a Prometheus server cannot sign requests. That is
/// why nothing published may name a file or carry a secret: routes appear as their template,
/// catalog calls as the method's name, nodes as counts.
public struct MetricsServer: Service {
    /// The scrape path; every other path answers 404.
    public static let path = "/metrics"
    private let application: Application<RouterResponder<BasicRequestContext>>

    /// With `tls`, served over TLS only.
    public init(host: String, port: Int, tls: SwarmTLS? = nil, export: PrometheusExport, sources: [any MetricsSource], logger: Logger) throws {
        let router = Router(context: BasicRequestContext.self)
        router.get(.init(stringLiteral: Self.path)) { _, _ in
            await withDiscardingTaskGroup { group in
                for source in sources { group.addTask { await source.refreshMetrics() } }
            }
            return Response(
                status: .ok, headers: [.contentType: PrometheusExport.contentType],
                body: ResponseBody(byteBuffer: ByteBuffer(string: export.text())))
        }
        application = Application(
            router: router, server: try tls.server(.init()), configuration: .init(address: .hostname(host, port: port), serverName: nil), logger: logger)
    }

    public func run() async throws {
        try await application.run()
    }
}
