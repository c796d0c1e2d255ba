import ArgumentParser
import Foundation
import ReplicaCore
import Slave

/// `fsdfsd node leave-swarm --data DIR`: the explicit operator action that lets a stopped
/// node's data directory join another swarm.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node", abstract: "Act on a node.", subcommands: [LeaveSwarm.self])

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
