import Foundation
import Testing
import TestSupport

extension Integration {
    /// `put -r LOCALDIR PREFIX` and `get -r PREFIX LOCALDIR`: whole trees, in parallel,
    /// skipping what already matches, resumable, every failure named.
    @Suite("Tree transfers")
    struct TreeTransferTests {
        /// The summary `--json` prints.
        struct Summary: Decodable, Equatable {
            var files: Int
            var transferred: Int
            var skipped: Int
            var failed: Int
            var bytes: Int64
        }

        static func summary(_ result: Fsdfsd.Result) throws -> Summary {
            let line = try #require(result.stdout.split(separator: "\n").last, "no summary: \(result.stderr)")
            return try JSONDecoder().decode(Summary.self, from: Data(line.utf8))
        }

        /// Writes `files` (relative path → bytes) under `root`.
        static func writeTree(_ files: [String: Data], under root: URL) throws {
            for (relative, bytes) in files {
                let url = root.appendingPathComponent(relative)
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try bytes.write(to: url)
            }
        }

        /// Relative path → bytes of every regular file under `root`, hidden partial files included.
        static func readTree(_ root: URL) throws -> [String: Data] {
            var found: [String: Data] = [:]
            let base = root.standardizedFileURL.path
            guard let walker = FileManager.default.enumerator(atPath: base) else { return [:] }
            while let relative = walker.nextObject() as? String {
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: base + "/" + relative, isDirectory: &isDirectory), !isDirectory.boolValue {
                    found[relative] = try Data(contentsOf: URL(fileURLWithPath: base + "/" + relative))
                }
            }
            return found
        }

        static func bytes(_ size: Int, seed: UInt8) -> Data {
            var state = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(size)
            return Data((0..<size).map { _ in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return UInt8(truncatingIfNeeded: state >> 33)
            })
        }

        @Test("put -r then get -r round-trips a nested tree with an empty file; re-runs skip everything, a changed file alone is sent again",
              arguments: CatalogKind.allCases)
        func roundTripAndSkip(catalog: CatalogKind) async throws {
            try await withCluster(catalog: catalog) { cluster in
                try await cluster.start("master", quota: "200M", asMaster: true)
                try await cluster.start("node", quota: "200M")
                try await cluster.waitForNodes(2)
                let tree: [String: Data] = [
                    "top.txt": Data("top\n".utf8),
                    "empty.txt": Data(),
                    "a/b/c.txt": Data("deep\n".utf8),
                    "a/b/d/e.bin": Self.bytes(300_000, seed: 3),
                    "a/f.bin": Self.bytes(5_000_000, seed: 4),
                    "z/y/x/w/v.txt": Data("very deep\n".utf8),
                ]
                let local = cluster.root.appendingPathComponent("tree")
                try Self.writeTree(tree, under: local)

                let put = try await cluster.cli("put", "-r", local.path, "backup/tree", "--json", "--jobs", "4")
                #expect(put.status == 0, "\(put.stderr)")
                #expect(try Self.summary(put) == Summary(files: 6, transferred: 6, skipped: 0, failed: 0, bytes: 5_300_019))
                let listed = try await cluster.list().map(\.path.rawValue).sorted()
                #expect(listed == tree.keys.map { "backup/tree/\($0)" }.sorted())

                let out = cluster.root.appendingPathComponent("out")
                let get = try await cluster.cli("get", "-r", "backup/tree/", out.path, "--json")
                #expect(get.status == 0, "\(get.stderr)")
                #expect(try Self.summary(get) == Summary(files: 6, transferred: 6, skipped: 0, failed: 0, bytes: 5_300_019))
                #expect(try Self.readTree(out) == tree, "the tree read back is the tree stored, with no partial file left")

                // Run again: nothing moves.
                let putAgain = try await cluster.cli("put", "-r", local.path, "backup/tree", "--json")
                #expect(try Self.summary(putAgain) == Summary(files: 6, transferred: 0, skipped: 6, failed: 0, bytes: 0))
                let getAgain = try await cluster.cli("get", "-r", "backup/tree", out.path, "--json")
                #expect(try Self.summary(getAgain) == Summary(files: 6, transferred: 0, skipped: 6, failed: 0, bytes: 0))

                // One file changes (same size): exactly it is sent, and fetched back.
                var changed = tree
                changed["a/b/c.txt"] = Data("DEEP\n".utf8)
                try Self.writeTree(["a/b/c.txt": changed["a/b/c.txt"]!], under: local)
                let putChanged = try await cluster.cli("put", "-r", local.path, "backup/tree", "--json")
                #expect(try Self.summary(putChanged) == Summary(files: 6, transferred: 1, skipped: 5, failed: 0, bytes: 5))
                let getChanged = try await cluster.cli("get", "-r", "backup/tree", out.path, "--json")
                #expect(try Self.summary(getChanged) == Summary(files: 6, transferred: 1, skipped: 5, failed: 0, bytes: 5))
                #expect(try Self.readTree(out) == changed)

                // Without --json: one summary line on stdout.
                let plain = try await cluster.cli("get", "-r", "backup/tree", out.path)
                #expect(plain.status == 0)
                #expect(plain.stdout.contains("get 6 files: 0 transferred"), "\(plain.stdout)")
                try await cluster.expectAuditClean()
            }
        }

