import Foundation
import Testing
import ReplicaCore
import TestSupport

extension Integration {
    /// `fsdfsd audit`: the catalog against what the nodes' disks really hold.
    @Suite("Audit")
    struct AuditTests {
        @Test("audit is clean once replication converges, names a replica deleted behind fsdfs's back, and --deep finds a flipped byte")
        func auditComparesTheCatalogWithTheDisks() async throws {
            try await withCluster { cluster in
                let master = try await cluster.start("master", asMaster: true)
                let s1 = try await cluster.start("s1")
                let s2 = try await cluster.start("s2")
                try await cluster.waitForNodes(3)
                try await cluster.put(try cluster.localFile("a", size: 20_000, seed: 1), "docs/a.bin")
                try await cluster.put(try cluster.localFile("b", size: 30_000, seed: 2), "docs/b.bin")
                try await eventually("three copies of each file") {
                    let a = try await cluster.whereIs("docs/a.bin"), b = try await cluster.whereIs("docs/b.bin")
                    return a?.k == 3 && b?.k == 3
                }
                // A file the catalog does not know: kept, reported, not a failure.
                let stray = s2.file("stray/notes.txt")
                try FileManager.default.createDirectory(at: stray.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data("not fsdfs's".utf8).write(to: stray)

                try await cluster.expectAuditClean()
                let (status, clean) = try await cluster.audit()
                #expect(status == 0)
                #expect(clean.clean && clean.differences.isEmpty && clean.nodesNotAudited.isEmpty)
                #expect(clean.files == 2 && clean.copies == 6)
                #expect(Set(clean.nodesAudited) == [master.address, s1.address, s2.address])
                #expect(clean.unaccounted == 1)
                #expect(clean.notes.contains { $0.kind == .unaccounted && $0.path == "stray/notes.txt" && $0.node == s2.address })
                let text = try await cluster.cli("audit")
                #expect(text.status == 0, "\(text.stdout)\(text.stderr)")
                #expect(text.stdout.contains("audit clean: 2 files, 6 copies checked on 3 nodes"), "\(text.stdout)")

                // Behind fsdfs's back, s1 loses its copy of a: the catalog still counts it.
                try FileManager.default.removeItem(at: s1.file("docs/a.bin"))
                let (lostStatus, lost) = try await cluster.audit()
                #expect(lostStatus == 1)
                #expect(!lost.clean)
                #expect(lost.differences.contains { $0.kind == .missing && $0.path == "docs/a.bin" && $0.node == s1.address })
                #expect(lost.differences.contains { $0.kind == .wrongK && $0.path == "docs/a.bin" && $0.catalogK == 3 && $0.found == 2 })
                #expect(!lost.differences.contains { $0.path == "docs/b.bin" })
                let listed = try await cluster.cli("audit")
                #expect(listed.status == 1)
                let lines = listed.stdout.split(separator: "\n")
                #expect(lines.contains { $0.hasPrefix("MISSING") && $0.contains("docs/a.bin") && $0.contains(s1.address) }, "\(listed.stdout)")
                #expect(lines.last?.hasPrefix("audit NOT clean: 2 differences") == true, "\(listed.stdout)")

                // A byte of s2's copy of b flipped in place, size and mtime kept. A plain audit
                // trusts a file whose size, mtime and inode are as indexed (as the node's start-up
                // scan does), so it may not see this; --deep re-hashes every file and does.
                let damaged = s2.file("docs/b.bin")
                let modified = try #require(try FileManager.default.attributesOfItem(atPath: damaged.path)[.modificationDate] as? Date)
                var bytes = try Data(contentsOf: damaged)
                bytes[100] ^= 0xFF
                let handle = try FileHandle(forWritingTo: damaged)
                try handle.write(contentsOf: bytes)
                try handle.close()
                try FileManager.default.setAttributes([.modificationDate: modified], ofItemAtPath: damaged.path)

                let (deepStatus, deep) = try await cluster.audit(deep: true)
                #expect(deepStatus == 1)
                #expect(deep.deep)
                #expect(deep.differences.contains { $0.kind == .wrongChecksum && $0.path == "docs/b.bin" && $0.node == s2.address })
                #expect(deep.differences.contains { $0.kind == .missing && $0.path == "docs/a.bin" && $0.node == s1.address })
                // The audit only looks: the damaged file is still in place, not quarantined.
                #expect(try Data(contentsOf: damaged) == bytes)
                #expect(try await cluster.whereIs("docs/b.bin")?.k == 3)
            }
        }

        @Test("A node that is down is not audited, which makes the audit fail; deletions it owes are informational; back, all is clean")
        func downNodeIsNotAudited() async throws {
            try await withCluster { cluster in
                try await cluster.start("master", asMaster: true)
                let slave = try await cluster.start("slave")
                try await cluster.waitForNodes(2)
                try await cluster.put(try cluster.localFile("k", size: 2000, seed: 1), "keep.bin")
                try await cluster.put(try cluster.localFile("g", size: 3000, seed: 2), "gone.bin")
                try await eventually("two copies of each") {
                    let keep = try await cluster.whereIs("keep.bin"), gone = try await cluster.whereIs("gone.bin")
                    return keep?.k == 2 && gone?.k == 2
                }
                try await cluster.expectAuditClean()

                await slave.crash()
                try await eventually("slave down") { try await cluster.node(slave)?.alive == false }
                #expect(try await cluster.cli("rm", "gone.bin").status == 0)
                let (status, reply) = try await cluster.audit()
                #expect(status == 1)
                #expect(!reply.clean)
                #expect(reply.nodesNotAudited.map(\.address) == [slave.address])
                #expect(reply.nodesNotAudited.first?.reason.hasPrefix("down") == true)
                #expect(reply.differences.isEmpty, "its copies no longer count, so K is right: \(reply.differences)")
                #expect(reply.pendingDeletions == 1)
                let text = try await cluster.cli("audit")
                #expect(text.status == 1)
                #expect(text.stdout.contains("NOT AUDITED") && text.stdout.contains(slave.address), "\(text.stdout)")
                #expect(text.stdout.contains("1 version(s) pending deletion"), "\(text.stdout)")

                try await cluster.restart(slave)
                try await cluster.expectAuditClean()
                #expect(!FileManager.default.fileExists(atPath: slave.file("gone.bin").path))
                #expect(try await cluster.audit().reply.pendingDeletions == 0)
            }
        }
    }
}
