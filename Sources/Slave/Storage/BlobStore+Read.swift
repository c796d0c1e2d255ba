import NIOCore
import ReplicaCore
import _NIOFileSystem

extension BlobStore {
    /// Streams the blob at `path` in chunks of about `chunkSize` bytes to `write`, hashing as it
    /// goes. If the bytes on disk do not match the indexed size and sha256 at the end, the file
    /// is moved to `.fsdfs/quarantine/`, dropped from the index, and
    /// ``BlobStoreError/checksumMismatch(path:expected:actual:)`` is thrown, so a caller
    /// streaming it to a peer can abort the transfer. Errors thrown by `write` are rethrown
    /// unchanged. Without `hashing` (a reader that checks the bytes itself) only the size is
    /// compared.
    /// - Returns: the blob as indexed (the version whose bytes were streamed).
    /// - Throws: ``BlobStoreError/notFound(_:)`` if the blob is not held (or its file vanished).
    public func read(
        path: VirtualPath, chunkSize: Int = 262_144, hashing: Bool = true, into write: (ByteBuffer) async throws -> Void
    ) async throws -> StoredBlob {
        guard var entry = ledger.withLock({ $0.entries[path] }) else { throw BlobStoreError.notFound(path) }
        // Refuses a symbolic link or a file anywhere along the path.
        let placement = try await directory.placement(of: path)
        guard placement.existing != nil else {
            _ = try? await drop(entry)
            throw BlobStoreError.notFound(path)
        }
        let file = directory.location(of: path)
        let digest: (size: Int64, sha256: String)
        do {
            digest = try await directory.fileSystem.withFileHandle(
                forReadingAt: file, options: .init(followSymbolicLinks: false)
            ) { handle in
                // A commit may have replaced the file since the lookup: compare with the
                // version actually opened.
                let inode = try await handle.info().inode
                if entry.inode != inode, let current = ledger.withLock({ $0.entries[path] }), current.inode == inode {
                    entry = current
                }
                return try await DataDirectory.digest(of: handle, chunkSize: chunkSize, hashing: hashing, sink: write)
            }
        } catch let error as FileSystemError {
            if error.code == .notFound {
                _ = try? await drop(entry)
                throw BlobStoreError.notFound(path)
            }
            throw BlobStoreError.wrap(error, operation: "read", path: file.string)
        }
        guard digest.sha256 == entry.sha256 || !hashing, digest.size == entry.size else {
            _ = try? await quarantine(entry)
            throw BlobStoreError.checksumMismatch(path: path, expected: entry.sha256, actual: digest.sha256)
        }
        return entry.blob
    }

    /// Streams `range` of the blob at `path` (a ranged read of the S3 API) without hashing: a
    /// part cannot be checked against the whole file's SHA-256 (the scrubber checks the copy).
    /// - Throws: ``BlobStoreError/notFound(_:)`` if the blob is not held, or is shorter.
    public func read(
        path: VirtualPath, range: ClosedRange<Int64>, chunkSize: Int = 1 << 20, into write: (ByteBuffer) async throws -> Void
    ) async throws -> StoredBlob {
        guard let entry = ledger.withLock({ $0.entries[path] }) else { throw BlobStoreError.notFound(path) }
        let placement = try await directory.placement(of: path)
        guard placement.existing != nil, range.lowerBound >= 0, range.upperBound < entry.size else { throw BlobStoreError.notFound(path) }
        let file = directory.location(of: path)
        do {
            try await directory.fileSystem.withFileHandle(forReadingAt: file, options: .init(followSymbolicLinks: false)) { handle in
                guard try await handle.info().inode == entry.inode else { throw BlobStoreError.notFound(path) }
                var offset = range.lowerBound
                while offset <= range.upperBound {
                    let length = min(Int64(chunkSize), range.upperBound - offset + 1)
                    let chunk = try await handle.readChunk(fromAbsoluteOffset: offset, length: .bytes(length))
                    guard chunk.readableBytes > 0 else { throw BlobStoreError.notFound(path) }
                    try await write(chunk)
                    offset += Int64(chunk.readableBytes)
                }
            }
        } catch let error as FileSystemError {
            if error.code == .notFound { throw BlobStoreError.notFound(path) }
            throw BlobStoreError.wrap(error, operation: "read", path: file.string)
        }
        return entry.blob
    }

    /// Re-hashes the blob at `path`; quarantines it and returns `false` if it is corrupt.
    /// - Throws: ``BlobStoreError/notFound(_:)`` if it is not held.
    public func verify(path: VirtualPath) async throws -> Bool {
        do {
            _ = try await read(path: path) { _ in }
            return true
        } catch BlobStoreError.checksumMismatch {
            return false
        }
    }

    /// Moves the file of `entry` to `.fsdfs/quarantine/` and drops it from the index, unless
    /// the blob at its path has changed since (a new version was committed meanwhile).
    /// - Returns: whether it did (false: the blob had changed).
    @discardableResult
    func quarantine(_ entry: IndexEntry) async throws -> Bool {
        try await namespace.withLock {
            guard ledger.withLock({ $0.entries[entry.path] }) == entry else { return false }
            try await directory.moveToQuarantine(entry.path)
            forget(entry)
            try await mapErrors("update index", index.location) { try await index.delete(entry.path) }
            return true
        }
    }

    /// Drops `entry`, whose file is gone, from memory and from the index (if unchanged since).
    /// - Returns: whether it did (false: the blob had changed).
    @discardableResult
    func drop(_ entry: IndexEntry) async throws -> Bool {
        try await namespace.withLock {
            guard ledger.withLock({ $0.entries[entry.path] }) == entry else { return false }
            forget(entry)
            try await mapErrors("update index", index.location) { try await index.delete(entry.path) }
            return true
        }
    }
}
