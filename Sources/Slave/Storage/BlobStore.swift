import Foundation
import ReplicaCore
import Transport
import Synchronization
import _NIOFileSystem

/// The storage node's blob store: plain files under `<data>/<virtual path>`, readable with
/// fsdfs stopped, plus node metadata under `<data>/.fsdfs/` (`tmp/` for partial writes,
/// `quarantine/` for corrupt files, `index.sqlite` for the checksum index).
///
/// Nothing partial is ever visible: a ``BlobWrite`` fills a temp file in `.fsdfs/tmp`, which
/// is fsync'ed, SHA-256 verified and renamed into place. Quota accounting counts verified
/// blobs plus the sizes reserved by writes in progress, atomically, so concurrent writers
/// can never overcommit. Symbolic links inside the data directory are never followed.
public final class BlobStore: Sendable {
    /// What the store holds in memory, mirroring the index.
    struct Ledger {
        var entries: [VirtualPath: IndexEntry] = [:]
        /// Sum of the sizes in `entries`.
        var committed: Int64 = 0
        /// Sum of the sizes reserved by writes in progress.
        var reserved: Int64 = 0
    }

    /// Bytes this node may hold.
    public let quota: Int64
    let directory: DataDirectory
    let index: BlobIndex
    let ledger: Mutex<Ledger>
    /// Held around every change of the namespace (commit, remove, quarantine, adopt, scan).
    let namespace = AsyncLock()
    /// Held by an audit (``audit(deep:after:limit:)``, ``unindexedFiles()``): one at a time.
    let audits = AsyncLock()

    /// The data directory, absolute.
    public var dataPath: String { directory.root.string }

    /// Opens (creating `.fsdfs/tmp` and the index if missing) the store on `data` with `quota`
    /// bytes. Leftover temp files from a crash are deleted. Synchronous: call it before the
    /// server starts. The inventory is the index's until ``scan()`` checks it against the disk.
    public init(data: String, quota: Int64) throws {
        let absolute = data.hasPrefix("/") ? data : FileManager.default.currentDirectoryPath + "/" + data
        let directory = DataDirectory(root: FilePath(absolute).lexicallyNormalized())
        self.directory = directory
        self.quota = quota
        let manager = FileManager.default
        let temporary = directory.temporary.string
        do {
            try manager.createDirectory(atPath: temporary, withIntermediateDirectories: true)
            for name in try manager.contentsOfDirectory(atPath: temporary) {
                try manager.removeItem(atPath: temporary + "/" + name)
            }
        } catch {
            throw BlobStoreError.wrap(error, operation: "clean temporary files", path: temporary)
        }
        do {
            index = try BlobIndex(path: directory.indexFile.string)
            var ledger = Ledger()
            for entry in try index.loadAll() {
                ledger.entries[entry.path] = entry
                ledger.committed += entry.size
            }
            self.ledger = Mutex(ledger)
        } catch {
            throw BlobStoreError.wrap(error, operation: "open index", path: directory.indexFile.string)
        }
    }

    /// Bytes of verified blobs plus bytes reserved by writes in progress.
    public func used() async -> Int64 {
        ledger.withLock { $0.committed + $0.reserved }
    }

    /// Every blob held, ordered by path.
    public func inventory() async -> [StoredBlob] {
        ledger.withLock { $0.entries.values.map(\.blob) }.sorted { $0.path < $1.path }
    }

    /// One page of the inventory, in the byte order of the paths, for sending a whole
    /// inventory in batches: up to `limit` blobs after the cursor `after` (nil for the first
    /// page), and the cursor of the next page (nil after the last). Reads the index a page at a
    /// time, so the whole inventory is never copied at once.
    public func inventoryPage(after: String?, limit: Int) async throws -> (blobs: [StoredBlob], next: String?) {
        let page = try await mapErrors("read index", index.location) { try await index.paths(after: after, limit: limit) }
        let blobs = ledger.withLock { ledger in page.paths.compactMap { ledger.entries[$0]?.blob } }
        return (blobs, page.last)
    }

    /// The blob at `path`, if held.
    public func blob(at path: VirtualPath) async -> StoredBlob? {
        ledger.withLock { $0.entries[path]?.blob }
    }

