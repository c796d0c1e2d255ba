import ArgumentParser
import Foundation
import ReplicaCore
import Transport

/// `fsdfsd status [--json] [--watch]`: the health of the store, min(K−N) first.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the health of the store (min(K−N)) and every node.")

    @Flag(help: "JSON output (ARCHITECTURE.md section 9).")
    var json = false

    @Flag(help: "Redraw every second until interrupted.")
    var watch = false

    @OptionGroup var options: ClientOptions

    func run() async throws {
        try await clientCommand(options) { client, master in
            repeat {
                let status: StatusReply
                do {
                    status = try await client.call(.GET, master, Route.status, timeout: .seconds(10))
                    NodeCache.save(status.nodes.map(\.address), master: master)
                } catch let error as NodeCallError where watch {
                    print("\u{1B}[H\u{1B}[2J\(Date()): \(error.forCommand(master: master).description)")
                    try await Task.sleep(for: .seconds(1))
                    continue
                }
                if json {
                    printJSON(status)
                } else {
                    if watch { print("\u{1B}[H\u{1B}[2J", terminator: "") }
                    print(Self.render(status), terminator: "")
                }
                if watch { try await Task.sleep(for: .seconds(1)) }
            } while watch
        }
    }

    static func render(_ status: StatusReply) -> String {
        var out = ""
        let health: String = switch status.minKn {
        case nil: "min(K−N) = n/a: the store is empty"
        case let kn? where kn < 0: "min(K−N) = \(kn): \(status.underReplicated) file(s) have fewer copies than their policy asks: AT RISK"
        case 0: "min(K−N) = 0: every file has exactly the copies its policy asks for, no spare"
        case let kn?: "min(K−N) = +\(kn): every file has at least \(kn) copy(ies) more than its policy asks"
        }
        out += health + "\n"
        out += "master \(status.master) · \(status.files) files · \(formatBytes(status.bytes))\n"
        if let histogram = status.knHistogram, !histogram.isEmpty {
            out += "files by K−N: " + histogram.map { "\(signed($0.kn)): \($0.files)" }.joined(separator: " · ") + "\n"
        }
        let replication = status.replication
        if replication.copiesInFlight > 0 || replication.backlogBytes > 0 {
            var line = "replication: \(replication.copiesInFlight) copies in flight, \(formatBytes(replication.backlogBytes)) missing"
            // A backlog that cannot progress gets its reason instead of a rate and an ETA.
            if replication.stuck == nil {
                if replication.bytesPerSecond > 0 { line += " at \(formatBytes(Int64(replication.bytesPerSecond)))/s" }
                if let eta = replication.etaSeconds { line += ", ETA \(formatDuration(eta))" }
            }
            out += line + "\n"
        }
        if let stuck = replication.stuck, replication.paused == nil {
            let files = stuck.files == 1 ? "1 file" : "\(stuck.files) files"
            out += "STUCK (\(stuck.reason), \(files)): \(stuck.message). fsdfsd at-risk lists them\n"
        }
        if let lost = status.lostFiles, lost > 0 {
            out += "LOST: \(lost == 1 ? "1 file has" : "\(lost) files have") no copy on a node that is up (fsdfsd at-risk says why)\n"
        }
        if let limit = replication.maxBytesPerSecond {
            out += "replication limited to \(formatBytes(limit))/s across the swarm (--max-replication-rate; uploads and reads are not)\n"
        }
        if let paused = replication.paused { out += "SCHEDULER PAUSED: \(paused)\n" }
        if let safe = status.safeMode {
            var line = "SAFE MODE since \(safe.since): \(safe.reason); no removals or evictions"
            if !safe.waitingFor.isEmpty { line += "; waiting for \(safe.waitingFor.joined(separator: ", "))" }
            out += line + ". End it with: fsdfsd safe-mode leave\n"
        }
        if let count = status.unaccountedFiles, count > 0 {
            out += "unaccounted: \(count) files (\(formatBytes(status.unaccountedBytes ?? 0))) on the nodes are not in the catalog; kept, not counted (fsdfsd unaccounted)\n"
        }
        for node in status.refused ?? [] {
            out += "REFUSED: \(node.address) (node \(node.id.rawValue.prefix(8))) belongs to swarm \(node.swarm.map { "\($0)" } ?? "?"), not to this master's; it deletes nothing\n"
        }
        out += renderNodeStates(status.nodes)
        out += "\n"
        out += "STATE  ADDRESS               FILES      USED     QUOTA   LOAD  MAX K−N  ID        SCRUB\n"
        for node in status.nodes {
            let state = !node.alive ? "DOWN" : node.maintenanceUntil != nil ? "MAINT" : node.draining == true ? "DRAIN" : "up"
            let maxKn = node.maxKn.map { $0 > 0 ? "+\($0)" : "\($0)" } ?? "-"
            out += "\(state.rightPadded(5))  \(node.address.rightPadded(20))  \(String(node.files).leftPadded(5))  \(formatBytes(node.used).leftPadded(8))  \(formatBytes(node.quota).leftPadded(8))  \(String(format: "%5.2f", node.load))  \(maxKn.leftPadded(7))  \(node.id.rawValue.prefix(8))  \(describeScrub(node.scrub))\n"
        }
        return out
    }
}

extension Status {
    /// One line per node that is draining or in a maintenance window.
    static func renderNodeStates(_ nodes: [NodeStatus], now: Date = Date()) -> String {
        var out = ""
        for node in nodes {
            if node.draining == true, let drain = node.drain {
                if drain.done {
                    out += "drained \(node.address): no file needs its copies; it can be stopped (then fsdfsd node forget \(node.address))\n"
                } else {
                    var line = "draining \(node.address): \(drain.filesLeft) file(s), \(formatBytes(drain.bytesLeft)) still need a copy elsewhere"
                    if let blocked = drain.blocked { line += "; CANNOT FINISH: \(blocked)" }
                    out += line + "\n"
                }
            }
            if let until = node.maintenanceUntil {
                let left = (try? Date(until, strategy: .iso8601)).map { " (\(formatDuration(max(0, $0.timeIntervalSince(now)))) left)" } ?? ""
                out += "MAINTENANCE \(node.address) until \(until)\(left): not declared down while silent; its copies count in K even while it does not answer (operator's decision)\n"
            }
        }
        return out
    }
}

func formatDuration(_ seconds: Double) -> String {
    let total = Int(seconds.rounded())
    if total < 60 { return "\(total)s" }
    if total < 3600 { return "\(total / 60)m\(total % 60)s" }
    return "\(total / 3600)h\(total / 60 % 60)m"
}

/// K − N with its sign: +1, 0, -2.
func signed(_ kn: Int) -> String { kn > 0 ? "+\(kn)" : "\(kn)" }
