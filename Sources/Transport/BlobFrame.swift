import Foundation
import NIOCore
import ReplicaCore

/// The header of one file in the answer to `POST /v1/blobs`: either the file (its `size`
/// bytes follow the header at once), or why it is not sent (no bytes follow).
///
/// On the wire a frame is a 4-byte big-endian header length, the header as JSON, then the
/// file's bytes. The source sends the files in the order asked, each verified against its
/// index while it was read; the receiver still checks every byte against the catalog.
public struct BlobFrame: Sendable, Codable, Equatable {
    public var path: VirtualPath
    public var fileID: FileID?
    /// Bytes that follow the header; 0 when the file is not sent.
    public var size: Int64
    public var sha256: String?
    public var error: String?
    public var code: String?

    public init(path: VirtualPath, fileID: FileID?, size: Int64, sha256: String) {
        self.path = path
        self.fileID = fileID
        self.size = size
        self.sha256 = sha256
    }

    public init(path: VirtualPath, error: String, code: String) {
        self.path = path
        self.size = 0
        self.error = error
        self.code = code
    }

    /// Longest header accepted: a path of 4 KiB and its escapes fit with room to spare.
    public static let maxHeaderBytes = 64 << 10

    /// The frame as bytes: length, header, then `body` (empty for an error frame).
    public func encoded(body: ByteBuffer? = nil, allocator: ByteBufferAllocator = ByteBufferAllocator()) throws -> ByteBuffer {
        let header = try JSONEncoder().encode(self)
        var buffer = allocator.buffer(capacity: 4 + header.count + (body?.readableBytes ?? 0))
        buffer.writeInteger(UInt32(header.count), endianness: .big)
        buffer.writeBytes(header)
        if var body { buffer.writeBuffer(&body) }
        return buffer
    }
}

/// Why a framed stream was refused: the whole rest of the stream is then unusable.
public enum BlobFrameError: Error, Equatable, CustomStringConvertible {
    /// The stream ended inside a frame (the source failed or the connection broke).
    case truncated(afterFiles: Int)
    /// A header longer than ``BlobFrame/maxHeaderBytes``.
    case oversizeHeader(Int)
    /// A header that is not valid JSON of a ``BlobFrame`` (a path that is not a safe virtual path included).
    case malformedHeader(String)
    /// A frame for another path than the one asked at that place, or more frames than asked.
    case unexpectedFile(String)
    /// A file larger than its request allows.
    case oversizeFile(path: String, size: Int64)

    public var description: String {
        switch self {
        case .truncated(let files): "the stream of files ended inside a frame after \(files) complete files"
        case .oversizeHeader(let bytes): "a frame header of \(bytes) bytes exceeds the \(BlobFrame.maxHeaderBytes)-byte limit"
        case .malformedHeader(let detail): "a frame header is not valid: \(detail)"
        case .unexpectedFile(let detail): "a frame names a file that was not asked for there: \(detail)"
        case .oversizeFile(let path, let size): "the frame of \(path) announces \(size) bytes, more than asked"
        }
    }
}

/// Reads a framed stream piece by piece, as the chunks of the HTTP body come, and hands out
/// each complete file. It checks each frame against the list asked for: the same path at the
/// same place, no more bytes than the version asked has, nothing after the last one.
public struct BlobFrameDecoder {
    public struct Expected: Sendable {
        public var path: VirtualPath
        public var size: Int64

        public init(path: VirtualPath, size: Int64) {
            self.path = path
            self.size = size
        }
    }

    private let expected: [Expected]
    private var pending = ByteBuffer()
    private var header: BlobFrame?
    /// Complete frames handed out so far.
    public private(set) var count = 0

    public init(expecting expected: [Expected]) {
        self.expected = expected
    }

    /// Whether every file asked for has come.
    public var isComplete: Bool { count == expected.count && header == nil && pending.readableBytes == 0 }

    /// Takes `chunk` and returns the frames it completes, each with its bytes (nil for an error frame).
    public mutating func feed(_ chunk: ByteBuffer) throws(BlobFrameError) -> [(BlobFrame, ByteBuffer?)] {
        var chunk = chunk
        pending.writeBuffer(&chunk)
        var frames: [(BlobFrame, ByteBuffer?)] = []
        while true {
            if header == nil {
                guard let length = pending.getInteger(at: pending.readerIndex, endianness: .big, as: UInt32.self) else { break }
                guard length <= BlobFrame.maxHeaderBytes else { throw .oversizeHeader(Int(length)) }
                guard pending.readableBytes >= 4 + Int(length) else { break }
                pending.moveReaderIndex(forwardBy: 4)
                let bytes = pending.readSlice(length: Int(length))!
                let frame: BlobFrame
                do {
                    frame = try JSONDecoder().decode(BlobFrame.self, from: Data(buffer: bytes))
                } catch {
                    throw .malformedHeader("\(error)")
                }
                guard count < expected.count else { throw .unexpectedFile("\(frame.path) after the last file asked for") }
                let wanted = expected[count]
                guard frame.path == wanted.path else { throw .unexpectedFile("\(frame.path) where \(wanted.path) was asked") }
                guard frame.size >= 0, frame.size <= wanted.size else { throw .oversizeFile(path: frame.path.rawValue, size: frame.size) }
                header = frame
            }
            guard let frame = header else { break }
            if frame.error != nil {
                frames.append((frame, nil))
            } else {
                guard pending.readableBytes >= Int(frame.size) else { break }
                frames.append((frame, pending.readSlice(length: Int(frame.size))!))
            }
            header = nil
            count += 1
        }
        pending.discardReadBytes()
        return frames
    }

    /// The stream ended: throws if it ended inside a frame or before every file asked for.
    public func finish() throws(BlobFrameError) {
        guard header == nil, pending.readableBytes == 0 else { throw .truncated(afterFiles: count) }
        guard count == expected.count else { throw .truncated(afterFiles: count) }
    }
}
