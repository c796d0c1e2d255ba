import Foundation
import ReplicaCore
import Testing
import TestSupport

extension Integration {
    /// Versions never mix on a node, and copies that end late are reconciled (issue #9,
    /// point 6). Copies are held up by stopping their source (SIGSTOP): the target's pull
    /// waits until the source is continued.
    @Suite("Versions and late copies")
    struct VersionTests {
        static func exists(_ url: URL) -> Bool { FileManager.default.fileExists(atPath: url.path) }

        /// A master that stores nothing and a node `a` holding `path` alone, then stopped; a
        /// node `b` joins and the master has it pull `path` from `a`: a copy under way.
        static func copyHeldUp(
            _ cluster: Cluster, path: String, local: URL, bQuota: String = "100M"
        ) async throws -> (master: NodeProcess, a: NodeProcess, b: NodeProcess) {
            let master = try await cluster.start("master", quota: "0", asMaster: true)
            let a = try await cluster.start("a")
            try await cluster.waitForNodes(2)
            try await cluster.put(local, path)
            try await eventually("\(path) on a") { try await cluster.whereIs(path)?.k == 1 }
            a.signal(SIGSTOP)
            let b = try await cluster.start("b", quota: bQuota)
            try await eventually("a copy to b under way") {
                try await cluster.status().replication.copiesInFlight == 1
            }
            return (master, a, b)
        }

        @Test("rm during a copy: the copy that ends afterwards is dropped, and no disk keeps the file")
        func removeDuringACopy() async throws {
            try await withCluster { cluster in
                let local = try cluster.localFile("f", size: 300_000, seed: 31)
                let (_, a, b) = try await Self.copyHeldUp(cluster, path: "late/f", local: local)
                try await eventually("the stopped source is declared down") {
                    try await cluster.node(a)?.alive == false
                }
                let rm = try await cluster.cli("rm", "late/f")
                #expect(rm.status == 0, "\(rm.stderr)")
                a.signal(SIGCONT)
                try await eventually("the copy is over") { try await cluster.status().replication.copiesInFlight == 0 }
                try await eventually("no disk keeps late/f") {
                    !Self.exists(b.file("late/f")) && !Self.exists(a.file("late/f"))
                }
                let status = try await cluster.status()
                #expect(status.files == 0)
                #expect(status.unaccountedFiles == 0)
            }
        }

        @Test("A slow copy of an old version never overwrites the newer version that reached the same node meanwhile")
        func oldCopyRacingANewUpload() async throws {
            try await withCluster { cluster in
                let first = try cluster.localFile("v1", size: 300_000, seed: 41)
                let second = try cluster.localFile("v2", size: 200_000, seed: 42)
                let (_, a, b) = try await Self.copyHeldUp(cluster, path: "race/x", local: first, bQuota: "500M")
                // b has the most room: the new version goes there while the old one is on its way.
                try await cluster.put(second, "race/x")
                #expect(try await cluster.whereIs("race/x")?.nodes == [b.address])
                a.signal(SIGCONT)
                try await eventually("the old copy is over") { try await cluster.status().replication.copiesInFlight == 0 }
                // However the old copy ended (cancelled by the removal of version 1, refused
                // because b holds version 2, or cut short by its source removing version 1), b
                // holds version 2.
                #expect(try Data(contentsOf: b.file("race/x")) == Data(contentsOf: second))
                let out = cluster.root.appendingPathComponent("race-x")
                let got = try await cluster.cli("get", "race/x", out.path)
                #expect(got.status == 0, "\(got.stderr)")
                #expect(try Data(contentsOf: out) == Data(contentsOf: second))
                // In the end every copy the catalog counts is version 2 on disk.
                try await eventually("K=2 of version 2") { try await cluster.whereIs("race/x")?.k == 2 }
                for node in [a, b] {
                    #expect(try Data(contentsOf: node.file("race/x")) == Data(contentsOf: second), "\(node.name)")
                }
            }
        }

