import Foundation
import Testing
import ReplicaCore
import TestSupport

extension Integration {
    /// `fsdfsd node drain|undrain|forget`, and the one-line refusals of the node commands.
    @Suite("Drain")
    struct DrainTests {
        @Test("Drain of a node holding the only extra copies: K ≥ N everywhere without it, then it is stopped and forgotten with min(K−N) ≥ 0 and a clean audit")
        func drainMovesTheNeededCopies() async throws {
            try await withCluster { cluster in
                let policies = try Integration.ReplicationTests.policyDirectory(
                    in: cluster, "[[rule]]\nmatch = \"single/**\"\nn = 1\n\n[default]\nn = 2\n")
                try await cluster.start("master", quota: "0", asMaster: true, extra: ["--policies", policies])
                // 7000 bytes of room for exactly 7000 bytes of copies: b holds all four files,
                // a the second copy of x, y and z, which no other node has.
                let a = try await cluster.start("a", quota: "3000")
                try await cluster.start("b", quota: "4000")
                try await cluster.waitForNodes(3)
                let paths = ["x.bin", "y.bin", "z.bin", "single/w.bin"]
                for (i, path) in paths.enumerated() {
                    try await cluster.put(try cluster.localFile("f\(i)", size: 1000, seed: UInt8(i + 1)), path)
                }
                try await eventually("converged: every file at N, a holding x, y and z") {
                    let status = try await cluster.status()
                    let onA = try await cluster.node(a)?.files
                    return status.minKn == 0 && status.replication.copiesInFlight == 0 && onA == 3
                }

                let drain = try await cluster.cli("node", "drain", a.address)
                #expect(drain.status == 0, "\(drain.stderr)")
                #expect(drain.stdout.contains("\(a.address) is draining"), "\(drain.stdout)")
                // b holds everything already and the master stores nothing: no node can take
                // the second copies, and status says so.
                try await eventually("status says the drain cannot finish") {
                    let node = try await cluster.node(a)
                    return node?.draining == true && node?.drain?.filesLeft == 3 && node?.drain?.blocked?.contains("too few") == true
                }
                let human = try await cluster.cli("status")
                #expect(human.stdout.contains("draining \(a.address): 3 file(s)"), "\(human.stdout)")
                #expect(human.stdout.contains("CANNOT FINISH"), "\(human.stdout)")
                #expect(try await cluster.status().minKn == 0, "the draining copies still count in K")

                // c has room for three copies; by the scheduling order alone w (K = 1) would
                // take one of them, and x, y or z would keep its only second copy on a.
                let c = try await cluster.start("c", quota: "3000")
                try await eventually("drained") { try await cluster.node(a)?.drain?.done == true }
                let aNow = try #require(try await cluster.node(a))
                #expect(aNow.files == 3, "a received nothing and gave up nothing")
                for path in paths {
                    let file = try #require(try await cluster.whereIs(path))
                    #expect(file.nodes.filter { $0 != a.address }.count >= file.n, "\(path) on \(file.nodes)")
                    if path != "single/w.bin" {
                        #expect(FileManager.default.fileExists(atPath: a.file(path).path), "the drain removes nothing from a")
                        #expect(FileManager.default.fileExists(atPath: c.file(path).path))
                    }
                }
                #expect(try await cluster.cli("status").stdout.contains("drained \(a.address)"))

                await a.crash()
                try await eventually("a is down") { try await cluster.node(a)?.alive == false }
                #expect(try await cluster.status().minKn == 0, "no file lost a copy it needs")
                let forget = try await cluster.cli("node", "forget", a.address)
                #expect(forget.status == 0, "\(forget.stderr)")
                #expect(try await cluster.node(a) == nil)
                #expect(try await cluster.status().minKn == 0)
                try await cluster.expectAuditClean()
            }
        }

