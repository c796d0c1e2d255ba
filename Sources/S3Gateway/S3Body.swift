import Crypto
import Foundation
import NIOCore
import NIOFileSystem
import ReplicaCore
import Synchronization

/// The MD5 (for the ETag) of a body streamed through to a node, learnt as its last byte
/// passes.
final class DigestResult: Sendable {
    private let value = Mutex<String?>(nil)
    private let failed = Mutex<S3Error?>(nil)
    var md5: String? { value.withLock { $0 } }
    func set(_ md5: String) { value.withLock { $0 = md5 } }
    /// Why the body was refused as it passed (the HTTP client reports only a failed transfer).
    var failure: S3Error? { failed.withLock { $0 } }
    func fail(_ error: S3Error) -> S3Error {
        failed.withLock { $0 = error }
        return error
    }
}

/// A request body on its way to a node: at most `length` bytes, hashed with MD5 as they pass.
/// When the client gave `Content-MD5`, the last chunk is held back unless the MD5 matches, so
/// that the node never receives a whole body that is not the one meant (it then commits
/// nothing).
struct DigestingChunks<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element == ByteBuffer {
    typealias Element = ByteBuffer
    let base: Base
    let length: Int64
    let contentMD5: String?
    let result: DigestResult

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let length: Int64
        let contentMD5: String?
        let result: DigestResult
        var hasher = Insecure.MD5()
        var seen: Int64 = 0

        mutating func next() async throws -> ByteBuffer? {
            guard let chunk = try await base.next() else { return nil }
            seen += Int64(chunk.readableBytes)
            guard seen <= length else {
                throw result.fail(S3Error("IncompleteBody", .badRequest, "the body is longer than its Content-Length (\(length) bytes)"))
            }
            chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
            if seen == length {
                let digest = hasher.finalize()
                if let contentMD5, Data(digest).base64EncodedString() != contentMD5 {
                    throw result.fail(S3Error("BadDigest", .badRequest, "The Content-MD5 you specified did not match what was received"))
                }
                result.set(hex(digest))
            }
            return chunk
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base.makeAsyncIterator(), length: length, contentMD5: contentMD5, result: result)
    }
}

func hex(_ digest: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for byte in digest {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0x0F)])
    }
    return String(decoding: out, as: UTF8.self)
}

/// A body on this master's disk before it goes to a node: one spool file, or the parts of a
/// multipart upload in order; its size and hashes.
struct SpooledBody: Sendable {
    struct Piece: Sendable {
        var file: String
        var size: Int64
    }

    var pieces: [Piece]
    var size: Int64
    var sha256: String
    var md5: String

    init(file: String, size: Int64, sha256: String, md5: String) {
        self.init(pieces: [Piece(file: file, size: size)], size: size, sha256: sha256, md5: md5)
    }

    init(pieces: [Piece], size: Int64, sha256: String, md5: String) {
        self.pieces = pieces
        self.size = size
        self.sha256 = sha256
        self.md5 = md5
    }

    /// The bytes, 2 MiB at a time.
    func chunks() -> SpoolChunks { SpoolChunks(pieces: pieces) }

    func remove() async {
        for piece in pieces { _ = try? await FileSystem.shared.removeItem(at: FilePath(piece.file)) }
    }
}

/// Reads spooled files in order (the body of an upload to a node).
struct SpoolChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let pieces: [SpooledBody.Piece]

    struct AsyncIterator: AsyncIteratorProtocol {
        let pieces: [SpooledBody.Piece]
        var index = 0
        var offset: Int64 = 0

        mutating func next() async throws -> ByteBuffer? {
            while index < pieces.count, offset >= pieces[index].size {
                index += 1
                offset = 0
            }
            guard index < pieces.count else { return nil }
            let piece = pieces[index]
            let length = Swift.min(Int64(2 << 20), piece.size - offset)
            let start = offset
            let chunk = try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(piece.file)) { handle in
                try await handle.readChunk(fromAbsoluteOffset: start, length: .bytes(length))
            }
            guard chunk.readableBytes > 0 else { throw S3Error.internalError("the spool file \(piece.file) ended early") }
            offset += Int64(chunk.readableBytes)
            return chunk
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(pieces: pieces) }
}

/// Writes bytes to a new spool file, hashing them (SHA-256 for the node, MD5 for the ETag).
struct Spooler {
    let file: String
    private var handle: WriteFileHandle
    private var sha = SHA256()
    private var md5 = Insecure.MD5()
    private(set) var size: Int64 = 0
    let limit: Int64

    static func open(in directory: String, limit: Int64) async throws -> Spooler {
        let file = directory + "/" + UUID().uuidString.lowercased() + ".spool"
        do {
            let handle = try await FileSystem.shared.openFile(
                forWritingAt: FilePath(file), options: .newFile(replaceExisting: false))
            return Spooler(file: file, handle: handle, limit: limit)
        } catch {
            throw S3Error.internalError("cannot create the spool file \(file): \(error)")
        }
    }

    private init(file: String, handle: WriteFileHandle, limit: Int64) {
        self.file = file
        self.handle = handle
        self.limit = limit
    }

    mutating func write(_ buffer: ByteBuffer) async throws {
        guard buffer.readableBytes > 0 else { return }
        guard size + Int64(buffer.readableBytes) <= limit else {
            throw S3Error("EntityTooLarge", .badRequest, "Your proposed upload exceeds the maximum allowed size (\(ByteSize.format(limit)))")
        }
        buffer.withUnsafeReadableBytes { bytes in
            sha.update(bufferPointer: bytes)
            md5.update(bufferPointer: bytes)
        }
        do {
            try await handle.write(contentsOf: buffer.readableBytesView, toAbsoluteOffset: size)
        } catch {
            throw S3Error.internalError("cannot write the spool file \(file): \(error)")
        }
        size += Int64(buffer.readableBytes)
    }

    /// Flushes and closes the file; the body's size and hashes.
    func finish() async throws -> SpooledBody {
        do {
            try await handle.close()
        } catch {
            throw S3Error.internalError("cannot close the spool file \(file): \(error)")
        }
        return SpooledBody(file: file, size: size, sha256: hex(sha.finalize()), md5: hex(md5.finalize()))
    }

    /// Closes and removes the file after a failure.
    func discard() async {
        try? await handle.close()
        _ = try? await FileSystem.shared.removeItem(at: FilePath(file))
    }
}
