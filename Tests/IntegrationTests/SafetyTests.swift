import Foundation
import ReplicaCore
import Testing
import TestSupport

extension Integration {
    /// Rule 2 of the guide: a node removes a version only when the master positively says that
    /// exact version must go. A lost, replaced or mistyped catalog, or a master restarting,
    /// must never make nodes delete what they hold.
    @Suite("Data safety")
    struct SafetyTests {
        /// A catalog that is not the swarm's: the embedded one moved away, or another MongoDB
        /// database. Returns the `--catalog` to give (nil: the embedded default, now empty).
        static func loseCatalog(of master: NodeProcess, in cluster: Cluster, kind: CatalogKind) async throws -> String? {
            switch kind {
            case .sqlite:
                let moved = cluster.root.appendingPathComponent("moved-\(UUID().uuidString.prefix(6))")
                try FileManager.default.createDirectory(at: moved, withIntermediateDirectories: true)
                let state = master.data.appendingPathComponent(".fsdfs")
                for name in try FileManager.default.contentsOfDirectory(atPath: state.path) where name.hasPrefix("catalog.sqlite") {
                    try FileManager.default.moveItem(at: state.appendingPathComponent(name), to: moved.appendingPathComponent(name))
                }
                return nil
            case .mongodb:
                return try await MongoTestServer.shared().uri(database: "fsdfs_other_\(UUID().uuidString.prefix(8))")
            }
        }

        static func expectOnDisk(_ node: NodeProcess, _ files: [String: URL]) throws {
            for (remote, local) in files {
                let stored = try Data(contentsOf: node.file(remote))
                #expect(stored == (try Data(contentsOf: local)), "\(node.name) lost or changed \(remote)")
            }
        }

        @Test("A master on an empty or swapped catalog deletes nothing: it refuses to start on a data directory of another swarm, nodes refuse a master of another swarm, and --recover rebuilds the catalog from the nodes", arguments: CatalogKind.allCases)
        func emptyCatalogDeletesNothing(catalog: CatalogKind) async throws {
            try await withCluster(catalog: catalog) { cluster in
                let master = try await cluster.start("master", asMaster: true)
                let slave = try await cluster.start("slave")
                try await cluster.waitForNodes(2)
                var files: [String: URL] = [:]
                for i in 1...5 {
                    files["keep/f\(i)"] = try cluster.localFile("f\(i)", size: 700 * i, seed: UInt8(i))
                }
                try await cluster.putMany(files.map { ($0.value, $0.key) })
                try await eventually("5 files with K=2") {
                    let entries = try await cluster.list()
                    return entries.count == 5 && entries.allSatisfy { $0.k == 2 }
                }
                await master.stop()
                let empty = try await Self.loseCatalog(of: master, in: cluster, kind: catalog)

                // The master's own data directory says which swarm it belongs to: it refuses
                // the catalog of another, in one line, and starts nothing.
                let refused = try await cluster.relaunch(master, name: "master-refused", catalog: empty, wait: false)
                #expect(await refused.waitForExit(timeout: .seconds(60)))
                #expect(refused.exitStatus != 0)
                let refusal = refused.logText()
                #expect(refusal.contains("belongs to swarm"), "\(refusal.suffix(1500))")
                #expect(refusal.contains("--recover"))

                // A master on a new machine (new data directory) with an empty catalog: a new
                // swarm. The slave refuses it, deletes nothing and keeps serving reads.
                let otherCatalog = try await Self.loseCatalog(of: master, in: cluster, kind: catalog)
                let stranger = try await cluster.relaunch(
                    master, name: "stranger", data: cluster.root.appendingPathComponent("stranger"), catalog: otherCatalog)
                try await eventually("the slave is listed as refused") {
                    try await cluster.status().refused?.contains { $0.address == slave.address } == true
                }
                try await eventually("the slave logged why it refuses") { slave.logText().contains("refusing master") }
                let strangers = try await cluster.status()
                #expect(strangers.files == 0)
                #expect(!strangers.nodes.contains { $0.address == slave.address })
                let read = try await cluster.cli(
                    "get", "keep/f1", cluster.root.appendingPathComponent("read-f1").path, "--node", slave.address,
                    "--master", "127.0.0.1:1")
                #expect(read.status == 0, "\(read.stderr)")
                try Self.expectOnDisk(slave, files)
                try Self.expectOnDisk(master, files)
                await stranger.stop()

                // The swarm's master rebuilds its catalog from what the nodes hold.
                let recovering = try await cluster.relaunch(master, name: "master-recovering", catalog: empty, extra: ["--recover"])
                try await eventually("catalog rebuilt: 5 files with K=2") {
                    let entries = try await cluster.list()
                    return entries.count == 5 && entries.allSatisfy { $0.k == 2 }
                }
                let rebuilt = try await cluster.status()
                #expect(rebuilt.safeMode?.recovering == true)
                #expect(rebuilt.unaccountedFiles == 0)
                let left = try await cluster.cli("safe-mode", "leave")
                #expect(left.status == 0, "\(left.stderr)")
                #expect(left.stdout.contains("safe mode ended"))
                #expect(try await cluster.status().safeMode == nil)
                for (remote, local) in files {
                    let out = cluster.root.appendingPathComponent("got-\(remote.replacingOccurrences(of: "/", with: "-"))")
                    let got = try await cluster.cli("get", remote, out.path)
                    #expect(got.status == 0, "\(got.stderr)")
                    #expect(try Data(contentsOf: out) == Data(contentsOf: local))
                }
                try Self.expectOnDisk(slave, files)
                try Self.expectOnDisk(recovering, files)
                try await cluster.expectAuditClean()
            }
        }

