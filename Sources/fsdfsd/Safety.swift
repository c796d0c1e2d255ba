import ArgumentParser
import Foundation
import ReplicaCore
import Transport

/// `fsdfsd unaccounted [--json]`: files nodes hold that the catalog cannot account for.
struct Unaccounted: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List files nodes hold that the catalog cannot account for (kept, never deleted).",
        discussion: """
            Nodes never delete what the catalog does not know: files from another swarm, from a \
            lost catalog, or older versions a catalog rebuild (serve --recover) did not keep. \
            They are listed here; the bytes are on the nodes under their paths, or, for a \
            version an upload replaced when the master's answer was lost, in DIR/.fsdfs/kept.
            """)

    @Flag(help: "JSON output: an array of {node, address, path, size, sha256, fileID, version, reason, kept}.")
    var json = false

    @OptionGroup var options: ClientOptions

    func run() async throws {
        let files = try await clientCommand(options) { client, master -> [UnaccountedFile] in
            try await client.call(.GET, master, Route.unaccounted)
        }
        if json {
            printJSON(files)
            return
        }
        if files.isEmpty {
            print("no unaccounted files: every file the nodes reported is in the catalog")
            return
        }
        for file in files {
            print("\(file.address)  \(file.path)  \(formatBytes(file.size))  sha256 \(file.sha256.prefix(12))  \(file.reason)")
        }
        let bytes = files.reduce(Int64(0)) { $0 + $1.size }
        print("\(files.count) unaccounted files, \(formatBytes(bytes)): kept on their nodes, not counted")
    }
}

/// `fsdfsd safe-mode [leave]`: shows or ends the master's safe mode.
struct SafeModeCommandLine: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "safe-mode",
        abstract: "Show the master's safe mode, or end it with 'leave'.",
        discussion: """
            A master that restarts, or rebuilds its catalog (serve --recover), removes and evicts \
            nothing until the nodes it knows of have reported; a rebuild stays in safe mode until \
            the operator ends it, once every node has joined.
            """)

    @Argument(help: "'leave' to end safe mode now.")
    var action: String?

    @OptionGroup var options: ClientOptions

    func validate() throws {
        if let action, action != "leave" { throw ValidationError("unknown action '\(action)': the only action is 'leave'") }
    }

    func run() async throws {
        let leave = action == "leave"
        let reply = try await clientCommand(options) { client, master -> [SafeModeStatus] in
            try await client.call(.POST, master, Route.safeMode, body: SafeModeCommand(leave: leave))
        }
        if let safe = reply.first {
            var line = "SAFE MODE since \(safe.since): \(safe.reason)"
            if !safe.waitingFor.isEmpty { line += "; waiting for \(safe.waitingFor.joined(separator: ", "))" }
            print(line + ". End it with: fsdfsd safe-mode leave")
        } else {
            print(leave ? "safe mode ended: removals and evictions resume" : "not in safe mode")
        }
    }
}
