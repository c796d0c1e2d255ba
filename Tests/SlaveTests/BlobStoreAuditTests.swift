import Foundation
import ReplicaCore
import Slave
import Testing

@Suite("BlobStore audit")
struct BlobStoreAuditTests {
    static let past = BlobStoreScanTests.past

    @Test func auditReportsTheDiskAndChangesNothing() async throws {
        try await withTestDirectory { root in
            let data = root + "/data"
            let first = try BlobStore(data: data, quota: 1 << 20)
            try await put(first, "a/kept", payload(1000, seed: 1), fileID: 1)
            try await put(first, "a/gone", payload(500, seed: 2), fileID: 2)
            try await put(first, "b/altered", payload(800, seed: 3), fileID: 3)
            try await put(first, "b/touched", payload(700, seed: 4), fileID: 4)
            // Index a whole-second mtime for the file to alter, so it can be kept exactly.
            try setModificationDate(data + "/b/altered", Self.past)
            let store = try BlobStore(data: data, quota: 1 << 20)
            _ = try await store.scan()
            let inventory = await store.inventory()
            let indexed = Dictionary(uniqueKeysWithValues: inventory.map { ($0.path.rawValue, $0) })

            try FileManager.default.removeItem(atPath: data + "/a/gone")
            let altered = payload(800, seed: 99)
            try overwriteInPlace(data + "/b/altered", with: altered)
            try setModificationDate(data + "/b/altered", Self.past)
            try setModificationDate(data + "/b/touched", Self.past)

            let plain = await store.audit(deep: false, after: nil, limit: 100)
            #expect(plain.next == nil)
            let byPath = Dictionary(uniqueKeysWithValues: plain.blobs.map { ($0.path.rawValue, $0) })
            #expect(byPath.keys.sorted() == ["a/gone", "a/kept", "b/altered", "b/touched"])
            #expect(byPath["a/kept"] == DiskBlob(
                path: try vp("a/kept"), fileID: FileID(1), size: 1000, sha256: indexed["a/kept"]?.sha256, rehashed: false, problem: nil))
            #expect(byPath["a/gone"]?.problem == "missing")
            #expect(byPath["a/gone"]?.present == false)
            // Size, mtime and inode as indexed: trusted, so the changed bytes go unnoticed here.
            #expect(byPath["b/altered"]?.rehashed == false)
            #expect(byPath["b/altered"]?.sha256 == indexed["b/altered"]?.sha256)
            // A new mtime: re-hashed, same bytes.
            #expect(byPath["b/touched"]?.rehashed == true)
            #expect(byPath["b/touched"]?.sha256 == indexed["b/touched"]?.sha256)

            let deep = await store.audit(deep: true, after: nil, limit: 100)
            let deepByPath = Dictionary(uniqueKeysWithValues: deep.blobs.map { ($0.path.rawValue, $0) })
            #expect(deep.blobs.filter(\.present).allSatisfy { $0.rehashed })
            #expect(deepByPath["b/altered"]?.sha256 != indexed["b/altered"]?.sha256)
            #expect(deepByPath["b/altered"]?.size == 800)
            #expect(deepByPath["a/kept"]?.sha256 == indexed["a/kept"]?.sha256)

            // Nothing moved: no quarantine, the index and the inventory are as they were.
            #expect(try fileBytes(data + "/b/altered") == altered)
            #expect(allFiles(under: data + "/.fsdfs/quarantine").isEmpty)
            #expect(await store.inventory() == inventory)
            let reopened = try BlobStore(data: data, quota: 1 << 20)
            #expect(await reopened.inventory() == inventory)
        }
    }

    @Test func auditPagesInPathOrder() async throws {
        try await withTestDirectory { root in
            let store = try BlobStore(data: root + "/data", quota: 1 << 20)
            for name in ["e", "a", "d", "c", "b"] { try await put(store, name, payload(10, seed: 1), fileID: nil) }
            var pages: [[String]] = []
            var after: VirtualPath?
            repeat {
                let page = await store.audit(deep: false, after: after, limit: 2)
                pages.append(page.blobs.map(\.path.rawValue))
                after = page.next
            } while after != nil
            #expect(pages == [["a", "b"], ["c", "d"], ["e"]])
        }
    }

    @Test func unindexedFilesAreListedWithoutFollowingLinksOrEnteringFsdfs() async throws {
        try await withTestDirectory { root in
            let data = root + "/data"
            let store = try BlobStore(data: data, quota: 1 << 20)
            try await put(store, "known/file", payload(10, seed: 1), fileID: 1)
            let manager = FileManager.default
            try manager.createDirectory(atPath: data + "/stray/deeper", withIntermediateDirectories: true)
            try Data("x".utf8).write(to: URL(fileURLWithPath: data + "/stray/deeper/note.txt"))
            try Data("y".utf8).write(to: URL(fileURLWithPath: data + "/known/sibling"))
            try Data("z".utf8).write(to: URL(fileURLWithPath: data + "/.fsdfs/tmp/leftover.part"))
            try manager.createDirectory(atPath: root + "/outside", withIntermediateDirectories: true)
            try Data("o".utf8).write(to: URL(fileURLWithPath: root + "/outside/secret"))
            try manager.createSymbolicLink(atPath: data + "/linked-dir", withDestinationPath: root + "/outside")
            try manager.createSymbolicLink(atPath: data + "/linked-file", withDestinationPath: root + "/outside/secret")

            let found = try await store.unindexedFiles()
            #expect(found.listed == ["known/sibling", "stray/deeper/note.txt"])
            #expect(found.count == 2)
            #expect(!found.truncated)
            #expect(exists(data + "/.fsdfs/tmp/leftover.part"), "nothing removed")
        }
    }
}
