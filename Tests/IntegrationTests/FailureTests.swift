import Foundation
import Testing
import ReplicaCore
import TestSupport

extension Integration {
    /// Nodes going down and coming back, deletes with holders away, the master away.
    @Suite("Failures")
    struct FailureTests {
        @Test("A stopped node is declared down (its copies stop counting) and rejoins by itself without re-downloading", arguments: CatalogKind.allCases)
        func nodeDownAndRejoin(catalog: CatalogKind) async throws {
            try await withCluster(catalog: catalog) { cluster in
                try await cluster.start("master", asMaster: true)
                let slave = try await cluster.start("slave")
                try await cluster.waitForNodes(2)
                try await cluster.put(try cluster.localFile("f", size: 20_000), "dir/f.bin")
                try await eventually("two copies") { try await cluster.whereIs("dir/f.bin")?.k == 2 }
                let before = try FileManager.default.attributesOfItem(atPath: slave.file("dir/f.bin").path)

                slave.signal(SIGSTOP)
                try await eventually("the slave is down and its copy no longer counts") {
                    let node = try await cluster.node(slave)
                    let file = try await cluster.whereIs("dir/f.bin")
                    return node?.alive == false && file?.k == 1 && file?.nodes.contains(slave.address) == false
                }
                slave.signal(SIGCONT)
                try await eventually("the slave is back and its copy counts again") {
                    let node = try await cluster.node(slave)
                    let file = try await cluster.whereIs("dir/f.bin")
                    return node?.alive == true && file?.k == 2
                }
                let after = try FileManager.default.attributesOfItem(atPath: slave.file("dir/f.bin").path)
                #expect(after[.systemFileNumber] as? Int == before[.systemFileNumber] as? Int, "same inode: not re-downloaded")
                #expect(after[.modificationDate] as? Date == before[.modificationDate] as? Date, "same mtime: not re-written")
                try await cluster.expectAuditClean()
            }
        }

        @Test("A node restarted with the same data directory gets its copies counted again with no re-download")
        func restartedNodeKeepsItsCopies() async throws {
            try await withCluster { cluster in
                try await cluster.start("master", asMaster: true)
                let slave = try await cluster.start("slave")
                try await cluster.waitForNodes(2)
                try await cluster.put(try cluster.localFile("f", size: 20_000), "f.bin")
                try await eventually("two copies") { try await cluster.whereIs("f.bin")?.k == 2 }
                let inode = try FileManager.default.attributesOfItem(atPath: slave.file("f.bin").path)[.systemFileNumber] as? Int

                await slave.stop()
                let logBefore = slave.logText().count
                // A clean stop tells the master: the copy stops counting at once.
                try await eventually("the copy stops counting when the node leaves", timeout: .seconds(5)) {
                    try await cluster.whereIs("f.bin")?.k == 1
                }
                try await cluster.restart(slave)
                try await eventually("the copy counts again") { try await cluster.whereIs("f.bin")?.k == 2 }
                #expect(try FileManager.default.attributesOfItem(atPath: slave.file("f.bin").path)[.systemFileNumber] as? Int == inode)
                #expect(!slave.logText().dropFirst(logBefore).contains("copied f.bin"))
                try await cluster.expectAuditClean()
            }
        }

