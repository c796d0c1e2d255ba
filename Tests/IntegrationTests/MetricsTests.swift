import Foundation
import ReplicaCore
import Testing
import TestSupport

extension Integration {
    /// Prometheus metrics on `--metrics-listen` (README.rst, "Metrics"), scraped from live
    /// nodes and parsed by Prometheus's own text parser, against `status --json`.
    @Suite("Metrics")
    struct MetricsTests {
        /// Every metric the issue asks for, by the sample name a scrape shows and its type.
        static let masterMetrics: [(String, String)] = [
            ("fsdfs_files", "gauge"), ("fsdfs_bytes", "gauge"), ("fsdfs_min_kn", "gauge"), ("fsdfs_files_by_kn", "gauge"),
            ("fsdfs_files_under_replicated", "gauge"), ("fsdfs_files_lost", "gauge"),
            ("fsdfs_replication_backlog_bytes", "gauge"), ("fsdfs_copies_in_flight", "gauge"),
            ("fsdfs_copies_total", "counter"), ("fsdfs_copied_bytes_total", "counter"), ("fsdfs_evictions_total", "counter"),
            ("fsdfs_nodes", "gauge"), ("fsdfs_scheduler_paused", "gauge"), ("fsdfs_catalog_seconds_count", "histogram"),
            ("fsdfs_planner_pass_seconds_count", "histogram"),
        ]
        static let nodeMetrics: [(String, String)] = [
            ("fsdfs_node_used_bytes", "gauge"), ("fsdfs_node_quota_bytes", "gauge"), ("fsdfs_node_transfers", "gauge"),
            ("fsdfs_node_scrub_progress_ratio", "gauge"), ("fsdfs_node_scrub_corrupt_total", "counter"),
            ("fsdfs_http_request_seconds_count", "histogram"),
        ]

