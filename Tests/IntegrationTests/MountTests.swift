import Foundation
import Testing
import ReplicaCore
import TestSupport

extension Integration {
    /// `fsdfsd mount` through the kernel's FUSE (as root on /dev/fuse; `bash .ci/run`
    /// installs fuse3 and rsync), used with the tools people use on a mount: cp, diff, rsync,
    /// sed, mv, rm, ls.
    @Suite("FUSE mount")
    struct MountTests {
        @Test("cp -r, diff -r, rsync -a, an edit in place, mv, rm -r and ls -l through the mount; a read whose first holder is down; unmount on SIGTERM and fusermount3 -u; the catalog matches the disks")
        func mount() async throws {
            try #require(FileManager.default.isReadableFile(atPath: "/dev/fuse"), "/dev/fuse is needed (the tests run as root)")
            try await withCluster { cluster in try await Self.mount(cluster) }
        }

        @Test("GET /v1/dir pages a directory without repeating or skipping an entry: files that sort between a directory's name and its files (a-1, a.txt), a directory, files after it")
        func directoryPages() async throws {
            try await withCluster { cluster in
                try await cluster.start("master", quota: "10M", asMaster: true)
                // Uploads are refused until the master has heard its own node's first report.
                try await cluster.waitForNodes(1)
                let local = try cluster.localFile("x", size: 10)
                let paths = ["d/a-1", "d/a.txt", "d/a/x", "d/a/y/z", "d/a0", "d/b/q", "d/c", "d/zz/deep", "e/other"]
                for path in paths { try await cluster.put(local, path) }
                let expected = ["a-1", "a.txt", "a/", "a0", "b/", "c", "zz/"]
                for limit in [1, 2, 3, 1000] {
                    var names: [String] = []
                    var after: String?
                    while names.count < 20 {
                        var query = "\(Route.dirPath)?path=d&limit=\(limit)"
                        if let after { query += "&after=\(Route.encode(after))" }
                        let page: [DirEntry] = try await cluster.client.call(.GET, cluster.master, query, timeout: .seconds(10))
                        names += page.map { $0.name + ($0.directory ? "/" : "") }
                        guard page.count == limit, let last = page.last else { break }
                        after = last.name + (last.directory ? "/" : "")
                    }
                    #expect(names == expected, "pages of \(limit)")
                }
                let entry: [DirEntry] = try await cluster.client.call(.GET, cluster.master, "\(Route.dirPath)?entry=d%2Fa", timeout: .seconds(10))
                #expect(entry.map(\.directory) == [true])
                let file: [DirEntry] = try await cluster.client.call(.GET, cluster.master, "\(Route.dirPath)?entry=d%2Fc", timeout: .seconds(10))
                #expect(file.map(\.size) == [10])
            }
        }

        static func mount(_ cluster: Cluster) async throws {
            let policies = try Integration.ReplicationTests.policyDirectory(in: cluster, "[default]\nn = 2\n")
            // Nodes stay "up" for 30 missed reports: a stopped holder is still listed first.
            try await cluster.start("master", quota: "0", asMaster: true, extra: ["--policies", policies, "--missed-reports", "30"])
            var nodes: [NodeProcess] = []
            for name in ["a", "b", "c"] { nodes.append(try await cluster.start(name, quota: "60M")) }
            try await cluster.waitForNodes(4)

            let point = cluster.root.appendingPathComponent("mnt")
            try FileManager.default.createDirectory(at: point, withIntermediateDirectories: true)
            var mount = try await Self.start(cluster, at: point, extra: [])
            do {
                // A local tree: sizes from empty to 3 MB, three levels.
                let tree = cluster.root.appendingPathComponent("tree")
                let files: [String: Int] = ["empty": 0, "small.txt": 10, "big.bin": 3_000_000, "sub/one.txt": 4_000, "sub/deep/two.bin": 70_000]
                for (name, size) in files {
                    let url = tree.appendingPathComponent(name)
                    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                    try Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ name.count) }).write(to: url)
                }

                try await Self.shell("cp -r \(tree.path) \(point.path)/copied")
                try await Self.shell("diff -r \(tree.path) \(point.path)/copied")
                try await Self.shell("rsync -a \(tree.path)/ \(point.path)/synced/")
                try await Self.shell("diff -r \(tree.path) \(point.path)/synced")
                let stored = try await cluster.list()
                for (name, size) in files {
                    #expect(stored.first { $0.path.rawValue == "copied/\(name)" }?.size == Int64(size), "copied/\(name) is a file of the store")
                    #expect(stored.contains { $0.path.rawValue == "synced/\(name)" }, "synced/\(name)")
                }
                #expect(!stored.contains { $0.path.name.hasPrefix(".") }, "no rsync temporary file is left")

                // ls -l shows sizes.
                let listing = try await Self.shell("ls -l \(point.path)/copied")
                #expect(listing.contains(" 3000000 ") && listing.contains(" 10 "), "\(listing)")
                #expect(try await Self.shell("stat -c %s \(point.path)/copied/sub/deep/two.bin").trimmingCharacters(in: .whitespacesAndNewlines) == "70000")