        @Test("put -r with files it cannot store names each with its reason, stores the others, and fails")
        func failuresAreNamed() async throws {
            try await withCluster { cluster in
                try await cluster.start("master", quota: "100M", asMaster: true)
                try await cluster.waitForNodes(1)
                let local = cluster.root.appendingPathComponent("tree")
                try Self.writeTree(["good/one.txt": Data("1".utf8), "good/two.txt": Data("2".utf8), "bad\\name.txt": Data("3".utf8)], under: local)
                try FileManager.default.createSymbolicLink(
                    atPath: local.appendingPathComponent("link").path, withDestinationPath: "/etc/hostname")

                let put = try await cluster.cli("put", "-r", local.path, "p", "--json")
                #expect(put.status != 0)
                #expect(try Self.summary(put) == Summary(files: 4, transferred: 2, skipped: 0, failed: 2, bytes: 2))
                #expect(put.stderr.contains("put: bad\\name.txt: "), "\(put.stderr)")
                #expect(put.stderr.contains("put: link: not a regular file"), "\(put.stderr)")
                #expect(try await cluster.list().map(\.path.rawValue).sorted() == ["p/good/one.txt", "p/good/two.txt"])

                // A local directory in the way of a file: that file fails, the rest arrive.
                let out = cluster.root.appendingPathComponent("out")
                try FileManager.default.createDirectory(at: out.appendingPathComponent("good/one.txt"), withIntermediateDirectories: true)
                let get = try await cluster.cli("get", "-r", "p", out.path, "--json")
                #expect(get.status != 0)
                #expect(try Self.summary(get) == Summary(files: 2, transferred: 1, skipped: 0, failed: 1, bytes: 1))
                #expect(get.stderr.contains("get: p/good/one.txt: "), "\(get.stderr)")
                #expect(try Data(contentsOf: out.appendingPathComponent("good/two.txt")) == Data("2".utf8))

                let missing = try await cluster.cli("put", "-r", cluster.root.appendingPathComponent("nothing").path, "p")
                #expect(missing.status != 0)
                #expect(missing.stderr.contains("is not a directory"), "\(missing.stderr)")
            }
        }

        @Test("get -r killed mid-run leaves no partial file under a final name, and running it again completes it")
        func interruptedGetResumes() async throws {
            try await withCluster { cluster in
                try await cluster.start("master", quota: "500M", asMaster: true)
                try await cluster.waitForNodes(1)
                var tree: [String: Data] = [:]
                for index in 0..<400 { tree["d\(index % 7)/f\(index).bin"] = Self.bytes(20_000 + index, seed: UInt8(index % 200)) }
                let local = cluster.root.appendingPathComponent("tree")
                try Self.writeTree(tree, under: local)
                let put = try await cluster.cli("put", "-r", local.path, "many", "--json")
                #expect(put.status == 0, "\(put.stderr)")

                let out = cluster.root.appendingPathComponent("out")
                let get = try Fsdfsd.start(
                    ["get", "-r", "many", out.path, "--jobs", "1"], environment: cluster.environment,
                    log: cluster.root.appendingPathComponent("get.log"))
                try await eventually("some files arrived", timeout: .seconds(60)) {
                    (try? Self.readTree(out).count) ?? 0 >= 40
                }
                kill(get.processIdentifier, SIGKILL)
                get.waitUntilExit()

                let partialRun = try Self.readTree(out)
                for (relative, bytes) in partialRun {
                    if relative.hasSuffix(".fsdfs-part") {
                        #expect(URL(fileURLWithPath: relative).lastPathComponent.hasPrefix("."), "a partial file is hidden: \(relative)")
                    } else {
                        #expect(tree[relative] == bytes, "\(relative) is complete under its final name")
                    }
                }
                let arrived = partialRun.keys.filter { !$0.hasSuffix(".fsdfs-part") }.count
                #expect(arrived < tree.count, "the run was cut short")

                let again = try await cluster.cli("get", "-r", "many", out.path, "--json")
                #expect(again.status == 0, "\(again.stderr)")
                let summary = try Self.summary(again)
                #expect(summary.skipped == arrived)
                #expect(summary.transferred == tree.count - arrived)
                #expect(try Self.readTree(out) == tree, "every file in place and no partial file left")
            }
        }
    }
}
