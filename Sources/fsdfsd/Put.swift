import ArgumentParser
import Crypto
import Foundation
import NIOCore
import NIOFileSystem
import ReplicaCore
import Transport

/// `fsdfsd put LOCALFILE REMOTEPATH`: stores a file; returns once one node holds a verified
/// copy (K = 1). Replication to N copies continues in the background.
///
/// A granted node may have died since its last report. When the upload cannot even connect to
/// it (refused, or no connection in time), the node took none of the bytes: `put` gives the
/// grant back and asks the master for another node, excluding the ones it could not reach, up
/// to ``maxAttempts`` grants in all. A failure after connecting is not retried, since the node
/// may have stored and committed the file.
struct Put: AsyncParsableCommand {
    /// Grants tried before giving up on nodes that cannot be reached.
    static let maxAttempts = 3
    /// Files up to this size are read once into memory, hashed, and sent from there.
    static let smallFile: Int64 = 4 << 20

    static let configuration = CommandConfiguration(
        abstract: "Store a local file at a path of the store (replaces an existing file).",
        discussion: """
            With -r, stores every regular file under LOCALDIR at PREFIX/its relative path, --jobs at a \
            time, skipping those the store already holds with the same content (checksum and size); \
            run it again to finish an interrupted run.
            """)

    @Argument(help: "The local file to upload (with -r: the local directory).")
    var localFile: String

    @Argument(help: "Its path in the store, e.g. videos/2024/trip.mov (with -r: the store directory to put the tree in).")
    var remotePath: String

    @Flag(name: .shortAndLong, help: "Store a whole directory tree.")
    var recursive = false

    @Option(help: "With -r: how many files to transfer at once.")
    var jobs = 16

    @Flag(help: "With -r: print the summary as one JSON object.")
    var json = false

    @OptionGroup var options: ClientOptions

    func validate() throws {
        guard (1...SignedClient.connectionsPerHost).contains(jobs) else {
            throw ValidationError("--jobs must be between 1 and \(SignedClient.connectionsPerHost)")
        }
        if !recursive, json { throw ValidationError("--json goes with -r (a single put prints one line)") }
    }

    func run() async throws {
        if recursive { return try await putTree() }
        let path = try parseRemotePath(remotePath)
        let info: FileInfo
        do {
            guard let found = try await FileSystem.shared.info(forFileAt: FilePath(localFile)) else {
                throw CommandFailure("\(localFile): no such file")
            }
            info = found
        } catch let error as CommandFailure {
            throw error
        } catch {
            throw CommandFailure("\(localFile): \(error)")
        }
        guard info.type == .regular else { throw CommandFailure("\(localFile) is not a regular file") }
        let size = info.size
        let source = LocalSource(file: localFile, size: size, content: nil)
        let sha256 = try await source.hash(progress: Progress("hashing", total: size))
        let stored = try await clientCommand(options) { client, master -> StoredReply in
            try await Self.store(source, at: path, sha256: sha256, client: client, master: master, progress: true)
        }
        print("stored \(stored.path) (\(formatBytes(stored.size)), sha256 \(stored.sha256.prefix(12))…): K=\(stored.k), replication continues")
    }

