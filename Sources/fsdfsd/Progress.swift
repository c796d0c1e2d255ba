import Foundation
import Synchronization

/// A progress bar on stderr for transfers over 64 MiB, drawn only when stderr is a terminal.
final class Progress: Sendable {
    static let threshold: Int64 = 64 * 1024 * 1024

    private struct State {
        var done: Int64 = 0
        var lastDraw = Date.distantPast
        var finished = false
    }

    private let label: String
    private let total: Int64
    private let enabled: Bool
    private let started = Date()
    private let state = Mutex(State())

    init(_ label: String, total: Int64) {
        self.label = label
        self.total = total
        self.enabled = total > Self.threshold && isatty(2) == 1
    }

    func advance(_ bytes: Int) {
        guard enabled else { return }
        let line: String? = state.withLock { state in
            state.done += Int64(bytes)
            let now = Date()
            guard now.timeIntervalSince(state.lastDraw) >= 0.1 || state.done >= total else { return nil }
            state.lastDraw = now
            return render(done: state.done, now: now)
        }
        if let line { FileHandle.standardError.write(Data(line.utf8)) }
    }

    /// Ends the bar's line; only the first call does anything.
    func finish() {
        guard enabled, !state.withLock({ state in defer { state.finished = true }; return state.finished }) else { return }
        FileHandle.standardError.write(Data("\n".utf8))
    }

    private func render(done: Int64, now: Date) -> String {
        let fraction = total > 0 ? Double(done) / Double(total) : 1
        let width = 30
        let filled = Int(fraction * Double(width))
        let elapsed = max(0.001, now.timeIntervalSince(started))
        let rate = Double(done) / elapsed
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        return String(
            format: "\r%@ [%@] %3d%% %@/s ETA %ds ", label, bar, Int(fraction * 100),
            formatBytes(Int64(rate)), Int(eta.rounded()))
    }
}

/// 1.5 MiB, 320 KiB, 12 B.
func formatBytes(_ bytes: Int64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
    var value = Double(bytes)
    var unit = 0
    while abs(value) >= 1024, unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
}
