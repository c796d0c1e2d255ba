import Crypto
import Foundation
import NIOCore
import ReplicaCore
import Testing
import TestSupport
import Transport

extension Integration {
    /// `put -r` of small new files goes in batches: one grant, one request to one node, one
    /// catalog transaction for many files; each file still checked and answered on its own.
    @Suite("Batch uploads")
    struct BatchUploadTests {
        @Test("put -r of 700 small files goes in batches: each stored once and replicated, an existing path replaced, a re-run skips all")
        func putTreeInBatches() async throws {
            try await withCluster { cluster in
                let master = try await cluster.start("master", quota: "200M", asMaster: true)
                try await cluster.start("node", quota: "200M")
                try await cluster.waitForNodes(2)
                var tree: [String: Data] = [:]
                for index in 0..<700 {
                    tree["d\(index % 9)/f\(index).bin"] = TreeTransferTests.bytes(1 + index * 4, seed: UInt8(index % 250))
                }
                // One path the store already has, with other content: replaced, not refused.
                try await cluster.put(try cluster.localFile("old", size: 50, seed: 9), "bulk/d3/f3.bin")
                let local = cluster.root.appendingPathComponent("tree")
                try TreeTransferTests.writeTree(tree, under: local)

                let put = try await cluster.cli("put", "-r", local.path, "bulk", "--json", "--jobs", "4")
                #expect(put.status == 0, "\(put.stderr)")
                let summary = try TreeTransferTests.summary(put)
                #expect(summary.transferred == 700 && summary.failed == 0, "\(summary)")
                #expect(master.logText().contains("batch upload of"), "small new files go in batches")

                let stored = tree["d3/f3.bin"]!
                let replaced = try #require(try await cluster.whereIs("bulk/d3/f3.bin"))
                #expect(replaced.sha256 == SHA256.hash(data: stored).map { String(format: "%02x", $0) }.joined())
                #expect(replaced.version == 2)
                // N = 3 by default, and there are two nodes: every file on both.
                try await eventually("every file on both nodes", timeout: .seconds(120)) {
                    let listed = try await cluster.list().filter { $0.path.rawValue.hasPrefix("bulk/") }
                    return listed.count == 700 && listed.allSatisfy { $0.k == 2 }
                }

                let again = try await cluster.cli("put", "-r", local.path, "bulk", "--json")
                #expect(try TreeTransferTests.summary(again).skipped == 700)
                let out = cluster.root.appendingPathComponent("out")
                let get = try await cluster.cli("get", "-r", "bulk", out.path, "--json")
                #expect(get.status == 0, "\(get.stderr)")
                #expect(try TreeTransferTests.readTree(out) == tree)
                try await cluster.expectAuditClean()
            }
        }

        @Test("get -r fetches small files in batches; files one holder lost from its disk come from the other, and are copied back")
        func getTreeFallsBackToAnotherHolder() async throws {
            try await withCluster { cluster in
                let master = try await cluster.start("master", asMaster: true)
                try await cluster.start("node")
                try await cluster.waitForNodes(2)
                var tree: [String: Data] = [:]
                for index in 0..<60 { tree["g/f\(index).txt"] = TreeTransferTests.bytes(100 + index, seed: UInt8(index)) }
                let local = cluster.root.appendingPathComponent("tree")
                try TreeTransferTests.writeTree(tree, under: local)
                let put = try await cluster.cli("put", "-r", local.path, "got", "--json")
                #expect(put.status == 0, "\(put.stderr)")
                try await eventually("every file on both nodes", timeout: .seconds(60)) {
                    try await cluster.list().filter { $0.path.rawValue.hasPrefix("got/") }.allSatisfy { $0.k == 2 }
                }
                // The master's node loses every file from its disk behind its back.
                for relative in tree.keys { try FileManager.default.removeItem(at: master.file("got/\(relative)")) }

                let out = cluster.root.appendingPathComponent("out")
                let get = try await cluster.cli("get", "-r", "got", out.path, "--json", "--jobs", "2")
                #expect(get.status == 0, "\(get.stderr)")
                #expect(try TreeTransferTests.summary(get).transferred == 60)
                #expect(try TreeTransferTests.readTree(out) == tree)
                // The node that lost them said so for those it was asked for, and a scrub finds
                // the others: all are copied back.
                let scrub = try await cluster.cli("scrub", master.address)
                #expect(scrub.status == 0, "\(scrub.stderr)")
                try await eventually("every file on both nodes again", timeout: .seconds(60)) {
                    try await cluster.list().filter { $0.path.rawValue.hasPrefix("got/") }.allSatisfy { $0.k == 2 }
                        && tree.keys.allSatisfy { FileManager.default.fileExists(atPath: master.file("got/\($0)").path) }
                }
                try await cluster.expectAuditClean()
            }
        }

