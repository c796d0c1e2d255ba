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

    static let configuration = CommandConfiguration(
        abstract: "Store a local file at a path of the store (replaces an existing file).")

    @Argument(help: "The local file to upload.")
    var localFile: String

    @Argument(help: "Its path in the store, e.g. videos/2024/trip.mov.")
    var remotePath: String

    @OptionGroup var options: ClientOptions

    func run() async throws {
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
        let sha256 = try await hash(size: size)
        let stored = try await clientCommand(options) { client, master -> StoredReply in
            var unreachable: [(node: NodeID, error: NodeCallError)] = []
            while true {
                let request = UploadRequest(path: path, size: size, exclude: unreachable.isEmpty ? nil : unreachable.map(\.node))
                let grant: UploadGrant = try await client.call(.POST, master, Route.uploads, body: request)
                do {
                    return try await upload(grant, path: path, size: size, sha256: sha256, client: client)
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
        print("stored \(stored.path) (\(formatBytes(stored.size)), sha256 \(stored.sha256.prefix(12))…): K=\(stored.k), replication continues")
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

    /// Streams the local file to the granted node.
    private func upload(
        _ grant: UploadGrant, path: VirtualPath, size: Int64, sha256: String, client: SignedClient
    ) async throws -> StoredReply {
        let progress = Progress("put \(path)", total: size)
        defer { progress.finish() }
        return try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(localFile)) { handle in
            let chunks = ProgressChunks(base: handle.readChunks(chunkLength: .kibibytes(256)), progress: progress)
            return try await client.upload(
                grant.address, Route.blob(path, upload: grant.upload), length: size, sha256: sha256,
                chunks: chunks, timeout: SignedClient.transferTimeout(size))
        }
    }

    /// SHA-256 of the local file, which signs the upload and is checked by the node.
    private func hash(size: Int64) async throws -> String {
        let progress = Progress("hashing", total: size)
        defer { progress.finish() }
        do {
            return try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(localFile)) { handle in
                var hasher = SHA256()
                for try await chunk in handle.readChunks(chunkLength: .mebibytes(1)) {
                    chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                    progress.advance(chunk.readableBytes)
                }
                return hasher.finalize().map { String(format: "%02x", $0) }.joined()
            }
        } catch {
            throw CommandFailure("cannot read \(localFile): \(error)")
        }
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
