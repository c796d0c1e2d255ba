import ArgumentParser
import Foundation
import ReplicaCore
import Transport

/// `fsdfsd rm REMOTEPATH`.
struct Remove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Delete a file from the store (every copy).")

    @Argument(help: "The path in the store.")
    var remotePath: String

    @OptionGroup var options: ClientOptions

    func run() async throws {
        let path = try parseRemotePath(remotePath)
        let reply = try await clientCommand(options) { client, master -> DeleteReply in
            do {
                return try await client.call(.DELETE, master, Route.file(path))
            } catch NodeCallError.rejected(_, 404, let reply) {
                throw CommandFailure(reply.error)
            }
        }
        let pending = reply.pending > 0 ? "; \(reply.pending) more when they are back" : ""
        print("deleted \(reply.path): removed from \(reply.removedFrom) node(s)\(pending)")
    }
}

/// `fsdfsd mv SRC DST [-r]`.
struct Move: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mv",
        abstract: "Rename a file (or, with -r, every file under a prefix) in the store.",
        discussion: """
            The catalog changes at once; the nodes rename their copies in place (those that are \
            down when they are back), so nothing is copied again and K stays what it was. N is \
            the policies' for the new path. A file at DST is replaced, as mv replaces it; with \
            -r, DST must not hold files yet.
            """)

    @Argument(help: "The path in the store (with -r: a directory of the store).")
    var source: String

    @Argument(help: "The new path.")
    var destination: String

    @Flag(name: [.customShort("r"), .long], help: "Move every file under SOURCE/ to DESTINATION/.")
    var recursive = false

    @OptionGroup var options: ClientOptions

    func run() async throws {
        let request = RenameRequest(from: source, to: destination, recursive: recursive)
        let reply = try await clientCommand(options) { client, master -> RenameReply in
            do {
                return try await client.call(.POST, master, Route.rename, body: request)
            } catch NodeCallError.rejected(_, let status, let reply) where (400..<500).contains(status) {
                throw CommandFailure(reply.error)
            }
        }
        if recursive {
            print("moved \(reply.renamed) file(s) from \(source) to \(destination)")
        } else if reply.renamed == 0 {
            print("\(source) is already \(destination)")
        } else {
            print("moved \(source) to \(destination)\(reply.replaced > 0 ? " (replaced the file that was there)" : "")")
        }
    }
}

/// `fsdfsd ls [PREFIX] [--json]`.
struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls", abstract: "List files whose path starts with PREFIX.")

    @Argument(help: "Path prefix (default: everything).")
    var prefix: String = ""

    @Flag(help: "JSON output: an array of {path, size, n, k}.")
    var json = false

    @OptionGroup var options: ClientOptions

    func run() async throws {
        let entries = try await clientCommand(options) { client, master -> [ListEntry] in
            var all: [ListEntry] = []
            var after: VirtualPath?
            while true {
                let page: [ListEntry] = try await client.call(.GET, master, Route.list(prefix: prefix, after: after, limit: 1000))
                all += page
                guard page.count == 1000, let last = page.last else { break }
                after = last.path
            }
            return all
        }
        if json {
            printJSON(entries)
            return
        }
        for entry in entries {
            let mark = entry.k < entry.n ? "  at risk" : ""
            print("\(formatBytes(entry.size).leftPadded(10))  K=\(entry.k)/N=\(entry.n)  \(entry.path)\(mark)")
        }
    }
}

/// `fsdfsd where REMOTEPATH [--json]`.
struct Where: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a file's replica count and the nodes holding it.")

    @Argument(help: "The path in the store.")
    var remotePath: String

    @Flag(help: "JSON output.")
    var json = false

    @OptionGroup var options: ClientOptions

    func run() async throws {
        let path = try parseRemotePath(remotePath)
        let reply = try await clientCommand(options) { client, master -> WhereReply in
            do {
                return try await client.call(.GET, master, Route.whereIs(path))
            } catch NodeCallError.rejected(_, 404, let reply) {
                throw CommandFailure(reply.error)
            }
        }
        if json {
            printJSON(reply)
            return
        }
        print("\(reply.path)  \(formatBytes(reply.size))  sha256 \(reply.sha256)")
        print("K=\(reply.k) N=\(reply.n) K−N=\(reply.kn)\(reply.kn < 0 ? "  (below its replica count)" : "")")
        for node in reply.nodes { print("  \(node)") }
    }
}

func printJSON(_ value: some Encodable) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    if let data = try? encoder.encode(value) { print(String(decoding: data, as: UTF8.self)) }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }

    func rightPadded(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
