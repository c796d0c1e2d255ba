import Foundation
import GRDB
import ReplicaCore

/// One row of the checksum index: what fsdfs last verified about a file.
struct IndexEntry: Sendable, Equatable {
    var path: VirtualPath
    var fileID: FileID?
    var size: Int64
    var sha256: String
    /// Modification time in nanoseconds since 1970, exactly as `stat` reported it.
    var mtimeNanoseconds: Int64
    var inode: UInt64
    /// The catalog's version number and creation time of `fileID`, as the master gave them:
    /// what a catalog rebuilt from the nodes (`serve --recover`) tells versions apart by.
    var version: Int64? = nil
    var created: Date? = nil

    var blob: StoredBlob {
        StoredBlob(
            path: path, fileID: fileID, size: size, sha256: sha256,
            modified: Date(timeIntervalSince1970: Double(mtimeNanoseconds) / 1_000_000_000),
            inode: inode, version: version, created: created)
    }

    /// Whether `stat` still reports what was indexed (so the content can be trusted unread).
    func matches(size: Int64, mtimeNanoseconds: Int64, inode: UInt64) -> Bool {
        self.size == size && self.mtimeNanoseconds == mtimeNanoseconds && self.inode == inode
    }
}

/// The node's checksum index, `<data>/.fsdfs/index.sqlite`: path → file id, size, sha256,
/// mtime, inode. GRDB runs statements on its own serial queue, so the async methods never
/// block Swift's cooperative pool; the synchronous ones are for ``BlobStore/init(data:quota:)``.
final class BlobIndex: Sendable {
    private let queue: DatabaseQueue
    let location: String

    /// Opens (creating if needed) the index at `path`. Synchronous.
    init(path: String) throws {
        location = path
        var configuration = Configuration()
        configuration.label = "fsdfs-blob-index"
        configuration.prepareDatabase { db in
            // A write-ahead log: an entry costs one fsync of the log when it commits, where a
            // rollback journal costs three (journal, database, journal's removal). As durable.
            try db.execute(sql: "PRAGMA journal_mode = WAL")
        }
        queue = try DatabaseQueue(path: path, configuration: configuration)
        try queue.write { db in
            try db.execute(sql: """
                CREATE TABLE IF NOT EXISTS blobs (
                    path TEXT PRIMARY KEY NOT NULL,
                    file_id INTEGER,
                    size INTEGER NOT NULL,
                    sha256 TEXT NOT NULL,
                    mtime_ns INTEGER NOT NULL,
                    inode INTEGER NOT NULL
                )
                """)
            // Added after the first release: indexes written before have no such columns.
            let columns = Set(try Row.fetchAll(db, sql: "PRAGMA table_info(blobs)").map { $0["name"] as String })
            if !columns.contains("version") { try db.execute(sql: "ALTER TABLE blobs ADD COLUMN version INTEGER") }
            if !columns.contains("created") { try db.execute(sql: "ALTER TABLE blobs ADD COLUMN created REAL") }
            // Versions an upload replaced, kept aside in `.fsdfs/kept` under `name`.
            try db.execute(sql: """
                CREATE TABLE IF NOT EXISTS kept (
                    name TEXT PRIMARY KEY NOT NULL,
                    path TEXT NOT NULL,
                    file_id INTEGER,
                    size INTEGER NOT NULL,
                    sha256 TEXT NOT NULL,
                    version INTEGER,
                    created REAL,
                    kept_at REAL NOT NULL
                )
                """)
        }
    }

    /// Inserts or replaces the entry for `entry.path` and records `previous` as kept aside
    /// under `name`, in one transaction.
    func upsert(_ entry: IndexEntry, keeping previous: IndexEntry, as name: String, at time: Date) async throws {
        try await queue.write { db in
            try Self.upsert(entry, in: db)
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO kept (name, path, file_id, size, sha256, version, created, kept_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [name, previous.path.rawValue, previous.fileID?.rawValue, previous.size, previous.sha256,
                            previous.version, previous.created?.timeIntervalSince1970, time.timeIntervalSince1970])
        }
    }

