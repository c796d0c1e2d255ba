import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import ReplicaCore
@testable import Slave
import Testing
import Transport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("Scrubbing")
struct ScrubTests {
    /// Flips one byte in the middle of the file in place (same inode, same size) and puts back
    /// its exact access and modification times, so only a re-hash can tell.
    static func flipByteKeepingTimes(_ path: String) throws {
        var before = stat()
        #expect(stat(path, &before) == 0)
        var bytes = try fileBytes(path)
        bytes[bytes.count / 2] ^= 0x01
        try overwriteInPlace(path, with: bytes)
        var times = [before.st_atim, before.st_mtim]
        #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
        var after = stat()
        #expect(stat(path, &after) == 0)
        #expect(after.st_mtim.tv_sec == before.st_mtim.tv_sec && after.st_mtim.tv_nsec == before.st_mtim.tv_nsec)
        #expect(after.st_ino == before.st_ino && after.st_size == before.st_size)
    }

    /// Scrubs every blob of the inventory as a pass does, with no pacing.
    static func scrubAll(_ store: BlobStore) async throws -> [String: ScrubOutcome] {
        var outcomes: [String: ScrubOutcome] = [:]
        for blob in await store.inventory() {
            outcomes[blob.path.rawValue] = try await store.scrub(blob) { _ in }
        }
        return outcomes
    }

    @Test func aPassDropsADeletedFileQuarantinesABitFlippedOneAndKeepsTheIntactOnes() async throws {
        try await withTestDirectory { root in
            let data = root + "/data"
            let store = try BlobStore(data: data, quota: 1 << 20)
            try await put(store, "x/gone", payload(700, seed: 1), fileID: 1)
            try await put(store, "x/rotten", payload(900, seed: 2), fileID: 2)
            let kept = try await put(store, "x/kept", payload(500, seed: 3), fileID: 3)
            let other = try await put(store, "y/other", payload(300, seed: 4), fileID: 4)

            try FileManager.default.removeItem(atPath: data + "/x/gone")
            try Self.flipByteKeepingTimes(data + "/x/rotten")
            let flipped = try fileBytes(data + "/x/rotten")
            // Nothing notices by itself: the inventory still lists both.
            #expect(await store.inventory().count == 4)

            let outcomes = try await Self.scrubAll(store)
            #expect(outcomes["x/gone"] == .missing)
            guard case .corrupt? = outcomes["x/rotten"] else {
                Issue.record("x/rotten: \(String(describing: outcomes["x/rotten"]))")
                return
            }
            #expect(outcomes["x/kept"] == .intact && outcomes["y/other"] == .intact)

            #expect(await store.inventory() == [kept, other])
            #expect(await store.used() == 800)
            #expect(!exists(data + "/x/rotten"))
            let quarantined = allFiles(under: data + "/.fsdfs/quarantine")
            #expect(quarantined.count == 1 && quarantined.first?.hasSuffix("/x/rotten") == true)
            #expect(try fileBytes(data + "/.fsdfs/quarantine/" + quarantined[0]) == flipped)
            #expect(try fileBytes(data + "/x/kept") == payload(500, seed: 3))

            // The index agrees: a reopened store lists the same before any scan.
            #expect(try await BlobStore(data: data, quota: 1 << 20).inventory() == [kept, other])
            // A second pass finds nothing more.
            #expect(try await Self.scrubAll(store).values.allSatisfy { $0 == .intact })
        }
    }

    @Test func aBlobReplacedOrRemovedAfterItWasListedIsLeftAlone() async throws {
        try await withTestDirectory { root in
            let data = root + "/data"
            let store = try BlobStore(data: data, quota: 1 << 20)
            let old = try await put(store, "replaced", payload(400, seed: 5), fileID: 5)
            let removed = try await put(store, "removed", payload(400, seed: 6), fileID: 6)
            let listed = await store.inventory()

            let new = try await put(store, "replaced", payload(450, seed: 7), fileID: 7)
            #expect(try await store.remove(path: removed.path, fileID: removed.fileID))

            #expect(try await store.scrub(old) { _ in } == .changed)
            #expect(try await store.scrub(removed) { _ in } == .changed)
            #expect(listed.count == 2)
            #expect(await store.inventory() == [new])
            #expect(try fileBytes(data + "/replaced") == payload(450, seed: 7))
            #expect(!exists(data + "/.fsdfs/quarantine"))
        }
    }