        @Test("Recovery of 100 files on 3 nodes: every file comes back, and where nodes disagree about a path the newest version wins and the older copy is kept and listed", arguments: CatalogKind.allCases)
        func recoveryWithAConflict(catalog: CatalogKind) async throws {
            try await withCluster(catalog: catalog) { cluster in
                let master = try await cluster.start("master", asMaster: true)
                try await cluster.start("a")
                let b = try await cluster.start("b")
                try await cluster.waitForNodes(3)
                var files: [(local: URL, remote: String)] = []
                for i in 1...100 {
                    files.append((try cluster.localFile("many/\(i)", size: 100 + i, seed: UInt8(i % 250)), "many/\(i).bin"))
                }
                try await cluster.putMany(files)
                let first = try cluster.localFile("c-v1", size: 3000, seed: 201)
                try await cluster.put(first, "c/x")
                try await eventually("101 files with K=3") {
                    let entries = try await cluster.list()
                    return entries.count == 101 && entries.allSatisfy { $0.k == 3 }
                }
                // b goes away holding version 1 of c/x; version 2 replaces it on the others.
                await b.stop()
                let second = try cluster.localFile("c-v2", size: 2500, seed: 202)
                try await cluster.put(second, "c/x")
                try await eventually("c/x version 2 on the two others") { try await cluster.whereIs("c/x")?.k == 2 }
                await master.stop()
                let empty = try await Self.loseCatalog(of: master, in: cluster, kind: catalog)
                try await cluster.restart(b)

                let recovering = try await cluster.relaunch(master, name: "master-recovering", catalog: empty, extra: ["--recover"])
                try await eventually("100 files with K=3 and c/x from the two nodes with version 2", timeout: .seconds(60)) {
                    let entries = try await cluster.list()
                    guard entries.count == 101 else { return false }
                    return entries.filter { $0.path.rawValue.hasPrefix("many/") }.allSatisfy { $0.k == 3 }
                        && entries.first { $0.path.rawValue == "c/x" }?.k == 2
                }
                let unaccounted = try await cluster.cli("unaccounted", "--json")
                #expect(unaccounted.status == 0, "\(unaccounted.stderr)")
                let listed = try JSONDecoder().decode([UnaccountedFile].self, from: Data(unaccounted.stdout.utf8))
                #expect(listed.map(\.path.rawValue) == ["c/x"])
                #expect(listed.first?.address == b.address)
                #expect(listed.first?.reason.contains("older") == true)
                #expect(try await cluster.status().unaccountedFiles == 1)
                // Every node reported ids up to at least the one b keeps for c/x: the rebuilt
                // catalog numbers its files above them, so no id names two versions.
                let keptID = try #require(listed.first?.fileID)
                for path in ["c/x", "many/1.bin", "many/100.bin"] {
                    let id = try #require(try await cluster.whereIs(path)?.fileID)
                    #expect(id > keptID, "\(path) got id \(id), which b's kept version of c/x also has")
                }

                let left = try await cluster.cli("safe-mode", "leave")
                #expect(left.status == 0, "\(left.stderr)")
                let out = cluster.root.appendingPathComponent("c-x")
                let got = try await cluster.cli("get", "c/x", out.path)
                #expect(got.status == 0, "\(got.stderr)")
                #expect(try Data(contentsOf: out) == Data(contentsOf: second))
                // Out of safe mode, the older copy is still kept on b: nobody said to delete it,
                // and a copy of version 2 may not overwrite it.
                try await eventually("the scheduler has tried b and been refused") {
                    recovering.logText().contains("version_conflict") || recovering.logText().contains("which this write may not replace")
                }
                #expect(try Data(contentsOf: b.file("c/x")) == Data(contentsOf: first))
                #expect(try await cluster.status().unaccountedFiles == 1)
                try await cluster.expectAuditClean()
            }
        }

