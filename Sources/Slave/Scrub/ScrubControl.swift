import Foundation
import Metrics
import ReplicaCore
import Synchronization
import Transport

/// What the scrubber, the node's routes and the reporter share: the scrubber's
/// ``ScrubStatus`` and requests for a full pass now (`fsdfsd scrub`).
public final class ScrubControl: Sendable {
    private struct State {
        var status = ScrubStatus()
        /// A full pass was asked for and has not started yet.
        var requested = false
        /// Bytes of the files the current pass has finished (its progress between files).
        var finishedBytes: Int64 = 0
        /// The number of the last pass begun, ended or not.
        var lastNumber = 0
    }

    private let state = Mutex(State())
    /// Signalled when a pass is requested.
    let wakeup = Wakeup()
    /// ``ScrubStatus/corrupt`` and ``ScrubStatus/missing`` as metrics, counted as they grow.
    private let corruptFound = Counter(label: NodeMetrics.Metric.scrubCorrupt.name)
    private let missingFound = Counter(label: NodeMetrics.Metric.scrubMissing.name)

    public init() {
        corruptFound.increment(by: 0)
        missingFound.increment(by: 0)
    }

    /// The last full pass, the pass under way and what the scrubber has found.
    public func status() -> ScrubStatus {
        state.withLock { $0.status }
    }

    /// How far the pass under way is, from 0 to 1, by bytes (by files when they are all
    /// empty); 1 between passes, 0 before the first.
    public var progress: Double {
        let status = status()
        guard let current = status.current else { return status.lastPass == nil ? 0 : 1 }
        if current.bytesTotal > 0 { return min(1, Double(current.bytesDone) / Double(current.bytesTotal)) }
        return current.filesTotal > 0 ? Double(current.filesDone) / Double(current.filesTotal) : 0
    }

    /// Asks for a full pass now. A pass under way is cut short and a new one started, since it
    /// may have checked files before whatever prompted the request.
    /// - Returns: the number the requested pass will have, and whether a pass was cut short.
    public func requestPass() -> ScrubStarted {
        let started = state.withLock { state in
            state.requested = true
            return ScrubStarted(pass: state.lastNumber + 1, restarted: state.status.current != nil)
        }
        wakeup.signal()
        return started
    }

    /// Whether a full pass was requested and has not started yet.
    var passRequested: Bool { state.withLock { $0.requested } }

    /// How long until the next pass is due: at once when requested or when no pass has ever
    /// ended, otherwise `interval` after the last one ended.
    func timeUntilDue(interval: Duration, now: Date) -> Duration {
        state.withLock { state in
            guard !state.requested, let ended = state.status.lastPass?.ended else { return .zero }
            let seconds = Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
            let due = ended + seconds
            return .seconds(max(0, due - now.timeIntervalSince1970))
        }
    }

    /// Takes what a previous run of the node recorded (the last pass and the totals).
    func restore(_ saved: ScrubStatus) {
        let (corrupt, missing) = state.withLock { state in
            let added = (max(0, saved.corrupt - state.status.corrupt), max(0, saved.missing - state.status.missing))
            state.status.lastPass = saved.lastPass
            state.lastNumber = max(state.lastNumber, saved.lastPass?.number ?? 0)
            state.status.corrupt = saved.corrupt
            state.status.missing = saved.missing
            return added
        }
        corruptFound.increment(by: corrupt)
        missingFound.increment(by: missing)
    }

    /// Starts a pass over `files` files of `bytes` bytes; clears a pending request.
    /// - Returns: its number.
    func begin(files: Int, bytes: Int64, now: Date) -> Int {
        state.withLock { state in
            state.lastNumber += 1
            let number = state.lastNumber
            state.requested = false
            state.finishedBytes = 0
            state.status.current = ScrubPass(
                number: number, started: now.timeIntervalSince1970, filesTotal: files, bytesTotal: bytes)
            return number
        }
    }

    /// `bytes` more were read from the current file.
    func advance(_ bytes: Int) {
        state.withLock { state in state.status.current?.bytesDone += Int64(bytes) }
    }

    /// One file of `size` bytes is done, with `outcome`.
    func finish(size: Int64, outcome: ScrubOutcome) {
        let counted = state.withLock { state -> Bool in
            guard var current = state.status.current else { return false }
            state.finishedBytes += size
            current.bytesDone = state.finishedBytes
            current.filesDone += 1
            switch outcome {
            case .missing:
                current.missing += 1
                state.status.missing += 1
            case .corrupt:
                current.corrupt += 1
                state.status.corrupt += 1
            case .intact, .changed:
                break
            }
            state.status.current = current
            return true
        }
        guard counted else { return }
        switch outcome {
        case .missing: missingFound.increment()
        case .corrupt: corruptFound.increment()
        case .intact, .changed: break
        }
    }

    /// The current pass ran to its end: it becomes the last pass.
    /// - Returns: the status to keep across restarts.
    func end(now: Date) -> ScrubStatus {
        state.withLock { state in
            if var current = state.status.current {
                current.ended = now.timeIntervalSince1970
                state.status.lastPass = current
            }
            state.status.current = nil
            return state.status
        }
    }

    /// The current pass was cut short (a new one was requested, or the node is stopping).
    /// - Returns: the status to keep across restarts.
    func abandon() -> ScrubStatus {
        state.withLock { state in
            state.status.current = nil
            return state.status
        }
    }
}
