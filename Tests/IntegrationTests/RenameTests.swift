import Foundation
import Testing
import ReplicaCore
import TestSupport

extension Integration {
    /// `fsdfsd mv SRC DST [-r]`: renames in the catalog, nodes rename their copies in place.
    @Suite("Renames")
    struct RenameTests {
        static func inode(_ url: URL) throws -> UInt64 {
            let attributes = try FileManager.default.attributesOfItem(atPath: url.path)
            return try #require((attributes[.systemFileNumber] as? NSNumber)?.uint64Value)
        }

        static func exists(_ url: URL) -> Bool { FileManager.default.fileExists(atPath: url.path) }

        @Test("mv renames a file on every holder without copying it (same inode, K kept); a node down at the time moves its copy when it is back", arguments: [CatalogKind.sqlite, .mongodb])
        func renameMovesCopiesInPlace(catalog: CatalogKind) async throws {
            try await withCluster(catalog: catalog) { cluster in try await Self.renameInPlace(cluster) }
        }

        static func renameInPlace(_ cluster: Cluster) async throws {
            do {
                let policies = try Integration.ReplicationTests.policyDirectory(in: cluster, "[default]\nn = 2\n")
                try await cluster.start("master", quota: "0", asMaster: true, extra: ["--policies", policies])
                var nodes: [NodeProcess] = []
                for name in ["a", "b", "c"] { nodes.append(try await cluster.start(name, quota: "1M")) }
                try await cluster.waitForNodes(4)
                let local = try cluster.localFile("f", size: 70_000, seed: 3)
                try await cluster.put(local, "docs/f.bin")
                try await eventually("a copy on every node (spare room is filled)") { try await cluster.whereIs("docs/f.bin")?.k == 3 }
                var before: [String: UInt64] = [:]
                for node in nodes { before[node.name] = try Self.inode(node.file("docs/f.bin")) }
                let version = try #require(try await cluster.whereIs("docs/f.bin"))

                let down = nodes[2]
                await down.stop()
                try await eventually("c has left") { try await cluster.node(down)?.alive == false }
                let moved = try await cluster.cli("mv", "docs/f.bin", "archive/2026/f.bin")
                #expect(moved.status == 0, "\(moved.stderr)")
                #expect(moved.stdout.contains("moved docs/f.bin to archive/2026/f.bin"), "\(moved.stdout)")

                #expect(try await cluster.whereIs("docs/f.bin") == nil)
                let after = try #require(try await cluster.whereIs("archive/2026/f.bin"))
                #expect(after.k == 2 && after.sha256 == version.sha256 && after.size == version.size)
                for node in nodes[0..<2] {
                    #expect(try Self.inode(node.file("archive/2026/f.bin")) == before[node.name], "renamed in place on \(node.name), not copied")
                    #expect(!Self.exists(node.file("docs/f.bin")))
                    #expect(!Self.exists(node.file("docs")), "the emptied directory is pruned")
                }
                #expect(Self.exists(down.file("docs/f.bin")), "a node that is down keeps its copy where it was")

                // Renamed again before c is back: c moves its copy straight to the last name.
                let again = try await cluster.cli("mv", "archive/2026/f.bin", "final/f.bin")
                #expect(again.status == 0, "\(again.stderr)")
                for node in nodes[0..<2] {
                    #expect(try Self.inode(node.file("final/f.bin")) == before[node.name])
                    #expect(!Self.exists(node.file("archive")))
                }
                let fetched = cluster.root.appendingPathComponent("fetched.bin")
                let get = try await cluster.cli("get", "final/f.bin", fetched.path)
                #expect(get.status == 0, "\(get.stderr)")
                #expect(try Data(contentsOf: fetched) == Data(contentsOf: local))

                try await cluster.restart(down)
                try await eventually("c moved its copy when it came back, and it counts") {
                    try await cluster.whereIs("final/f.bin")?.k == 3 && Self.exists(down.file("final/f.bin"))
                }
                #expect(try Self.inode(down.file("final/f.bin")) == before[down.name])
                #expect(!Self.exists(down.file("docs/f.bin")))
                #expect(!Self.exists(down.file("archive")))
                #expect(try await cluster.status().replication.copiesInFlight == 0)
                #expect(try await cluster.list().map(\.path.rawValue) == ["final/f.bin"])
                let events = try await cluster.cli("events", "--json")
                #expect(events.stdout.contains("\"renamed\""), "a renamed event")
                try await cluster.expectAuditClean()
            }
        }

