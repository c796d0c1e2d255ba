import ArgumentParser
import Crypto
import Foundation
import NIOCore
import NIOFileSystem
import NIOPosix
import ReplicaCore
import Transport

/// `fsdfsd get REMOTEPATH [LOCALFILE|-] [--node HOST:PORT …]`: downloads from a node holding
/// the file, verifying its SHA-256. With the master down it asks the `--node` nodes and the
/// nodes cached at the last contact with the master.
struct Get: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Download a file from the store (to a local file, or - for stdout).",
        discussion: """
            With -r, downloads every file under the store directory PREFIX into LOCALDIR, --jobs at a \
            time, skipping local files that already have the same content (checksum and size); each \
            file takes its final name only once complete and verified, so an interrupted run can \
            simply be run again.
            """)

    @Argument(help: "The path in the store (with -r: the store directory).")
    var remotePath: String

    @Argument(help: "Where to write it (default: its name in the current directory; - for stdout; with -r: the local directory).")
    var localFile: String?

    @Flag(name: .shortAndLong, help: "Download a whole directory of the store.")
    var recursive = false

    @Option(help: "With -r: how many files to transfer at once.")
    var jobs = 16

    @Flag(help: "With -r: print the summary as one JSON object.")
    var json = false

    @Option(name: .customLong("node"), help: "A node to ask when the master cannot be reached (repeatable).")
    var nodes: [String] = []

    @OptionGroup var options: ClientOptions

    func validate() throws {
        for node in nodes { _ = try Endpoint(node, option: "--node") }
        guard (1...SignedClient.connectionsPerHost).contains(jobs) else {
            throw ValidationError("--jobs must be between 1 and \(SignedClient.connectionsPerHost)")
        }
        if recursive {
            guard localFile != nil, localFile != "-" else { throw ValidationError("get -r needs a local directory: get -r PREFIX LOCALDIR") }
            guard nodes.isEmpty else { throw ValidationError("--node goes with a single get (get -r asks the master)") }
        } else if json {
            throw ValidationError("--json goes with -r")
        }
    }

    func run() async throws {
        if recursive { return try await getTree() }
        let path = try parseRemotePath(remotePath)
        let destination = localFile ?? path.name
        try await options.withClient { client in
            let master = options.masterAddress
            var candidates: [String]
            var expected: (sha256: String, size: Int64, file: FileID?)?
            var heldAt: [String: VirtualPath] = [:]
            do {
                let found: WhereReply = try await client.call(.GET, master, Route.whereIs(path), timeout: .seconds(10))
                if found.nodes.isEmpty {
                    throw CommandFailure("\(path): no node holding a copy is up (K=\(found.k) of N=\(found.n))")
                }
                candidates = found.nodes
                expected = (found.sha256, found.size, found.fileID)
                heldAt = found.heldAt ?? [:]
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
            let (received, node) = try await Self.fromFirstServing(candidates, what: "\(path): ") { node in
                // A node that has not moved a renamed file yet serves it from the old path.
                try await Self.download(client, from: node, path: heldAt[node] ?? path, to: destination, expected: expected)
            }
            if destination != "-" {
                FileHandle.standardError.write(Data("\(path) → \(destination) (\(formatBytes(received)), sha256 verified, from \(node))\n".utf8))
            }
        }
    }

    /// Runs `body` against each of `nodes` in turn until one serves: its result and the node.
    /// Throws one line naming why each node did not (`what` leads it).
    static func fromFirstServing<T>(
        _ nodes: [String], what: String = "", _ body: (String) async throws -> T
    ) async throws -> (T, String) {
        var failures: [String] = []
        for node in nodes {
            do {
                return (try await body(node), node)
            } catch let error as NodeCallError {
                failures.append("\(node): \(error.code == "not_found" ? "does not hold it" : error.description)")
            } catch let error as DownloadError {
                failures.append("\(node): \(error)")
            }
        }
        throw CommandFailure("\(what)no node could serve it (\(failures.joined(separator: "; ")))")
    }

    /// Downloads one copy into a partial file, verifies it, and only then puts it in place or,
    /// for `-`, writes it to stdout: no byte reaches the output that the checksum does not
    /// stand behind, and a failed attempt leaves nothing for the next one to append to.
    /// - Returns: the bytes received.
    @discardableResult
    static func download(
        _ client: SignedClient, from node: String, path: VirtualPath, to destination: String,
        expected: (sha256: String, size: Int64, file: FileID?)?, showProgress: Bool = true
    ) async throws -> Int64 {
        let toStdout = destination == "-"
        let partial = toStdout
            ? FileManager.default.temporaryDirectory.appendingPathComponent("fsdfs-get-\(UUID().uuidString).part").path
            : Self.partialPath(for: destination)
        defer { if toStdout { unlink(partial) } }
        var hasher = SHA256()
        var received: Int64 = 0
        let progress = Progress("get \(path)", total: showProgress ? expected?.size ?? 0 : 0)
        defer { progress.finish() }
        let version = expected.map { BlobVersion(file: $0.file, sha256: $0.sha256) }
        let headers: BlobHeaders
        do {
            headers = try await FileSystem.shared.withFileHandle(
                forWritingAt: FilePath(partial),
                options: .init(existingFile: .truncate, newFile: .init(transactionalCreation: false))
            ) { handle in
                // One pass: each chunk is hashed as it arrives, while the previous bytes are
                // written (in large writes); one fsync at the end.
                var sink = FileSink(handle: handle)
                do {
                    let headers = try await client.download(
                        node, path: path, version: version, timeout: SignedClient.transferTimeout(expected?.size ?? 0)
                    ) { chunk in
                        chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                        received += Int64(chunk.readableBytes)
                        progress.advance(chunk.readableBytes)
                        try await sink.append(chunk)
                    }
                    try await sink.finish()
                    try await handle.synchronize()
                    return headers
                } catch {
                    await sink.abandon()
                    throw error
                }
            }
        } catch {
            if !toStdout { unlink(partial) }
            throw error
        }
        let actual = hasher.finalize().hexString
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
            // rename(2) on NIO's blocking pool, not on the cooperative threads.
            let failure = try await NIOThreadPool.singleton.runIfActive { () -> String? in
                guard rename(partial, destination) == 0 else {
                    let reason = String(cString: strerror(errno))
                    unlink(partial)
                    return reason
                }
                return nil
            }
            if let failure { throw CommandFailure("cannot write \(destination): \(failure)") }
            progress.finish()
        }
        return received
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

/// Gathers received bytes into large writes (``flushSize``), one of them under way while the
/// next bytes arrive. Call ``finish()`` or ``abandon()`` before the handle closes.
struct FileSink {
    static let flushSize = 2 << 20

    let handle: WriteFileHandle
    private var pending = ByteBufferAllocator().buffer(capacity: flushSize + (64 << 10))
    private var offset: Int64 = 0
    private var inFlight: Task<Void, any Error>?

    init(handle: WriteFileHandle) {
        self.handle = handle
    }

    mutating func append(_ chunk: ByteBuffer) async throws {
        pending.writeImmutableBuffer(chunk)
        if pending.readableBytes >= Self.flushSize { try await flush() }
    }

    /// Writes what is left and waits for every write.
    mutating func finish() async throws {
        if pending.readableBytes > 0 { try await flush() }
        try await inFlight?.value
        inFlight = nil
    }

    /// Waits for the write under way, ignoring its outcome (the file is being discarded).
    mutating func abandon() async {
        _ = try? await inFlight?.value
        inFlight = nil
    }

    private mutating func flush() async throws {
        try await inFlight?.value
        inFlight = nil
        let bytes = pending
        let at = offset
        offset += Int64(bytes.readableBytes)
        pending = ByteBufferAllocator().buffer(capacity: Self.flushSize + (64 << 10))
        inFlight = Task { [handle] in try await handle.write(contentsOf: bytes, toAbsoluteOffset: at) }
    }
}