    /// Stores `source` at `path`: a grant from the master, then the bytes to the granted node,
    /// asking for another node when one cannot be reached (see the type's documentation).
    static func store(
        _ source: LocalSource, at path: VirtualPath, sha256: String, client: SignedClient, master: String, progress: Bool
    ) async throws -> StoredReply {
        let size = source.size
        var unreachable: [(node: NodeID, error: NodeCallError)] = []
        while true {
            let request = UploadRequest(path: path, size: size, exclude: unreachable.isEmpty ? nil : unreachable.map(\.node))
            let grant: UploadGrant = try await client.call(.POST, master, Route.uploads, body: request)
            do {
                return try await upload(source, grant, path: path, sha256: sha256, client: client, progress: progress)
            } catch let error as NodeCallError where error.neverConnected {
                unreachable.append((grant.node, error))
                // Give the reservation back at once rather than let it hold the space until it lapses.
                let _: Empty? = try? await client.call(
                    .POST, master, Route.uploadAbort, body: UploadAbort(upload: grant.upload), timeout: .seconds(5))
                if unreachable.count >= Self.maxAttempts {
                    let tried = unreachable.map(\.error.description).joined(separator: "; ")
                    throw CommandFailure("cannot store \(path): none of the \(unreachable.count) nodes granted could be reached (\(tried))")
                }
                FileHandle.standardError.write(Data("put: \(error); asking the master for another node\n".utf8))
            } catch let error as NodeCallError where Self.outcomeOpen(error) {
                // The node took bytes and then the answer was lost: the master says whether
                // this content is now the path's current version.
                if let found: WhereReply = try? await client.call(.GET, master, Route.whereIs(path), timeout: .seconds(10)),
                   found.sha256 == sha256, let fileID = found.fileID
                {
                    return StoredReply(
                        path: path, fileID: fileID, size: found.size, sha256: found.sha256, k: found.k, version: found.version)
                }
                throw CommandFailure(
                    "the upload of \(path) to \(grant.address) ended without an answer (\(error)): the outcome is unknown, the node may still record it. Check with `fsdfsd where \(path)` and put again if needed")
            }
        }
    }

    /// Whether a failed upload may still have stored the file: no answer after connecting, or
    /// a node that could not learn the master's answer itself (504).
    static func outcomeOpen(_ error: NodeCallError) -> Bool {
        switch error {
        case .unreachable: !error.neverConnected
        case .rejected(_, let status, _): status == 504
        case .badReply: true
        }
    }

    /// Streams the local file (or its bytes already read) to the granted node.
    private static func upload(
        _ source: LocalSource, _ grant: UploadGrant, path: VirtualPath, sha256: String, client: SignedClient, progress: Bool
    ) async throws -> StoredReply {
        let target = Route.blob(path, upload: grant.upload)
        let timeout = SignedClient.transferTimeout(source.size)
        if let content = source.content {
            return try await client.upload(
                grant.address, target, length: source.size, sha256: sha256, chunks: OneChunk(buffer: content), timeout: timeout)
        }
        let bar = Progress("put \(path)", total: progress ? source.size : 0)
        defer { bar.finish() }
        return try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(source.file)) { handle in
            let chunks = ProgressChunks(base: handle.readChunks(chunkLength: .mebibytes(2)), progress: bar)
            return try await client.upload(grant.address, target, length: source.size, sha256: sha256, chunks: chunks, timeout: timeout)
        }
    }
}

/// A local file to store: its size, and its bytes when it is small enough to be read once
/// into memory (hashed and sent from there).
struct LocalSource: Sendable {
    var file: String
    var size: Int64
    var content: ByteBuffer?

    /// SHA-256 of the content, which signs the upload and is checked by the node.
    func hash(progress: Progress) async throws -> String {
        defer { progress.finish() }
        if let content {
            var hasher = SHA256()
            content.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
            return hasher.finalize().hexString
        }
        do {
            return try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(file)) { handle in
                var hasher = SHA256()
                for try await chunk in handle.readChunks(chunkLength: .mebibytes(2)) {
                    chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                    progress.advance(chunk.readableBytes)
                }
                return hasher.finalize().hexString
            }
        } catch {
            throw CommandFailure("cannot read \(file): \(error)")
        }
    }
}

extension Digest {
    /// Lowercase hex.
    var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(Self.byteCount * 2)
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// File chunks that move a progress bar as they are sent.
struct ProgressChunks<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element == ByteBuffer {
    typealias Element = ByteBuffer
    let base: Base
    let progress: Progress

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let progress: Progress

        mutating func next() async throws -> ByteBuffer? {
            guard let chunk = try await base.next() else { return nil }
            progress.advance(chunk.readableBytes)
            return chunk
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base.makeAsyncIterator(), progress: progress)
    }
}
