import Foundation
import Hummingbird
import HummingbirdTesting
import Metrics
import NIOCore
import Testing
@testable import Transport

/// The Prometheus export and the request timing every node shares, in process.
@Suite("Metrics export")
struct MetricsExportTests {
    @Test("Requests are timed by route template, method and the status the client got; paths, queries and unknown routes never become labels")
    func requestsAreTimedByRouteTemplate() async throws {
        let (export, factory) = PrometheusExport.make(HTTPMetricsMiddleware.metrics)
        let router = makeNodeRouter()
        router.middlewares.add(HTTPMetricsMiddleware(factory: factory))
        router.middlewares.add(ErrorMiddleware())
        router.get("/v1/blob") { request, _ -> Response in
            guard request.uri.queryParameters.get("path") == "a/present.txt" else {
                throw RouteError(.notFound, "b/missing.txt: no such file", code: "not_found")
            }
            // Streamed, as files are: the request is timed until the body is written.
            return Response(status: .ok, body: ResponseBody { writer in
                try await writer.write(ByteBuffer(string: "bytes"))
                try await writer.finish(nil)
            })
        }
        try await Application(router: router).test(.router) { client in
            try await client.execute(uri: "/v1/blob?path=a%2Fpresent.txt", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v1/blob?path=b%2Fmissing.txt", method: .get) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/c/secret-file.txt?path=d", method: .get) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/v1/blob?path=a%2Fpresent.txt", method: .post) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/v1/blob", method: try #require(.init("SECRET-METHOD"))) { #expect($0.status == .notFound) }
        }
        let text = export.text()
        #expect(text.contains(#"fsdfs_http_request_seconds_count{route="/v1/blob",method="GET",status="200"} 1"#), "\(text)")
        #expect(text.contains(#"fsdfs_http_request_seconds_count{route="/v1/blob",method="GET",status="404"} 1"#), "\(text)")
        #expect(text.contains(#"fsdfs_http_request_seconds_count{route="unmatched",method="GET",status="404"} 1"#), "\(text)")
        #expect(text.contains(#"fsdfs_http_request_seconds_count{route="unmatched",method="POST",status="404"} 1"#), "\(text)")
        #expect(text.contains(#"fsdfs_http_request_seconds_count{route="unmatched",method="other",status="404"} 1"#), "\(text)")
        for name in ["present", "missing", "secret", "SECRET", "a/", "%2F", "path="] {
            #expect(!text.contains(name), "\(name) in \(text)")
        }
        #expect(text.contains("# HELP fsdfs_http_request_seconds Time to answer an HTTP request"))
        #expect(text.contains(#"le="300.0""#), "the buckets reach 5 minutes (file transfers)")
    }

    @Test("Described metrics get their help line and buckets, others none; a destroyed gauge disappears")
    func describedMetricsHaveHelpAndBuckets() {
        let (export, factory) = PrometheusExport.make([
            MetricDescription("test_seconds", help: "A test timer.", buckets: [.milliseconds(10), .seconds(1)]),
            MetricDescription("test_total", help: "A test counter."),
            MetricDescription("test_gauge", help: "A test gauge."),
        ])
        Metrics.Timer(label: "test_seconds", factory: factory).record(duration: .milliseconds(20))
        Counter(label: "test_total", factory: factory).increment(by: 3)
        Counter(label: "other_total", factory: factory).increment()
        let gauge = Gauge(label: "test_gauge", dimensions: [("kn", "-1")], factory: factory)
        gauge.record(4)
        let text = export.text()
        #expect(text.contains("# HELP test_seconds A test timer.\n# TYPE test_seconds histogram\n"), "\(text)")
        #expect(text.contains(#"test_seconds_bucket{le="0.01"} 0"#), "\(text)")
        #expect(text.contains(#"test_seconds_bucket{le="1.0"} 1"#), "\(text)")
        #expect(text.contains(#"test_seconds_bucket{le="+Inf"} 1"#), "\(text)")
        #expect(text.contains("# HELP test_total A test counter.\n# TYPE test_total counter\ntest_total 3\n"), "\(text)")
        #expect(text.contains("# TYPE other_total counter\nother_total 1\n") && !text.contains("# HELP other_total"), "\(text)")
        #expect(text.contains(#"test_gauge{kn="-1"} 4.0"#), "\(text)")
        gauge.destroy()
        #expect(!export.text().contains("test_gauge"))
    }
}