        @Test("A copy of a version replaced meanwhile, still under way when its target comes back with its inventory, is removed once it lands: nothing is left unaccounted")
        func replacedCopyUnderWayAtInventory() async throws {
            try await withCluster { cluster in
                let first = try cluster.localFile("v1", size: 300_000, seed: 43)
                let second = try cluster.localFile("v2", size: 200_000, seed: 44)
                // b has room for version 1 alone: version 2 cannot go there while version 1 is
                // on its way, so the old copy lands.
                let (_, a, b) = try await Self.copyHeldUp(cluster, path: "late/h", local: first, bQuota: "400K")
                // b stops too, and is declared down: no removal can reach it.
                b.signal(SIGSTOP)
                try await eventually("a and b declared down") {
                    let nodes = try await cluster.status().nodes
                    return !nodes.contains { [a.address, b.address].contains($0.address) && $0.alive }
                }
                // Version 2 goes to c; version 1 is retired, its copy to b is still under way.
                let c = try await cluster.start("c")
                try await eventually("c counted") { try await cluster.node(c)?.alive == true }
                try await cluster.put(second, "late/h")
                // b comes back and sends its inventory while its copy still waits for a.
                b.signal(SIGCONT)
                try await eventually("b back") { try await cluster.node(b)?.alive == true }
                #expect(try await cluster.status().replication.copiesInFlight == 1)
                a.signal(SIGCONT)
                try await eventually("the old copy is over") { try await cluster.status().replication.copiesInFlight == 0 }
                // However it ended, version 1 does not stay on b: it is removed (or was never
                // kept), and version 2 reaches every node.
                try await eventually("version 2 on a, b and c", timeout: .seconds(60)) {
                    try await cluster.whereIs("late/h")?.k == 3
                }
                for node in [a, b, c] {
                    #expect(try Data(contentsOf: node.file("late/h")) == Data(contentsOf: second), "\(node.name)")
                }
                #expect(try await cluster.status().unaccountedFiles == 0)
                try await cluster.expectAuditClean()
            }
        }

        @Test("A master killed during a copy finds it after its restart: the copy that landed meanwhile counts")
        func masterKilledMidCopy() async throws {
            try await withCluster { cluster in
                let local = try cluster.localFile("g", size: 300_000, seed: 51)
                let (master, a, b) = try await Self.copyHeldUp(cluster, path: "late/g", local: local)
                await master.crash()
                a.signal(SIGCONT)
                try await eventually("the copy landed on b") { Self.exists(b.file("late/g")) }
                try await cluster.restart(master)
                try await eventually("K=2: a and b") { try await cluster.whereIs("late/g")?.k == 2 }
                #expect(try Data(contentsOf: b.file("late/g")) == Data(contentsOf: local))
            }
        }

        /// Starts `fsdfsd put`, waits until its bytes are streaming into `node`'s temporary
        /// file, and freezes the client there (SIGSTOP): the caller disturbs the master, then
        /// lets the put go on with SIGCONT.
        static func putHeldWhileStreaming(
            _ local: URL, _ remote: String, to node: NodeProcess, in cluster: Cluster
        ) async throws -> Process {
            let put = try Fsdfsd.start(
                ["put", local.path, remote], environment: cluster.environment,
                log: cluster.root.appendingPathComponent("put.log"))
            let temporary = node.data.appendingPathComponent(".fsdfs/tmp")
            let deadline = ContinuousClock.now + .seconds(60)
            while (try? FileManager.default.contentsOfDirectory(atPath: temporary.path))?.contains(where: { $0.hasSuffix(".part") }) != true {
                guard ContinuousClock.now < deadline, put.isRunning else { throw HarnessError("the upload never reached the node") }
                try await Task.sleep(for: .milliseconds(2))  // poll interval
            }
            kill(put.processIdentifier, SIGSTOP)
            return put
        }

