import Foundation
import NIOCore
import ReplicaCore
import Slave
import Testing

@Suite("BlobStore paths")
struct BlobStoreNamespaceTests {
    @Test func removeNeedsTheMatchingFileIDAndPrunesEmptyParents() async throws {
        try await withTestDirectory { root in
            let data = root + "/data"
            let store = try BlobStore(data: data, quota: 1 << 20)
            try await put(store, "a/b/c.txt", payload(300), fileID: 1)
            try await put(store, "a/keep.txt", payload(200), fileID: 2)
            #expect(try await !store.remove(path: vp("a/b/c.txt"), fileID: FileID(9)))
            #expect(try await !store.remove(path: vp("a/b/c.txt"), fileID: nil))
            #expect(try await !store.remove(path: vp("nothing/here"), fileID: FileID(1)))
            #expect(exists(data + "/a/b/c.txt"))
            #expect(await store.used() == 500)

            #expect(try await store.remove(path: vp("a/b/c.txt"), fileID: FileID(1)))
            #expect(!exists(data + "/a/b"))
            #expect(exists(data + "/a/keep.txt"))
            #expect(await store.used() == 200)
            #expect(try await !store.remove(path: vp("a/b/c.txt"), fileID: FileID(1)))

            #expect(try await store.remove(path: vp("a/keep.txt"), fileID: FileID(2)))
            #expect(contents(data) == [".fsdfs"])
            #expect(await store.inventory().isEmpty)
            #expect(await store.used() == 0)
            // The removal is in the index too.
            let reopened = try BlobStore(data: data, quota: 1 << 20)
            #expect(await reopened.inventory().isEmpty)
        }
    }

    @Test func replacingAPathKeepsOneVersion() async throws {
        try await withTestDirectory { root in
            let data = root + "/data"
            let store = try BlobStore(data: data, quota: 1000)
            let first = try await put(store, "r.txt", payload(300, seed: 1), fileID: 1)
            let second = try await put(store, "r.txt", payload(500, seed: 2), fileID: 2)
            #expect(second.fileID == FileID(2))
            #expect(second.sha256 == ReferenceSHA256.hex(payload(500, seed: 2)))
            #expect(second.sha256 != first.sha256)
            let (bytes, _, blob) = try await readAll(store, "r.txt")
            #expect(bytes == payload(500, seed: 2))
            #expect(blob == second)
            #expect(try fileBytes(data + "/r.txt") == payload(500, seed: 2))
            #expect(await store.inventory() == [second])
            #expect(await store.used() == 500)
            #expect(try await !store.remove(path: vp("r.txt"), fileID: FileID(1)))
            #expect(exists(data + "/r.txt"))
            // The old version's bytes are not free until the new one is in place.
            await #expect(throws: BlobStoreError.overQuota(needed: 600, free: 500)) {
                try await store.beginWrite(path: try vp("r.txt"), fileID: FileID(3), size: 600, expectedSHA256: nil)
            }
        }
    }

    @Test func fileAndDirectoryConflicts() async throws {
        try await withTestDirectory { root in
            let data = root + "/data"
            let store = try BlobStore(data: data, quota: 1 << 20)
            try await put(store, "a", payload(10), fileID: 1)
            await #expect(throws: BlobStoreError.pathConflict(try vp("a/b"))) {
                try await store.beginWrite(path: try vp("a/b"), fileID: nil, size: 1, expectedSHA256: nil)
            }
            await #expect(throws: BlobStoreError.pathConflict(try vp("a/b/c"))) {
                try await store.beginWrite(path: try vp("a/b/c"), fileID: nil, size: 1, expectedSHA256: nil)
            }
            #expect(try fileBytes(data + "/a") == payload(10))
            try await put(store, "d/e", payload(10), fileID: 2)
            await #expect(throws: BlobStoreError.pathConflict(try vp("d"))) {
                try await store.beginWrite(path: try vp("d"), fileID: nil, size: 1, expectedSHA256: nil)
            }
            #expect(contents(data + "/.fsdfs/tmp").isEmpty)
            #expect(await store.used() == 20)

            // A conflict that appears between begin and commit.
            let write = try await store.beginWrite(path: try vp("m/n"), fileID: nil, size: 5, expectedSHA256: nil)
            try await write.write(ByteBuffer(bytes: payload(5)))
            try Data("in the way".utf8).write(to: URL(fileURLWithPath: data + "/m"))
            await #expect(throws: BlobStoreError.pathConflict(try vp("m/n"))) { try await write.commit() }
            #expect(contents(data + "/.fsdfs/tmp").isEmpty)
            #expect(await store.used() == 20)
            #expect(BlobStoreError.pathConflict(try vp("m/n")).code == "path_conflict")
        }
    }

    @Test func symbolicLinksAreNeverFollowed() async throws {
        try await withTestDirectory { root in
            let data = root + "/data", outside = root + "/outside"
            let store = try BlobStore(data: data, quota: 1 << 20)
            let manager = FileManager.default
            try manager.createDirectory(atPath: outside, withIntermediateDirectories: true)
            try Data("secret".utf8).write(to: URL(fileURLWithPath: outside + "/target"))
            try manager.createSymbolicLink(atPath: data + "/link", withDestinationPath: outside)
            try manager.createSymbolicLink(atPath: data + "/file-link", withDestinationPath: outside + "/target")

            for path in ["link/f", "link/deeper/f", "file-link"] {
                await #expect(throws: BlobStoreError.pathConflict(try vp(path))) {
                    try await store.beginWrite(path: try vp(path), fileID: nil, size: 3, expectedSHA256: nil)
                }
            }
            // A directory swapped for a link between begin and commit.
            let write = try await store.beginWrite(path: try vp("swap/f"), fileID: nil, size: 3, expectedSHA256: nil)
            try await write.write(ByteBuffer(bytes: [1, 2, 3]))
            try manager.createSymbolicLink(atPath: data + "/swap", withDestinationPath: outside)
            await #expect(throws: BlobStoreError.pathConflict(try vp("swap/f"))) { try await write.commit() }

            #expect(contents(outside) == ["target"])
            #expect(try fileBytes(outside + "/target") == Array("secret".utf8))
            #expect(await store.used() == 0)
            #expect(contents(data + "/.fsdfs/tmp").isEmpty)
        }
    }
}