        @Test("rm while a holder is down: the file is gone at once, and the holder deletes its copy when it returns", arguments: CatalogKind.allCases)
        func deleteWhileHolderIsDown(catalog: CatalogKind) async throws {
            try await withCluster(catalog: catalog) { cluster in
                let master = try await cluster.start("master", asMaster: true)
                let slave = try await cluster.start("slave")
                try await cluster.waitForNodes(2)
                try await cluster.put(try cluster.localFile("f", size: 3000), "old/report.pdf")
                try await eventually("two copies") { try await cluster.whereIs("old/report.pdf")?.k == 2 }

                slave.signal(SIGSTOP)
                try await eventually("slave down") { try await cluster.node(slave)?.alive == false }
                let rm = try await cluster.cli("rm", "old/report.pdf")
                #expect(rm.status == 0, "\(rm.stderr)")
                #expect(try await cluster.whereIs("old/report.pdf") == nil)
                #expect(!FileManager.default.fileExists(atPath: master.file("old/report.pdf").path))
                #expect(FileManager.default.fileExists(atPath: slave.file("old/report.pdf").path))

                slave.signal(SIGCONT)
                try await eventually("the returning holder deleted its copy") {
                    !FileManager.default.fileExists(atPath: slave.file("old/report.pdf").path)
                }
                // The path can be used again.
                try await cluster.put(try cluster.localFile("g", size: 1000, seed: 9), "old/report.pdf")
                try await eventually("re-uploaded file replicated") { try await cluster.whereIs("old/report.pdf")?.k == 2 }
                #expect(try await cluster.whereIs("old/report.pdf")?.size == 1000)
                try await cluster.expectAuditClean()
            }
        }

        @Test("With the master killed, every node still serves reads: get falls back to --node and to the cached node list")
        func readsWithTheMasterDown() async throws {
            try await withCluster { cluster in
                let master = try await cluster.start("master", asMaster: true)
                let slave = try await cluster.start("slave")
                try await cluster.waitForNodes(2)
                let local = try cluster.localFile("f", size: 50_000)
                try await cluster.put(local, "keep/me.bin")
                try await eventually("two copies") { try await cluster.whereIs("keep/me.bin")?.k == 2 }
                // A command that reaches the master caches its node list.
                #expect(try await cluster.cli("status").status == 0)

                let masterPID = try #require(master.pid)
                await master.crash()
                #expect(
                    !FileManager.default.fileExists(atPath: "/dev/shm/mongoc-\(masterPID)"),
                    "a killed fsdfsd leaves no libmongoc counters in /dev/shm")
                let viaNode = cluster.root.appendingPathComponent("via-node.bin")
                let explicit = try await cluster.cli("get", "keep/me.bin", viaNode.path, "--node", slave.address)
                #expect(explicit.status == 0, "\(explicit.stderr)")
                #expect(try Data(contentsOf: viaNode) == Data(contentsOf: local))

                let viaCache = cluster.root.appendingPathComponent("via-cache.bin")
                let cached = try await cluster.cli("get", "keep/me.bin", viaCache.path)
                #expect(cached.status == 0, "\(cached.stderr)")
                #expect(try Data(contentsOf: viaCache) == Data(contentsOf: local))

                let missing = try await cluster.cli("get", "no/such/file", cluster.root.appendingPathComponent("x").path)
                #expect(missing.status != 0)
            }
        }

        @Test("A master restarted on the same data directory keeps its catalog", arguments: CatalogKind.allCases)
        func masterRestartKeepsTheCatalog(catalog: CatalogKind) async throws {
            try await withCluster(catalog: catalog) { cluster in
                let master = try await cluster.start("master", asMaster: true)
                try await cluster.start("slave")
                try await cluster.waitForNodes(2)
                for i in 1...3 {
                    try await cluster.put(try cluster.localFile("f\(i)", size: 1000 * i, seed: UInt8(i)), "files/f\(i)")
                }
                try await eventually("all replicated") { try await cluster.status().minKn == -1 }
                await master.stop()
                try await cluster.restart(master)
                try await cluster.waitForNodes(2)
                let status = try await cluster.status()
                #expect(status.files == 3)
                #expect(status.minKn == -1)
                let ls = try await cluster.cli("ls", "files/", "--json")
                let entries = try JSONDecoder().decode([ListEntry].self, from: Data(ls.stdout.utf8))
                #expect(entries.map(\.path.rawValue) == ["files/f1", "files/f2", "files/f3"])
                #expect(entries.map(\.k) == [2, 2, 2])
                try await cluster.expectAuditClean()
            }
        }

