import Foundation
import NIOCore
import ReplicaCore
import Slave
import Testing

@Suite("BlobStore writes")
struct BlobStoreTests {
    @Test func referenceDigestMatchesKnownVectors() {
        #expect(ReferenceSHA256.hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(ReferenceSHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func roundTripIsByteIdentical() async throws {
        try await withTestDirectory { root in
            let store = try BlobStore(data: root + "/data", quota: 1 << 20)
            let bytes = payload(10_000)
            let sha = ReferenceSHA256.hex(bytes)
            let blob = try await put(store, "docs/a.bin", bytes, fileID: 7, expected: sha.uppercased())
            #expect(blob.sha256 == sha)
            #expect(blob.size == 10_000)
            #expect(blob.fileID == FileID(7))
            #expect(blob.path == (try vp("docs/a.bin")))
            let (read, chunks, readBlob) = try await readAll(store, "docs/a.bin", chunkSize: 4096)
            #expect(read == bytes)
            #expect(chunks == 3)
            #expect(readBlob == blob)
            #expect(await store.blob(at: try vp("docs/a.bin")) == blob)
            #expect(await store.inventory() == [blob])
            #expect(await store.used() == 10_000)
            // Without an expected digest the computed one is recorded.
            let empty = try await put(store, "empty", [], fileID: nil)
            #expect(empty.sha256 == ReferenceSHA256.hex([]))
        }
    }

