import Foundation
import ReplicaCore
import Synchronization
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A value shared with a watcher task.
final class Shared<Value: Sendable>: Sendable {
    private let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
    func withLock<T: Sendable>(_ body: (inout Value) -> T) -> T { value.withLock { body(&$0) } }
}

extension Integration {
    /// Replicas that vanish or rot on a running node: the scrubber finds them, K drops, and
    /// the scheduler copies good ones back.
    @Suite("Scrub")
    struct ScrubTests {
        /// Flips one byte of the file in place (same inode and size) and restores its exact
        /// times, so that only a re-hash can tell.
        static func flipByteKeepingTimes(_ url: URL) throws {
            var before = stat()
            try #require(stat(url.path, &before) == 0)
            var bytes = try Data(contentsOf: url)
            bytes[bytes.count / 2] ^= 0x01
            let handle = try FileHandle(forWritingTo: url)
            try handle.write(contentsOf: bytes)
            try handle.close()
            var times = [before.st_atim, before.st_mtim]
            try #require(utimensat(AT_FDCWD, url.path, &times, 0) == 0)
        }

        static func sha256(_ url: URL) -> String? {
            (try? Data(contentsOf: url)).map { RequestSignature.sha256Hex(of: $0) }
        }

        @Test("A deleted and a bit-flipped replica are found by fsdfsd scrub, stop counting, and are copied back", arguments: CatalogKind.allCases)
        func scrubFindsMissingAndCorruptReplicas(catalog: CatalogKind) async throws {
            try await withCluster(catalog: catalog) { cluster in
                let master = try await cluster.start("master", asMaster: true)
                let one = try await cluster.start("one")
                let two = try await cluster.start("two")
                try await cluster.waitForNodes(3)
                // Big enough that copying one back takes a while, so a watcher polling `where`
                // sees K below 3 in between.
                try await cluster.put(try cluster.localFile("a", size: 16 << 20, seed: 1), "x/a")
                try await cluster.put(try cluster.localFile("b", size: 24 << 20, seed: 2), "x/b")
                try await eventually("three copies of each") {
                    let a = try await cluster.whereIs("x/a"), b = try await cluster.whereIs("x/b")
                    return a?.k == 3 && b?.k == 3
                }
                let a = try #require(try await cluster.whereIs("x/a"))
                let b = try #require(try await cluster.whereIs("x/b"))

                try FileManager.default.removeItem(at: one.file("x/a"))
                try Self.flipByteKeepingTimes(two.file("x/b"))
                let rottenInode = try FileManager.default.attributesOfItem(atPath: two.file("x/b").path)[.systemFileNumber] as? Int
                // Nothing notices by itself.
                #expect(try await cluster.whereIs("x/a")?.k == 3)
                #expect(try await cluster.whereIs("x/b")?.k == 3)

                // Watch K while the scrubs run: it must drop below 3 before it is restored.
                let lowest = Shared<[String: Int]>([:])
                let watching = Shared(true)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        while watching.withLock({ $0 }) {
                            for path in ["x/a", "x/b"] {
                                if let k = try? await cluster.whereIs(path)?.k {
                                    lowest.withLock { $0[path] = min($0[path] ?? k, k) }
                                }
                            }
                            try await Task.sleep(for: .milliseconds(5))  // poll interval
                        }
                    }
                    defer { watching.withLock { $0 = false } }

                    let first = try await cluster.cli("scrub", one.address, "--wait")
                    #expect(first.status == 0, "\(first.stderr)")
                    #expect(first.stdout.contains("started on \(one.address)"), "\(first.stdout)")
                    #expect(first.stdout.contains("0 corrupt and 1 missing"), "\(first.stdout)")
                    let second = try await cluster.cli("scrub", two.address, "--wait")
                    #expect(second.status == 0, "\(second.stderr)")
                    #expect(second.stdout.contains("1 corrupt and 0 missing"), "\(second.stdout)")

                    try await eventually("both files have three good copies again") {
                        let a = try await cluster.whereIs("x/a"), b = try await cluster.whereIs("x/b")
                        return a?.k == 3 && b?.k == 3
                    }
                    watching.withLock { $0 = false }
                    try await group.waitForAll()
                }
                let seen = lowest.withLock { $0 }
                #expect((seen["x/a"] ?? 3) < 3, "K of x/a dropped after the scrub: \(seen)")
                #expect((seen["x/b"] ?? 3) < 3, "K of x/b dropped after the scrub: \(seen)")
                // The master heard it from the scrub reports, in one catalog step each.
                #expect(master.logText().contains("no longer holds x/a"))
                #expect(master.logText().contains("no longer holds x/b"))