        @Test("mv -r moves every file under a prefix, mv onto a file replaces it, and bad renames are refused with one line and change nothing", arguments: [CatalogKind.sqlite, .mongodb])
        func prefixesReplacementsAndRefusals(catalog: CatalogKind) async throws {
            try await withCluster(catalog: catalog) { cluster in try await Self.prefixes(cluster) }
        }

        static func prefixes(_ cluster: Cluster) async throws {
            do {
                let policies = try Integration.ReplicationTests.policyDirectory(in: cluster, "[default]\nn = 1\n")
                try await cluster.start("master", quota: "0", asMaster: true, extra: ["--policies", policies])
                let a = try await cluster.start("a", quota: "10M")
                try await cluster.waitForNodes(2)
                let paths = ["x/1", "x/2", "x/sub/3", "y", "xy/4"]
                for index in paths.indices {
                    let local = try cluster.localFile("f\(index)", size: 1000 + index, seed: UInt8(index + 1))
                    try await cluster.put(local, paths[index])
                }

                let tree = try await cluster.cli("mv", "-r", "x", "z")
                #expect(tree.status == 0, "\(tree.stderr)")
                #expect(tree.stdout.contains("moved 3 file(s)"), "\(tree.stdout)")
                #expect(try await cluster.list().map(\.path.rawValue) == ["xy/4", "y", "z/1", "z/2", "z/sub/3"], "xy/ is not under x/")
                for path in ["z/1", "z/2", "z/sub/3", "xy/4"] { #expect(Self.exists(a.file(path)), "\(path) on disk") }
                #expect(!Self.exists(a.file("x")))

                let z1 = try #require(try await cluster.whereIs("z/1"))
                let replace = try await cluster.cli("mv", "z/1", "y")
                #expect(replace.status == 0, "\(replace.stderr)")
                #expect(replace.stdout.contains("replaced"), "\(replace.stdout)")
                let y = try #require(try await cluster.whereIs("y"))
                #expect(y.sha256 == z1.sha256 && y.k == 1)
                try await eventually("the replaced version is gone from the disk, the renamed one in its place") {
                    let bytes = try? Data(contentsOf: a.file("y"))
                    return bytes?.count == 1000 && !Self.exists(a.file("z/1"))
                }

                let refused: [(arguments: [String], message: String)] = [
                    (["mv", "nothing", "other"], "nothing: no such file"),
                    (["mv", "-r", "z", "z/inner"], "into itself"),
                    (["mv", "-r", "z", "y"], "y is a file of the store"),
                    (["mv", "-r", "z", "xy"], "xy/ already holds files"),
                    (["mv", "z/2", "z/sub"], "z/sub is a directory of the store"),
                    (["mv", "z/2", "y/under"], "y is a file of the store, not a directory"),
                    (["mv", "z", "w"], "z is a directory of the store: use mv -r"),
                    (["mv", "-r", "y", "w"], "y is a file, not a directory of the store: use mv without -r"),
                    (["mv", "-r", "nothing", "w"], "nothing/: no files under it"),
                    (["mv", "z/2", "../escape"], "not a valid path"),
                ]
                let listed = try await cluster.list()
                for refusal in refused {
                    let arguments = refusal.arguments, message = refusal.message
                    let result = try await cluster.cli(arguments: arguments)
                    #expect(result.status != 0, "\(arguments) must fail")
                    #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
                    #expect(result.stderr.split(separator: "\n").count == 1, "one line: \(result.stderr)")
                }
                #expect(try await cluster.list() == listed, "nothing changed")
                try await cluster.expectAuditClean()
            }
        }

        @Test("A node that cannot move a renamed file (a file of its own at the new path, kept) still counts and serves as a copy source from the old path; it moves once the path is free")
        func blockedMoveStillSources() async throws {
            try await withCluster { cluster in try await Self.blocked(cluster) }
        }

        static func blocked(_ cluster: Cluster) async throws {
            do {
                try await cluster.start("master", quota: "0", asMaster: true)
                let a = try await cluster.start("a", quota: "1M")
                try await cluster.waitForNodes(2)
                let local = try cluster.localFile("f", size: 50_000, seed: 5)
                let other = try cluster.localFile("g", size: 20_000, seed: 6)
                try await cluster.put(local, "d/f.bin")
                try await cluster.put(other, "d/g.bin")
                // A file put by hand where one of them will go: the node keeps it, never writes over it.
                try FileManager.default.createDirectory(at: a.file("new"), withIntermediateDirectories: true)
                try Data("by hand".utf8).write(to: a.file("new/f.bin"))

                let moved = try await cluster.cli("mv", "-r", "d", "new")
                #expect(moved.status == 0, "\(moved.stderr)")
                try await eventually("a says why it cannot move f") { a.logText().contains("could not move d/f.bin to new/f.bin") }
                #expect(try String(contentsOf: a.file("new/f.bin"), encoding: .utf8) == "by hand")
                #expect(Self.exists(a.file("d/f.bin")) && Self.exists(a.file("new/g.bin")) && !Self.exists(a.file("d/g.bin")))
                #expect(try await cluster.whereIs("new/f.bin")?.k == 1, "its copy under the old path counts")
                #expect(try await cluster.whereIs("new/f.bin")?.heldAt == [a.address: try VirtualPath("d/f.bin")])
                #expect(try await cluster.whereIs("new/g.bin")?.heldAt == nil)
                let fetched = cluster.root.appendingPathComponent("from-old-path.bin")
                let get = try await cluster.cli("get", "new/f.bin", fetched.path)
                #expect(get.status == 0, "a read is served from where the node holds it: \(get.stderr)")
                #expect(try Data(contentsOf: fetched) == Data(contentsOf: local))
                let tree = cluster.root.appendingPathComponent("tree")
                let getTree = try await cluster.cli("get", "-r", "new", tree.path)
                #expect(getTree.status == 0, "get -r too: \(getTree.stderr)")
                #expect(try Data(contentsOf: tree.appendingPathComponent("f.bin")) == Data(contentsOf: local))
                #expect(try Data(contentsOf: tree.appendingPathComponent("g.bin")) == Data(contentsOf: other))

                // A node joins: both copies come from a in one batch, f from where a holds it.
                let b = try await cluster.start("b", quota: "1M")
                try await eventually("b has both copies") {
                    let f = try await cluster.whereIs("new/f.bin"), g = try await cluster.whereIs("new/g.bin")
                    return f?.k == 2 && g?.k == 2
                }
                #expect(try Data(contentsOf: b.file("new/f.bin")) == Data(contentsOf: local))
                #expect(try Data(contentsOf: b.file("new/g.bin")) == Data(contentsOf: other))
                #expect(!cluster.logs().contains("corrupt or missing"), "no false damage")

                // The path freed, a moves its copy on the next try (every 5 s).
                try FileManager.default.removeItem(at: a.file("new/f.bin"))
                try await eventually("a moved its copy", timeout: .seconds(30)) {
                    (try? Data(contentsOf: a.file("new/f.bin"))) == (try? Data(contentsOf: local)) && !Self.exists(a.file("d"))
                }
                #expect(try await cluster.whereIs("new/f.bin")?.k == 2)
                try await cluster.expectAuditClean()
            }
        }
    }
}
