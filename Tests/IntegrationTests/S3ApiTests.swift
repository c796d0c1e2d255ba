import AsyncHTTPClient
import Foundation
import Testing
import ReplicaCore
import TestSupport

extension Integration {
    /// The S3 API (`serve --s3-listen`) driven by the clients people use: boto3 and the AWS CLI
    /// from the test venv (`Clients/s3_clients.py`), against a real master and nodes.
    @Suite("S3 API with boto3 and the AWS CLI")
    struct S3ApiTests {
        @Test("boto3 and the AWS CLI use every served operation; objects are ordinary files of the store, replicated to N; the catalog matches the disks", arguments: [CatalogKind.sqlite, .mongodb])
        func clients(catalog: CatalogKind) async throws {
            try await withCluster(catalog: catalog) { cluster in try await Self.clients(cluster) }
        }

        static func clients(_ cluster: Cluster) async throws {
            let policies = try Integration.ReplicationTests.policyDirectory(in: cluster, "[default]\nn = 2\n")
            let s3Address = "127.0.0.1:\(try await Cluster.freePort())"
            let master = try await cluster.start(
                "master", quota: "0", asMaster: true, extra: ["--policies", policies, "--s3-listen", s3Address])
            for name in ["a", "b"] { try await cluster.start(name, quota: "400M") }
            try await cluster.waitForNodes(3)
            try await eventually("the S3 API answers") { (try? await Self.status(of: "http://\(s3Address)/")) != nil }
            let made = try await cluster.cli("s3-key", "create", "--name", "tests")
            #expect(made.status == 0, "\(made.stderr)")
            let keys = made.stdout.split(whereSeparator: \.isWhitespace).map(String.init)
            try #require(keys.count == 2)
            // Unsigned: S3's refusal, in XML.
            #expect(try await Self.status(of: "http://\(s3Address)/") == 403)

            try await cluster.put(try Self.file(in: cluster, "hello.txt", "put by fsdfsd\n"), "fromcli/hello.txt")
            let work = cluster.root.appendingPathComponent("s3-work")
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Clients/s3_clients.py")
            let clients = try await Fsdfsd.run(
                [script.path, "http://\(s3Address)", keys[0], keys[1], work.path], environment: ProcessInfo.processInfo.environment,
                timeout: .seconds(300), executable: try PrometheusScrape.python())
            try #require(clients.status == 0, "the S3 clients failed (boto3 and awscli come from bash .ci/run):\n\(clients.stderr)")
            let exercised = try JSONDecoder().decode([String: [String]].self, from: Data(clients.stdout.utf8))
            for operation in ["PutObject", "GetObject", "HeadObject", "CopyObject", "DeleteObjects", "CompleteMultipartUpload", "presigned GET"] {
                #expect(exercised["boto3"]?.contains(operation) == true, "boto3 ran \(operation)")
            }
            #expect(exercised["aws-cli"]?.count == 7)
            #expect(exercised["hand-signed"]?.count == 4)

            // The objects are files of the store: listed, fetched, replicated to N = 2.
            let listed = try await cluster.list().map(\.path.rawValue)
            for path in ["data/docs/readme.txt", "data/big/fifty.bin", "data/big/manual.bin", "data/streamed/chunked.bin", "cli-bucket/single/a.txt"] {
                #expect(listed.contains(path), "\(path) is listed")
            }
            #expect(!listed.contains("data/streamed/tampered.bin") && !listed.contains("data/intruder.txt"))
            #expect(!listed.contains { $0.hasPrefix("cli-bucket/tree/") || $0.hasPrefix("data/logs/") })
            try await eventually("every object has its N = 2 copies", timeout: .seconds(60)) {
                try await cluster.list().allSatisfy { $0.k >= 2 }
            }
            let fetched = cluster.root.appendingPathComponent("readme.txt")
            let get = try await cluster.cli("get", "data/docs/readme.txt", fetched.path)
            #expect(get.status == 0, "\(get.stderr)")
            #expect(try Data(contentsOf: fetched) == Data(String(repeating: "hello, fsdfs\n", count: 100).utf8))

            // Nothing is left on the master's disk: spooled bodies and the finished or
            // aborted multipart uploads are gone.
            let spool = master.data.appendingPathComponent(".fsdfs/s3-spool")
            let leftovers = (FileManager.default.enumerator(atPath: spool.path)?.allObjects as? [String] ?? [])
                .filter { $0.hasSuffix(".spool") || $0.hasSuffix(".part") }
            #expect(leftovers.isEmpty, "left in the spool: \(leftovers)")
            try await cluster.expectAuditClean(timeout: .seconds(60))
        }

        static func file(in cluster: Cluster, _ name: String, _ text: String) throws -> URL {
            let url = cluster.root.appendingPathComponent(name)
            try Data(text.utf8).write(to: url)
            return url
        }

        /// The HTTP status of an unsigned GET.
        static func status(of url: String) async throws -> Int {
            var request = HTTPClientRequest(url: url)
            request.method = .GET
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
            _ = try await response.body.collect(upTo: 1 << 20)
            return Int(response.status.code)
        }
    }
}