        @Test("The master's and every node's metrics parse as Prometheus text and match status --json, settled, with nodes down, and emptied", arguments: CatalogKind.allCases)
        func metricsMatchStatus(catalog: CatalogKind) async throws {
            try await withCluster(catalog: catalog) { cluster in
                let policies = try Integration.ReplicationTests.policyDirectory(in: cluster, """
                    [[rule]]
                    match = "one/**"
                    n = 1
                    [[rule]]
                    match = "two/**"
                    n = 2
                    [default]
                    n = 3
                    """)
                let addresses = try await Cluster.freeAddresses(3)
                // The master stores nothing (quota 0): the two slaves hold every copy, so that
                // stopping them leaves files with no copy at all.
                let master = try await cluster.start(
                    "master", quota: "0", asMaster: true, extra: ["--policies", policies, "--metrics-listen", addresses[0]])
                let one = try await cluster.start("one", extra: ["--metrics-listen", addresses[1]])
                let two = try await cluster.start("two", extra: ["--metrics-listen", addresses[2]])
                let metricsOf = [master.address: addresses[0], one.address: addresses[1], two.address: addresses[2]]
                try await cluster.waitForNodes(3)

                // K will be 2 for all: kn = +1, 0 and −1.
                let uploads: [(String, Int)] = [
                    ("one/alpha-secret-name.bin", 3000), ("one/beta.bin", 100), ("two/gamma.bin", 2048),
                    ("three/delta-secret-name.bin", 5000), ("three/epsilon.bin", 1),
                ]
                for (index, (path, size)) in uploads.enumerated() {
                    try await cluster.put(try cluster.localFile("f\(index)", size: size, seed: UInt8(index + 1)), path)
                }
                try await eventually("every file on both slaves") {
                    let files = try await cluster.list()
                    let inFlight = try await cluster.status().replication.copiesInFlight
                    return files.count == uploads.count && files.allSatisfy { $0.k == 2 } && inFlight == 0
                }
                try await Self.expectMetricsMatchStatus(cluster, metricsOf, expectKn: [-1: 2, 0: 1, 1: 2])

                let scrape = try await PrometheusScrape.scrape(addresses[0], http: cluster.http)
                #expect(scrape.contentType?.hasPrefix("text/plain; version=0.0.4") == true)
                // Each file was uploaded to one slave and copied to the other, once.
                #expect(scrape.value("fsdfs_copies_total", ["result": "ok"]) == Double(uploads.count))
                #expect(scrape.value("fsdfs_copied_bytes_total") == Double(uploads.reduce(0) { $0 + $1.1 }))
                #expect(scrape.value("fsdfs_evictions_total") == 0)
                for call in ["totals", "replicationCounts", "putFile", "setReplica", "withPlannerView"] {
                    #expect((scrape.value("fsdfs_catalog_seconds_count", ["call": call]) ?? 0) > 0, "catalog call \(call) timed")
                }
                #expect((scrape.value("fsdfs_http_request_seconds_count", ["route": Route.report, "method": "POST", "status": "200"]) ?? 0) > 0)
                // Passes that planned the copies, and at least one that found the swarm settled.
                #expect((scrape.value("fsdfs_planner_pass_seconds_count", ["result": "work"]) ?? 0) > 0)
                #expect((scrape.value("fsdfs_planner_pass_seconds_count", ["result": "idle"]) ?? 0) > 0)
                for (name, type) in Self.masterMetrics + Self.nodeMetrics {
                    let samples = scrape.all(name)
                    #expect(!samples.isEmpty, "\(name) on the master")
                    #expect(samples.allSatisfy { $0.type == type && !$0.help.isEmpty }, "\(name): \(type) with a help line")
                }
                // A histogram's +Inf bucket is its count.
                for count in scrape.all("fsdfs_http_request_seconds_count") {
                    var labels = count.labels
                    labels["le"] = "+Inf"
                    #expect(scrape.value("fsdfs_http_request_seconds_bucket", labels) == count.value)
                }
                // The slaves serve the copies' bytes and take the copies; they publish no master figure.
                var served = 0.0, copied = 0.0
                for slave in [addresses[1], addresses[2]] {
                    let node = try await PrometheusScrape.scrape(slave, http: cluster.http)
                    for (name, _) in Self.nodeMetrics { #expect(!node.all(name).isEmpty, "\(name) on a slave") }
                    #expect(node.all("fsdfs_files").isEmpty && node.all("fsdfs_catalog_seconds_count").isEmpty)
                    served += node.value("fsdfs_http_request_seconds_count", ["route": Route.blobPath, "method": "GET", "status": "200"]) ?? 0
                    copied += node.value("fsdfs_http_request_seconds_count", ["route": Route.copy, "method": "POST", "status": "200"]) ?? 0
                    #expect(node.value("fsdfs_node_scrub_missing_total") == 0)
                }
                #expect(served >= Double(uploads.count) && copied >= Double(uploads.count))

                // Nothing published names a file, a directory or the swarm password, even for
                // a request whose path and query do.
                let probe = try await cluster.http.execute(
                    .init(url: "http://\(master.address)/three/delta-secret-name.bin?path=one%2Fbeta.bin"), timeout: .seconds(5))
                #expect(probe.status == .unauthorized)
                try await eventually("the refused probe counted as unmatched") {
                    let after = try await PrometheusScrape.scrape(addresses[0], http: cluster.http)
                    return after.value("fsdfs_http_request_seconds_count", ["route": "unmatched", "method": "GET", "status": "401"]) == 1
                }
                for address in addresses {
                    let text = try await PrometheusScrape.scrape(address, http: cluster.http).text
                    for secret in uploads.flatMap({ [$0.0, String($0.0.split(separator: "/").last!)] })
                        + [Cluster.secret, cluster.root.path, "secret-name", "beta.bin"] {
                        #expect(!text.contains(secret), "\(address) metrics contain \(secret)")
                    }
                }

                // Both slaves gone: every file is lost, kn 0 and +1 disappear.
                await one.crash()
                await two.crash()
                try await eventually("both slaves down") { try await cluster.status().nodes.filter(\.alive).count == 1 }
                try await Self.expectMetricsMatchStatus(cluster, [master.address: addresses[0]], expectKn: [-3: 2, -2: 1, -1: 2])
                let down = try await PrometheusScrape.scrape(addresses[0], http: cluster.http)
                #expect(down.value("fsdfs_files_lost") == Double(uploads.count))
                #expect(down.value("fsdfs_nodes", ["state": "down"]) == 2)

                // Emptied: no min(K−N) and no kn series at all.
                for (path, _) in uploads { #expect(try await cluster.cli("rm", path).status == 0) }
                try await Self.expectMetricsMatchStatus(cluster, [master.address: addresses[0]], expectKn: [:])
                let empty = try await PrometheusScrape.scrape(addresses[0], http: cluster.http)
                #expect(empty.all("fsdfs_min_kn").isEmpty)
                #expect(empty.value("fsdfs_files") == 0 && empty.value("fsdfs_bytes") == 0)
            }
        }

        /// Polls until the master's metrics say what `status --json` and `ls --json` say (and
        /// the files by K − N are `expectKn`), and each node's what the master knows of it.
        static func expectMetricsMatchStatus(_ cluster: Cluster, _ metricsOf: [String: String], expectKn: [Int: Int]) async throws {
            try await eventually("the metrics match status --json", timeout: .seconds(60)) {
                let status = try JSONDecoder().decode(StatusReply.self, from: Data(try await cluster.cli("status", "--json").stdout.utf8))
                let files = try await cluster.list()
                var problems: [String] = []
                func check(_ what: String, _ got: Double?, _ expected: Double?) {
                    if got != expected { problems.append("\(what) is \(got.map { "\($0)" } ?? "absent"), status says \(expected.map { "\($0)" } ?? "absent")") }
                }
                let master = try await PrometheusScrape.scrape(metricsOf[cluster.master]!, http: cluster.http)
                check("fsdfs_files", master.value("fsdfs_files"), Double(status.files))
                check("fsdfs_bytes", master.value("fsdfs_bytes"), Double(status.bytes))
                check("fsdfs_min_kn", master.value("fsdfs_min_kn"), status.minKn.map(Double.init))
                check("fsdfs_files_under_replicated", master.value("fsdfs_files_under_replicated"), Double(status.underReplicated))
                check("fsdfs_replication_backlog_bytes", master.value("fsdfs_replication_backlog_bytes"), Double(status.replication.backlogBytes))
                check("fsdfs_copies_in_flight", master.value("fsdfs_copies_in_flight"), Double(status.replication.copiesInFlight))
                check("fsdfs_files_lost", master.value("fsdfs_files_lost"), Double(files.filter { $0.k == 0 }.count))
                check("fsdfs_scheduler_paused", master.value("fsdfs_scheduler_paused"), status.replication.paused == nil ? 0 : 1)
                check("fsdfs_nodes{up}", master.value("fsdfs_nodes", ["state": "up"]), Double(status.nodes.filter(\.alive).count))
                check("fsdfs_nodes{down}", master.value("fsdfs_nodes", ["state": "down"]), Double(status.nodes.filter { !$0.alive }.count))
                check("fsdfs_nodes{refused}", master.value("fsdfs_nodes", ["state": "refused"]), Double(status.refused?.count ?? 0))
                check("fsdfs_nodes{draining}", master.value("fsdfs_nodes", ["state": "draining"]), 0)
                check("fsdfs_nodes{maintenance}", master.value("fsdfs_nodes", ["state": "maintenance"]), 0)
                let byKn = Dictionary(master.all("fsdfs_files_by_kn").map { (Int($0.labels["kn"] ?? "") ?? .min, Int($0.value)) }) { $0 + $1 }
                let listed = Dictionary(grouping: files) { $0.k - $0.n }.mapValues(\.count)
                if byKn != listed || byKn != expectKn { problems.append("fsdfs_files_by_kn is \(byKn), ls says \(listed), expected \(expectKn)") }
                let backlog = files.reduce(Int64(0)) { $0 + $1.size * Int64(max(0, $1.n - $1.k)) }
                check("fsdfs_replication_backlog_bytes from ls", master.value("fsdfs_replication_backlog_bytes"), Double(backlog))

                for (address, metrics) in metricsOf {
                    guard let node = status.nodes.first(where: { $0.address == address }) else {
                        problems.append("\(address) is not in status")
                        continue
                    }
                    let scrape = try await PrometheusScrape.scrape(metrics, http: cluster.http)
                    check("\(address) fsdfs_node_used_bytes", scrape.value("fsdfs_node_used_bytes"), Double(node.used))
                    check("\(address) fsdfs_node_quota_bytes", scrape.value("fsdfs_node_quota_bytes"), Double(node.quota))
                    check("\(address) fsdfs_node_transfers", scrape.value("fsdfs_node_transfers"), 0)
                    check("\(address) fsdfs_node_scrub_corrupt_total", scrape.value("fsdfs_node_scrub_corrupt_total"), Double(node.scrub?.corrupt ?? 0))
                    let progress = scrape.value("fsdfs_node_scrub_progress_ratio") ?? -1
                    if !(0...1).contains(progress) { problems.append("\(address) fsdfs_node_scrub_progress_ratio is \(progress)") }
                }
                guard problems.isEmpty else { throw HarnessError(problems.joined(separator: "; ")) }
                return true
            }
        }

        @Test("A replica the scrubber finds corrupt is counted in fsdfs_node_scrub_corrupt_total as in status, also after a restart")
        func scrubFindingsAreCounted() async throws {
            try await withCluster { cluster in
                try await cluster.start("master", asMaster: true)
                let metrics = "127.0.0.1:\(try await Cluster.freePort())"
                let slave = try await cluster.start("slave", extra: ["--metrics-listen", metrics])
                try await cluster.waitForNodes(2)
                try await cluster.put(try cluster.localFile("a", size: 4096), "x/a")
                try await eventually("two copies") { try await cluster.whereIs("x/a")?.k == 2 }
                let before = try await PrometheusScrape.scrape(metrics, http: cluster.http)
                #expect(before.value("fsdfs_node_scrub_corrupt_total") == 0)

                try Integration.ScrubTests.flipByteKeepingTimes(slave.file("x/a"))
                let scrub = try await cluster.cli("scrub", slave.address, "--wait")
                #expect(scrub.status == 0, "\(scrub.stderr)")
                try await eventually("the master knows of the corrupt replica") {
                    try await cluster.node(slave)?.scrub?.corrupt == 1
                }
                let after = try await PrometheusScrape.scrape(metrics, http: cluster.http)
                #expect(after.value("fsdfs_node_scrub_corrupt_total") == 1)
                #expect(after.value("fsdfs_node_scrub_missing_total") == 0)
                #expect(after.value("fsdfs_node_scrub_progress_ratio") == 1)

                await slave.stop()
                try await cluster.restart(slave)
                // The total is kept across restarts, as status keeps it (once the scrubber has read it back).
                try await eventually("the restarted node counts the earlier finding") {
                    try await PrometheusScrape.scrape(metrics, http: cluster.http).value("fsdfs_node_scrub_corrupt_total") == 1
                }
                try await cluster.expectAuditClean()
            }
        }

        @Test("Without --metrics-listen a node listens on its API port only, and its API does not serve metrics; with it, on one more port")
        func metricsListenerOnlyWhenAsked() async throws {
            try await withCluster { cluster in
                let master = try await cluster.start("master", asMaster: true)
                let metrics = "127.0.0.1:\(try await Cluster.freePort())"
                let slave = try await cluster.start("slave", extra: ["--metrics-listen", metrics])
                try await cluster.waitForNodes(2)
                #expect(Self.listeningPorts(pid: try #require(master.pid)) == [Self.port(master.address)])
                #expect(Self.listeningPorts(pid: try #require(slave.pid)) == [Self.port(slave.address), Self.port(metrics)])
                let unsigned = try await cluster.http.execute(.init(url: "http://\(master.address)/metrics"), timeout: .seconds(5))
                #expect(unsigned.status == .unauthorized)
                let other = try await cluster.http.execute(.init(url: "http://\(metrics)/v1/status"), timeout: .seconds(5))
                #expect(other.status == .notFound)
            }
        }

        @Test("A bad --metrics-listen is one line on stderr and a non-zero exit")
        func badMetricsListen() async throws {
            try await withCluster { cluster in
                let data = cluster.root.appendingPathComponent("n").path
                let listen = "127.0.0.1:\(try await Cluster.freePort())"
                let cases: [(String, String)] = [
                    ("nonsense", "is not HOST:PORT"),
                    ("127.0.0.1:99999", "is not HOST:PORT"),
                    ("127.0.0.1:0", "port 0 is not an address a Prometheus server can reach"),
                    (listen, "is the address of --listen"),
                ]
                for (value, message) in cases {
                    let result = try await cluster.cli("serve", "--data", data, "--listen", listen, "--metrics-listen", value)
                    #expect(result.status != 0, "\(value)")
                    #expect(result.stderr.contains("--metrics-listen") && result.stderr.contains(message), "\(value): \(result.stderr)")
                    let lines = result.stderr.split(separator: "\n").filter { !$0.hasPrefix("Usage:") && !$0.contains("See 'fsdfsd") && !$0.isEmpty }
                    #expect(lines.count == 1, "\(value): \(result.stderr)")
                }
                #expect(!FileManager.default.fileExists(atPath: data), "a refused serve creates nothing")
            }
        }

        static func port(_ address: String) -> Int { Int(address.split(separator: ":").last!)! }

        /// The TCP ports process `pid` listens on: its sockets matched against the kernel's
        /// listening sockets (/proc/net/tcp and tcp6).
        static func listeningPorts(pid: Int32) -> Set<Int> {
            var portOfInode: [String: Int] = [:]
            for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
                let text = (try? String(contentsOfFile: table, encoding: .utf8)) ?? ""
                for line in text.split(separator: "\n").dropFirst() {
                    let fields = line.split(separator: " ")
                    // local_address is HEX_IP:HEX_PORT; state 0A is LISTEN; inode is field 9.
                    guard fields.count > 9, fields[3] == "0A", let port = fields[1].split(separator: ":").last.flatMap({ Int($0, radix: 16) })
                    else { continue }
                    portOfInode[String(fields[9])] = port
                }
            }
            let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
            var ports: Set<Int> = []
            for descriptor in descriptors {
                guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(descriptor)"),
                      target.hasPrefix("socket:[") else { continue }
                if let port = portOfInode[String(target.dropFirst("socket:[".count).dropLast())] { ports.insert(port) }
            }
            return ports
        }
    }
}