    @Test("A write replaces only the exact versions it names: same id with another checksum, or a removal naming another checksum, leaves the blob alone")
    func replacementNamesIdAndChecksum() async throws {
        try await withTestDirectory { root in
            let store = try BlobStore(data: root + "/data", quota: 1 << 20)
            let kept = payload(500, seed: 3)
            let held = try await put(store, "p/x", kept, fileID: 7)
            let newer = payload(600, seed: 4)
            let wrongChecksum = BlobReplacement.only([VersionRef(fileID: FileID(7), sha256: ReferenceSHA256.hex(newer))])
            await #expect(throws: BlobStoreError.self) {
                let write = try await store.beginWrite(
                    path: try vp("p/x"), fileID: FileID(8), size: Int64(newer.count), expectedSHA256: nil, replacing: wrongChecksum)
                try await write.write(ByteBuffer(bytes: newer))
                _ = try await write.commit()
            }
            #expect(try await store.remove(path: try vp("p/x"), fileID: FileID(7), sha256: ReferenceSHA256.hex(newer)) == false)
            #expect(try fileBytes(root + "/data/p/x") == kept)
            #expect(await store.blob(at: try vp("p/x")) == held)

            let exact = BlobReplacement.only([VersionRef(fileID: FileID(7), sha256: held.sha256)])
            let write = try await store.beginWrite(
                path: try vp("p/x"), fileID: FileID(8), size: Int64(newer.count), expectedSHA256: nil, replacing: exact)
            try await write.write(ByteBuffer(bytes: newer))
            _ = try await write.commit()
            #expect(try fileBytes(root + "/data/p/x") == newer)
            #expect(try await store.remove(path: try vp("p/x"), fileID: FileID(8), sha256: ReferenceSHA256.hex(newer)))
        }
    }

    @Test("A batch blob stored over nothing never takes the place of what the path holds, not even the same content; the others do")
    func overNothingRefusesEvenTheSameContent() async throws {
        try await withTestDirectory { root in
            let store = try BlobStore(data: root + "/data", quota: 1 << 20)
            let bytes = payload(500)
            let sha = ReferenceSHA256.hex(bytes)
            let held = try await put(store, "b/held.bin", bytes, fileID: 9)
            var strict = BatchBlob(
                path: try vp("b/held.bin"), fileID: nil, sha256: sha, version: nil, created: nil, replacing: .only([]),
                bytes: ByteBuffer(bytes: bytes))
            strict.overNothing = true
            var fresh = strict
            fresh.path = try vp("b/new.bin")
            let results = await store.storeBatch([strict, fresh])
            guard case .failure(.versionConflict) = results[0] else { Issue.record("stored over a held version: \(results[0])"); return }
            guard case .success = results[1] else { Issue.record("a free path was refused: \(results[1])"); return }
            #expect(await store.blob(at: try vp("b/held.bin"))?.fileID == held.fileID, "the held version keeps its place and id")
            #expect(await store.blob(at: try vp("b/new.bin"))?.sha256 == sha)

            // Without it, the same content may take the place (a copy of the same bytes).
            strict.overNothing = false
            guard case .success = await store.storeBatch([strict])[0] else { Issue.record("the same content was refused"); return }
        }
    }

    @Test func committedFileIsAPlainFile() async throws {
        try await withTestDirectory { root in
            let data = root + "/data"
            let store = try BlobStore(data: data, quota: 1 << 20)
            let bytes = payload(3000, seed: 2)
            let blob = try await put(store, "x/y/z.txt", bytes, fileID: 1)
            let file = data + "/x/y/z.txt"
            #expect(try fileBytes(file) == bytes)
            #expect(try permissions(file) == 0o644)
            for directory in [data + "/x", data + "/x/y"] {
                let mode = try permissions(directory)
                #expect(mode & 0o700 == 0o700 && mode & 0o022 == 0)
            }
            #expect(try inode(file) == blob.inode)
            let modified = try #require(try attributes(file)[.modificationDate] as? Date)
            #expect(abs(modified.timeIntervalSince(blob.modified)) < 0.001)
            #expect(contents(data + "/.fsdfs/tmp").isEmpty)
        }
    }

    @Test func nothingIsVisibleBeforeCommit() async throws {
        try await withTestDirectory { root in
            let data = root + "/data"
            let store = try BlobStore(data: data, quota: 1 << 20)
            let bytes = payload(2000, seed: 3)
            let write = try await store.beginWrite(path: try vp("p/q.bin"), fileID: FileID(1), size: 2000, expectedSHA256: nil)
            try await write.write(ByteBuffer(bytes: bytes[0..<1000]))
            #expect(write.bytesWritten == 1000)
            #expect(!exists(data + "/p/q.bin"))
            #expect(!exists(data + "/p"))
            #expect(contents(data + "/.fsdfs/tmp").count == 1)
            #expect(await store.blob(at: try vp("p/q.bin")) == nil)
            #expect(await store.used() == 2000)
            try await write.write(ByteBuffer(bytes: bytes[1000...]))
            #expect(!exists(data + "/p/q.bin"))
            _ = try await write.commit()
            #expect(try fileBytes(data + "/p/q.bin") == bytes)
            #expect(contents(data + "/.fsdfs/tmp").isEmpty)
            #expect(await store.used() == 2000)
        }
    }

    @Test func wrongChecksumLeavesNothing() async throws {
        try await withTestDirectory { root in
            let data = root + "/data"
            let store = try BlobStore(data: data, quota: 1 << 20)
            try await put(store, "keep", payload(100), fileID: 1)
            let bytes = payload(1500, seed: 4)
            let wrong = ReferenceSHA256.hex(payload(1500, seed: 5))
            let write = try await store.beginWrite(path: try vp("x/y"), fileID: FileID(2), size: 1500, expectedSHA256: wrong)
            try await write.write(ByteBuffer(bytes: bytes))
            await #expect(throws: BlobStoreError.checksumMismatch(
                path: try vp("x/y"), expected: wrong, actual: ReferenceSHA256.hex(bytes))) {
                try await write.commit()
            }
            #expect(!exists(data + "/x"))
            #expect(contents(data + "/.fsdfs/tmp").isEmpty)
            #expect(await store.used() == 100)
            #expect(await store.blob(at: try vp("x/y")) == nil)
            await write.abort()  // idempotent after a failed commit
            #expect(await store.used() == 100)
        }
    }

    @Test func overQuotaBeginCreatesNothing() async throws {
        try await withTestDirectory { root in
            let data = root + "/data"
            let store = try BlobStore(data: data, quota: 1000)
            try await put(store, "a", payload(400), fileID: 1)
            await #expect(throws: BlobStoreError.overQuota(needed: 601, free: 600)) {
                try await store.beginWrite(path: try vp("b/c"), fileID: nil, size: 601, expectedSHA256: nil)
            }
            #expect(contents(data + "/.fsdfs/tmp").isEmpty)
            #expect(!exists(data + "/b"))
            #expect(await store.used() == 400)
            let fits = try await store.beginWrite(path: try vp("b/c"), fileID: nil, size: 600, expectedSHA256: nil)
            #expect(await store.used() == 1000)
            await fits.abort()
            await fits.abort()
            #expect(await store.used() == 400)
            #expect(contents(data + "/.fsdfs/tmp").isEmpty)
            #expect(BlobStoreError.overQuota(needed: 601, free: 600).description
                == "not enough space: the file needs 601 B and this node has 600 B free under its quota")
            #expect(BlobStoreError.overQuota(needed: 1, free: 0).code == "over_quota")
        }
    }

    @Test func concurrentReservationsNeverOvercommit() async throws {
        try await withTestDirectory { root in
            let store = try BlobStore(data: root + "/data", quota: 10_000)
            for round in 0..<20 {
                let results = await withTaskGroup(of: Result<BlobWrite, BlobStoreError>.self) { group in
                    for side in 0..<2 {
                        group.addTask { await attempt(store, "r\(round)/\(side)", size: 6000) }
                    }
                    return await group.reduce(into: []) { $0.append($1) }
                }
                let writes = results.compactMap { try? $0.get() }
                let refusals = results.compactMap { result -> BlobStoreError? in
                    if case .failure(let error) = result { return error }
                    return nil
                }
                #expect(writes.count == 1)
                #expect(refusals == [.overQuota(needed: 6000, free: 4000)])
                #expect(await store.used() == 6000)
                for write in writes { await write.abort() }
                #expect(await store.used() == 0)
            }
        }
    }

    @Test func sizeOverflowAndShortWritesAreRefused() async throws {
        try await withTestDirectory { root in
            let data = root + "/data"
            let store = try BlobStore(data: data, quota: 1 << 20)
            let long = try await store.beginWrite(path: try vp("long"), fileID: nil, size: 100, expectedSHA256: nil)
            try await long.write(ByteBuffer(bytes: payload(60)))
            await #expect(throws: BlobStoreError.sizeMismatch(expected: 100, received: 120)) {
                try await long.write(ByteBuffer(bytes: payload(60)))
            }
            #expect(await store.used() == 0)
            #expect(contents(data + "/.fsdfs/tmp").isEmpty)
            await #expect(throws: BlobStoreError.self) { try await long.commit() }
            #expect(!exists(data + "/long"))

            let short = try await store.beginWrite(path: try vp("short"), fileID: nil, size: 100, expectedSHA256: nil)
            try await short.write(ByteBuffer(bytes: payload(50)))
            await #expect(throws: BlobStoreError.sizeMismatch(expected: 100, received: 50)) { try await short.commit() }
            #expect(!exists(data + "/short"))
            #expect(await store.used() == 0)
            #expect(contents(data + "/.fsdfs/tmp").isEmpty)
        }
    }

    @Test func droppedWriteGivesItsReservationBack() async throws {
        try await withTestDirectory { root in
            let data = root + "/data"
            let store = try BlobStore(data: data, quota: 1000)
            do {
                let write = try await store.beginWrite(path: try vp("d"), fileID: nil, size: 800, expectedSHA256: nil)
                try await write.write(ByteBuffer(bytes: payload(10)))
                #expect(await store.used() == 800)
            }
            #expect(await store.used() == 0)
            for _ in 0..<200 where !contents(data + "/.fsdfs/tmp").isEmpty {
                try await Task.sleep(for: .milliseconds(10))  // poll interval, at most 2 s
            }
            #expect(contents(data + "/.fsdfs/tmp").isEmpty)
        }
    }

    @Test func concurrentCommitsShareParents() async throws {
        try await withTestDirectory { root in
            let data = root + "/data"
            let store = try BlobStore(data: data, quota: 1 << 20)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<8 {
                    group.addTask { try await put(store, "shared/sub\(i % 2)/f\(i)", payload(700, seed: UInt64(i)), fileID: Int64(i)) }
                }
                try await group.waitForAll()
            }
            #expect(await store.inventory().count == 8)
            #expect(await store.used() == 8 * 700)
            for i in 0..<8 {
                #expect(try fileBytes(data + "/shared/sub\(i % 2)/f\(i)") == payload(700, seed: UInt64(i)))
            }
        }
    }
}
