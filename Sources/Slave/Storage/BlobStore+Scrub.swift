import ReplicaCore
import _NIOFileSystem

/// What ``BlobStore/scrub(_:chunkSize:pace:)`` found about one blob.
public enum ScrubOutcome: Sendable, Equatable {
    /// The file is on disk and hashes to what was indexed.
    case intact
    /// The blob was removed or replaced after it was listed (a new version was just verified,
    /// or the master had it removed): nothing to check.
    case changed
    /// The file is gone from the disk, or something that is not a regular file (a directory,
    /// a symbolic link) is in its place: dropped from the inventory and the index.
    case missing
    /// The file could not be read, or its content is not what was indexed: moved to
    /// `.fsdfs/quarantine/` and dropped from the inventory and the index.
    case corrupt(reason: String)
}

extension BlobStore {
    /// Re-reads and re-hashes the file of `blob` (as listed by ``inventory()``), handing the
    /// size of every chunk read to `pace` (which may sleep to limit the rate, or throw to stop).
    ///
    /// A blob that is no longer the one listed is not checked (``ScrubOutcome/changed``). A file
    /// that is gone is dropped (``ScrubOutcome/missing``); one that cannot be read (permission,
    /// I/O error) or whose size or SHA-256 differs from the index is quarantined
    /// (``ScrubOutcome/corrupt(reason:)``). Both changes are made holding the namespace lock,
    /// and only if the blob is still the one listed, so a version committed meanwhile is kept.
    /// Errors thrown by `pace` are rethrown unchanged.
    public func scrub(
        _ blob: StoredBlob, chunkSize: Int = 262_144, pace: (Int) async throws -> Void
    ) async throws -> ScrubOutcome {
        guard let entry = ledger.withLock({ $0.entries[blob.path] }), entry.blob == blob else { return .changed }
        guard try await fileIsPresent(entry.path) else {
            return try await drop(entry) ? .missing : .changed
        }
        let file = directory.location(of: entry.path)
        let digest: (size: Int64, sha256: String)
        do {
            digest = try await directory.fileSystem.withFileHandle(
                forReadingAt: file, options: .init(followSymbolicLinks: false)
            ) { handle in
                try await DataDirectory.digest(of: handle, chunkSize: chunkSize) { try await pace($0.readableBytes) }
            }
        } catch let error as FileSystemError where error.code == .notFound {
            // Vanished between the stat and the open.
            return try await drop(entry) ? .missing : .changed
        } catch let error as FileSystemError where error.code == .permissionDenied || error.code == .io {
            return try await condemn(entry, reason: "read failed for '\(file)': \(error.message)")
        } catch let error as FileSystemError {
            throw BlobStoreError.wrap(error, operation: "read", path: file.string)
        }
        guard digest.size == entry.size, digest.sha256 == entry.sha256 else {
            // A commit may have replaced the file since the lookup: quarantine checks the
            // ledger again under the namespace lock and leaves a new version alone.
            return try await condemn(
                entry, reason: "sha256 \(digest.sha256) (\(digest.size) B) instead of \(entry.sha256) (\(entry.size) B)")
        }
        return .intact
    }

    /// Drops the blob if its file is no longer on disk (deleted by hand, say), so that the
    /// inventory and the index stop listing it.
    /// - Returns: whether it was dropped; false if the file is there or the blob has changed.
    public func dropIfMissing(_ blob: StoredBlob) async throws -> Bool {
        guard let entry = ledger.withLock({ $0.entries[blob.path] }), entry.blob == blob else { return false }
        guard try await !fileIsPresent(entry.path) else { return false }
        return try await drop(entry)
    }

    /// Whether a regular file is at `path`, reached through real directories only.
    private func fileIsPresent(_ path: VirtualPath) async throws -> Bool {
        do {
            return try await directory.placement(of: path).existing != nil
        } catch BlobStoreError.pathConflict {
            return false
        }
    }

    /// Quarantines a damaged blob. If the file cannot be moved aside, the blob is still dropped
    /// from the inventory and the index (so it no longer counts) and the file stays where it
    /// is, unindexed: the next start's scan hashes it again and the master does not count a
    /// file whose checksum is not the catalog's.
    private func condemn(_ entry: IndexEntry, reason: String) async throws -> ScrubOutcome {
        do {
            return try await quarantine(entry) ? .corrupt(reason: reason) : .changed
        } catch {
            guard try await drop(entry) || ledger.withLock({ $0.entries[entry.path] }) != entry else { throw error }
            return .corrupt(reason: "\(reason); not moved to quarantine: \(error)")
        }
    }
}
