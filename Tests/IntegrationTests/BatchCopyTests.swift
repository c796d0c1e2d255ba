import Foundation
import Testing
import ReplicaCore
import TestSupport

extension Integration {
    /// Copies of many small files in batches (`POST /v1/copy-batch`, one pull, one catalog write).
    @Suite("Batched copies")
    struct BatchCopyTests {
        /// Writes `count` small files straight into a node's data directory before it starts, so
        /// that a master started with `--recover` takes them into its catalog in one inventory:
        /// a swarm of thousands of files without thousands of uploads. Returns their contents.
        static func seed(_ data: URL, prefix: String, count: Int, size: Int = 4096, salt: UInt64 = 0) throws -> [String: Data] {
            try joinSwarm(data)
            var files: [String: Data] = [:]
            let folder = data.appendingPathComponent(prefix)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for index in 0..<count {
                var state = UInt64(index + 1) &* 0x9E37_79B9_7F4A_7C15 &+ salt
                var bytes = [UInt8](repeating: 0, count: size)
                for position in bytes.indices {
                    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                    bytes[position] = UInt8(truncatingIfNeeded: state >> 33)
                }
                let name = "\(prefix)/\(index).bin"
                try Data(bytes).write(to: data.appendingPathComponent(name))
                files[name] = Data(bytes)
            }
            return files
        }

        /// The swarm every seeded data directory of a test belongs to: a recovering master learns
        /// it from its own node.
        static let swarm = UUID().uuidString.lowercased()

        static func joinSwarm(_ data: URL) throws {
            let state = data.appendingPathComponent(".fsdfs")
            try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
            try Data((swarm + "\n").utf8).write(to: state.appendingPathComponent("swarm-id"))
        }

        /// Starts a master on a data directory seeded with files and lets it take them into its
        /// catalog (`--recover`, then `safe-mode leave`).
        static func recoverSeeded(_ cluster: Cluster, files: Int, extra: [String] = [], quota: String = "100M") async throws -> NodeProcess {
            let master = try await cluster.start("master", quota: quota, asMaster: true, extra: ["--recover"] + extra)
            // Every file counted once (its node up again if a slow first report had it declared down).
            try await eventually("\(files) files taken into the catalog", timeout: .seconds(120)) {
                let status = try await cluster.status()
                return status.files == files && status.minKn == -1
            }
            let left = try await cluster.cli("safe-mode", "leave")
            #expect(left.status == 0, "\(left.stderr)")
            return master
        }

        @Test("A node joining a swarm of thousands of small files gets every one of them, in batches", arguments: CatalogKind.allCases)
        func joiningNodeGetsEverySmallFile(catalog: CatalogKind) async throws {
            try await withCluster(catalog: catalog) { cluster in
                let policies = try ReplicationTests.policyDirectory(in: cluster, "[default]\nn = 2\n")
                // Fewer on MongoDB: there the recovering master takes them in one at a time, and a slow
                // first inventory has its own node declared down (the bulk reconcile is issue #11 part C).
                let count = catalog == .sqlite ? 2000 : 400
                let files = try Self.seed(cluster.root.appendingPathComponent("master"), prefix: "small", count: count)
                try await Self.recoverSeeded(cluster, files: files.count, extra: ["--policies", policies])
                let joining = try await cluster.start("joining")
                // Files deleted while the batches are under way (some perhaps before theirs
                // start, some while it is in flight): none may be left on the new node.
                // On MongoDB not yet: there the master's own node, slow to send its first
                // inventory, is declared down and back, and the removals of deleted versions
                // wait for it beyond this test's patience (seen on the master's own copies too).
                let deleted = catalog == .sqlite ? stride(from: 37, to: count, by: count / 8).map { "small/\($0).bin" } : []
                for name in deleted {
                    let removed = try await cluster.cli("rm", name)
                    #expect(removed.status == 0, "\(removed.stderr)")
                }
                try await eventually("every other file at K = 2", timeout: .seconds(120)) {
                    let status = try await cluster.status()
                    return status.files == files.count - deleted.count && status.underReplicated == 0
                }
                for (name, bytes) in files where name.hasSuffix("7.bin") && !deleted.contains(name) {
                    #expect(try Data(contentsOf: joining.file(name)) == bytes, "\(name)")
                }
                try await eventually("no deleted file left on the new node") {
                    deleted.allSatisfy { !FileManager.default.fileExists(atPath: joining.file($0).path) }
                }
                // They went in batches, not one by one.
                let log = cluster.logs()
                #expect(log.contains("files to"), "no batch in the master's log")
                #expect(joining.logText().contains("copied"))
                try await cluster.expectAuditClean()
            }
        }

        @Test("A corrupt file in a batch fails alone: quarantined on its source, copied from another holder, the rest counted")
        func corruptFileFailsAlone() async throws {
            try await withCluster { cluster in
                let policies = try ReplicationTests.policyDirectory(in: cluster, "[default]\nn = 3\n")
                // Every file on the master; five of them also on `second`, which has room for
                // those five only (so it receives nothing else) and, with the least copies to
                // send, is their source when a third node joins.
                let files = try Self.seed(cluster.root.appendingPathComponent("master"), prefix: "small", count: 300)
                let both = (0..<5).map { "small/\($0).bin" }
                let secondData = cluster.root.appendingPathComponent("second")
                try FileManager.default.createDirectory(at: secondData.appendingPathComponent("small"), withIntermediateDirectories: true)
                try Self.joinSwarm(secondData)
                for name in both { try files[name]!.write(to: secondData.appendingPathComponent(name)) }
                let master = try await cluster.start("master", asMaster: true, extra: ["--recover", "--policies", policies])
                let second = try await cluster.start("second", quota: "\(5 * 4096)")
                try await eventually("300 files taken into the catalog, five of them twice", timeout: .seconds(120)) {
                    let entries = try await cluster.list()
                    return entries.count == 300 && entries.filter { $0.k == 2 }.count == 5
                }
                let left = try await cluster.cli("safe-mode", "leave")
                #expect(left.status == 0, "\(left.stderr)")

                // One byte flipped on `second`, size and modification time kept: only reading finds it.
                let bad = second.file(both[0])
                let modified = try FileManager.default.attributesOfItem(atPath: bad.path)[.modificationDate] as! Date
                var bytes = try Data(contentsOf: bad)
                bytes[100] ^= 0xFF
                try bytes.write(to: bad)
                try FileManager.default.setAttributes([.modificationDate: modified], ofItemAtPath: bad.path)

                let third = try await cluster.start("third")
                try await eventually("every file on the third node, the corrupt one from the master", timeout: .seconds(120)) {
                    let entries = try await cluster.list()
                    return entries.count == 300 && entries.allSatisfy { $0.k >= 2 }
                        && (try? Data(contentsOf: third.file(both[0]))) == files[both[0]]
                }
                // The bad copy was caught in the batch and quarantined on its source.
                let quarantine = second.data.appendingPathComponent(".fsdfs/quarantine")
                let quarantined = FileManager.default.enumerator(atPath: quarantine.path)?.allObjects.compactMap { $0 as? String } ?? []
                #expect(quarantined.contains { $0.hasSuffix(both[0]) }, "\(quarantined)")
                #expect(second.logText().contains("corrupt replica quarantined while serving it"))
                for name in both.dropFirst() {
                    #expect(try Data(contentsOf: third.file(name)) == files[name])
                }
                _ = master
                try await cluster.expectAuditClean()
            }
        }
    }
}
