import Crypto
import Foundation
import ReplicaCore
import Slave
import Testing
import TestSupport

extension Integration {
    /// A node's whole inventory goes to the master in batches (``InventoryBatch``), each matched
    /// with one catalog read and one write: every file counts as before, what is gone is
    /// dropped, what the catalog does not know is kept and listed, and a master that dies in
    /// the middle of a stream gets the whole inventory again.
    @Suite("Big inventories")
    struct InventoryTests {
        /// What a test seeded: files on the node's disk that the catalog lists on it, files the
        /// catalog lists there that the disk lacks, files only on the disk, and one path whose
        /// version differs on both sides.
        struct Seed {
            var counted: [String]
            var missing: [String]
            var extra: [String]
            var changed: String
            var onDisk: Int { counted.count + extra.count + 1 }
        }

        /// Writes `count` small files into the data directory of each node of `nodes` (a name
        /// and its address) and records them in the master's catalog before anything starts, as
        /// a catalog that lists them on those nodes: the quickest way to a node of thousands of
        /// files the catalog knows.
        static func seed(
            _ cluster: Cluster, nodes: [(name: String, address: String)], count: Int
        ) async throws -> [String: Seed] {
            let catalog: any Catalog = if let uri = cluster.catalogURI {
                try await MongoCatalog(uri: uri)
            } else {
                try SQLiteCatalog(path: cluster.root.appendingPathComponent("master/.fsdfs/catalog.sqlite").path)
            }
            var seeds: [String: Seed] = [:]
            for (name, address) in nodes {
                let data = cluster.root.appendingPathComponent(name)
                let id = try NodeIdentity.loadOrCreate(data: data.path)
                try await catalog.registerNode(NodeRecord(id: id, address: address, quota: 100 << 20, load: 0))
                func write(_ path: String, _ text: String) throws -> NewFile {
                    let url = data.appendingPathComponent(path)
                    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                    let bytes = Data(text.utf8)
                    try bytes.write(to: url)
                    return NewFile(
                        path: try VirtualPath(path), size: Int64(bytes.count),
                        sha256: SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined(), n: 1, created: Date())
                }
                var imported: [ImportedFile] = []
                let counted = (0..<count).map { String(format: "\(name)/d%02d/f%05d", $0 % 17, $0) }
                for path in counted { imported.append(ImportedFile(file: try write(path, "\(path) on \(name)\n"), holders: [id])) }
                let missing = (0..<5).map { "\(name)/missing/\($0)" }
                for path in missing {
                    imported.append(ImportedFile(
                        file: NewFile(path: try VirtualPath(path), size: 3, sha256: String(repeating: "a", count: 64), n: 1, created: Date()),
                        holders: [id]))
                }
                let extra = (0..<3).map { "\(name)/extra/\($0)" }
                for path in extra { _ = try write(path, "not in the catalog: \(path)\n") }
                let changed = "\(name)/changed"
                _ = try write(changed, "the node's version\n")
                imported.append(ImportedFile(
                    file: NewFile(path: try VirtualPath(changed), size: 4, sha256: String(repeating: "b", count: 64), n: 1, created: Date()),
                    holders: [id]))
                try await catalog.importFiles(imported)
                seeds[name] = Seed(counted: counted, missing: missing, extra: extra, changed: changed)
            }
            return seeds
        }

        /// Waits until the node counts the seeded files it holds (and perhaps a few copies of
        /// another node's, in what room it has), the others are dropped or listed as
        /// unaccounted, and safe mode is over.
        static func expectMatched(_ cluster: Cluster, _ node: NodeProcess, _ seed: Seed) async throws {
            try await eventually("the inventory of \(node.name) matched", timeout: .seconds(90)) {
                let status = try await cluster.status()
                guard let mine = status.nodes.first(where: { $0.address == node.address }) else { return false }
                return mine.alive && mine.files >= seed.counted.count && mine.unaccountedFiles == seed.extra.count + 1
                    && status.safeMode == nil
            }
            let counted = try #require(try await cluster.whereIs(seed.counted[seed.counted.count / 2]))
            #expect(counted.nodes.contains(node.address))
            for path in seed.missing + [seed.changed] {
                #expect(try await cluster.whereIs(path)?.k == 0, "\(path) is not on \(node.name)'s disk")
            }
            for path in seed.extra + [seed.changed] {
                #expect(FileManager.default.fileExists(atPath: node.file(path).path), "\(path) is kept")
            }
        }

        @Test("A node sends its whole inventory in batches: every file counts, missing ones are dropped, unknown ones kept and listed", arguments: CatalogKind.allCases)
        func inventoryInBatches(catalog: CatalogKind) async throws {
            try await withCluster(catalog: catalog) { cluster in
                let address = try await Cluster.freeAddresses(1)[0]
                let seeds = try await Self.seed(cluster, nodes: [("slave", address)], count: 1_200)
                let seed = try #require(seeds["slave"])
                // No room on the master: the seeded files stay where they are (N = 1), nothing
                // is copied while the test looks.
                try await cluster.start("master", quota: "0", asMaster: true)
                let slave = try await cluster.start("slave", extra: ["--inventory-batch", "100"], address: address)
                try await Self.expectMatched(cluster, slave, seed)
                // 1,204 files on the disk, 100 per batch.
                #expect(slave.logText().contains("sent the whole inventory to the master: \(seed.onDisk) files in 13 batches"), "\(slave.logText())")

                // Restarted, it sends it again: the versions it was told to record (adopted)
                // now count as they are, and nothing else changes.
                await slave.stop()
                try await cluster.restart(slave)
                try await eventually("sent again") {
                    slave.logText().components(separatedBy: "sent the whole inventory to the master").count == 3
                }
                try await Self.expectMatched(cluster, slave, seed)
                try await cluster.expectAuditClean()
            }
        }

        @Test("A master killed in the middle of inventories gets them whole once restarted; nodes waiting their turn are not declared down")
        func masterKilledMidStream() async throws {
            try await withCluster { cluster in
                let addresses = try await Cluster.freeAddresses(2)
                let seeds = try await Self.seed(cluster, nodes: [("a", addresses[0]), ("b", addresses[1])], count: 1_500)
                // One inventory at a time: the second node waits its turn.
                let master = try await cluster.start("master", quota: "0", asMaster: true, extra: ["--inventory-slots", "1"])
                let small = ["--inventory-batch", "2", "--log-level", "debug"]
                // Room for their own files and a few more: the planner fills spare room with
                // copies, which would keep the audit busy for minutes.
                let a = try await cluster.start("a", quota: "27500", extra: small, address: addresses[0])
                let b = try await cluster.start("b", quota: "27500", extra: small, address: addresses[1])
                try await eventually("a batch matched") {
                    (a.logText() + b.logText()).contains("inventory batch 3 matched")
                }
                await master.crash()
                #expect(!(a.logText() + b.logText()).contains("sent the whole inventory"), "killed in the middle of the streams")
                let before = master.logText().count
                try await cluster.restart(master)
                for node in [a, b] { try await Self.expectMatched(cluster, node, try #require(seeds[node.name])) }
                // The node waiting its turn (inventory_busy) is talking to the master: not down.
                let restarted = String(master.logText().dropFirst(before))
                #expect(!restarted.contains("is down: no report"), "\(restarted)")
                try await cluster.expectAuditClean()
            }
        }
    }
}
