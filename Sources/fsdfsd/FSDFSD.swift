import ArgumentParser
import ReplicaCore

@main
struct FSDFSD: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fsdfsd",
        abstract: "fsdfs: a distributed file replication manager.",
        discussion: """
            Start a master:   FSDFS_SECRET=… fsdfsd serve --data /srv/fsdfs
            Add a node:       FSDFS_SECRET=… fsdfsd serve --data /srv/fsdfs --listen HOST:PORT --master MASTER:4242
            Use the store:    fsdfsd put FILE PATH · get PATH · ls · where PATH · rm PATH · status --watch · audit
            Why and what:     fsdfsd at-risk · events --follow
            """,
        version: "0.1.0 (libmongoc \(MongoDriver.version))",
        subcommands: [
            Serve.self, Put.self, Get.self, Remove.self, Move.self, List.self, Where.self, Status.self, Unaccounted.self,
            Audit.self, Scrub.self, SafeModeCommandLine.self, NodeCommand.self, CheckPolicies.self,
            AtRisk.self, Events.self, S3KeyCommand.self, Mount.self,
        ]
    )

    static func main() async {
        MongoDriver.releaseSharedCounters()
        await main(nil)
    }
}
