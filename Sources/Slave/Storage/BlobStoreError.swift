import HTTPTypes
import ReplicaCore
import Transport
import _NIOFileSystem

/// Why a ``BlobStore`` operation failed. Descriptions are one line a user can act on;
/// ``code`` is the stable short name used in JSON error bodies.
public enum BlobStoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Storing the file would exceed the node's quota.
    case overQuota(needed: Int64, free: Int64)
    /// The number of bytes received differs from the announced size.
    case sizeMismatch(expected: Int64, received: Int64)
    /// The content does not hash to the expected SHA-256.
    case checksumMismatch(path: VirtualPath, expected: String, actual: String)
    /// This node does not hold the path.
    case notFound(VirtualPath)
    /// A directory is in the way of a file, a file in the way of a directory, or a component
    /// of the path is a symbolic link or a special file.
    case pathConflict(VirtualPath)
    /// The path holds another version than the one a write may replace.
    case versionConflict(path: VirtualPath, held: FileID?)
    /// The version was removed while it was being written: it is not kept.
    case cancelled(VirtualPath)
    /// A file system or index operation failed.
    case io(operation: String, path: String, message: String)

    /// Short stable name of the case, for JSON errors.
    public var code: String {
        switch self {
        case .overQuota: "over_quota"
        case .sizeMismatch: "size_mismatch"
        case .checksumMismatch: "checksum_mismatch"
        case .notFound: "not_found"
        case .pathConflict: "path_conflict"
        case .versionConflict: "version_conflict"
        case .cancelled: "cancelled"
        case .io: "io"
        }
    }

    public var description: String {
        switch self {
        case .overQuota(let needed, let free):
            "not enough space: the file needs \(needed) B and this node has \(free) B free under its quota"
        case .sizeMismatch(let expected, let received):
            "size mismatch: expected \(expected) B, received \(received) B"
        case .checksumMismatch(let path, let expected, let actual):
            "checksum mismatch for '\(path)': expected sha256 \(expected), got \(actual)"
        case .notFound(let path):
            "'\(path)' is not stored on this node"
        case .pathConflict(let path):
            "'\(path)' conflicts with what is on disk: a file, directory or symbolic link is in the way"
        case .versionConflict(let path, let held):
            "'\(path)' holds \(held.map { "version \($0)" } ?? "a file of unknown version"), which this write may not replace; it is kept"
        case .cancelled(let path):
            "'\(path)' was removed while it was being written; the write is dropped"
        case .io(let operation, let path, let message):
            "\(operation) failed for '\(path)': \(message)"
        }
    }
}

extension BlobStoreError {
    /// Wraps any error from the file system or the index as ``io(operation:path:message:)``;
    /// a ``BlobStoreError`` is returned unchanged.
    static func wrap(_ error: any Error, operation: String, path: String) -> BlobStoreError {
        switch error {
        case let error as BlobStoreError: error
        case let error as FileSystemError: .io(operation: operation, path: path, message: error.message)
        default: .io(operation: operation, path: path, message: "\(error)")
        }
    }
}

/// Runs `body`, turning file system, index and thread pool errors into
/// ``BlobStoreError/io(operation:path:message:)``; ``BlobStoreError`` and cancellation pass
/// through unchanged.
@discardableResult
func mapErrors<T>(
    _ operation: String, _ path: String, _ body: () async throws -> T
) async throws -> T {
    do {
        return try await body()
    } catch let error as CancellationError {
        throw error
    } catch {
        throw BlobStoreError.wrap(error, operation: operation, path: path)
    }
}

extension BlobStoreError: HTTPReplyError {
    public var httpStatus: HTTPResponse.Status {
        switch self {
        case .overQuota: .insufficientStorage
        case .sizeMismatch, .checksumMismatch: .unprocessableContent
        case .notFound: .notFound
        case .pathConflict, .versionConflict: .conflict
        case .cancelled: .gone
        case .io: .internalServerError
        }
    }
}
