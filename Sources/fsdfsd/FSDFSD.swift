import ArgumentParser
import ReplicaCore

@main
struct FSDFSD: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fsdfsd",
        abstract: "fsdfs: a distributed file replication manager.",
        version: "0.1.0 (libmongoc \(MongoDriver.version))",
        subcommands: [CheckPolicies.self]
    )
}
