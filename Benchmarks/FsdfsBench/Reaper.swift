import Dispatch
import Foundation
import Synchronization

/// Every process the bench started and the work directory, so that all of it goes on any
/// exit: the end of the run, a failed stage, or Ctrl-C / SIGTERM (``installSignalHandlers()``).
final class Reaper: Sendable {
    static let shared = Reaper()

    private struct State {
        /// Process id → the signal that stops it (SIGTERM for nginx, which then stops its
        /// workers, and for the MongoDB guard, which then stops the server).
        var processes: [Int32: Int32] = [:]
        var directory: URL?
        var keep = false
    }

    private let state = Mutex(State())
    private let signalSources = Mutex<[any DispatchSourceSignal]>([])

    func adopt(_ pid: Int32, stopWith signal: Int32) {
        state.withLock { $0.processes[pid] = signal }
    }

    func release(_ pid: Int32) {
        _ = state.withLock { $0.processes.removeValue(forKey: pid) }
    }

    /// The work directory, removed at the end unless `keep`.
    func own(directory: URL, keep: Bool) {
        state.withLock {
            $0.directory = directory
            $0.keep = keep
        }
    }

    /// Stops every process still registered, waits (bounded) for them to go, SIGKILLs the
    /// rest, and removes the work directory unless it is kept.
    func reapAll() {
        let (processes, directory, keep) = state.withLock { state in
            defer { state.processes = [:] }
            return (state.processes, state.directory, state.keep)
        }
        for (pid, signal) in processes { kill(pid, signal) }
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline, processes.keys.contains(where: { kill($0, 0) == 0 && !Self.isZombie($0) }) {
            usleep(50_000)  // poll interval, bounded by the deadline
        }
        for pid in processes.keys where kill(pid, 0) == 0 { kill(pid, SIGKILL) }
        guard let directory else { return }
        if keep {
            progress("kept the work directory \(directory.path) (--keep)")
        } else {
            try? FileManager.default.removeItem(at: directory)
        }
    }

    /// Ctrl-C and SIGTERM stop everything the bench started, then exit 130 / 143.
    func installSignalHandlers() {
        signalSources.withLock { sources in
            for (number, code) in [(SIGINT, Int32(130)), (SIGTERM, Int32(143))] {
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler {
                    progress("interrupted: stopping every process the bench started")
                    Reaper.shared.reapAll()
                    exit(code)
                }
                source.resume()
                sources.append(source)
            }
        }
    }

    /// A child that exited but was not waited for yet still answers `kill(pid, 0)`.
    private static func isZombie(_ pid: Int32) -> Bool {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return true }
        return text[text.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }
}