    /// Starts writing a new blob: checks the path against the disk (``BlobStoreError/pathConflict(_:)``),
    /// checks the quota (used + size ≤ quota; the bytes of an existing blob at the same path do
    /// not count as free, since the old version stays until the rename), reserves `size` bytes and
    /// creates the temp file. Throws ``BlobStoreError/overQuota(needed:free:)`` without creating anything.
    /// - Parameter expectedSHA256: hex digest the content must have (any case), or `nil` to skip the check.
    public func beginWrite(
        path: VirtualPath, fileID: FileID?, size: Int64, expectedSHA256: String?, replacing: BlobReplacement = .any,
        cancelled: (@Sendable () -> Bool)? = nil
    ) async throws -> BlobWrite {
        guard size >= 0 else { throw BlobStoreError.sizeMismatch(expected: size, received: 0) }
        _ = try await directory.placement(of: path)
        try reserve(size)
        let temporary = directory.temporary.appending("\(UUID().uuidString.lowercased()).part")
        let fileSystem = directory.fileSystem
        do {
            let handle = try await mapErrors("create", temporary.string) {
                let options = OpenOptions.Write(
                    existingFile: .none,
                    newFile: .init(permissions: DataDirectory.fileMode, transactionalCreation: false),
                    followSymbolicLinks: false)
                let handle = try await fileSystem.openFile(forWritingAt: temporary, options: options)
                do {
                    // Exactly 0644 whatever the umask.
                    try await handle.replacePermissions(DataDirectory.fileMode)
                } catch {
                    try? await handle.close()
                    _ = try? await fileSystem.removeItem(at: temporary, strategy: .sequential, recursively: false)
                    throw error
                }
                return handle
            }
            return BlobWrite(
                store: self, path: path, fileID: fileID, size: size,
                expectedSHA256: expectedSHA256?.lowercased(), replacing: replacing, cancelled: cancelled,
                temporary: temporary, handle: handle)
        } catch {
            release(size)
            throw error
        }
    }

    /// Removes the blob at `path` only if its recorded fileID equals `fileID` (another version
    /// may have replaced it), then prunes the directories left empty up to the data root.
    /// - Returns: whether it removed anything.
    /// With `inode`, only the blob with that inode (one this node just stored); with `sha256`,
    /// only the blob with that checksum (the exact version the master means).
    public func remove(path: VirtualPath, fileID: FileID?, sha256: String? = nil, inode: UInt64? = nil) async throws -> Bool {
        try await namespace.withLock {
            guard let entry = ledger.withLock({ $0.entries[path] }), entry.fileID == fileID,
                  inode.map({ $0 == entry.inode }) ?? true, sha256.map({ $0 == entry.sha256 }) ?? true
            else { return false }
            let placement = try await directory.placement(of: path)
            if placement.existing != nil {
                let file = directory.location(of: path)
                try await mapErrors("remove", file.string) {
                    try await directory.fileSystem.removeItem(at: file, strategy: .sequential, recursively: false)
                }
            }
            forget(entry)
            await directory.pruneParents(of: path)
            try await mapErrors("update index", index.location) { try await index.delete(path) }
            return true
        }
    }

    /// Records which catalog version the blob at `path` is (a blob ``scan()`` found with fileID
    /// `nil` that the master recognised, a stored upload or copy), with the version's number and
    /// creation time when known. With `expecting`, only if the blob still has that checksum.
    public func adopt(
        path: VirtualPath, fileID: FileID, version: Int64? = nil, created: Date? = nil, expecting sha256: String? = nil
    ) async throws {
        try await namespace.withLock {
            guard var entry = ledger.withLock({ $0.entries[path] }) else { throw BlobStoreError.notFound(path) }
            if let sha256, entry.sha256 != sha256 { throw BlobStoreError.notFound(path) }
            entry.fileID = fileID
            if let version { entry.version = version }
            if let created { entry.created = created }
            try await mapErrors("update index", index.location) { try await index.upsert(entry) }
            ledger.withLock { $0.entries[path] = entry }
        }
    }

    /// ``adopt(path:fileID:version:created:expecting:)`` for many blobs at once (the adoptions
    /// a batch of the inventory brought back), written to the index in one transaction.
    /// Returns the paths not recorded: no longer held, or no longer with the checksum expected.
    public func adopt(_ files: [AdoptedFile]) async throws -> [VirtualPath] {
        guard !files.isEmpty else { return [] }
        return try await namespace.withLock {
            var entries: [IndexEntry] = []
            var skipped: [VirtualPath] = []
            ledger.withLock { ledger in
                for file in files {
                    guard var entry = ledger.entries[file.path], file.sha256.map({ $0 == entry.sha256 }) ?? true else {
                        skipped.append(file.path)
                        continue
                    }
                    entry.fileID = file.fileID
                    if let version = file.version { entry.version = version }
                    if let created = file.created { entry.created = created }
                    entries.append(entry)
                }
            }
            try await mapErrors("update index", index.location) { try await index.upsert(all: entries) }
            ledger.withLock { ledger in
                for entry in entries { ledger.entries[entry.path] = entry }
            }
            return skipped
        }
    }

    // MARK: Ledger

    /// Reserves `size` bytes for a write, or throws ``BlobStoreError/overQuota(needed:free:)``.
    func reserve(_ size: Int64) throws(BlobStoreError) {
        try ledger.withLock { (ledger: inout Ledger) throws(BlobStoreError) in
            let free = max(0, quota - ledger.committed - ledger.reserved)
            guard size <= free else { throw .overQuota(needed: size, free: free) }
            ledger.reserved += size
        }
    }

    /// Gives back a reservation made by ``reserve(_:)``.
    func release(_ size: Int64) {
        ledger.withLock { $0.reserved -= size }
    }

    /// Drops `entry` from memory (not from the index).
    func forget(_ entry: IndexEntry) {
        ledger.withLock { ledger in
            if let removed = ledger.entries.removeValue(forKey: entry.path) { ledger.committed -= removed.size }
        }
    }
}
