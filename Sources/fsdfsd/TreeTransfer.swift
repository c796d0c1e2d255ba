import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import ReplicaCore
import Synchronization
import Transport

/// What `put -r` and `get -r` did, printed as one line at the end (or one JSON object with
/// `--json`).
struct TransferSummary: Codable, Sendable, Equatable {
    /// Files considered.
    var files = 0
    /// Files whose bytes moved.
    var transferred = 0
    /// Files left alone because the other side already has the same content.
    var skipped = 0
    var failed = 0
    /// Bytes moved.
    var bytes: Int64 = 0
    var seconds: Double = 0
}

/// The overall progress of a tree transfer: a bar on stderr when it is a terminal, otherwise
/// a plain line at most every ``lineInterval`` seconds. Each failure is printed on its own line
/// as it happens, naming the file and the reason.
final class TreeProgress: Sendable {
    static let lineInterval: TimeInterval = 5

    private struct State {
        var summary = TransferSummary()
        /// Files known so far (grows while the tree is still being listed).
        var total = 0
        var lastDraw = Date.distantPast
        var drawn = false
    }

    private let label: String
    private let terminal: Bool
    private let started = Date()
    private let state: Mutex<State>

    init(_ label: String) {
        self.label = label
        self.terminal = isatty(2) == 1
        // Plain lines start after the first interval: a short run prints only its summary.
        self.state = Mutex(State(lastDraw: terminal ? .distantPast : started))
    }

    /// `count` more files to consider.
    func discovered(_ count: Int) {
        state.withLock { $0.total += count }
    }

    func transferred(bytes: Int64) {
        update { $0.transferred += 1; $0.bytes += bytes }
    }

    func skipped() {
        update { $0.skipped += 1 }
    }

    /// Prints `file: reason` on its own line and counts the failure.
    func failed(_ file: String, _ reason: String) {
        let message = "\(label): \(file): \(reason)\n"
        state.withLock { state in
            state.summary.failed += 1
            // The bar's line is ended first so that the failure reads on a line of its own.
            FileHandle.standardError.write(Data(((terminal && state.drawn ? "\r\u{1B}[K" : "") + message).utf8))
        }
    }

    /// The final figures; ends the bar's line.
    func finish() -> TransferSummary {
        state.withLock { state in
            if terminal, state.drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            state.summary.files = state.total
            state.summary.seconds = (Date().timeIntervalSince(started) * 1000).rounded() / 1000
            return state.summary
        }
    }

    private func update(_ change: (inout TransferSummary) -> Void) {
        state.withLock { state in
            change(&state.summary)
            let now = Date()
            let interval = terminal ? 0.1 : Self.lineInterval
            guard now.timeIntervalSince(state.lastDraw) >= interval else { return }
            state.lastDraw = now
            state.drawn = true
            let line = render(state, now: now)
            FileHandle.standardError.write(Data((terminal ? "\r\(line)\u{1B}[K" : "\(line)\n").utf8))
        }
    }

    private func render(_ state: State, now: Date) -> String {
        let summary = state.summary
        let done = summary.transferred + summary.skipped + summary.failed
        let elapsed = max(0.001, now.timeIntervalSince(started))
        let rate = Double(done) / elapsed
        var counts = "\(done)/\(state.total) files"
        if terminal {
            let width = 30
            let filled = state.total > 0 ? min(width, done * width / state.total) : 0
            counts = "[\(String(repeating: "#", count: filled))\(String(repeating: "-", count: width - filled))] " + counts
        }
        return String(
            format: "%@ %@, %d skipped, %d failed, %@ at %@/s, %.0f files/s", label, counts, summary.skipped, summary.failed,
            formatBytes(summary.bytes), formatBytes(Int64(Double(summary.bytes) / elapsed)), rate)
    }
}

