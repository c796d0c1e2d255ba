import AsyncHTTPClient
import Foundation
import NIOCore

/// A node's `/metrics`, read like a Prometheus server reads it (plain, unsigned HTTP) and
/// parsed by Prometheus's own Python client (`prometheus_client`, in the test venv), so that
/// what passes here is what a real scraper accepts.
struct PrometheusScrape: Sendable {
    struct Sample: Decodable, Sendable {
        /// The family (a counter's name without `_total`).
        var family: String
        var type: String
        var help: String
        /// The sample's own name (`…_bucket`, `…_count`, `…_total`).
        var name: String
        var labels: [String: String]
        var value: Double
    }

    /// The raw text served.
    let text: String
    let contentType: String?
    let samples: [Sample]

    /// Scrapes `http://address/metrics` and parses it; a parse error fails the scrape.
    static func scrape(_ address: String, http: HTTPClient) async throws -> PrometheusScrape {
        let response = try await http.execute(HTTPClientRequest(url: "http://\(address)/metrics"), timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 16 << 20)
        let text = String(buffer: body)
        guard response.status == .ok else { throw HarnessError("GET http://\(address)/metrics: \(response.status): \(text)") }
        return PrometheusScrape(
            text: text, contentType: response.headers.first(name: "content-type"), samples: try parse(text))
    }

    /// The value of the one sample named `name` with exactly `labels`; nil when absent.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    /// Every sample named `name`.
    func all(_ name: String) -> [Sample] {
        samples.filter { $0.name == name }
    }

    /// The families whose name starts with `prefix`, with their type and help line.
    func families(prefix: String) -> [String: (type: String, help: String)] {
        var out: [String: (type: String, help: String)] = [:]
        for sample in samples where sample.family.hasPrefix(prefix) { out[sample.family] = (sample.type, sample.help) }
        return out
    }

    private static let parser = """
        import json, sys
        from prometheus_client.parser import text_string_to_metric_families
        out = []
        for family in text_string_to_metric_families(sys.stdin.read()):
            for sample in family.samples:
                out.append({"family": family.name, "type": family.type, "help": family.documentation,
                            "name": sample.name, "labels": sample.labels, "value": sample.value})
        json.dump(out, sys.stdout)
        """

    static func parse(_ text: String) throws -> [Sample] {
        let process = Process()
        process.executableURL = try python()
        process.arguments = ["-c", parser]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // The parser reads all its input before writing: feed it, then read.
        try input.fileHandleForWriting.write(contentsOf: Data(text.utf8))
        try input.fileHandleForWriting.close()
        let json = output.fileHandleForReading.readDataToEndOfFile()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw HarnessError("prometheus_client could not parse the metrics: \(message.suffix(2000))\n\(text.prefix(4000))")
        }
        return try JSONDecoder().decode([Sample].self, from: json)
    }

    /// The test venv's Python: beside `FSDFS_SECANTUSD`, or `.venv/bin/python` at the package root.
    static func python() throws -> URL {
        if let secantusd = ProcessInfo.processInfo.environment["FSDFS_SECANTUSD"] {
            return URL(fileURLWithPath: secantusd).deletingLastPathComponent().appendingPathComponent("python")
        }
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent(".venv/bin/python")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        throw HarnessError("no test venv: run `bash .ci/run` (it installs prometheus_client into .venv)")
    }
}
