import ReplicaCore
import _NIOFileSystem

extension BlobStore {
    /// Puts a verified, fsync'ed and closed temp file in place as the blob at `path`:
    /// re-checks the path, creates missing parents (0755), records the index entry, renames
    /// over any old file and fsyncs the directories it changed.
    ///
    /// Consumes the reservation of `size` bytes in every outcome. A failure up to and
    /// including the rename changes nothing (directories it created are removed again, the
    /// index entry is put back); the caller deletes the temp file. If only the final
    /// directory fsync fails, the new blob is in place and indexed and the error is thrown.
    func install(
        temporary: FilePath, path: VirtualPath, fileID: FileID?, size: Int64, sha256: String, info: FileInfo,
        replacing: BlobReplacement = .any
    ) async throws -> StoredBlob {
        do {
            return try await namespace.withLock {
                try await installHoldingLock(
                    temporary: temporary, path: path, fileID: fileID, size: size, sha256: sha256, info: info,
                    replacing: replacing)
            }
        } catch let error as InstallError {
            throw error.underlying
        } catch {
            release(size)
            throw error
        }
    }

    /// An error after the blob was put in place (the reservation is already consumed).
    private struct InstallError: Error {
        var underlying: any Error
    }

    private func installHoldingLock(
        temporary: FilePath, path: VirtualPath, fileID: FileID?, size: Int64, sha256: String, info: FileInfo,
        replacing: BlobReplacement
    ) async throws -> StoredBlob {
        let previous = ledger.withLock { $0.entries[path] }
        if case .only(let allowed) = replacing, let previous, previous.sha256 != sha256,
            !(previous.fileID.map(allowed.contains) ?? false)
        {
            throw BlobStoreError.versionConflict(path: path, held: previous.fileID)
        }
        // rename(2) keeps the inode and the mtime, so the temp file's are the final file's.
        let entry = IndexEntry(
            path: path, fileID: fileID, size: size, sha256: sha256,
            mtimeNanoseconds: info.mtimeNanoseconds, inode: info.inode)
        let placement = try await directory.placement(of: path)
        let (created, mkdirError) = await directory.createParents(of: path, from: placement.existingParents)
        do {
            if let mkdirError { throw mkdirError }
            try await mapErrors("update index", index.location) { try await index.upsert(entry) }
            do {
                try await directory.rename(temporary, to: directory.location(of: path))
            } catch {
                try? await index.restore(previous, at: path)
                throw error
            }
        } catch {
            if created > 0 { await directory.pruneParents(of: path, downTo: placement.existingParents) }
            throw error
        }
        ledger.withLock { ledger in
            ledger.entries[path] = entry
            ledger.committed += size - (previous?.size ?? 0)
            ledger.reserved -= size
        }
        // The file's directory, and the parent of every directory created for it.
        do {
            var level = path.segments.count - 2
            while level >= placement.existingParents - 1 {
                let changed = level < 0 ? directory.root : directory.ancestor(of: path, level: level)
                try await directory.synchronize(directory: changed)
                level -= 1
            }
        } catch {
            throw InstallError(underlying: error)
        }
        return entry.blob
    }
}
