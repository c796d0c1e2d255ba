import ArgumentParser
import Foundation
import ReplicaCore
import Transport

/// `fsdfsd events [--follow] [--json] [--limit N]`: what happened to the swarm, from the
/// master's event log.
struct Events: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what happened to the swarm: nodes joining, down, back; damaged replicas and repairs; evictions; policy reloads; catalog outages; safe mode.",
        discussion: """
            Prints the newest events, oldest first. The master keeps the newest 10000 in its \
            catalog, so they survive a restart. With --follow it then waits for new ones and \
            prints them as they come, until interrupted. --json prints one JSON object per line \
            (JSON Lines): {seq, time, kind, node, address, path, message}.
            """)

    @Flag(help: "Keep printing new events as they happen (polls about once a second).")
    var follow = false

    @Flag(help: "One JSON object per line: {seq, time, kind, node, address, path, message}.")
    var json = false

    @Option(help: "How many of the newest events to print first.")
    var limit = 50

    @OptionGroup var options: ClientOptions

    /// Events asked for per poll while following.
    static let page = 1_000

    func validate() throws {
        guard (1...10_000).contains(limit) else { throw ValidationError("--limit \(limit): give a number from 1 to 10000") }
    }

    func run() async throws {
        try await clientCommand(options) { client, master in
            let newest: [EventRecord] = try await client.call(.GET, master, Route.events(after: nil, limit: limit))
            show(newest)
            guard follow else { return }
            var last = newest.last?.seq ?? 0
            var failing = false
            while true {
                try await Task.sleep(for: .seconds(1))
                do {
                    while true {
                        let page: [EventRecord] = try await client.call(.GET, master, Route.events(after: last, limit: Self.page))
                        show(page)
                        if let seq = page.last?.seq { last = seq }
                        if page.count < Self.page { break }
                    }
                    if failing { FileHandle.standardError.write(Data("master \(master) answers again\n".utf8)) }
                    failing = false
                } catch let error as NodeCallError {
                    // Following outlives a master restart: say so once, and keep asking.
                    if !failing { FileHandle.standardError.write(Data("\(error.forCommand(master: master).description); still trying\n".utf8)) }
                    failing = true
                }
            }
        }
    }

    private func show(_ events: [EventRecord]) {
        for event in events {
            if json {
                printJSON(event)
            } else {
                print("\(EventRecord.format(event.time))  \(event.kind.rawValue.rightPadded(20))  \(event.message)")
            }
        }
        // Lines reach a pipe (a script, `grep`) as they come, not when a buffer fills. (nil:
        // every output stream; naming `stdout` is not allowed from concurrent code.)
        fflush(nil)
    }
}
