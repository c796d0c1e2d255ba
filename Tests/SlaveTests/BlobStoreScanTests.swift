import Foundation
import NIOCore
import ReplicaCore
import Slave
import Testing

@Suite("BlobStore scan and integrity")
struct BlobStoreScanTests {
    /// A whole-second time, which `setAttributes` sets exactly (no nanoseconds to lose).
    static let past = Date(timeIntervalSince1970: 1_700_000_000)

    @Test func scanTrustsUnchangedFilesAndRehashesTouchedOnes() async throws {
        try await withTestDirectory { root in
            let data = root + "/data"
            let store = try BlobStore(data: data, quota: 1 << 20)
            let kept = try await put(store, "k/kept", payload(1000, seed: 1), fileID: 1)
            try await put(store, "k/touched", payload(900, seed: 2), fileID: 2)
            try setModificationDate(data + "/k/touched", Self.past)

            let report = try await BlobStore(data: data, quota: 1 << 20).scan()
            #expect(report.trusted == 1)
            #expect(report.rehashed == 1)
            #expect(report.quarantined == 0 && report.dropped == 0)
            let touched = try #require(report.blobs.first { $0.path == (try? vp("k/touched")) })
            #expect(touched.fileID == FileID(2))
            #expect(touched.modified == Self.past)
            #expect(report.blobs.first { $0.path == kept.path } == kept)

            // A changed byte with size, mtime and inode as indexed is not noticed: proof of no re-hash.
            try overwriteInPlace(data + "/k/touched", with: [0xFF])
            try setModificationDate(data + "/k/touched", Self.past)
            let again = try BlobStore(data: data, quota: 1 << 20)
            let second = try await again.scan()
            #expect(second.trusted == 2 && second.rehashed == 0 && second.quarantined == 0)
            #expect(await again.used() == 1900)
        }
    }

    @Test func scanQuarantinesAlteredFiles() async throws {
        try await withTestDirectory { root in
            let data = root + "/data"
            let store = try BlobStore(data: data, quota: 1 << 20)
            try await put(store, "dir/f", payload(800, seed: 3), fileID: 5)
            let other = try await put(store, "other", payload(300, seed: 4), fileID: 6)
            let altered = payload(800, seed: 99)
            try overwriteInPlace(data + "/dir/f", with: altered)
            try setModificationDate(data + "/dir/f", Self.past)

            let reopened = try BlobStore(data: data, quota: 1 << 20)
            let report = try await reopened.scan()
            #expect(report.quarantined == 1 && report.trusted == 1 && report.rehashed == 0 && report.dropped == 0)
            #expect(report.blobs == [other])
            #expect(!exists(data + "/dir"))
            let quarantined = allFiles(under: data + "/.fsdfs/quarantine")
            #expect(quarantined.count == 1 && quarantined.first?.hasSuffix("/dir/f") == true)
            #expect(try fileBytes(data + "/.fsdfs/quarantine/" + quarantined[0]) == altered)
            #expect(await reopened.used() == 300)
            #expect(await reopened.inventory() == [other])
        }
    }