        @Test("A corrupted replica is never propagated: the copy from it is refused and a good source is used (a small file copied in a batch, a big one alone, which its source sends unhashed)",
              arguments: [40_000, 3 << 20])
        func corruptSourceIsNotPropagated(size: Int) async throws {
            try await withCluster { cluster in
                let policies = try Integration.ReplicationTests.policyDirectory(in: cluster, "[default]\nn = 2\n")
                let master = try await cluster.start("master", asMaster: true, extra: ["--policies", policies])
                let slave = try await cluster.start("slave")
                try await cluster.waitForNodes(2)
                let local = try cluster.localFile("f", size: size)
                try await cluster.put(local, "precious.bin")
                try await eventually("two copies") { try await cluster.whereIs("precious.bin")?.k == 2 }

                // With the slave gone, the master's copy is the only source. Flip bytes in it,
                // keeping its size and modification time, so only a checksum can tell.
                await slave.crash()
                try await eventually("slave down") { try await cluster.node(slave)?.alive == false }
                let damaged = master.file("precious.bin")
                let attributes = try FileManager.default.attributesOfItem(atPath: damaged.path)
                var bytes = try Data(contentsOf: damaged)
                for i in stride(from: 0, to: bytes.count, by: 997) { bytes[i] ^= 0xFF }
                let handle = try FileHandle(forWritingTo: damaged)
                try handle.write(contentsOf: bytes)
                try handle.close()
                try FileManager.default.setAttributes([.modificationDate: attributes[.modificationDate]!], ofItemAtPath: damaged.path)

                // A new node asks for a copy: the corrupt bytes are refused, the bad replica is
                // quarantined on the master and stops counting.
                let third = try await cluster.start("third")
                try await eventually("the corrupt replica is detected and no longer counts") {
                    try await cluster.whereIs("precious.bin")?.k == 0
                }
                #expect(!FileManager.default.fileExists(atPath: third.file("precious.bin").path))
                #expect(!FileManager.default.fileExists(atPath: damaged.path), "quarantined, not served again")

                // The good copy comes back with the slave and is copied from there.
                try await cluster.restart(slave)
                try await eventually("good copies again") { try await cluster.whereIs("precious.bin")?.k ?? 0 >= 2 }
                let original = try Data(contentsOf: local)
                try await eventually("the new node holds the good bytes") {
                    (try? Data(contentsOf: third.file("precious.bin"))) == original
                        || (try? Data(contentsOf: master.file("precious.bin"))) == original
                }
                for node in [master, slave, third] where FileManager.default.fileExists(atPath: node.file("precious.bin").path) {
                    #expect(try Data(contentsOf: node.file("precious.bin")) == original, "\(node.name) holds the good bytes")
                }
                try await cluster.expectAuditClean()
            }
        }

        @Test("SIGHUP re-reads the policies and re-evaluates N; a broken policy file keeps the old policies")
        func policyReloadOnSIGHUP() async throws {
            try await withCluster { cluster in
                let policies = try Integration.ReplicationTests.policyDirectory(in: cluster, "[default]\nn = 1\n")
                let master = try await cluster.start("master", asMaster: true, extra: ["--policies", policies])
                try await cluster.waitForNodes(1)
                try await cluster.put(try cluster.localFile("f", size: 100), "videos/a.mp4")
                #expect(try await cluster.whereIs("videos/a.mp4")?.n == 1)

                let file = URL(fileURLWithPath: policies).appendingPathComponent("policy.toml")
                try "[[rule]]\nmatch = \"videos/**\"\nn = 4\n\n[default]\nn = 1\n".write(to: file, atomically: true, encoding: .utf8)
                master.signal(SIGHUP)
                try await eventually("N re-evaluated to 4") { try await cluster.whereIs("videos/a.mp4")?.n == 4 }

                try "[[rule]]\nmatch = \"videos/**\"\nn = zero\n".write(to: file, atomically: true, encoding: .utf8)
                master.signal(SIGHUP)
                try await eventually("the error is logged") { master.logText().contains("policies not reloaded") }
                #expect(master.logText().contains("policy.toml:3"))
                #expect(try await cluster.whereIs("videos/a.mp4")?.n == 4)
                #expect(master.isRunning)
                try await cluster.expectAuditClean()
            }
        }
    }
}
