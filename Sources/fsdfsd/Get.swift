import ArgumentParser
import Crypto
import Foundation
import NIOCore
import NIOFileSystem
import ReplicaCore
import Transport

/// `fsdfsd get REMOTEPATH [LOCALFILE|-] [--node HOST:PORT …]`: downloads from a node holding
/// the file, verifying its SHA-256. With the master down it asks the `--node` nodes and the
/// nodes cached at the last contact with the master.
struct Get: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Download a file from the store (to a local file, or - for stdout).")

    @Argument(help: "The path in the store.")
    var remotePath: String

    @Argument(help: "Where to write it (default: its name in the current directory; - for stdout).")
    var localFile: String?

    @Option(name: .customLong("node"), help: "A node to ask when the master cannot be reached (repeatable).")
    var nodes: [String] = []

    @OptionGroup var options: ClientOptions

    func validate() throws {
        for node in nodes { _ = try Endpoint(node, option: "--node") }
    }

    func run() async throws {
        let path = try parseRemotePath(remotePath)
        let destination = localFile ?? path.name
        try await options.withClient { client in
            let master = options.masterAddress
            var candidates: [String]
            var expected: (sha256: String, size: Int64, file: FileID?)?
            do {
                let found: WhereReply = try await client.call(.GET, master, Route.whereIs(path), timeout: .seconds(10))
                if found.nodes.isEmpty {
                    throw CommandFailure("\(path): no node holding a copy is up (K=\(found.k) of N=\(found.n))")
                }
                candidates = found.nodes
                expected = (found.sha256, found.size, found.fileID)
                if let all: [String] = try? await client.call(.GET, master, Route.nodes, timeout: .seconds(5)) {
                    NodeCache.save(all, master: master)
                }
            } catch let error as NodeCallError {
                if case .rejected(_, 404, let reply) = error { throw CommandFailure(reply.error) }
                let why: String
                switch error {
                case .unreachable: why = "master \(master) unreachable"
                case .rejected(_, 503, let reply) where reply.code == "catalog_unreachable":
                    why = "master \(master) cannot reach its catalog"
                default: throw error.forCommand(master: master)
                }
                // The master's own storage is down with it: try it last.
                let cached = NodeCache.load(master: master).filter { !nodes.contains($0) }
                candidates = nodes + cached.filter { $0 != master } + cached.filter { $0 == master }
                if candidates.isEmpty {
                    throw CommandFailure("cannot reach the master at \(master) and no node is known: pass --node HOST:PORT")
                }
                FileHandle.standardError.write(Data("\(why); trying \(candidates.count) known nodes\n".utf8))
            }
            var failures: [String] = []
            for node in candidates {
                do {
                    try await download(client, from: node, path: path, to: destination, expected: expected)
                    return
                } catch let error as NodeCallError {
                    failures.append("\(node): \(error.code == "not_found" ? "does not hold it" : error.description)")
                } catch let error as DownloadError {
                    failures.append("\(node): \(error)")
                }
            }
            throw CommandFailure("\(path): no node could serve it (\(failures.joined(separator: "; ")))")
        }
    }

    /// Downloads one copy into a partial file, verifies it, and only then puts it in place or,
    /// for `-`, writes it to stdout: no byte reaches the output that the checksum does not
    /// stand behind, and a failed attempt leaves nothing for the next one to append to.
    private func download(
        _ client: SignedClient, from node: String, path: VirtualPath, to destination: String,
        expected: (sha256: String, size: Int64, file: FileID?)?
    ) async throws {
        let toStdout = destination == "-"
        let partial = toStdout
            ? FileManager.default.temporaryDirectory.appendingPathComponent("fsdfs-get-\(UUID().uuidString).part").path
            : Self.partialPath(for: destination)
        defer { if toStdout { unlink(partial) } }
        var hasher = SHA256()
        var received: Int64 = 0
        let progress = Progress("get \(path)", total: expected?.size ?? 0)
        defer { progress.finish() }
        let version = expected.map { BlobVersion(file: $0.file, sha256: $0.sha256) }
        let headers: BlobHeaders
        do {
            headers = try await FileSystem.shared.withFileHandle(
                    forWritingAt: FilePath(partial), options: .newFile(replaceExisting: true)
            ) { handle in
                let headers = try await client.download(
                    node, path: path, version: version, timeout: SignedClient.transferTimeout(expected?.size ?? 0)
                ) { chunk in
                    chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                    try await handle.write(contentsOf: chunk, toAbsoluteOffset: received)
                    received += Int64(chunk.readableBytes)
                    progress.advance(chunk.readableBytes)
                }
                try await handle.synchronize()
                return headers
            }
        } catch {
            if !toStdout { unlink(partial) }
            throw error
        }
        let actual = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        let wanted = expected?.sha256 ?? headers.sha256
        guard let wanted, actual == wanted else {
            if !toStdout { unlink(partial) }
            throw DownloadError("the bytes received do not match the file's checksum; discarded")
        }
        if let size = expected?.size, size != received {
            if !toStdout { unlink(partial) }
            throw DownloadError("received \(received) bytes instead of \(size); discarded")
        }
        if toStdout {
            try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(partial)) { handle in
                for try await chunk in handle.readChunks() { FileHandle.standardOutput.write(Data(buffer: chunk)) }
            }
        } else {
            guard rename(partial, destination) == 0 else {
                let reason = String(cString: strerror(errno))
                unlink(partial)
                throw CommandFailure("cannot write \(destination): \(reason)")
            }
            progress.finish()
            FileHandle.standardError.write(Data("\(path) → \(destination) (\(formatBytes(received)), sha256 verified, from \(node))\n".utf8))
        }
    }

    static func partialPath(for destination: String) -> String {
        let url = URL(fileURLWithPath: destination)
        return url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).fsdfs-part").path
    }
}

struct DownloadError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The node list remembered from the last contact with a master, for reads while it is down.
enum NodeCache {
    static func file(master: String) -> URL {
        let base = ProcessInfo.processInfo.environment["XDG_CACHE_HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache")
        let name = master.map { $0.isLetter || $0.isNumber ? $0 : "_" }
        return base.appendingPathComponent("fsdfs").appendingPathComponent("nodes-\(String(name)).json")
    }

    static func save(_ nodes: [String], master: String) {
        let url = file(master: master)
        try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? JSONEncoder().encode(nodes).write(to: url, options: .atomic)
    }

    static func load(master: String) -> [String] {
        guard let data = try? Data(contentsOf: file(master: master)) else { return [] }
        return (try? JSONDecoder().decode([String].self, from: data)) ?? []
    }
}