        @Test("undrain cancels a drain; node commands naming an unknown node, or a bad duration, fail with one line and change nothing",
              arguments: CatalogKind.allCases)
        func undrainAndRefusals(catalog: CatalogKind) async throws {
            try await withCluster(catalog: catalog) { cluster in
                try await cluster.start("master", asMaster: true)
                let a = try await cluster.start("a")
                try await cluster.waitForNodes(2)

                for arguments in [
                    ["node", "drain", "127.0.0.1:1"], ["node", "undrain", "127.0.0.1:1"],
                    ["node", "maintenance", "127.0.0.1:1", "--for", "30s"], ["node", "forget", "127.0.0.1:1"],
                ] {
                    let result = try await cluster.cli(arguments: arguments)
                    #expect(result.status != 0, "\(arguments)")
                    #expect(result.stderr.contains("no node 127.0.0.1:1 is known"), "\(arguments): \(result.stderr)")
                    #expect(result.stderr.split(separator: "\n").count == 1, "\(arguments): \(result.stderr)")
                }
                let badDuration = try await cluster.cli("node", "maintenance", a.address, "--for", "soon")
                #expect(badDuration.status != 0)
                #expect(badDuration.stderr.contains("not a duration"), "\(badDuration.stderr)")
                let forgetAlive = try await cluster.cli("node", "forget", a.address)
                #expect(forgetAlive.status != 0)
                #expect(forgetAlive.stderr.contains("\(a.address) is up"), "\(forgetAlive.stderr)")
                #expect(forgetAlive.stderr.split(separator: "\n").count == 1, "\(forgetAlive.stderr)")
                let unchanged = try await cluster.status()
                #expect(unchanged.nodes.count == 2)
                #expect(unchanged.nodes.allSatisfy { $0.draining == false && $0.maintenanceUntil == nil && $0.alive })

                #expect(try await cluster.cli("node", "drain", a.address).status == 0)
                #expect(try await cluster.node(a)?.draining == true)
                let undrain = try await cluster.cli("node", "undrain", a.address)
                #expect(undrain.status == 0, "\(undrain.stderr)")
                #expect(undrain.stdout.contains("no longer draining"), "\(undrain.stdout)")
                let node = try #require(try await cluster.node(a))
                #expect(node.draining == false)
                #expect(node.drain == nil)
                // Both are in the master's event log.
                try await eventually("drain and undrain recorded as events") {
                    let events = try await cluster.cli("events", "--json").stdout
                    return events.contains("\"node_draining\"") && events.contains("\"node_undrained\"")
                }
            }
        }

        @Test("A forgotten node that reports again joins as a new node: its current copies count again, nothing on it is deleted, what the catalog no longer knows is unaccounted")
        func forgottenNodeReturns() async throws {
            try await withCluster { cluster in
                let policies = try Integration.ReplicationTests.policyDirectory(in: cluster, "[default]\nn = 2\n")
                try await cluster.start("master", asMaster: true, extra: ["--policies", policies])
                let a = try await cluster.start("a")
                try await cluster.waitForNodes(2)
                try await cluster.put(try cluster.localFile("keep", size: 2000, seed: 1), "keep.bin")
                try await cluster.put(try cluster.localFile("gone", size: 2000, seed: 2), "gone.bin")
                try await eventually("two copies each") { try await cluster.status().minKn == 0 }
                let inode = try FileManager.default.attributesOfItem(atPath: a.file("keep.bin").path)[.systemFileNumber] as? Int

                await a.crash()
                try await eventually("a is down") { try await cluster.node(a)?.alive == false }
                #expect(try await cluster.cli("rm", "gone.bin").status == 0)
                let forget = try await cluster.cli("node", "forget", a.address)
                #expect(forget.status == 0, "\(forget.stderr)")
                #expect(forget.stdout.contains("forgotten"), "\(forget.stdout)")
                #expect(try await cluster.node(a) == nil, "gone from status")
                #expect(try await cluster.whereIs("keep.bin")?.k == 1)

                try await cluster.restart(a)
                try await eventually("a joined again and its copy of keep.bin counts") {
                    let node = try await cluster.node(a), keep = try await cluster.whereIs("keep.bin")
                    return node?.alive == true && keep?.k == 2
                }
                #expect(
                    try FileManager.default.attributesOfItem(atPath: a.file("keep.bin").path)[.systemFileNumber] as? Int == inode,
                    "matched, not copied again")
                // The tombstone that would have told a to remove gone.bin was forgotten with it:
                // the bytes stay, listed as unaccounted, never deleted by guesswork.
                try await eventually("gone.bin on a is unaccounted") {
                    let unaccounted = try await cluster.cli("unaccounted", "--json")
                    let files = try JSONDecoder().decode([UnaccountedFile].self, from: Data(unaccounted.stdout.utf8))
                    return files.contains { $0.path.rawValue == "gone.bin" && $0.address == a.address }
                }
                #expect(FileManager.default.fileExists(atPath: a.file("gone.bin").path))
                #expect(try await cluster.whereIs("gone.bin") == nil)
                try await cluster.expectAuditClean()
            }
        }
    }
}