        @Test("A recovery survives its master being killed: restarted, with or without --recover, it goes on rebuilding the half-built catalog until the operator ends it", arguments: CatalogKind.allCases)
        func recoveryResumes(catalog: CatalogKind) async throws {
            try await withCluster(catalog: catalog) { cluster in
                let master = try await cluster.start("master", asMaster: true)
                let a = try await cluster.start("a")
                let b = try await cluster.start("b")
                try await cluster.waitForNodes(3)
                var files: [String: URL] = [:]
                for i in 1...20 { files["early/\(i)"] = try cluster.localFile("early-\(i)", size: 300 + i, seed: UInt8(i)) }
                try await cluster.putMany(files.map { ($0.value, $0.key) })
                try await eventually("20 files with K=3") {
                    let entries = try await cluster.list()
                    return entries.count == 20 && entries.allSatisfy { $0.k == 3 }
                }
                // Files a never gets: only the master and b hold them.
                await a.stop()
                var late: [String: URL] = [:]
                for i in 1...5 { late["late/\(i)"] = try cluster.localFile("late-\(i)", size: 900 + i, seed: UInt8(100 + i)) }
                try await cluster.putMany(late.map { ($0.value, $0.key) })
                try await eventually("the late files on the master and b") {
                    try await cluster.list().filter { $0.path.rawValue.hasPrefix("late/") }.count == 5
                }
                for (remote, _) in late { try await eventually("\(remote) with K=2") { try await cluster.whereIs(remote)?.k == 2 } }
                await master.stop()
                await b.stop()
                let empty = try await Self.loseCatalog(of: master, in: cluster, kind: catalog)
                try await cluster.restart(a)

                // The recovery starts from the master and a, and is killed half-way.
                let first = try await cluster.relaunch(master, name: "recovery-1", catalog: empty, extra: ["--recover"])
                try await eventually("the early files rebuilt from the master and a") {
                    try await cluster.list().filter { $0.path.rawValue.hasPrefix("early/") }.count == 20
                }
                await first.crash()

                // Started again as it was: it goes on instead of refusing a catalog that is not empty.
                let second = try await cluster.relaunch(master, name: "recovery-2", catalog: empty, extra: ["--recover"])
                #expect(try await cluster.status().safeMode?.recovering == true)
                try await cluster.restart(b)
                try await eventually("the late files rebuilt from b", timeout: .seconds(60)) {
                    try await cluster.list().filter { $0.path.rawValue.hasPrefix("late/") }.count == 5
                }
                await second.crash()

                // Started by a service manager that does not know: the catalog says a recovery is under way.
                let third = try await cluster.relaunch(master, name: "recovery-3", catalog: empty)
                #expect(third.logText().contains("resuming the rebuild"), "\(third.logText().suffix(1500))")
                try await eventually("still recovering, in safe mode") { try await cluster.status().safeMode?.recovering == true }
                try await eventually("every file back with its copies", timeout: .seconds(60)) {
                    let entries = try await cluster.list()
                    return entries.count == 25
                        && entries.filter { $0.path.rawValue.hasPrefix("early/") }.allSatisfy { $0.k == 3 }
                        && entries.filter { $0.path.rawValue.hasPrefix("late/") }.allSatisfy { $0.k >= 2 }
                }
                #expect(try await cluster.status().unaccountedFiles == 0)
                let left = try await cluster.cli("safe-mode", "leave")
                #expect(left.status == 0, "\(left.stderr)")
                await third.stop()

                // Recovery ended: a restart is an ordinary one.
                let fourth = try await cluster.relaunch(master, name: "after-recovery", catalog: empty)
                try await eventually("ordinary safe mode ends once the nodes report") { try await cluster.status().safeMode == nil }
                #expect(!fourth.logText().contains("resuming the rebuild"))
                for (remote, local) in files.merging(late, uniquingKeysWith: { first, _ in first }) {
                    try Self.expectOnDisk(master, [remote: local])
                }
                try Self.expectOnDisk(b, late)
                try Self.expectOnDisk(a, files)
                try await cluster.expectAuditClean()
            }
        }

