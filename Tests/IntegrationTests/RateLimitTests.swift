import Foundation
import Testing
import ReplicaCore
import TestSupport

extension Integration {
    /// `serve --max-replication-rate SIZE`: a cap on copy traffic across the swarm.
    @Suite("Replication rate limit")
    struct RateLimitTests {
        @Test("With --max-replication-rate 1M, copies of 1 MiB files start no faster than the budget allows, and status shows the limit")
        func copiesStayWithinTheBudget() async throws {
            try await withCluster { cluster in
                let policies = try Integration.ReplicationTests.policyDirectory(in: cluster, "[default]\nn = 2\n")
                try await cluster.start(
                    "master", quota: "0", asMaster: true, extra: ["--policies", policies, "--max-replication-rate", "1M"])
                try await cluster.start("a", quota: "100M")
                try await cluster.start("b", quota: "100M")
                try await cluster.waitForNodes(3)
                let status = try await cluster.status()
                #expect(status.replication.maxBytesPerSecond == 1_048_576)
                #expect(try await cluster.cli("status").stdout.contains("replication limited to 1.0 MiB/s"))

                let count = 8, size = 1 << 20
                var files: [(local: URL, remote: String)] = []
                for i in 0..<count { files.append((try cluster.localFile("f\(i)", size: size, seed: UInt8(i + 1)), "f\(i).bin")) }
                // Copies can start from here on; the bucket holds at most one second's worth.
                let start = Date()
                try await cluster.putMany(files, width: count)
                let uploaded = Date()

                // Every observation: bytes copied ≤ one bucket + rate × time since the first
                // upload + one file (the copy that may have started on a full bucket). A slow
                // machine only copies less, so this bound cannot flake.
                var samples: [(seconds: Double, copied: Int)] = []
                try await eventually("every file at N", timeout: .seconds(60)) {
                    let done = try await copied(cluster, count: count)
                    let elapsed = Date().timeIntervalSince(start)
                    samples.append((elapsed, done))
                    let bound = Int(Double(size) * (1 + elapsed + 1))
                    #expect(done * size <= bound, "\(done) MiB copied after \(elapsed) s")
                    return done == count
                }
                let took = Date().timeIntervalSince(start)
                #expect(took >= Double(count - 2), "8 MiB of copies at 1 MiB/s with a 1 MiB bucket take at least 6 s")
                print("rate limit: \(count) MiB of uploads in \(String(format: "%.2f", uploaded.timeIntervalSince(start))) s, copies done after \(String(format: "%.1f", took)) s (\(String(format: "%.2f", Double(count) / took)) MiB/s); progress \(samples.map { "\(String(format: "%.1f", $0.seconds))s:\($0.copied)" }.joined(separator: " "))")
                try await cluster.expectAuditClean()
            }
        }

        /// Files whose second copy has landed (K = 2), from `ls --json`.
        private func copied(_ cluster: Cluster, count: Int) async throws -> Int {
            try await cluster.list().filter { $0.k >= 2 }.count
        }
    }
}
