import Foundation
import Testing
import ReplicaCore
import TestSupport

extension Integration {
    /// Uploads, replication and the planner's rules, end to end with real processes.
    @Suite("Replication")
    struct ReplicationTests {
        @Test("A file put on a two-node swarm ends up byte-identical on both, and get returns it", arguments: CatalogKind.allCases)
        func twoNodeReplication(catalog: CatalogKind) async throws {
            try await withCluster(catalog: catalog) { cluster in
                let master = try await cluster.start("master", asMaster: true)
                let slave = try await cluster.start("slave")
                try await cluster.waitForNodes(2)
                let local = try cluster.localFile("photo.jpg", size: 300_000)
                try await cluster.put(local, "albums/2024/photo.jpg")

                // N defaults to 3 but there are only two nodes: K = 2, kn = −1.
                try await eventually("two verified copies") {
                    try await cluster.whereIs("albums/2024/photo.jpg")?.k == 2
                }
                let original = try Data(contentsOf: local)
                #expect(try Data(contentsOf: master.file("albums/2024/photo.jpg")) == original)
                #expect(try Data(contentsOf: slave.file("albums/2024/photo.jpg")) == original)

                let found = try #require(try await cluster.whereIs("albums/2024/photo.jpg"))
                #expect(found.n == 3)
                #expect(found.kn == -1)
                #expect(Set(found.nodes) == [master.address, slave.address])

                let downloaded = cluster.root.appendingPathComponent("downloaded.jpg")
                let get = try await cluster.cli("get", "albums/2024/photo.jpg", downloaded.path)
                #expect(get.status == 0, "\(get.stderr)")
                #expect(try Data(contentsOf: downloaded) == original)
                // Nothing partial is left next to the download.
                let leftovers = try FileManager.default.contentsOfDirectory(atPath: cluster.root.path).filter { $0.contains("fsdfs-part") }
                #expect(leftovers.isEmpty)
                try await cluster.expectAuditClean()
            }
        }

        @Test("Spare quota fills up beyond N: every node gets a copy of an N = 1 file")
        func fillUpBeyondN() async throws {
            try await withCluster { cluster in
                let policies = try Self.policyDirectory(in: cluster, "[default]\nn = 1\n")
                try await cluster.start("master", asMaster: true, extra: ["--policies", policies])
                try await cluster.start("s1")
                try await cluster.start("s2")
                try await cluster.waitForNodes(3)
                try await cluster.put(try cluster.localFile("a", size: 5000), "a.bin")
                try await eventually("three copies of an N = 1 file") {
                    try await cluster.whereIs("a.bin")?.k == 3
                }
                let status = try await cluster.status()
                #expect(status.minKn == 2)
                #expect(status.underReplicated == 0)
                try await cluster.expectAuditClean()
            }
        }

        @Test("Three 10-byte nodes, N = 2: fill-up, one eviction, a refused third upload, then a fourth node", arguments: CatalogKind.allCases)
        func threeSmallNodes(catalog: CatalogKind) async throws {
            try await withCluster(catalog: catalog) { cluster in
                let policies = try Self.policyDirectory(in: cluster, "[default]\nn = 2\n")
                try await cluster.start("n1", quota: "10", asMaster: true, extra: ["--policies", policies])
                try await cluster.start("n2", quota: "10")
                try await cluster.start("n3", quota: "10")
                try await cluster.waitForNodes(3)

                try await cluster.put(try cluster.localFile("f1", size: 10, seed: 1), "f1")
                try await eventually("f1 on all three nodes") { try await cluster.whereIs("f1")?.k == 3 }

                try await cluster.put(try cluster.localFile("f2", size: 10, seed: 2), "f2")
                // f2's upload evicts one copy of f1 (kn 1 → 0); f2 cannot get a second copy
                // without taking f1 below N, so the store settles at f1: K=2, f2: K=1.
                try await eventually("f1 at N, f2 stored once") {
                    let f1 = try await cluster.whereIs("f1"), f2 = try await cluster.whereIs("f2")
                    return f1?.k == 2 && f2?.k == 1
                }

                let refused = try await cluster.cli("put", try cluster.localFile("f3", size: 10, seed: 3).path, "f3")
                #expect(refused.status != 0)
                #expect(refused.stderr.contains("no node can take"), "\(refused.stderr)")
                #expect(try await cluster.whereIs("f3") == nil)
                #expect(try await cluster.status().files == 2)

                try await cluster.start("n4", quota: "10")
                try await eventually("the fourth node takes f2's second copy") {
                    try await cluster.whereIs("f2")?.k == 2
                }
                let status = try await cluster.status()
                #expect(status.minKn == 0)
                #expect(try await cluster.whereIs("f1")?.k == 2)
                try await cluster.expectAuditClean()
            }
        }

        @Test("Re-uploading a path replaces it: the old bytes are never served as the new version")
        func replaceKeepsOnlyTheNewVersion() async throws {
            try await withCluster { cluster in
                let master = try await cluster.start("master", asMaster: true)
                let slave = try await cluster.start("slave")
                try await cluster.waitForNodes(2)
                let first = try cluster.localFile("v1", size: 4000, seed: 1)
                let second = try cluster.localFile("v2", size: 6000, seed: 2)
                try await cluster.put(first, "doc.txt")
                try await eventually("v1 on both") { try await cluster.whereIs("doc.txt")?.k == 2 }
                try await cluster.put(second, "doc.txt")
                try await eventually("v2 on both nodes, v1 gone") {
                    guard try await cluster.whereIs("doc.txt")?.k == 2 else { return false }
                    let expected = try Data(contentsOf: second)
                    return (try? Data(contentsOf: master.file("doc.txt"))) == expected
                        && (try? Data(contentsOf: slave.file("doc.txt"))) == expected
                }
                let found = try #require(try await cluster.whereIs("doc.txt"))
                #expect(found.size == 6000)
                let out = cluster.root.appendingPathComponent("doc.out")
                #expect(try await cluster.cli("get", "doc.txt", out.path).status == 0)
                #expect(try Data(contentsOf: out) == Data(contentsOf: second))
                try await cluster.expectAuditClean()
            }
        }

        static func policyDirectory(in cluster: Cluster, _ toml: String) throws -> String {
            let directory = cluster.root.appendingPathComponent("policies")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try toml.write(to: directory.appendingPathComponent("policy.toml"), atomically: true, encoding: .utf8)
            return directory.path
        }
    }
}