                // An edit in place (sed -i writes a new file and renames it), an append.
                try await Self.shell("printf 'alpha\\nbeta\\n' > \(point.path)/copied/notes.txt")
                try await Self.shell("sed -i 's/beta/gamma/' \(point.path)/copied/notes.txt")
                try await Self.shell("echo delta >> \(point.path)/copied/notes.txt")
                #expect(try await Self.shell("cat \(point.path)/copied/notes.txt") == "alpha\ngamma\ndelta\n")
                let fetched = cluster.root.appendingPathComponent("notes.txt")
                let get = try await cluster.cli("get", "copied/notes.txt", fetched.path)
                #expect(get.status == 0, "\(get.stderr)")
                #expect(try String(contentsOf: fetched, encoding: .utf8) == "alpha\ngamma\ndelta\n")

                // mv of a directory and of a file; rm -r.
                try await Self.shell("mv \(point.path)/copied/sub \(point.path)/copied/moved")
                try await Self.shell("mv \(point.path)/copied/small.txt \(point.path)/small-moved.txt")
                try await Self.shell("rm -r \(point.path)/synced")
                let after = try await cluster.list().map(\.path.rawValue)
                #expect(after.contains("copied/moved/one.txt") && after.contains("copied/moved/deep/two.bin") && after.contains("small-moved.txt"))
                #expect(!after.contains { $0.hasPrefix("copied/sub/") || $0.hasPrefix("synced/") || $0 == "copied/small.txt" })
                try await Self.shell("diff \(tree.path)/sub/one.txt \(point.path)/copied/moved/one.txt")
                try await Self.shell("mkdir \(point.path)/empty-dir && rmdir \(point.path)/empty-dir")
                // A directory emptied through the mount stays until removed, as on a disk.
                try await Self.shell("rm \(point.path)/copied/moved/deep/two.bin && ls -d \(point.path)/copied/moved/deep && rmdir \(point.path)/copied/moved/deep")
                // Two handles on one file see each other's writes; O_APPEND writes at the end.
                try await Self.shell("exec 3>\(point.path)/shared.txt; printf 'one ' >&3; cat \(point.path)/shared.txt > \(cluster.root.path)/seen.txt; printf 'two' >&3; exec 3>&-")
                #expect(try String(contentsOf: cluster.root.appendingPathComponent("seen.txt"), encoding: .utf8) == "one ")
                try await Self.shell("exec 3>>\(point.path)/shared.txt; exec 4>>\(point.path)/shared.txt; printf ' three' >&3; printf ' four' >&4; exec 3>&- 4>&-")
                #expect(try await Self.shell("cat \(point.path)/shared.txt") == "one two three four")

                // A read whose first holder is down: the next holder serves it.
                try await eventually("big.bin has at least its two copies", timeout: .seconds(60)) {
                    (try await cluster.whereIs("copied/big.bin")?.k ?? 0) >= 2
                }
                let holders = try #require(try await cluster.whereIs("copied/big.bin")).nodes
                let first = try #require(nodes.first { $0.address == holders.first })
                await first.crash()
                #expect(try await cluster.whereIs("copied/big.bin")?.nodes.first == first.address, "still listed first")
                try await Self.shell("cmp \(tree.path)/big.bin \(point.path)/copied/big.bin")
                try await cluster.restart(first)

                // SIGTERM unmounts cleanly.
                mount.terminate()
                try await Self.exited(mount)
                #expect(mount.terminationStatus == 0)
                #expect(try !Self.mounted(point))

                // Read-only, then fusermount3 -u.
                mount = try await Self.start(cluster, at: point, extra: ["--read-only"])
                #expect(try await Self.shell("wc -c < \(point.path)/small-moved.txt").trimmingCharacters(in: .whitespacesAndNewlines) == "10")
                await #expect(throws: (any Error).self) { try await Self.shell("touch \(point.path)/nope.txt") }
                try await Self.shell("fusermount3 -u \(point.path)")
                try await Self.exited(mount)
                #expect(mount.terminationStatus == 0)
                #expect(try !Self.mounted(point))
            } catch {
                if mount.isRunning {
                    mount.terminate()
                    _ = try? await Self.shell("fusermount3 -u -z \(point.path)")
                }
                print(try String(contentsOf: cluster.root.appendingPathComponent("mount.log"), encoding: .utf8))
                throw error
            }
            try await cluster.expectAuditClean(timeout: .seconds(60))
        }

        /// Starts `fsdfsd mount` and waits until the kernel lists the mount.
        static func start(_ cluster: Cluster, at point: URL, extra: [String]) async throws -> Process {
            let mount = try Fsdfsd.start(
                ["mount", point.path] + extra, environment: cluster.environment, log: cluster.root.appendingPathComponent("mount.log"))
            try await eventually("the store is mounted", timeout: .seconds(20)) { try Self.mounted(point) }
            return mount
        }

        static func mounted(_ point: URL) throws -> Bool {
            try String(contentsOfFile: "/proc/mounts", encoding: .utf8).split(separator: "\n")
                .contains { $0.split(separator: " ").dropFirst().first.map(String.init) == point.path }
        }

        static func exited(_ process: Process) async throws {
            try await eventually("the mount has ended", timeout: .seconds(20)) { !process.isRunning }
        }

        /// Runs a shell command line; its output, or an error with its output when it fails.
        @discardableResult
        static func shell(_ command: String) async throws -> String {
            let result = try await Fsdfsd.run(
                ["-c", command], environment: ProcessInfo.processInfo.environment, timeout: .seconds(120),
                executable: URL(fileURLWithPath: "/bin/sh"))
            guard result.status == 0 else { throw HarnessError("\(command) failed (\(result.status)): \(result.stdout)\(result.stderr)") }
            return result.stdout
        }
    }
}