    @Test func aDirectoryInPlaceOfAFileCountsAsMissingAndIsLeftWhereItIs() async throws {
        try await withTestDirectory { root in
            let data = root + "/data"
            let store = try BlobStore(data: data, quota: 1 << 20)
            let blob = try await put(store, "d/f", payload(100, seed: 8), fileID: 8)
            try FileManager.default.removeItem(atPath: data + "/d/f")
            try FileManager.default.createDirectory(atPath: data + "/d/f/inner", withIntermediateDirectories: true)

            #expect(try await store.scrub(blob) { _ in } == .missing)
            #expect(await store.inventory().isEmpty)
            #expect(exists(data + "/d/f/inner"))
        }
    }

    @Test func theScrubReadsEveryByteThroughItsPace() async throws {
        try await withTestDirectory { root in
            let store = try BlobStore(data: root + "/data", quota: 1 << 20)
            let blob = try await put(store, "big", payload(100_000, seed: 9), fileID: 9)
            var paced = 0
            #expect(try await store.scrub(blob, chunkSize: 8192) { paced += $0 } == .intact)
            #expect(paced == 100_000)
        }
    }

    struct Stop: Error {}

    @Test func anErrorFromThePaceStopsTheScrubAndChangesNothing() async throws {
        try await withTestDirectory { root in
            let data = root + "/data"
            let store = try BlobStore(data: data, quota: 1 << 20)
            let blob = try await put(store, "f", payload(50_000, seed: 12), fileID: 12)
            await #expect(throws: Stop.self) {
                _ = try await store.scrub(blob, chunkSize: 8192) { _ in throw Stop() }
            }
            #expect(await store.inventory() == [blob])
            #expect(try fileBytes(data + "/f") == payload(50_000, seed: 12))
        }
    }

    // MARK: Rate limit

    @Test func theLimiterMakesASteadyReaderTakeBytesOverRate() {
        let rate: Int64 = 1 << 20
        var limiter = ScrubRateLimiter(bytesPerSecond: rate)
        var now = ContinuousClock.now
        let start = now
        // 4 MiB in 256 KiB chunks, each read taking 10 ms, then the wait asked for.
        for _ in 0..<16 {
            now += .milliseconds(10)
            now += limiter.delay(afterReading: 256 << 10, at: now)
        }
        let elapsed = now - start
        // At most the slack early, never more than one chunk's worth late.
        #expect(elapsed >= .seconds(4) - ScrubRateLimiter.slack)
        #expect(elapsed <= .seconds(4) + .milliseconds(260))
    }

    @Test("Small files cost the scrubber their opening too: at 64 MiB/s, 4 KiB files go at about 1,000 a second, not 16,000")
    func theLimiterChargesEachFile() {
        var limiter = ScrubRateLimiter(bytesPerSecond: 64 << 20)
        var now = ContinuousClock.now
        let start = now
        for _ in 0..<2_048 {
            now += limiter.delay(afterReading: 4096, at: now)
            now += limiter.delay(afterFileAt: now)
        }
        let elapsed = (now - start) / .seconds(1)
        // 2,048 × (4 KiB + 64 KiB) at 64 MiB/s: 2.125 s, less the slack.
        #expect(elapsed > 2.0 && elapsed < 2.2, "\(elapsed) s")
    }

    @Test func theLimiterSavesUpNoMoreThanItsSlackWhileIdle() {
        var limiter = ScrubRateLimiter(bytesPerSecond: 1 << 20)
        let now = ContinuousClock.now
        #expect(limiter.delay(afterReading: 1 << 20, at: now) == .seconds(1) - ScrubRateLimiter.slack)
        // An hour later: one second's worth of bytes still costs about a second.
        let later = now + .seconds(3600)
        #expect(limiter.delay(afterReading: 1 << 20, at: later) == .seconds(1) - ScrubRateLimiter.slack)
        // Reading again at once: it must wait for both.
        let wait = limiter.delay(afterReading: 1 << 20, at: later)
        #expect(wait == .seconds(2) - ScrubRateLimiter.slack)
        // A reader slower than the rate never waits.
        var slow = ScrubRateLimiter(bytesPerSecond: 1 << 20)
        #expect(slow.delay(afterReading: 1024, at: now) == .zero)
        #expect(slow.delay(afterReading: 1024, at: now + .seconds(1)) == .zero)
    }

    // MARK: Pass bookkeeping

    @Test func passesAreDueAnIntervalAfterTheLastEndedOrAtOnceWhenRequested() {
        let control = ScrubControl()
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(control.timeUntilDue(interval: .seconds(600), now: now) == .zero, "never scrubbed: due now")

        let first = control.begin(files: 2, bytes: 300, now: now)
        control.finish(size: 100, outcome: .corrupt(reason: "test"))
        #expect(control.status().current?.bytesDone == 100 && control.status().current?.corrupt == 1)
        control.finish(size: 200, outcome: .missing)
        let ended = control.end(now: now + 5)
        #expect(first == 1)
        #expect(ended.lastPass == ScrubPass(
            number: 1, started: now.timeIntervalSince1970, ended: now.timeIntervalSince1970 + 5,
            filesDone: 2, filesTotal: 2, bytesDone: 300, bytesTotal: 300, corrupt: 1, missing: 1))
        #expect(ended.corrupt == 1 && ended.missing == 1 && ended.current == nil)
        #expect(control.timeUntilDue(interval: .seconds(600), now: now + 65) == .seconds(540))

        // Restored after a restart: still not due.
        let restarted = ScrubControl()
        restarted.restore(ended)
        #expect(restarted.timeUntilDue(interval: .seconds(600), now: now + 65) == .seconds(540))
        #expect(restarted.timeUntilDue(interval: .seconds(600), now: now + 700) == .zero)

        // Requested: due at once, numbered after the last; a pass under way is cut short.
        #expect(restarted.requestPass() == ScrubStarted(pass: 2, restarted: false))
        #expect(restarted.timeUntilDue(interval: .seconds(600), now: now + 65) == .zero)
        #expect(restarted.begin(files: 0, bytes: 0, now: now + 66) == 2)
        #expect(!restarted.passRequested)
        #expect(restarted.requestPass() == ScrubStarted(pass: 3, restarted: true))
        #expect(restarted.passRequested)
        _ = restarted.abandon()
        #expect(restarted.begin(files: 0, bytes: 0, now: now + 67) == 3)
    }

    @Test func theJournalKeepsTheLastPassAcrossRestarts() async throws {
        try await withTestDirectory { root in
            let store = try BlobStore(data: root + "/data", quota: 1 << 20)
            let journal = ScrubJournal(directory: store.directory)
            #expect(await journal.load().status == ScrubStatus())
            let pass = ScrubPass(number: 4, started: 10, ended: 20, filesDone: 1, filesTotal: 1, bytesDone: 5, bytesTotal: 5)
            try await journal.save(ScrubStatus(lastPass: pass, current: pass, corrupt: 2, missing: 3))
            let loaded = await journal.load()
            #expect(loaded.problem == nil)
            #expect(loaded.status == ScrubStatus(lastPass: pass, current: nil, corrupt: 2, missing: 3))
            #expect(contents(root + "/data/.fsdfs/tmp").isEmpty)
        }
    }

    // MARK: Routes

    @Test func aReadThatFindsTheFileMissingAnswers404AndReportsIt() async throws {
        try await withTestDirectory { root in
            let data = root + "/data"
            let store = try BlobStore(data: data, quota: 1 << 20)
            try await put(store, "x/a", payload(200, seed: 10), fileID: 11)
            try FileManager.default.removeItem(atPath: data + "/x/a")

            let key = try SwarmKey(password: "scrub-tests-secret")
            let http = SignedClient.makeHTTPClient()
            let node = StorageNode(
                id: NodeID("node-1"), swarm: nil, address: "127.0.0.1:1", master: "127.0.0.1:1", store: store,
                client: SignedClient(http: http, key: key), verifier: RequestVerifier(key: key, names: .any),
                logger: Logger(label: "scrub-tests"))
            let router = makeNodeRouter()
            router.middlewares.add(ErrorMiddleware())
            node.addRoutes(to: router)
            do {
                try await Application(router: router).test(.router) { client in
                    try await client.execute(uri: Route.blob(try vp("x/a")), method: .get) { response in
                        #expect(response.status == .notFound)
                        #expect(String(buffer: response.body).contains("missing"))
                    }
                    try await client.execute(uri: Route.scrub, method: .post) { response in
                        #expect(response.status == .ok)
                        let started = try JSONDecoder().decode(ScrubStarted.self, from: Data(response.body.readableBytesView))
                        #expect(started == ScrubStarted(pass: 1, restarted: false))
                    }
                    try await client.execute(uri: Route.scrub, method: .get) { response in
                        let status = try JSONDecoder().decode(ScrubStatus.self, from: Data(response.body.readableBytesView))
                        #expect(status == ScrubStatus())
                    }
                }
            } catch {
                try? await http.shutdown()
                throw error
            }
            try await http.shutdown()
            #expect(await store.inventory().isEmpty)
            #expect(node.takeChanges().removed == [FileRef(fileID: FileID(11), path: try vp("x/a"))])
            #expect(node.scrubbing.passRequested)
        }
    }
}
