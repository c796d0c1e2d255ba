import ArgumentParser
import Foundation
import ReplicaCore
import Slave
import Transport

/// `fsdfsd node …`: the operator's actions on one node. `drain`, `undrain`, `maintenance` and
/// `forget` ask the master; `leave-swarm` works on a stopped node's data directory and lets
/// it join another swarm.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node", abstract: "Act on a node.",
        subcommands: [Drain.self, Undrain.self, Maintenance.self, Forget.self, LeaveSwarm.self])

    struct LeaveSwarm: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "leave-swarm",
            abstract: "Make a stopped node's data directory forget its swarm, so that it joins the next master it reports to.",
            discussion: """
                Its files stay on disk. A master of another swarm does not know them: they are \
                kept and listed by 'fsdfsd unaccounted', never deleted (unless that master \
                rebuilds its catalog from the nodes with serve --recover).
                """)

        @Option(help: "The node's data directory.")
        var data: String

        func run() async throws {
            guard FileManager.default.fileExists(atPath: data + "/.fsdfs") else {
                throw CommandFailure("\(data) is not a node's data directory (no \(data)/.fsdfs)")
            }
            let lock: DataDirectoryLock
            do {
                lock = try DataDirectoryLock(data: data)
            } catch {
                throw CommandFailure("cannot use data directory \(data) (stop the node first): \(error)")
            }
            defer { withExtendedLifetime(lock) {} }
            do {
                if let previous = try SwarmMembership.forget(data: data) {
                    print("\(data) left swarm \(previous): it joins the swarm of the next master it reports to")
                } else {
                    print("\(data) belongs to no swarm: it joins the swarm of the next master it reports to")
                }
            } catch {
                throw CommandFailure("\(error)")
            }
        }
    }
}

extension NodeCommand {
    /// `fsdfsd node drain ADDRESS`.
    struct Drain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Drain a node: it receives no new copies, and every file that needs its copy gets one elsewhere.",
            discussion: """
                The node keeps its files and keeps serving them; nothing is removed from it. \
                'fsdfsd status' shows how many files still need its copy, and 'drained' once none \
                does: the node can then be stopped with no file losing a copy it needs \
                ('fsdfsd node forget ADDRESS' once it is down removes it for good). \
                'fsdfsd node undrain ADDRESS' cancels.
                """)

        @Argument(help: "The node (HOST:PORT as 'fsdfsd status' lists it, or its id).")
        var address: String

        @OptionGroup var options: ClientOptions

        func run() async throws {
            try await nodeAdmin(options, Route.nodeDrain, DrainCommand(node: address, drain: true))
        }
    }

    /// `fsdfsd node undrain ADDRESS`.
    struct Undrain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Cancel a node's drain: it receives copies again.",
            discussion: "Copies already made elsewhere stay; they are extra copies, the first to make room when a file needs it.")

        @Argument(help: "The node (HOST:PORT as 'fsdfsd status' lists it, or its id).")
        var address: String

        @OptionGroup var options: ClientOptions

        func run() async throws {
            try await nodeAdmin(options, Route.nodeDrain, DrainCommand(node: address, drain: false))
        }
    }

    /// `fsdfsd node maintenance ADDRESS --for DURATION`.
    struct Maintenance: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Announce a planned restart: for DURATION the node is not declared down and its copies keep counting.",
            discussion: """
                Start the window before stopping the node. Until it ends, the master does not \
                declare the node down when it stops reporting (or leaves), its copies keep \
                counting towards K although it does not answer, and nothing is copied to replace \
                them; it receives no copies or uploads. The window ends early when the node comes \
                back, or with --for 0. If the node is still silent when the window ends, it is \
                declared down and its files are copied again as usual.
                """)

        @Argument(help: "The node (HOST:PORT as 'fsdfsd status' lists it, or its id).")
        var address: String

        @Option(name: .customLong("for"), help: "How long: seconds, or a number with s, m, h or d (30s, 10m, 2h). 0 ends the window.")
        var duration: String

        @OptionGroup var options: ClientOptions

        func validate() throws {
            _ = try Self.seconds(duration)
        }

        func run() async throws {
            try await nodeAdmin(options, Route.nodeMaintenance, MaintenanceCommand(node: address, seconds: try Self.seconds(duration)))
        }

        /// `30`, `30s`, `10m`, `2h`, `1d` in seconds.
        static func seconds(_ text: String) throws -> Double {
            let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
            var number = Substring(text.trimmingCharacters(in: .whitespaces).lowercased())
            var unit = 1.0
            if let last = number.last, let factor = units[last] {
                unit = factor
                number = number.dropLast()
            }
            guard let value = Double(number), value.isFinite, value >= 0 else {
                throw ValidationError("--for \(text) is not a duration: write seconds or a number with s, m, h or d, e.g. 30s, 10m, 2h (0 ends the window)")
            }
            return value * unit
        }
    }

    /// `fsdfsd node forget ADDRESS`.
    struct Forget: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a node that is down from the swarm for good, with its copies.",
            discussion: """
                Refused while the node is up. Its copies stop being remembered (they no longer \
                counted, as it is down) and it disappears from 'fsdfsd status'. If it ever reports \
                again it joins as a new node: what it holds counts again only where it matches the \
                catalog, and anything else is kept on it and listed by 'fsdfsd unaccounted'. \
                Nothing on it is deleted because it was forgotten.
                """)

        @Argument(help: "The node (HOST:PORT as 'fsdfsd status' lists it, or its id).")
        var address: String

        @OptionGroup var options: ClientOptions

        func run() async throws {
            try await nodeAdmin(options, Route.nodeForget, ForgetCommand(node: address))
        }
    }
}

/// Sends one node command to the master and prints its answer.
private func nodeAdmin(_ options: ClientOptions, _ route: String, _ command: some Encodable & Sendable) async throws {
    let reply = try await clientCommand(options) { client, master -> NodeAdminReply in
        try await client.call(.POST, master, route, body: command, timeout: .seconds(30))
    }
    print(reply.message)
}
