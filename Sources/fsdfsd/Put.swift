import ArgumentParser
import Crypto
import Foundation
import NIOCore
import NIOFileSystem
import ReplicaCore
import Transport

/// `fsdfsd put LOCALFILE REMOTEPATH`: stores a file; returns once one node holds a verified
/// copy (K = 1). Replication to N copies continues in the background.
struct Put: AsyncParsableCommand {
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
            let grant: UploadGrant = try await client.call(.POST, master, Route.uploads, body: UploadRequest(path: path, size: size))
            let progress = Progress("put \(path)", total: size)
            defer { progress.finish() }
            return try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(localFile)) { handle in
                let chunks = ProgressChunks(base: handle.readChunks(chunkLength: .kibibytes(256)), progress: progress)
                return try await client.upload(
                    grant.address, Route.blob(path, upload: grant.upload), length: size, sha256: sha256,
                    chunks: chunks, timeout: SignedClient.transferTimeout(size))
            }
        }
        print("stored \(stored.path) (\(formatBytes(stored.size)), sha256 \(stored.sha256.prefix(12))…): K=\(stored.k), replication continues")
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
