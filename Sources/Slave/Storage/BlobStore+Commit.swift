import Foundation
import ReplicaCore
import _NIOFileSystem

extension BlobStore {
    /// Puts a verified, fsync'ed and closed temp file in place as the blob at `path`:
    /// re-checks the path, creates missing parents (0755), records the index entry, renames
    /// over the old indexed file (never over one the index does not know) and fsyncs the
    /// directories it changed.
    ///
    /// Consumes the reservation of `size` bytes in every outcome. A failure up to and
    /// including the rename changes nothing (directories it created are removed again, the
    /// index entry is put back); the caller deletes the temp file. If only the final
    /// directory fsync fails, the new blob is in place and indexed and the error is thrown.
    func install(
        temporary: FilePath, path: VirtualPath, fileID: FileID?, size: Int64, sha256: String, info: FileInfo,
        replacing: BlobReplacement = .any, keepingPrevious: Bool = false, cancelled: (@Sendable () -> Bool)? = nil
    ) async throws -> (StoredBlob, ReplacedBlob?) {
        do {
            return try await namespace.withLock {
                try await installHoldingLock(
                    temporary: temporary, path: path, fileID: fileID, size: size, sha256: sha256, info: info,
                    replacing: replacing, keepingPrevious: keepingPrevious, cancelled: cancelled)
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
        replacing: BlobReplacement, keepingPrevious: Bool, cancelled: (@Sendable () -> Bool)?
    ) async throws -> (StoredBlob, ReplacedBlob?) {
        if cancelled?() == true { throw BlobStoreError.cancelled(path) }
        let previous = ledger.withLock { $0.entries[path] }
        if let previous, previous.sha256 != sha256, !replacing.allows(fileID: previous.fileID, sha256: previous.sha256) {
            throw BlobStoreError.versionConflict(path: path, held: previous.fileID)
        }
        // rename(2) keeps the inode and the mtime, so the temp file's are the final file's.
        let entry = IndexEntry(
            path: path, fileID: fileID, size: size, sha256: sha256,
            mtimeNanoseconds: info.mtimeNanoseconds, inode: info.inode)
        let placement = try await directory.placement(of: path)
        // A file at the path that the index does not know was put there behind the store's
        // back: the catalog cannot account for it, so it is kept, never written over.
        if previous == nil, placement.existing != nil { throw BlobStoreError.versionConflict(path: path, held: nil) }
        let (created, mkdirError) = await directory.createParents(of: path, from: placement.existingParents)
        var kept: FilePath?
        do {
            if let mkdirError { throw mkdirError }
            if keepingPrevious, let previous {
                try await mapErrors("mkdir", directory.kept.string) {
                    try await directory.fileSystem.createDirectory(
                        at: directory.kept, withIntermediateDirectories: true, permissions: DataDirectory.directoryMode)
                }
                let name = "\(UUID().uuidString.lowercased())-\(path.name)"
                let link = directory.kept.appending(name)
                try await directory.hardLink(directory.location(of: path), to: link)
                kept = link
                try await mapErrors("update index", index.location) {
                    try await index.upsert(entry, keeping: previous, as: name, at: Date())
                }
            } else {
                try await mapErrors("update index", index.location) { try await index.upsert(entry) }
            }
            do {
                try await directory.rename(temporary, to: directory.location(of: path))
            } catch {
                try? await index.restore(previous, at: path)
                throw error
            }
        } catch {
            if let kept { _ = try? await directory.fileSystem.removeItem(at: kept, strategy: .sequential, recursively: false) }
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
            if let kept { _ = try? await directory.fileSystem.removeItem(at: kept, strategy: .sequential, recursively: false) }
            throw InstallError(underlying: error)
        }
        var replaced: ReplacedBlob?
        if let previous, let kept { replaced = ReplacedBlob(entry: previous, link: kept, replacement: entry) }
        return (entry.blob, replaced)
    }

    /// Puts back the blob an upload replaced (the master did not record the upload), only if
    /// the path still holds that upload: a later change is never undone. Returns false when it
    /// could not: the replaced blob then stays kept where it is.
    public func restore(_ replaced: ReplacedBlob) async throws -> Bool {
        let path = replaced.entry.path
        return try await namespace.withLock {
            guard let current = ledger.withLock({ $0.entries[path] }), current.inode == replaced.replacement.inode else {
                return false
            }
            try await mapErrors("update index", index.location) { try await index.upsert(replaced.entry) }
            do {
                try await directory.rename(replaced.link, to: directory.location(of: path))
            } catch {
                try? await index.upsert(current)
                throw error
            }
            ledger.withLock { ledger in
                ledger.entries[path] = replaced.entry
                ledger.committed += replaced.entry.size - current.size
            }
            try await directory.synchronize(directory: directory.location(of: path).removingLastComponent())
            try? await index.deleteKept(replaced.name)
            return true
        }
    }

    /// Drops the kept copy of a replaced blob (the upload that replaced it counts).
    public func discard(_ replaced: ReplacedBlob) async {
        _ = try? await directory.fileSystem.removeItem(at: replaced.link, strategy: .sequential, recursively: false)
        try? await index.deleteKept(replaced.name)
    }

    /// The versions kept aside in `.fsdfs/kept` because the master never said whether the
    /// upload that replaced them counts, for the master to list (`fsdfsd unaccounted`). One
    /// the operator has removed by hand is forgotten.
    public func keptVersions() async throws -> [KeptVersion] {
        var found: [KeptVersion] = []
        for (name, entry, since) in try await mapErrors("read index", index.location, { try await index.keptEntries() }) {
            let link = directory.kept.appending(name)
            guard try await directory.fileSystem.info(forFileAt: link) != nil else {
                try? await index.deleteKept(name)
                continue
            }
            found.append(KeptVersion(
                path: entry.path, fileID: entry.fileID, size: entry.size, sha256: entry.sha256, version: entry.version,
                location: link.string, since: since))
        }
        return found
    }
}

/// A blob an upload replaced, kept aside under a second name in `.fsdfs/kept` until the master
/// says whether the upload counts: then dropped, or put back (``BlobStore/restore(_:)``). When
/// the master cannot say, or the node stops meanwhile, it stays there: never deleted by fsdfs.
public struct ReplacedBlob: Sendable {
    let entry: IndexEntry
    let link: FilePath
    /// What took its place.
    let replacement: IndexEntry

    /// The blob that was replaced.
    public var blob: StoredBlob { entry.blob }
    /// Its name in `.fsdfs/kept`.
    var name: String { link.lastComponent?.string ?? "" }
    /// Where it is kept.
    public var location: String { link.string }
}
