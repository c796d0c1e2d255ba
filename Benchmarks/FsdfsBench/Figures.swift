import Foundation
import Synchronization

/// What a figure must reach to be "ok".
enum Goal: Sendable, Equatable {
    /// The fsdfs value is at least this (a rate).
    case atLeast(Double)
    /// The fsdfs value is at most this (a time, a size).
    case atMost(Double)
    /// The ratio (see ``Figure/ratio``) is at least this.
    case ratioAtLeast(Double)
    /// Reported only.
    case none

    func text(unit: String) -> String {
        switch self {
        case .atLeast(let value): "≥ \(Figure.format(value)) \(unit)"
        case .atMost(let value): "< \(Figure.format(value)) \(unit)"
        case .ratioAtLeast(let value): "ratio ≥ \(Figure.format(value))"
        case .none: "—"
        }
    }
}

/// One measured figure: fsdfs beside its peer measured in the same run.
struct Figure: Sendable, Encodable {
    /// Stable key for the JSON file, e.g. `small.sqlite.files_per_second`.
    var key: String
    /// What is measured, as the table shows it.
    var title: String
    var unit: String
    var fsdfs: Double?
    /// The peer's value (nginx and curl, or another catalog, or a smaller cluster); nil if none.
    var peer: Double?
    var peerName: String?
    /// True for rates (more is better), false for times and sizes (less is better).
    var higherIsBetter: Bool
    var goal: Goal
    /// Why a value is missing, or how it was obtained.
    var note: String?

    /// fsdfs against its peer, oriented so that ≥ 1.0 means fsdfs is at least as good:
    /// fsdfs/peer for rates, peer/fsdfs for times.
    var ratio: Double? {
        guard let fsdfs, let peer, fsdfs > 0, peer > 0 else { return nil }
        return higherIsBetter ? fsdfs / peer : peer / fsdfs
    }

    var ok: Bool? {
        switch goal {
        case .none: nil
        case .atLeast(let value): fsdfs.map { $0 >= value }
        case .atMost(let value): fsdfs.map { $0 < value }
        case .ratioAtLeast(let value): ratio.map { $0 >= value }
        }
    }

    static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e9 { return String(Int(value)) }
        return switch abs(value) {
        case 0: "0"
        case 1000...: String(format: "%.0f", value)
        case 100..<1000: String(format: "%.1f", value)
        case 1..<100: String(format: "%.2f", value)
        default: String(format: "%.3g", value)
        }
    }

    private enum CodingKeys: String, CodingKey {
        case key, title, unit, fsdfs, peer, peerName, higherIsBetter, goal, note, ratio, ok
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(key, forKey: .key)
        try container.encode(title, forKey: .title)
        try container.encode(unit, forKey: .unit)
        try container.encode(fsdfs, forKey: .fsdfs)
        try container.encode(peer, forKey: .peer)
        try container.encodeIfPresent(peerName, forKey: .peerName)
        try container.encode(higherIsBetter, forKey: .higherIsBetter)
        try container.encode(goal.text(unit: unit), forKey: .goal)
        try container.encodeIfPresent(note, forKey: .note)
        try container.encode(ratio, forKey: .ratio)
        try container.encode(ok, forKey: .ok)
    }

    init(
        key: String, title: String, unit: String, fsdfs: Double?, peer: Double? = nil, peerName: String? = nil,
        higherIsBetter: Bool, goal: Goal = .none, note: String? = nil
    ) {
        self.key = key
        self.title = title
        self.unit = unit
        self.fsdfs = fsdfs
        self.peer = peer
        self.peerName = peerName
        self.higherIsBetter = higherIsBetter
        self.goal = goal
        self.note = note
    }
}

/// The figures of a run, in the order they were measured.
final class Report: Sendable {
    private let figures = Mutex<[Figure]>([])
    private let failures = Mutex<[String: String]>([:])

    func add(_ figure: Figure) {
        figures.withLock { $0.append(figure) }
        let value = figure.fsdfs.map { "\(Figure.format($0)) \(figure.unit)" } ?? "n/a"
        let peer = figure.peer.map { ", \(figure.peerName ?? "peer") \(Figure.format($0)) \(figure.unit)" } ?? ""
        progress("  \(figure.title): \(value)\(peer)\(figure.note.map { " (\($0))" } ?? "")")
    }

    /// A stage that failed: its error goes in the table's footer and the JSON file.
    func stageFailed(_ stage: String, _ error: any Error) {
        failures.withLock { $0[stage] = "\(error)" }
        progress("stage \(stage) FAILED: \(error)")
    }

    var all: [Figure] { figures.withLock { $0 } }
    var failed: [String: String] { failures.withLock { $0 } }

    /// The table: figure | fsdfs | peer | ratio | goal | ok?
    func table() -> String {
        let (header, rows) = cells()
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        func line(_ row: [String]) -> String {
            row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
                .joined(separator: " | ")
        }
        var out = [line(header), widths.map { String(repeating: "-", count: $0) }.joined(separator: "-+-")]
        out += rows.map(line)
        let notes = all.filter { $0.note != nil }.map { "  \($0.title): \($0.note!)" }
        if !notes.isEmpty { out += ["", "notes:"] + notes }
        let failed = self.failed.sorted { $0.key < $1.key }.map { "  \($0.key): \($0.value)" }
        if !failed.isEmpty { out += ["", "stages that failed:"] + failed }
        return out.joined(separator: "\n") + "\n"
    }

    /// The same table as reStructuredText (a simple table), for README.rst's Performance section.
    func restructuredText() -> String {
        let (header, rows) = cells()
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        let rule = widths.map { String(repeating: "=", count: $0) }.joined(separator: "  ")
        func line(_ row: [String]) -> String {
            row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        return ([rule, line(header), rule] + rows.map(line) + [rule]).joined(separator: "\n") + "\n"
    }

    private func cells() -> (header: [String], rows: [[String]]) {
        let header = ["figure", "fsdfs", "peer", "ratio", "goal", "ok?"]
        var rows: [[String]] = []
        for figure in all {
            let value = figure.fsdfs.map { "\(Figure.format($0)) \(figure.unit)" } ?? "n/a"
            let peer = figure.peer.map { "\(Figure.format($0)) \(figure.unit) (\(figure.peerName ?? "peer"))" } ?? "—"
            let ratio = figure.ratio.map { String(format: "%.2f×", $0) } ?? "—"
            let ok = figure.ok.map { $0 ? "yes" : "NO" } ?? "—"
            rows.append([figure.title, value, peer, ratio, figure.goal.text(unit: figure.unit), ok])
        }
        return (header, rows)
    }

    /// Writes the figures, the run's settings and any failed stage as JSON.
    func write(to url: URL, run: RunInfo) throws {
        struct Document: Encodable {
            var run: RunInfo
            var figures: [Figure]
            var failedStages: [String: String]
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(Document(run: run, figures: all, failedStages: failed))
        do {
            try data.write(to: url)
        } catch {
            throw BenchError("cannot write the results to \(url.path): \(error)")
        }
    }
}

/// When, where and with what sizes the figures were measured.
struct RunInfo: Encodable, Sendable {
    var date: String
    var commit: String
    var host: String
    var cores: Int
    var stages: [String]
    var smallFiles: Int
    var bigSizeMiB: Int
    var manyFiles: Int
    var bigNodeFiles: Int
    var bigNodeFileSize: Int
}
