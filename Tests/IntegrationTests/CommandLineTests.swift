import Foundation
import Testing
import ReplicaCore
import TestSupport

extension Integration {
    /// The command-line and JSON contracts of ARCHITECTURE.md sections 8 and 9.
    @Suite("Command line")
    struct CommandLineTests {
        @Test("status, where and ls --json keep the documented field names; minKn is null on an empty store")
        func jsonShapes() async throws {
            try await withCluster { cluster in
                let master = try await cluster.start("master", asMaster: true)
                try await cluster.start("slave")
                try await cluster.waitForNodes(2)

                let empty = try Self.object(try await cluster.cli("status", "--json").stdout)
                #expect(empty["minKn"] is NSNull)
                #expect(empty["files"] as? Int == 0)

                try await cluster.put(try cluster.localFile("a", size: 26), "a/b.txt")
                try await eventually("two copies") { try await cluster.whereIs("a/b.txt")?.k == 2 }

                let status = try Self.object(try await cluster.cli("status", "--json").stdout)
                for key in ["master", "minKn", "files", "bytes", "underReplicated", "nodes"] {
                    #expect(status[key] != nil, "status has \(key)")
                }
                #expect(status["master"] as? String == master.address)
                #expect(status["minKn"] as? Int == -1)
                #expect(status["bytes"] as? Int == 26)
                let node = try #require((status["nodes"] as? [[String: Any]])?.first)
                #expect(Set(node.keys).isSuperset(of: ["id", "address", "alive", "quota", "used", "free", "files", "load", "maxKn"]))

                let found = try Self.object(try await cluster.cli("where", "a/b.txt", "--json").stdout)
                #expect(Set(found.keys).isSuperset(of: ["path", "size", "sha256", "n", "k", "kn", "nodes"]))
                #expect(found["kn"] as? Int == -1)
                #expect((found["nodes"] as? [String])?.count == 2)

                let list = try JSONSerialization.jsonObject(with: Data(try await cluster.cli("ls", "--json").stdout.utf8)) as? [[String: Any]]
                #expect(list?.count == 1)
                #expect(Set(list?.first?.keys.map { $0 } ?? []) == ["path", "size", "n", "k"])

                let text = try await cluster.cli("status")
                #expect(text.stdout.hasPrefix("min(K−N) = -1"), "\(text.stdout)")
                #expect(text.stdout.contains(master.address))
            }
        }

        @Test("Bad input gets one line on stderr and a non-zero exit")
        func badInputIsOneLine() async throws {
            try await withCluster { cluster in
                try await cluster.start("master", asMaster: true)
                try await cluster.waitForNodes(1)
                let cases: [([String], [String: String], String)] = [
                    (["status"], ["FSDFS_SECRET": ""], "no swarm password"),
                    (["get", "missing.txt", cluster.root.appendingPathComponent("x").path], [:], "no such file"),
                    (["rm", "missing.txt"], [:], "no such file"),
                    (["put", "/nonexistent/local", "x"], [:], "no such file"),
                    (["status", "--master", "127.0.0.1:1"], [:], "cannot reach the master"),
                    (["audit", "--master", "127.0.0.1:1"], [:], "cannot reach the master"),
                    (["status"], ["FSDFS_SECRET": "a-different-password"], "signature"),
                    (["serve", "--data", cluster.root.appendingPathComponent("n").path, "--quota", "lots"], [:], "--quota"),
                    (["serve", "--data", cluster.root.appendingPathComponent("n").path, "--listen", "127.0.0.1:0"], [:], "port 0"),
                    (["serve", "--data", cluster.root.appendingPathComponent("master").path, "--listen", "127.0.0.1:1"], [:], "in use by another fsdfsd"),
                ]
                for (arguments, environment, message) in cases {
                    let result = try await cluster.cli(arguments: arguments, environment: environment)
                    #expect(result.status != 0, "\(arguments)")
                    #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
                    let lines = result.stderr.split(separator: "\n").filter { !$0.hasPrefix("Usage:") && !$0.contains("See 'fsdfsd") && !$0.isEmpty }
                    #expect(lines.count == 1, "\(arguments): \(result.stderr)")
                }
            }
        }

        @Test("audit against an unreachable master: one line on stderr and exit 2, not the 1 of an unclean audit")
        func auditWithoutAMaster() async throws {
            try await withCluster { cluster in
                let result = try await cluster.cli(arguments: ["audit", "--json"], environment: ["FSDFS_MASTER": "127.0.0.1:1"])
                #expect(result.status == 2)
                #expect(result.stdout.isEmpty)
                #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
                #expect(result.stderr.contains("cannot reach the master at 127.0.0.1:1"), "\(result.stderr)")
            }
        }

        static func object(_ text: String) throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        }
    }
}
