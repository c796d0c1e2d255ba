import Foundation
import Logging
import ReplicaCore
import ServiceLifecycle

/// The node's background scrubber (ARCHITECTURE.md section 11): re-reads and re-hashes every
/// blob the store holds, rate-limited, a full pass at most every ``Configuration/interval``
/// (counted from the end of the last pass, kept across restarts in `.fsdfs/scrub.json`), or at
/// once when asked (`POST /v1/scrub`).
///
/// A file found missing, unreadable or corrupt is dropped from the store (a corrupt or
/// unreadable one is moved to `.fsdfs/quarantine/`) and reported to the master at once, so K
/// drops in the same catalog step and the scheduler copies a good replica back. Blobs written
/// or replaced after the pass started are skipped: they were verified when stored.
public struct Scrubber: Service {
    public struct Configuration: Sendable {
        /// Bytes read per second at most, above 0. Default 64 MiB/s.
        public var bytesPerSecond: Int64
        /// Time from the end of a full pass to the start of the next. Default one week.
        public var interval: Duration

        public init(bytesPerSecond: Int64 = 64 << 20, interval: Duration = .seconds(604_800)) {
            self.bytesPerSecond = bytesPerSecond
            self.interval = interval
        }
    }

    let node: StorageNode
    let configuration: Configuration

    public init(node: StorageNode, configuration: Configuration = .init()) {
        self.node = node
        self.configuration = configuration
    }

    /// Thrown out of a pass when a new one is requested.
    private struct Restart: Error {}

    public func run() async throws {
        let journal = ScrubJournal(directory: node.store.directory)
        let (saved, problem) = await journal.load()
        if let problem { node.logger.warning("scrubber: \(problem); the next pass starts now") }
        node.scrubbing.restore(saved)
        await cancelWhenGracefulShutdown {
            // Background priority: the scrubber yields to serving and copying.
            await withDiscardingTaskGroup { group in
                group.addTask(priority: .background) {
                    while !Task.isCancelled {
                        let wait = node.scrubbing.timeUntilDue(interval: configuration.interval, now: Date())
                        if wait > .zero {
                            await node.scrubbing.wakeup.wait(timeout: wait)
                            continue
                        }
                        let status = await pass()
                        do {
                            try await journal.save(status)
                        } catch {
                            node.logger.warning("scrubber: could not record the pass: \(error)")
                        }
                    }
                }
            }
        }
    }

    /// One full pass over the inventory as it is now. Returns the status to record.
    private func pass() async -> ScrubStatus {
        let control = node.scrubbing
        let blobs = await node.store.inventory()
        let total = blobs.reduce(Int64(0)) { $0 + $1.size }
        let number = control.begin(files: blobs.count, bytes: total, now: Date())
        node.logger.info("scrub pass \(number) started: \(blobs.count) files, \(ByteSize.format(total))")
        var limiter = ScrubRateLimiter(bytesPerSecond: configuration.bytesPerSecond)
        do {
            for blob in blobs {
                try Task.checkCancellation()
                if control.passRequested { throw Restart() }
                let outcome: ScrubOutcome
                do {
                    outcome = try await node.store.scrub(blob) { bytes in
                        if control.passRequested { throw Restart() }
                        control.advance(bytes)
                        let delay = limiter.delay(afterReading: bytes, at: .now)
                        if delay > .zero { try await Task.sleep(for: delay) }
                    }
                } catch let error where error is Restart || error is CancellationError {
                    throw error
                } catch {
                    // The file is not counted as damaged: this may be the node's trouble, not
                    // the file's (the next pass checks it again).
                    node.logger.error("scrub of \(blob.path) failed: \(error)")
                    control.finish(size: blob.size, outcome: .changed)
                    continue
                }
                report(blob, outcome)
                control.finish(size: blob.size, outcome: outcome)
                let delay = limiter.delay(afterFileAt: .now)
                if delay > .zero { try await Task.sleep(for: delay) }
            }
        } catch {
            let status = control.abandon()
            if error is Restart {
                node.logger.info("scrub pass \(number) cut short: a new pass was requested")
            }
            return status
        }
        let status = control.end(now: Date())
        if let last = status.lastPass {
            node.logger.info(
                "scrub pass \(number) ended: \(last.filesDone) files, \(ByteSize.format(last.bytesDone)) checked; \(last.corrupt) corrupt, \(last.missing) missing")
        }
        // The master shows the pass in status.
        node.reportSoon.signal()
        return status
    }

    /// Tells the master at once about a replica that is gone.
    private func report(_ blob: StoredBlob, _ outcome: ScrubOutcome) {
        switch outcome {
        case .missing:
            node.logger.error("scrub: \(blob.path) is missing from the disk; it no longer counts")
        case .corrupt(let reason):
            node.logger.error("scrub: \(blob.path) is corrupt (\(reason)); quarantined, it no longer counts")
        case .intact, .changed:
            return
        }
        guard let fileID = blob.fileID else { return }
        let file = FileRef(fileID: fileID, path: blob.path)
        switch outcome {
        case .corrupt(let reason): node.noteDamaged(file, kind: ReplicaDamage.corrupt, detail: "found by the scrubber: \(reason)")
        default: node.noteDamaged(file, kind: ReplicaDamage.missing, detail: "found by the scrubber")
        }
    }
}
