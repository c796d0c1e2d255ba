import ReplicaCore
import _NIOFileSystem

/// Bounds on the work one audit request can cause on a node.
public enum AuditLimits {
    /// Files at most in one page.
    public static let maxFilesPerPage = 10_000
    /// A deep page ends once this many bytes were hashed (at least one file per page).
    public static let maxHashedBytesPerPage: Int64 = 256 << 20
    /// Unindexed files listed by name at most (all are counted, up to ``maxWalkedEntries``).
    public static let maxUnindexedListed = 1000
    /// Directory entries the walk for unindexed files visits at most.
    public static let maxWalkedEntries = 1_000_000
}

/// What ``BlobStore/unindexedFiles()`` found.
public struct UnindexedFiles: Sendable, Equatable {
    /// Paths relative to the data directory, at most ``AuditLimits/maxUnindexedListed``.
    public var listed: [String]
    public var count: Int
    /// Not all of them are listed, or the walk stopped at ``AuditLimits/maxWalkedEntries``.
    public var truncated: Bool
}

extension BlobStore {
    /// One page of the store's holdings as they are on disk, in path order after `after`.
    ///
    /// Each blob of the inventory is looked up without following symbolic links: missing (or
    /// not a regular file) is reported as such; if its size, mtime or inode differ from the
    /// index, or when `deep`, it is re-hashed and the actual checksum reported; otherwise the
    /// indexed checksum stands. Changes nothing: no quarantine, no index write. Audits run one
    /// at a time on a node; a deep page ends early after ``AuditLimits/maxHashedBytesPerPage``.
    /// - Returns: the page, and the path to continue after (nil when it was the last page).
    public func audit(deep: Bool, after: VirtualPath?, limit: Int) async -> (blobs: [DiskBlob], next: VirtualPath?) {
        await audits.withLock {
            let limit = min(max(limit, 1), AuditLimits.maxFilesPerPage)
            let entries = ledger.withLock { ledger in
                ledger.entries.values.filter { entry in after.map { entry.path > $0 } ?? true }
            }.sorted { $0.path < $1.path }
            var blobs: [DiskBlob] = []
            var hashed: Int64 = 0
            for entry in entries {
                if blobs.count >= limit || hashed >= AuditLimits.maxHashedBytesPerPage {
                    return (blobs, blobs.last?.path)
                }
                guard let blob = await examine(entry, deep: deep) else { continue }
                if blob.rehashed { hashed += blob.size ?? 0 }
                blobs.append(blob)
            }
            return (blobs, nil)
        }
    }

    /// Compares one indexed blob with the disk. Returns nil if the store dropped or replaced
    /// it meanwhile and the new entry is gone too.
    private func examine(_ snapshot: IndexEntry, deep: Bool) async -> DiskBlob? {
        var entry = snapshot
        var info: FileInfo?
        do {
            info = try await directory.placement(of: entry.path).existing
            if info.map({ !entry.matches(size: $0.size, mtimeNanoseconds: $0.mtimeNanoseconds, inode: $0.inode) }) ?? true {
                // A commit or removal may have happened since the snapshot: judge the current entry.
                guard let current = ledger.withLock({ $0.entries[entry.path] }) else { return nil }
                if current != entry {
                    entry = current
                    info = try await directory.placement(of: entry.path).existing
                }
            }
        } catch BlobStoreError.pathConflict {
            return DiskBlob(path: entry.path, fileID: entry.fileID, size: nil, sha256: nil, rehashed: false, problem: "not a regular file")
        } catch {
            return DiskBlob(path: entry.path, fileID: entry.fileID, size: nil, sha256: nil, rehashed: false, problem: "\(error)")
        }
        guard let info else {
            return DiskBlob(path: entry.path, fileID: entry.fileID, size: nil, sha256: nil, rehashed: false, problem: "missing")
        }
        if !deep, entry.matches(size: info.size, mtimeNanoseconds: info.mtimeNanoseconds, inode: info.inode) {
            return DiskBlob(path: entry.path, fileID: entry.fileID, size: info.size, sha256: entry.sha256, rehashed: false, problem: nil)
        }
        do {
            let digest = try await directory.digest(of: directory.location(of: entry.path))
            return DiskBlob(path: entry.path, fileID: entry.fileID, size: digest.size, sha256: digest.sha256, rehashed: true, problem: nil)
        } catch {
            // Vanished between the lookup and the read, or unreadable.
            let gone = (try? await directory.placement(of: entry.path).existing) == nil
            return DiskBlob(
                path: entry.path, fileID: entry.fileID, size: nil, sha256: nil, rehashed: false,
                problem: gone ? "missing" : "\(error)")
        }
    }

    /// Regular files under the data directory (outside `.fsdfs`, never following symbolic
    /// links) that the store does not hold, as paths relative to it. Changes nothing.
    public func unindexedFiles() async throws -> UnindexedFiles {
        try await audits.withLock {
            var walk = UnindexedWalk()
            try await walkUnindexed(directory.root, prefix: nil, into: &walk)
            // Compared with the ledger after the walk, so a file committed meanwhile is known.
            let held = ledger.withLock { Set($0.entries.keys.map(\.rawValue)) }
            let unknown = walk.files.filter { !held.contains($0) }.sorted()
            return UnindexedFiles(
                listed: Array(unknown.prefix(AuditLimits.maxUnindexedListed)), count: unknown.count,
                truncated: walk.stopped || unknown.count > AuditLimits.maxUnindexedListed)
        }
    }

    private struct UnindexedWalk {
        var files: [String] = []
        var visited = 0
        var stopped = false
    }

    private func walkUnindexed(_ folder: FilePath, prefix: String?, into walk: inout UnindexedWalk) async throws {
        let fileSystem = directory.fileSystem
        for item in try await directory.list(folder) {
            guard walk.visited < AuditLimits.maxWalkedEntries else {
                walk.stopped = true
                return
            }
            walk.visited += 1
            let name = item.name.string
            if prefix == nil, name == ".fsdfs" { continue }
            let relative = prefix.map { $0 + "/" + name } ?? name
            // The type comes from the listing (a symbolic link is never followed); only a file
            // system that does not give it costs a stat.
            var type = item.type
            if type == .unknown {
                let file = item.path
                type = try await mapErrors("stat", file.string) {
                    try await fileSystem.info(forFileAt: file, infoAboutSymbolicLink: true)
                }?.type ?? .unknown
            }
            switch type {
            case .directory: try await walkUnindexed(item.path, prefix: relative, into: &walk)
            case .regular: walk.files.append(relative)
            default: continue
            }
        }
    }
}
