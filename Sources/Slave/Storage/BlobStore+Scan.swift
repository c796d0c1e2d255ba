import ReplicaCore
import _NIOFileSystem

extension BlobStore {
    /// What a scan has found so far.
    private struct ScanState {
        let indexed: [VirtualPath: IndexEntry]
        var found: [VirtualPath: IndexEntry] = [:]
        /// Entries to write to the index (re-hashed or new).
        var changed: [IndexEntry] = []
        var quarantined: Set<VirtualPath> = []
        var trusted = 0
        var rehashed = 0
    }

    /// Walks the data directory (skipping `.fsdfs`, never following symbolic links) and checks
    /// every regular file against the index:
    ///
    /// - same size, mtime and inode as indexed: trusted without re-hashing;
    /// - changed: re-hashed; it keeps its fileID if the hash still matches, otherwise it is
    ///   moved to `.fsdfs/quarantine/` and left out;
    /// - not indexed: hashed and added with fileID `nil`;
    /// - index entries whose file is gone (or unreadable) are dropped.
    ///
    /// Files whose path is not a valid ``VirtualPath`` are ignored. Used once at node start.
    public func scan() async throws -> ScanReport {
        try await namespace.withLock {
            var state = ScanState(indexed: ledger.withLock { $0.entries })
            try await walk(directory.root, prefix: nil, into: &state)
            let removed = state.indexed.keys.filter { state.found[$0] == nil }
            try await mapErrors("update index", index.location) {
                try await index.apply(changed: state.changed, removed: removed)
            }
            let found = state.found
            ledger.withLock { ledger in
                ledger.entries = found
                ledger.committed = found.values.reduce(0) { $0 + $1.size }
            }
            return ScanReport(
                blobs: found.values.map(\.blob).sorted { $0.path < $1.path },
                trusted: state.trusted, rehashed: state.rehashed, quarantined: state.quarantined.count,
                dropped: removed.count - state.quarantined.count)
        }
    }

    /// One folder: its entries and their `lstat` in one blocking job
    /// (``DataDirectory/statEntries(of:)``), then sub-folders in turn. A file whose `stat`
    /// matches the index costs nothing more.
    private func walk(_ folder: FilePath, prefix: String?, into state: inout ScanState) async throws {
        for item in try await directory.statEntries(of: folder) {
            let name = item.name
            guard let relative = prefix.map({ $0 + "/" + name }) ?? (name == ".fsdfs" ? nil : name),
                  let path = try? VirtualPath(relative) else { continue }
            switch item.kind {
            case .directory: try await walk(folder.appending(name), prefix: relative, into: &state)
            case .regular: try await examine(path, status: item, into: &state)
            case .other: continue
            }
        }
    }

    private func examine(_ path: VirtualPath, status: DataDirectory.EntryStatus, into state: inout ScanState) async throws {
        let old = state.indexed[path]
        if let old, old.matches(size: status.size, mtimeNanoseconds: status.mtimeNanoseconds, inode: status.inode) {
            state.found[path] = old
            state.trusted += 1
            return
        }
        // Unreadable or vanished meanwhile: left out (an index entry for it is dropped).
        guard let digest = try? await directory.digest(of: directory.location(of: path)) else { return }
        if let old, digest.sha256 != old.sha256 {
            try await directory.moveToQuarantine(path)
            state.quarantined.insert(path)
            return
        }
        let entry = IndexEntry(
            path: path, fileID: old?.fileID, size: digest.size, sha256: digest.sha256,
            mtimeNanoseconds: digest.info.mtimeNanoseconds, inode: digest.info.inode,
            version: old?.version, created: old?.created)
        state.found[path] = entry
        state.changed.append(entry)
        state.rehashed += 1
    }
}