        @Test("A replacing upload whose commit fails replaces nothing: the old version stays on the node, counted and served")
        func failedCommitKeepsTheOldVersion() async throws {
            try await withCluster { cluster in
                let master = try await cluster.start("master", quota: "0", asMaster: true)
                let a = try await cluster.start("a", quota: "1G")
                try await cluster.waitForNodes(2)
                let old = try cluster.localFile("old", size: 100_000, seed: 61)
                try await cluster.put(old, "keep/x")
                let new = try cluster.localFile("new", size: 64 << 20, seed: 62)
                // The put is held (SIGSTOP) while its bytes stream to the node, the master is
                // killed and restarted, and the put goes on: its commit reaches a master that
                // never recorded the upload.
                let put = try await Self.putHeldWhileStreaming(new, "keep/x", to: a, in: cluster)
                await master.crash()
                try await cluster.restart(master)
                kill(put.processIdentifier, SIGCONT)
                try await eventually("the put ended", timeout: .seconds(90)) { !put.isRunning }
                let output = (try? String(contentsOf: cluster.root.appendingPathComponent("put.log"), encoding: .utf8)) ?? ""
                #expect(put.terminationStatus != 0, "\(output)")
                #expect(output.contains("not recorded") || output.contains("did not answer"), "\(output)")
                #expect(try Data(contentsOf: a.file("keep/x")) == Data(contentsOf: old))
                try await eventually("the old version counted again") { try await cluster.whereIs("keep/x")?.k == 1 }
                let out = cluster.root.appendingPathComponent("keep-x")
                let got = try await cluster.cli("get", "keep/x", out.path)
                #expect(got.status == 0, "\(got.stderr)")
                #expect(try Data(contentsOf: out) == Data(contentsOf: old))
            }
        }

        @Test("A replacing upload whose outcome the node never learns keeps the old version aside, the master lists it as unaccounted, and it goes from the list once removed by hand")
        func keptVersionsAreListed() async throws {
            try await withCluster { cluster in
                let master = try await cluster.start("master", quota: "0", asMaster: true)
                let a = try await cluster.start("a", quota: "1G")
                try await cluster.waitForNodes(2)
                let old = try cluster.localFile("old", size: 100_000, seed: 71)
                try await cluster.put(old, "keep/y")
                let new = try cluster.localFile("new", size: 64 << 20, seed: 72)
                // The master dies while the bytes stream and stays away longer than the node
                // asks it about the commit (30 s): the node never learns whether it counts.
                let put = try await Self.putHeldWhileStreaming(new, "keep/y", to: a, in: cluster)
                await master.crash()
                kill(put.processIdentifier, SIGCONT)
                try await eventually("the put ended", timeout: .seconds(90)) { !put.isRunning }
                #expect(put.terminationStatus != 0)
                #expect(a.logText().contains("is kept in"), "\(a.logText().suffix(2000))")
                try await cluster.restart(master)

                var listed: UnaccountedFile?
                try await eventually("the kept version listed by the master") {
                    let result = try await cluster.cli("unaccounted", "--json")
                    let files = try JSONDecoder().decode([UnaccountedFile].self, from: Data(result.stdout.utf8))
                    listed = files.first { $0.kept != nil && $0.path.rawValue == "keep/y" }
                    return listed != nil
                }
                let location = try #require(listed?.kept)
                #expect(listed?.address == a.address)
                #expect(try Data(contentsOf: URL(fileURLWithPath: location)) == Data(contentsOf: old))
                let text = try await cluster.cli("unaccounted")
                #expect(text.stdout.contains(location), "\(text.stdout)")
                #expect((try await cluster.status().unaccountedFiles ?? 0) >= 1)

                // The operator looked at it and removed it: the list follows.
                try FileManager.default.removeItem(atPath: location)
                try await eventually("no kept version listed any more") {
                    let result = try await cluster.cli("unaccounted", "--json")
                    let files = try JSONDecoder().decode([UnaccountedFile].self, from: Data(result.stdout.utf8))
                    return !files.contains { $0.kept != nil }
                }
            }
        }
    }
}
