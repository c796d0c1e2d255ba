import Foundation
import ReplicaCore
import _NIOFileSystem

/// What ``BlobStore/move(fileID:from:to:sha256:version:)`` did.
public enum MoveOutcome: Sendable, Equatable {
    /// The version is at its new path (moved now, or already).
    case moved
    /// The store holds that exact version at neither path.
    case absent
    /// Left where it is: the new path holds something else, which is kept.
    case blocked(String)
}

extension BlobStore {
    /// Moves the exact version `fileID` with `sha256` (or a blob at `from` with that checksum
    /// whose version the index does not know) from `from` to `to`, for a rename in the catalog
    /// (`fsdfsd mv`): the same file, renamed with `rename(2)`, so nothing is copied or re-hashed.
    /// Never writes over anything at `to`: a blob of another version, or a file the index
    /// does not know, blocks the move and is kept.
    ///
    /// The rename comes first (made durable: both directories fsync'ed), then the index: a
    /// crash in between leaves the file at `to` unindexed, which the next ``scan()`` hashes and
    /// the master recognises as its version.
    public func move(fileID: FileID, from: VirtualPath, to: VirtualPath, sha256: String, version: Int64?) async throws -> MoveOutcome {
        try await namespace.withLock {
            let (source, target) = ledger.withLock { ($0.entries[from], $0.entries[to]) }
            func isVersion(_ entry: IndexEntry) -> Bool { entry.sha256 == sha256 && (entry.fileID == fileID || entry.fileID == nil) }
            if let target, isVersion(target) {
                // Moved before (the reply was lost), or the node got it there some other way.
                if target.fileID != fileID || (version != nil && target.version != version) {
                    var entry = target
                    entry.fileID = fileID
                    if let version { entry.version = version }
                    try await mapErrors("update index", index.location) { try await index.upsert(entry) }
                    ledger.withLock { $0.entries[to] = entry }
                }
                return .moved
            }
            guard let source, isVersion(source) else { return .absent }
            if let target {
                return .blocked("\(to) holds another version (\(target.fileID.map { "version \($0)" } ?? "unknown to the master"), sha256 \(target.sha256.prefix(12))): kept")
            }
            let placement: Placement
            do {
                placement = try await directory.placement(of: to)
            } catch let error as BlobStoreError {
                return .blocked("\(error)")
            }
            if placement.existing != nil { return .blocked("a file the node's index does not list is at \(to): kept, never written over") }
            let (created, mkdirError) = await directory.createParents(of: to, from: placement.existingParents)
            do {
                if let mkdirError { throw mkdirError }
                try await directory.rename(directory.location(of: from), to: directory.location(of: to))
            } catch {
                if created > 0 { await directory.pruneParents(of: to, downTo: placement.existingParents) }
                throw error
            }
            // Durable before the index says so: the new name's directory and every directory
            // created for it, then the old one's.
            do {
                var level = to.segments.count - 2
                while level >= placement.existingParents - 1 {
                    try await directory.synchronize(directory: level < 0 ? directory.root : directory.ancestor(of: to, level: level))
                    level -= 1
                }
                let old = from.segments.count >= 2 ? directory.ancestor(of: from, level: from.segments.count - 2) : directory.root
                try await directory.synchronize(directory: old)
            } catch {
                // The index still names the old path: put the file back there.
                try? await directory.rename(directory.location(of: to), to: directory.location(of: from))
                if created > 0 { await directory.pruneParents(of: to, downTo: placement.existingParents) }
                throw error
            }
            var entry = source
            entry.path = to
            entry.fileID = fileID
            if let version { entry.version = version }
            do {
                try await mapErrors("update index", index.location) { try await index.upsert(entry) }
            } catch {
                // Put back as it was, so that the index keeps telling the truth.
                try? await directory.rename(directory.location(of: to), to: directory.location(of: from))
                if created > 0 { await directory.pruneParents(of: to, downTo: placement.existingParents) }
                throw error
            }
            ledger.withLock { ledger in
                ledger.entries[from] = nil
                ledger.entries[to] = entry
            }
            try await mapErrors("update index", index.location) { try await index.delete(from) }
            await directory.pruneParents(of: from)
            return .moved
        }
    }
}