        @Test("A batch upload never writes over what a node holds without the catalog knowing it: that file is refused and kept, the others stored")
        func batchKeepsUnknownData() async throws {
            try await withCluster { cluster in
                let master = try await cluster.start("master", asMaster: true)
                try await cluster.waitForNodes(1)
                // Put on the node's disk behind fsdfs's back: the catalog cannot account for it.
                let stray = master.file("keep/mine.txt")
                try FileManager.default.createDirectory(at: stray.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data("not fsdfs's".utf8).write(to: stray)
                let contents = ["keep/mine.txt": Data("overwrite".utf8), "keep/new.txt": Data("new".utf8)]
                let names = contents.keys.sorted()
                let files = try names.map { UploadedFile(path: try VirtualPath($0), size: Int64(contents[$0]!.count), sha256: Self.hex(contents[$0]!)) }
                let grant: UploadBatchGrant = try await cluster.client.call(
                    .POST, cluster.master, Route.uploadBatch, body: UploadBatchRequest(files: files))
                let body = try Self.frames(names.map { (try VirtualPath($0), contents[$0]!) }, sha256: files.map(\.sha256))
                let reply: UploadBatchReply = try await Self.send(body, upload: grant.upload, to: grant.address, client: cluster.client)
                #expect(reply.files[0].stored == nil && reply.files[0].code == "version_conflict", "\(reply.files[0])")
                #expect(reply.files[1].stored != nil)
                #expect(try Data(contentsOf: stray) == Data("not fsdfs's".utf8), "the unknown file is kept as it was")
                #expect(try await cluster.whereIs("keep/mine.txt") == nil)
                #expect(try await cluster.whereIs("keep/new.txt")?.k == 1)
            }
        }

        @Test("A batch upload: a file whose bytes differ from the grant is refused alone, one sent to another node or twice is refused whole")
        func badBatchesAreRefused() async throws {
            try await withCluster { cluster in
                let master = try await cluster.start("master", asMaster: true)
                let slave = try await cluster.start("slave")
                try await cluster.waitForNodes(2)
                let contents = ["batch/a.txt": Data("alpha".utf8), "batch/b.txt": Data("bravo".utf8), "batch/c.txt": Data("charlie".utf8)]
                let names = contents.keys.sorted()
                let files = try names.map { name in
                    UploadedFile(path: try VirtualPath(name), size: Int64(contents[name]!.count), sha256: Self.hex(contents[name]!))
                }
                let grant: UploadBatchGrant = try await cluster.client.call(
                    .POST, cluster.master, Route.uploadBatch, body: UploadBatchRequest(files: files))
                #expect(grant.files == files)
                // b's bytes are swapped for others of the same size; the body as a whole is signed.
                var sent = contents
                sent["batch/b.txt"] = Data("BRAVO".utf8)
                let body = try Self.frames(names.map { (try VirtualPath($0), sent[$0]!) }, sha256: files.map(\.sha256))

                let other = grant.address == master.address ? slave : master
                await #expect(throws: NodeCallError.self, "a batch granted to one node is refused by another") {
                    let _: UploadBatchReply = try await Self.send(body, upload: grant.upload, to: other.address, client: cluster.client)
                }
                #expect(!FileManager.default.fileExists(atPath: other.file("batch/a.txt").path))

                let reply: UploadBatchReply = try await Self.send(body, upload: grant.upload, to: grant.address, client: cluster.client)
                #expect(reply.files.map(\.path.rawValue) == names)
                #expect(reply.files[0].stored != nil && reply.files[2].stored != nil)
                #expect(reply.files[1].stored == nil && reply.files[1].code == "checksum_mismatch", "\(reply.files[1])")
                #expect(try await cluster.whereIs("batch/a.txt")?.k ?? 0 >= 1)
                #expect(try await cluster.whereIs("batch/b.txt") == nil)
                let holder = grant.address == master.address ? master : slave
                #expect(!FileManager.default.fileExists(atPath: holder.file("batch/b.txt").path))
                #expect(try Data(contentsOf: holder.file("batch/c.txt")) == contents["batch/c.txt"])

                await #expect(throws: NodeCallError.self, "a batch is recorded once: sent again, it is refused") {
                    let _: UploadBatchReply = try await Self.send(body, upload: grant.upload, to: grant.address, client: cluster.client)
                }
                // A grant is taken by the first request for its files: a second (a replay with
                // a fresh signature) is refused, so one grant never has two bodies in memory.
                let extra = [UploadedFile(path: try VirtualPath("batch/d.txt"), size: 5, sha256: Self.hex(Data("delta".utf8)))]
                let second: UploadBatchGrant = try await cluster.client.call(
                    .POST, cluster.master, Route.uploadBatch, body: UploadBatchRequest(files: extra))
                let check = UploadBatchCheck(upload: second.upload, node: second.node)
                let first: UploadBatchCheckReply = try await cluster.client.call(.POST, cluster.master, Route.uploadBatchCheck, body: check)
                #expect(first.files == extra)
                do {
                    let _: UploadBatchCheckReply = try await cluster.client.call(.POST, cluster.master, Route.uploadBatchCheck, body: check)
                    Issue.record("a grant being received was handed out again")
                } catch NodeCallError.rejected(_, let status, let reply) {
                    #expect(status == 403 && reply.code == "upload_in_progress", "\(reply.error)")
                }
                let _: Empty = try await cluster.client.call(.POST, cluster.master, Route.uploadAbort, body: UploadAbort(upload: second.upload))
                // Malformed grants are refused with the reason.
                do {
                    let _: UploadBatchGrant = try await cluster.client.call(
                        .POST, cluster.master, Route.uploadBatch, body: UploadBatchRequest(files: [files[0], files[0]]))
                    Issue.record("a batch naming a path twice was granted")
                } catch NodeCallError.rejected(_, let status, let reply) {
                    #expect(status == 400 && reply.error.contains("twice"), "\(reply.error)")
                }
                try await cluster.expectAuditClean()
            }
        }

        static func hex(_ data: Data) -> String { SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined() }

        /// The files as a batch body: each a frame announcing `sha256` (what was granted).
        static func frames(_ files: [(VirtualPath, Data)], sha256: [String]) throws -> ByteBuffer {
            var body = ByteBuffer()
            for ((path, bytes), digest) in zip(files, sha256) {
                var frame = try BlobFrame(path: path, fileID: nil, size: Int64(bytes.count), sha256: digest)
                    .encoded(body: ByteBuffer(data: bytes))
                body.writeBuffer(&frame)
            }
            return body
        }

        static func send<Reply: Decodable>(_ body: ByteBuffer, upload: String, to address: String, client: SignedClient) async throws -> Reply {
            let digest = body.withUnsafeReadableBytes { SHA256.hash(data: $0) }.map { String(format: "%02x", $0) }.joined()
            return try await client.upload(
                address, Route.blobBatch(upload: upload), length: Int64(body.readableBytes), sha256: digest, chunks: OneChunk(buffer: body),
                timeout: .seconds(30))
        }
    }
}
