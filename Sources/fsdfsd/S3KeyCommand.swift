import ArgumentParser
import Foundation
import ReplicaCore
import Transport

/// `fsdfsd s3-key create [--name NAME] | list [--json] | delete ACCESS_KEY`: the access keys
/// S3 clients sign their requests with.
struct S3KeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "s3-key", abstract: "Make, list and delete the access keys of the S3 API.",
        subcommands: [Create.self, ListKeys.self, Delete.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make an S3 access key; prints ACCESS_KEY SECRET_KEY.",
            discussion: """
                The secret key is shown this once: the master keeps it sealed with a key derived \
                from the swarm password, and no command shows it again. Give both to an S3 \
                client (aws configure, boto3).
                """)

        @Option(help: "What the key is for (shown by 's3-key list').")
        var name: String?

        @OptionGroup var options: ClientOptions

        func run() async throws {
            let created = try await clientCommand(options) { client, master -> S3KeyCreated in
                do {
                    return try await client.call(.POST, master, Route.s3Keys, body: S3KeyCreate(name: name))
                } catch NodeCallError.rejected(_, let status, let reply) where (400..<500).contains(status) {
                    throw CommandFailure(reply.error)
                }
            }
            print("\(created.accessKey) \(created.secretKey)")
        }
    }

    struct ListKeys: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list", abstract: "List the S3 access keys (never their secrets).")

        @Flag(help: "JSON output: an array of {accessKey, name, created}.")
        var json = false

        @OptionGroup var options: ClientOptions

        func run() async throws {
            let keys = try await clientCommand(options) { client, master -> [S3KeyEntry] in
                try await client.call(.GET, master, Route.s3Keys)
            }
            if json {
                let encoder = JSONEncoder()
                encoder.dateEncodingStrategy = .iso8601
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(keys), as: UTF8.self))
                return
            }
            if keys.isEmpty {
                print("no S3 key: make one with 'fsdfsd s3-key create'")
                return
            }
            for key in keys {
                print("\(key.accessKey)  \(key.created.formatted(.iso8601))  \(key.name ?? "-")")
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete an S3 access key: requests signed with it are refused from then on.")

        @Argument(help: "The access key.")
        var accessKey: String

        @OptionGroup var options: ClientOptions

        func run() async throws {
            guard S3Credentials.isAccessKey(accessKey) else {
                throw CommandFailure("'\(accessKey)' is not an S3 access key of fsdfs (FSDF and 16 letters or digits)")
            }
            try await clientCommand(options) { client, master -> Void in
                do {
                    let _: Empty = try await client.call(.DELETE, master, "\(Route.s3Keys)?access=\(accessKey)")
                } catch NodeCallError.rejected(_, let status, let reply) where (400..<500).contains(status) {
                    throw CommandFailure(reply.error)
                }
            }
            print("deleted S3 key \(accessKey)")
        }
    }
}
