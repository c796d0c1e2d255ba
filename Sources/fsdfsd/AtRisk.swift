import ArgumentParser
import Foundation
import ReplicaCore
import Transport

/// `fsdfsd at-risk [--json] [--limit N]`: the files with fewer copies than N, most at risk
/// first, lost files apart, each with its holders and why it is not being fixed.
struct AtRisk: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "at-risk",
        abstract: "List files with fewer copies than their policy asks (K < N), and why each is not fixed yet.",
        discussion: """
            Most at risk first (lowest K−N, then the biggest); files with no copy on a node \
            that is up (K = 0) are listed apart as lost. The reason says whether the scheduler \
            is fixing the file (copy-in-flight, queued, retrying) or what would fix it \
            (too-few-nodes, no-room, safe-mode, nodes-busy, every-holder-down, no-source, \
            scheduler-paused).
            """)

    @Flag(help: "JSON output: {files, lost, filesTotal, lostTotal}, each file {path, size, n, k, kn, holders, downHolders, reason, message}.")
    var json = false

    @Option(help: "List at most N files at risk, and N lost files.")
    var limit = 100

    @OptionGroup var options: ClientOptions

    func validate() throws {
        guard (1...10_000).contains(limit) else { throw ValidationError("--limit \(limit): give a number from 1 to 10000") }
    }

    func run() async throws {
        let reply = try await clientCommand(options) { client, master -> AtRiskReply in
            try await client.call(.GET, master, Route.atRisk(limit: limit), timeout: .seconds(30))
        }
        if json {
            printJSON(reply)
        } else {
            print(Self.render(reply), terminator: "")
        }
    }

    static func render(_ reply: AtRiskReply) -> String {
        if reply.filesTotal == 0 && reply.lostTotal == 0 {
            return "no file at risk: every file has at least the copies its policy asks for\n"
        }
        var out = ""
        if reply.filesTotal > 0 {
            out += "AT RISK: \(count(reply.filesTotal)) fewer copies than N, most at risk first\n"
            out += table(reply.files, total: reply.filesTotal)
        }
        if reply.lostTotal > 0 {
            if !out.isEmpty { out += "\n" }
            out += "LOST: \(count(reply.lostTotal)) no copy on a node that is up\n"
            out += table(reply.lost, total: reply.lostTotal)
        }
        // Each reason's sentence once, rather than on every line.
        var seen: Set<String> = []
        let reasons = (reply.files + reply.lost).filter { seen.insert("\($0.reason)\n\($0.message)").inserted }
        out += "\nwhy:\n"
        for file in reasons { out += "  \(file.reason): \(file.message)\n" }
        return out
    }

    private static func count(_ files: Int) -> String { files == 1 ? "1 file has" : "\(files) files have" }

    private static func table(_ files: [AtRiskFile], total: Int) -> String {
        var out = "  K−N    K/N       SIZE  REASON             PATH  (HOLDERS)\n"
        for file in files {
            var holders = file.holders
            holders += file.downHolders.map { "\($0) (down)" }
            let where_ = holders.isEmpty ? "" : "  (\(holders.joined(separator: ", ")))"
            out += "  \(signed(file.kn).leftPadded(3))  \("\(file.k)/\(file.n)".leftPadded(5))  \(formatBytes(file.size).leftPadded(10))  "
                + "\(file.reason.rightPadded(17))  \(file.path)\(where_)\n"
        }
        if total > files.count { out += "  … and \(total - files.count) more (--limit)\n" }
        return out
    }
}