    /// The versions kept aside, by name.
    func keptEntries() async throws -> [(name: String, entry: IndexEntry, since: Date)] {
        try await queue.read { db in
            try Row.fetchAll(db, sql: "SELECT name, path, file_id, size, sha256, version, created, kept_at FROM kept ORDER BY kept_at")
                .compactMap { row in
                    guard let path = try? VirtualPath(row["path"] as String) else { return nil }
                    let fileID: Int64? = row["file_id"]
                    let created: Double? = row["created"]
                    let entry = IndexEntry(
                        path: path, fileID: fileID.map(FileID.init), size: row["size"], sha256: row["sha256"],
                        mtimeNanoseconds: 0, inode: 0, version: row["version"],
                        created: created.map(Date.init(timeIntervalSince1970:)))
                    return (row["name"], entry, Date(timeIntervalSince1970: row["kept_at"]))
                }
        }
    }

    /// Forgets a kept version (put back, dropped, or removed by the operator).
    func deleteKept(_ name: String) async throws {
        try await queue.write { db in try db.execute(sql: "DELETE FROM kept WHERE name = ?", arguments: [name]) }
    }

    /// Every valid entry. Synchronous; rows whose path is no longer a valid virtual path are skipped.
    func loadAll() throws -> [IndexEntry] {
        try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT path, file_id, size, sha256, mtime_ns, inode, version, created FROM blobs")
                .compactMap(Self.entry(from:))
        }
    }

    /// Up to `limit` paths indexed after `after` (from the first when nil), in the byte order
    /// of their UTF-8 text (the index's own order, and the catalogs'), with the last path read
    /// to go on from (nil at the end). Rows whose path is not a valid virtual path are skipped.
    func paths(after: String?, limit: Int) async throws -> (paths: [VirtualPath], last: String?) {
        try await queue.read { db in
            let rows = try String.fetchAll(
                db, sql: "SELECT path FROM blobs WHERE path > ? ORDER BY path LIMIT ?", arguments: [after ?? "", limit])
            return (rows.compactMap { try? VirtualPath($0) }, rows.count < limit ? nil : rows.last)
        }
    }

    /// Inserts or replaces the entry for `entry.path`.
    func upsert(_ entry: IndexEntry) async throws {
        try await queue.write { db in try Self.upsert(entry, in: db) }
    }

    /// Inserts or replaces every entry of `entries`, in one transaction.
    func upsert(all entries: [IndexEntry]) async throws {
        guard !entries.isEmpty else { return }
        try await queue.write { db in
            for entry in entries { try Self.upsert(entry, in: db) }
        }
    }

    /// Deletes the entry for `path`, if any.
    func delete(_ path: VirtualPath) async throws {
        try await queue.write { db in
            try db.cachedStatement(sql: "DELETE FROM blobs WHERE path = ?").execute(arguments: [path.rawValue])
        }
    }

    /// Puts back what was indexed before a failed change: `entry`, or no row for `path`.
    func restore(_ entry: IndexEntry?, at path: VirtualPath) async throws {
        if let entry {
            try await upsert(entry)
        } else {
            try await delete(path)
        }
    }

    /// Applies a scan's result in one transaction: upserts `changed`, deletes `removed`.
    func apply(changed: [IndexEntry], removed: [VirtualPath]) async throws {
        try await queue.write { db in
            for path in removed {
                try db.cachedStatement(sql: "DELETE FROM blobs WHERE path = ?").execute(arguments: [path.rawValue])
            }
            for entry in changed { try Self.upsert(entry, in: db) }
        }
    }

    /// Compiled once per connection (a batch upserts hundreds of rows).
    private static func upsert(_ entry: IndexEntry, in db: Database) throws {
        try db.cachedStatement(sql: """
            INSERT INTO blobs (path, file_id, size, sha256, mtime_ns, inode, version, created)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(path) DO UPDATE SET file_id = excluded.file_id, size = excluded.size,
                sha256 = excluded.sha256, mtime_ns = excluded.mtime_ns, inode = excluded.inode,
                version = excluded.version, created = excluded.created
            """
        ).execute(
            arguments: [entry.path.rawValue, entry.fileID?.rawValue, entry.size, entry.sha256,
                        entry.mtimeNanoseconds, Int64(bitPattern: entry.inode), entry.version,
                        entry.created?.timeIntervalSince1970])
    }

    private static func entry(from row: Row) -> IndexEntry? {
        guard let path = try? VirtualPath(row["path"] as String) else { return nil }
        let fileID: Int64? = row["file_id"]
        let inode: Int64 = row["inode"]
        let created: Double? = row["created"]
        return IndexEntry(
            path: path, fileID: fileID.map(FileID.init), size: row["size"], sha256: row["sha256"],
            mtimeNanoseconds: row["mtime_ns"], inode: UInt64(bitPattern: inode), version: row["version"],
            created: created.map(Date.init(timeIntervalSince1970:)))
    }
}