    @Test func scanPicksUpUnindexedFilesAndDropsDeletedOnes() async throws {
        try await withTestDirectory { root in
            let data = root + "/data"
            let store = try BlobStore(data: data, quota: 1 << 20)
            try await put(store, "gone", payload(100), fileID: 1)
            try await put(store, "stays", payload(200), fileID: 2)
            try FileManager.default.removeItem(atPath: data + "/gone")
            let extra = payload(1234, seed: 7)
            try FileManager.default.createDirectory(atPath: data + "/extra", withIntermediateDirectories: true)
            try Data(extra).write(to: URL(fileURLWithPath: data + "/extra/new.txt"))
            try Data("node state".utf8).write(to: URL(fileURLWithPath: data + "/.fsdfs/not-a-blob"))
            try FileManager.default.createSymbolicLink(atPath: data + "/ln", withDestinationPath: data + "/stays")

            let reopened = try BlobStore(data: data, quota: 1 << 20)
            let report = try await reopened.scan()
            #expect(report.dropped == 1 && report.rehashed == 1 && report.trusted == 1 && report.quarantined == 0)
            #expect(report.blobs.map(\.path.rawValue) == ["extra/new.txt", "stays"])
            let found = try #require(await reopened.blob(at: try vp("extra/new.txt")))
            #expect(found.fileID == nil)
            #expect(found.sha256 == ReferenceSHA256.hex(extra))
            #expect(await reopened.blob(at: try vp("gone")) == nil)
            #expect(await reopened.used() == 1434)

            try await reopened.adopt(path: try vp("extra/new.txt"), fileID: FileID(42))
            await #expect(throws: BlobStoreError.notFound(try vp("gone"))) {
                try await reopened.adopt(path: try vp("gone"), fileID: FileID(1))
            }
            let third = try BlobStore(data: data, quota: 1 << 20)
            let next = try await third.scan()
            #expect(next.trusted == 2 && next.rehashed == 0 && next.dropped == 0)
            #expect(await third.blob(at: try vp("extra/new.txt"))?.fileID == FileID(42))
        }
    }

    @Test func readOfACorruptedFileThrowsAndQuarantines() async throws {
        try await withTestDirectory { root in
            let data = root + "/data"
            let file = data + "/c/file"
            let original = payload(20_000, seed: 11)
            let blob = try await put(try BlobStore(data: data, quota: 1 << 20), "c/file", original, fileID: 3)
            // Index a whole-second mtime, so that it can be restored exactly after the damage.
            try setModificationDate(file, Self.past)
            _ = try await BlobStore(data: data, quota: 1 << 20).scan()
            var damaged = original
            damaged[15_000] ^= 0x01
            try overwriteInPlace(file, with: damaged)
            try setModificationDate(file, Self.past)
            #expect(try inode(file) == blob.inode)

            let store = try BlobStore(data: data, quota: 1 << 20)
            let report = try await store.scan()
            #expect(report.trusted == 1)  // size, mtime and inode are as indexed
            var streamed = 0
            await #expect(throws: BlobStoreError.checksumMismatch(
                path: try vp("c/file"), expected: blob.sha256, actual: ReferenceSHA256.hex(damaged))) {
                try await store.read(path: try vp("c/file"), chunkSize: 4096) { streamed += $0.readableBytes }
            }
            #expect(streamed == 20_000)
            #expect(!exists(file))
            #expect(await store.blob(at: try vp("c/file")) == nil)
            #expect(await store.used() == 0)
            #expect(allFiles(under: data + "/.fsdfs/quarantine").count == 1)
            await #expect(throws: BlobStoreError.notFound(try vp("c/file"))) {
                try await store.read(path: try vp("c/file")) { _ in }
            }
            let after = try await BlobStore(data: data, quota: 1 << 20).scan()
            #expect(after.blobs.isEmpty && after.dropped == 0)
        }
    }

    @Test func verifyRehashesAndQuarantinesCorruptBlobs() async throws {
        try await withTestDirectory { root in
            let data = root + "/data"
            let store = try BlobStore(data: data, quota: 1 << 20)
            try await put(store, "v", payload(5000, seed: 12), fileID: 1)
            #expect(try await store.verify(path: vp("v")))
            try overwriteInPlace(data + "/v", with: [0, 0, 0, 0])
            #expect(try await !store.verify(path: vp("v")))
            #expect(!exists(data + "/v"))
            #expect(await store.inventory().isEmpty)
            await #expect(throws: BlobStoreError.notFound(try vp("v"))) { try await store.verify(path: try vp("v")) }
        }
    }

    @Test func vanishedFileReadsAsNotFound() async throws {
        try await withTestDirectory { root in
            let data = root + "/data"
            let store = try BlobStore(data: data, quota: 1 << 20)
            try await put(store, "w", payload(50), fileID: 1)
            try FileManager.default.removeItem(atPath: data + "/w")
            await #expect(throws: BlobStoreError.notFound(try vp("w"))) { try await store.read(path: try vp("w")) { _ in } }
            #expect(await store.used() == 0)
        }
    }

    @Test func leftoverTemporaryFilesAreDeletedAtOpen() async throws {
        try await withTestDirectory { root in
            let data = root + "/data"
            _ = try BlobStore(data: data, quota: 1000)
            try Data(payload(10)).write(to: URL(fileURLWithPath: data + "/.fsdfs/tmp/crashed.part"))
            try FileManager.default.createDirectory(atPath: data + "/.fsdfs/tmp/odd", withIntermediateDirectories: true)
            #expect(contents(data + "/.fsdfs/tmp").count == 2)
            let store = try BlobStore(data: data, quota: 1000)
            #expect(contents(data + "/.fsdfs/tmp").isEmpty)
            #expect(await store.used() == 0)
        }
    }
}
