import ArgumentParser
import Foundation
import ReplicaCore
import Transport

/// `fsdfsd scrub ADDRESS [--wait]`: has a node start a full scrub pass now.
struct Scrub: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start a full scrub pass on a node now: it re-reads and re-hashes every file it holds (at its --scrub-rate).",
        discussion: "Missing or corrupt replicas it finds stop counting at once and are copied back from good ones.")

    @Argument(help: "The node (HOST:PORT).")
    var address: String

    @Flag(help: "Wait until the pass has ended and print what it found.")
    var wait = false

    @OptionGroup var options: ClientOptions

    func validate() throws {
        _ = try Endpoint(address, option: "ADDRESS")
    }

    func run() async throws {
        let address = self.address
        let wait = self.wait
        let line = try await options.withClient { client -> String in
            do {
                let started: ScrubStarted = try await client.call(.POST, address, Route.scrub, timeout: .seconds(10))
                let cut = started.restarted ? " (the pass under way was cut short)" : ""
                print("scrub pass \(started.pass) started on \(address)\(cut)")
                guard wait else { return "" }
                while true {
                    let status: ScrubStatus = try await client.call(.GET, address, Route.scrub, timeout: .seconds(10))
                    if let last = status.lastPass, last.number >= started.pass { return Self.describe(last, on: address) }
                    try await Task.sleep(for: .milliseconds(500))
                }
            } catch let error as NodeCallError {
                throw CommandFailure("scrub on \(address): \(error)")
            }
        }
        if !line.isEmpty { print(line) }
    }

    static func describe(_ pass: ScrubPass, on address: String) -> String {
        let took = pass.ended.map { " in \(formatDuration(max(0, $0 - pass.started)))" } ?? ""
        let found = pass.corrupt + pass.missing == 0
            ? "every file intact"
            : "\(pass.corrupt) corrupt and \(pass.missing) missing (no longer counted; good copies are restored from other nodes)"
        return "scrub pass \(pass.number) on \(address) ended\(took): \(pass.filesDone) files, \(formatBytes(pass.bytesDone)) checked; \(found)"
    }
}

/// The SCRUB column: the pass under way or when the last ended, and what was found.
func describeScrub(_ scrub: ScrubStatus?, now: Date = Date()) -> String {
    guard let scrub else { return "-" }
    var text: String
    if let current = scrub.current {
        let percent = current.bytesTotal > 0 ? Int(current.bytesDone * 100 / current.bytesTotal) : 100
        text = "pass \(current.number) \(percent)% (\(current.filesDone)/\(current.filesTotal) files)"
    } else if let ended = scrub.lastPass?.ended {
        text = "done \(formatDuration(max(0, now.timeIntervalSince1970 - ended))) ago"
    } else {
        text = "not yet"
    }
    if scrub.corrupt + scrub.missing > 0 { text += ", found \(scrub.corrupt) corrupt, \(scrub.missing) missing" }
    return text
}
