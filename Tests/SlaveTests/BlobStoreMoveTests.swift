import Foundation
import NIOCore
import ReplicaCore
import Slave
import Testing

/// ``BlobStore/move(fileID:from:to:sha256:version:)``: a rename in the catalog, made on a node.
@Suite("BlobStore moves")
struct BlobStoreMoveTests {
    static func inode(_ path: String) throws -> UInt64 {
        try #require((FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? NSNumber)?.uint64Value)
    }

    @Test func moveRenamesInPlaceAndSurvivesAReopen() async throws {
        try await withTestDirectory { root in
            let data = root + "/data"
            let store = try BlobStore(data: data, quota: 1 << 20)
            let blob = try await put(store, "a/b/c.txt", payload(300), fileID: 7)
            let inode = try Self.inode(data + "/a/b/c.txt")

            #expect(try await store.move(fileID: FileID(7), from: vp("a/b/c.txt"), to: vp("x/y/z.txt"), sha256: blob.sha256, version: 4) == .moved)
            #expect(try Self.inode(data + "/x/y/z.txt") == inode, "the same file, not a copy")
            #expect(!exists(data + "/a"), "emptied directories pruned")
            #expect(try await store.blob(at: vp("a/b/c.txt")) == nil)
            let moved = try #require(await store.blob(at: vp("x/y/z.txt")))
            #expect(moved.fileID == FileID(7) && moved.version == 4 && moved.sha256 == blob.sha256)
            #expect(await store.used() == 300)
            // Asked again (a reply lost): already there.
            #expect(try await store.move(fileID: FileID(7), from: vp("a/b/c.txt"), to: vp("x/y/z.txt"), sha256: blob.sha256, version: 4) == .moved)

            let reopened = try BlobStore(data: data, quota: 1 << 20)
            #expect(await reopened.inventory().map(\.path) == [try vp("x/y/z.txt")])
            let report = try await reopened.scan()
            #expect(report.blobs.map(\.path) == [try vp("x/y/z.txt")])
            #expect(report.blobs.first?.fileID == FileID(7))
            #expect(report.trusted == 1, "the move kept what the index trusts: size, mtime, inode")
        }
    }

    @Test func moveNeverWritesOverAnotherFileAndSaysWhatItDoesNotHold() async throws {
        try await withTestDirectory { root in
            let data = root + "/data"
            let store = try BlobStore(data: data, quota: 1 << 20)
            let a = try await put(store, "a", payload(100, seed: 1), fileID: 1)
            let b = try await put(store, "b", payload(200, seed: 2), fileID: 2)

            // Another version at the new path: both kept.
            guard case .blocked = try await store.move(fileID: FileID(1), from: vp("a"), to: vp("b"), sha256: a.sha256, version: nil) else {
                Issue.record("a move over another version must be blocked")
                return
            }
            #expect(try await store.blob(at: vp("a"))?.fileID == FileID(1))
            #expect(try await store.blob(at: vp("b"))?.fileID == FileID(2))
            // A file the index does not know at the new path: kept, never written over.
            try Data("by hand".utf8).write(to: URL(fileURLWithPath: data + "/hand"))
            guard case .blocked = try await store.move(fileID: FileID(1), from: vp("a"), to: vp("hand"), sha256: a.sha256, version: nil) else {
                Issue.record("a move over an unindexed file must be blocked")
                return
            }
            #expect(try String(contentsOfFile: data + "/hand", encoding: .utf8) == "by hand")
            // Another version, another checksum, or nothing at the old path: not held.
            #expect(try await store.move(fileID: FileID(9), from: vp("a"), to: vp("c"), sha256: a.sha256, version: nil) == .absent)
            #expect(try await store.move(fileID: FileID(1), from: vp("a"), to: vp("c"), sha256: b.sha256, version: nil) == .absent)
            #expect(try await store.move(fileID: FileID(1), from: vp("nothing"), to: vp("c"), sha256: a.sha256, version: nil) == .absent)
            #expect(exists(data + "/a") && !exists(data + "/c"))
        }
    }
}