        @Test("A restarted master is in safe mode until the nodes that were up have reported: a delete meanwhile removes nothing until then")
        func safeModeAfterRestart() async throws {
            try await withCluster { cluster in
                let master = try await cluster.start("master", asMaster: true)
                let slave = try await cluster.start("slave")
                try await cluster.waitForNodes(2)
                let local = try cluster.localFile("doomed", size: 4000, seed: 9)
                try await cluster.put(local, "gone/soon")
                try await eventually("K=2") { try await cluster.whereIs("gone/soon")?.k == 2 }
                await master.stop()
                slave.signal(SIGSTOP)
                let restarted = try await cluster.relaunch(master, name: "master-restarted")
                try await eventually("safe mode waiting for the slave only") {
                    try await cluster.status().safeMode?.waitingFor == [slave.address]
                }
                #expect(try await cluster.status().safeMode?.recovering == false)
                let rm = try await cluster.cli("rm", "gone/soon")
                #expect(rm.status == 0, "\(rm.stderr)")
                #expect(rm.stdout.contains("removed from 0 node(s)"), "\(rm.stdout)")
                #expect(FileManager.default.fileExists(atPath: restarted.file("gone/soon").path))
                // The silent slave is declared down (3 reports missed): safe mode ends by itself
                // and the master's own copy goes.
                try await eventually("safe mode over") { try await cluster.status().safeMode == nil }
                try await eventually("removed from the master's node") {
                    !FileManager.default.fileExists(atPath: restarted.file("gone/soon").path)
                }
                #expect(FileManager.default.fileExists(atPath: slave.file("gone/soon").path))
                slave.signal(SIGCONT)
                try await eventually("removed from the slave when it is back") {
                    !FileManager.default.fileExists(atPath: slave.file("gone/soon").path)
                }
                try await cluster.expectAuditClean()
            }
        }

        @Test("A file put by hand into a node's data directory is kept and listed as unaccounted, never deleted")
        func unknownFilesAreKept() async throws {
            try await withCluster { cluster in
                try await cluster.start("master", asMaster: true)
                let slave = try await cluster.start("slave")
                try await cluster.waitForNodes(2)
                await slave.stop()
                let stray = slave.file("strays/by-hand.txt")
                try FileManager.default.createDirectory(at: stray.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data("put here by an operator\n".utf8).write(to: stray)
                try await cluster.restart(slave)
                try await eventually("listed as unaccounted") {
                    let result = try await cluster.cli("unaccounted", "--json")
                    let listed = try JSONDecoder().decode([UnaccountedFile].self, from: Data(result.stdout.utf8))
                    return listed.map(\.path.rawValue) == ["strays/by-hand.txt"] && listed.first?.address == slave.address
                }
                let text = try await cluster.cli("status")
                #expect(text.stdout.contains("unaccounted: 1 files"), "\(text.stdout)")
                #expect(try await cluster.node(slave)?.unaccountedFiles == 1)
                #expect(FileManager.default.fileExists(atPath: stray.path))
                try await cluster.expectAuditClean()
            }
        }

        @Test("A file put on a running node's disk behind its back is never written over: a put to that path is refused, a copy there (alone or in a batch) fails and K stays as it was")
        func writesNeverLandOverUnknownFiles() async throws {
            try await withCluster { cluster in
                let policies = try Integration.ReplicationTests.policyDirectory(in: cluster, "[default]\nn = 2\n")
                let master = try await cluster.start("master", asMaster: true, extra: ["--policies", policies])
                let slave = try await cluster.start("slave")
                try await cluster.waitForNodes(2)
                // While the slave takes nothing new, files appear on both disks behind fsdfs's
                // back (the nodes are running: their indexes do not know them).
                #expect(try await cluster.cli("node", "drain", slave.address).status == 0)
                let strays = [
                    (master, "strays/put.txt"), (slave, "strays/small.txt"), (slave, "strays/big.bin"),
                ]
                for (node, path) in strays {
                    let url = node.file(path)
                    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                    try Data("an operator's \(path)\n".utf8).write(to: url)
                }
                let put = try await cluster.cli("put", try cluster.localFile("put", size: 100).path, "strays/put.txt")
                #expect(put.status != 0)
                #expect(put.stderr.contains("unknown version") && put.stderr.contains("kept"), "\(put.stderr)")
                #expect(try await cluster.whereIs("strays/put.txt") == nil)

                // A small file (copied in a batch) and a big one (copied alone) land on the
                // master; the slave is asked for the second copies once undrained.
                try await cluster.put(try cluster.localFile("small", size: 4096, seed: 2), "strays/small.txt")
                try await cluster.put(try cluster.localFile("big", size: 3 << 20, seed: 3), "strays/big.bin")
                #expect(try await cluster.cli("node", "undrain", slave.address).status == 0)
                try await eventually("both copies to the slave failed") {
                    master.logText().components(separatedBy: "a file of unknown version, which this write may not replace").count > 2
                }
                for path in ["strays/small.txt", "strays/big.bin"] {
                    let file = try #require(try await cluster.whereIs(path))
                    #expect(file.nodes == [master.address], "\(path) counted only where it is: \(file.nodes)")
                }
                for (node, path) in strays {
                    #expect(try Data(contentsOf: node.file(path)) == Data("an operator's \(path)\n".utf8), "\(node.name) kept \(path)")
                }
                try await cluster.expectAuditClean()
            }
        }
    }
}