extension TransferSummary {
    /// The line printed at the end.
    func line(_ verb: String) -> String {
        let rate = seconds > 0 ? Double(transferred + skipped) / seconds : 0
        return String(
            format: "%@ %d files: %d transferred (%@), %d skipped (already the same), %d failed, in %.1f s (%.0f files/s)",
            verb, files, transferred, formatBytes(bytes), skipped, failed, seconds, rate)
    }

    /// Prints the summary (JSON on stdout with `json`, else one line on stdout) and fails the
    /// command when any file failed.
    func conclude(_ verb: String, json: Bool) throws {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(self), as: UTF8.self))
        } else {
            print(line(verb))
        }
        if failed > 0 { throw ExitCode.failure }
    }
}

/// Runs `work` on each item of `items`, at most `jobs` at a time; an item's error is its own
/// business (`work` reports it), so one failure does not stop the others.
func forEachConcurrently<Item: Sendable>(
    _ items: [Item], jobs: Int, _ work: @escaping @Sendable (Item) async -> Void
) async {
    await withTaskGroup(of: Void.self) { group in
        var running = 0
        for item in items {
            if running >= jobs {
                await group.next()
                running -= 1
            }
            group.addTask { await work(item) }
            running += 1
        }
    }
}

/// `transform` of each of `items`, at most `jobs` at a time, in the order of `items`.
func mapConcurrently<Item: Sendable, Result: Sendable>(
    _ items: [Item], jobs: Int, _ transform: @escaping @Sendable (Item) async -> Result
) async -> [Result] {
    await withTaskGroup(of: (Int, Result).self) { group in
        var results = [Result?](repeating: nil, count: items.count)
        var running = 0
        for (index, item) in items.enumerated() {
            if running >= jobs, let (done, result) = await group.next() {
                results[done] = result
                running -= 1
            }
            group.addTask { (index, await transform(item)) }
            running += 1
        }
        for await (done, result) in group { results[done] = result }
        return results.map { $0! }
    }
}

/// The relative path of a file under a store prefix: `prefix` is a directory of the store
/// (no trailing `/`; empty for the whole store).
func storePath(prefix: String, relative: String) throws -> VirtualPath {
    try VirtualPath(prefix.isEmpty ? relative : "\(prefix)/\(relative)")
}

/// `PREFIX` of `put -r`/`get -r`: a directory of the store, given with or without a trailing
/// `/`; empty or `/` for the whole store.
func parseStorePrefix(_ text: String) throws -> String {
    var prefix = text
    while prefix.hasSuffix("/") { prefix.removeLast() }
    if prefix.isEmpty { return "" }
    _ = try parseRemotePath(prefix)
    return prefix
}

/// Every file of the store under `prefix` (a directory: `prefix/…`), page by page, with
/// its checksum and holders (``ManifestEntry``).
func storeManifest(_ client: SignedClient, master: String, prefix: String) async throws -> [ManifestEntry] {
    let listed = prefix.isEmpty ? "" : prefix + "/"
    var all: [ManifestEntry] = []
    var after: VirtualPath?
    while true {
        let page: [ManifestEntry] = try await client.call(
            .GET, master, Route.manifest(prefix: listed, after: after, limit: 5_000), timeout: .seconds(60))
        all += page
        guard page.count == 5_000, let last = page.last else { return all }
        after = last.path
    }
}

/// File-system calls (open, write, fsync, rename) run on NIO's blocking pool, one thread per
/// core by default: with that, parallel transfers wait on each other's fsyncs, which the disk
/// could well do at once. Must run before anything uses NIO's singletons (first thing in
/// `run()`); a `NIO_SINGLETON_BLOCKING_POOL_THREAD_COUNT` in the environment wins.
func widenBlockingPool(to threads: Int) {
    guard ProcessInfo.processInfo.environment["NIO_SINGLETON_BLOCKING_POOL_THREAD_COUNT"] == nil else { return }
    NIOSingletons.blockingPoolThreadCountSuggestion = min(max(threads, System.coreCount), 64)
}