                // where --json says so, and every disk holds the catalog's bytes.
                for (path, file) in [("x/a", a), ("x/b", b)] {
                    let result = try await cluster.cli("where", path, "--json")
                    let reply = try JSONDecoder().decode(WhereReply.self, from: Data(result.stdout.utf8))
                    #expect(reply.k == 3 && reply.sha256 == file.sha256)
                    #expect(Set(reply.nodes) == Set([master.address, one.address, two.address]))
                    for node in [master, one, two] {
                        #expect(Self.sha256(node.file(path)) == file.sha256, "\(node.name) holds the right \(path)")
                    }
                }
                let quarantined = FileManager.default.subpaths(atPath: two.data.appendingPathComponent(".fsdfs/quarantine").path) ?? []
                #expect(quarantined.contains { $0.hasSuffix("x/b") }, "the rotten copy is kept aside: \(quarantined)")
                let newInode = try FileManager.default.attributesOfItem(atPath: two.file("x/b").path)[.systemFileNumber] as? Int
                #expect(newInode != rottenInode, "x/b on two is a new copy")

                // status shows what each node's scrubber found.
                let status = try await cluster.status()
                let scrubOne = try #require(status.nodes.first { $0.address == one.address }?.scrub)
                let scrubTwo = try #require(status.nodes.first { $0.address == two.address }?.scrub)
                #expect(scrubOne.missing == 1 && scrubOne.corrupt == 0)
                #expect(scrubTwo.corrupt == 1 && scrubTwo.missing == 0)
                #expect(scrubOne.lastPass?.ended != nil)
                let text = try await cluster.cli("status")
                #expect(text.stdout.contains("found 1 corrupt, 0 missing"), "\(text.stdout)")
            }
        }

        @Test("A node started with a short --scrub-interval finds a vanished replica by itself; a restart remembers the last pass")
        func periodicScrubAndRestart() async throws {
            try await withCluster { cluster in
                try await cluster.start("master", asMaster: true)
                let one = try await cluster.start("one", extra: ["--scrub-interval", "1", "--scrub-rate", "1G"])
                try await cluster.start("two")
                try await cluster.waitForNodes(3)
                try await cluster.put(try cluster.localFile("a", size: 10_000, seed: 3), "x/a")
                try await eventually("three copies") { try await cluster.whereIs("x/a")?.k == 3 }
                let sha = try #require(try await cluster.whereIs("x/a")?.sha256)

                try FileManager.default.removeItem(at: one.file("x/a"))
                try await eventually("the periodic pass found it and the copy is back") {
                    let scrub = try await cluster.node(one)?.scrub
                    let k = try await cluster.whereIs("x/a")?.k
                    return scrub?.missing == 1 && Self.sha256(one.file("x/a")) == sha && k == 3
                }

                // The last pass is remembered in DIR/.fsdfs/scrub.json across a restart.
                await one.stop()
                let journal = try Data(contentsOf: one.data.appendingPathComponent(".fsdfs/scrub.json"))
                let saved = try JSONDecoder().decode(ScrubStatus.self, from: journal)
                #expect(saved.missing == 1)
                let last = try #require(saved.lastPass)
                try await cluster.restart(one)
                try await eventually("the restarted node reports its remembered totals") {
                    let scrub = try await cluster.node(one)?.scrub
                    return scrub?.missing == 1 && (scrub?.lastPass?.number ?? 0) >= last.number
                }
            }
        }

        @Test("fsdfsd scrub on an address where no node answers fails with one line")
        func scrubUnreachableNode() async throws {
            try await withCluster { cluster in
                let port = try await Cluster.freePort()
                let result = try await cluster.cli("scrub", "127.0.0.1:\(port)")
                #expect(result.status != 0)
                #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
                #expect(result.stderr.contains("127.0.0.1:\(port)"), "\(result.stderr)")
            }
        }
    }
}
