import Foundation
import GRDB

/// The embedded catalog: one SQLite file in WAL mode, through GRDB.
///
/// GRDB runs every statement on its own serial dispatch queues (one writer, a pool of
/// readers), so awaiting a catalog call never blocks Swift's cooperative thread pool.
public final class SQLiteCatalog: Catalog {
    let writer: any DatabaseWriter

    /// Opens (creating if needed) the catalog file at `path`.
    public init(path: String) throws {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.label = "fsdfs-catalog"
        configuration.prepareDatabase { db in
            // Durable enough for a catalog that nodes can rebuild by reporting; WAL keeps
            // readers (status, planner) from blocking the writer.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // 24 MiB of page cache per connection (SQLite's default is 2 MiB): the hot index
            // ranges stay in memory, the rest of a catalog of millions of files is read from
            // the kernel's cache, which no process's RSS pays for.
            try db.execute(sql: "PRAGMA cache_size = -24576")
        }
        // The writer and three readers (status, where, the planner, the dashboard at once):
        // at most 96 MiB of page cache in all, so that the master stays small at 1M files.
        configuration.maximumReaderCount = 3
        // releaseMemory() empties the readers' caches (pages, schema, statements) but keeps the
        // connections open, as the writer's: the reads after it do not open new ones.
        configuration.persistentReadOnlyConnections = true
        writer = try DatabasePool(path: path, configuration: configuration)
        try Self.migrate(writer)
    }

    /// Empties every connection's page cache (filled to 96 MiB by work on a whole node's
    /// files, a recovery or an inventory of a million); the master's steady work (status,
    /// where, a planning pass) needs a fraction of it.
    public func releaseMemory() async {
        guard let pool = writer as? DatabasePool else { return }
        // Queued on GRDB's own queues, not run here; the write after it on the writer's
        // serial queue returns once the writer's cache is empty.
        pool.releaseMemoryEventually()
        try? await pool.write { _ in }
    }

    /// A private in-memory catalog, for simulations and tests that want speed over a file.
    public init() throws {
        writer = try DatabaseQueue(configuration: Configuration())
        try Self.migrate(writer)
    }

    private static func migrate(_ writer: any DatabaseWriter) throws {
        let found = try writer.read { db in try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0 }
        if found > schemaVersion {
            throw CatalogError.schemaTooNew(found: found, supported: schemaVersion)
        }
        try migrator.migrate(writer)
        try writer.write { db in try db.execute(sql: "PRAGMA user_version = \(schemaVersion)") }
    }

    // MARK: Swarm

    public func swarmID() async throws -> SwarmID {
        try await writer.read { db in
            guard let value = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'swarm'") else {
                throw CatalogError.corrupt("the catalog has no swarm id")
            }
            return SwarmID(value)
        }
    }

    public func setSwarmID(_ id: SwarmID) async throws {
        try await writer.write { db in
            let files = try Int.fetchOne(db, sql: "SELECT count(*) FROM files") ?? 0
            let nodes = try Int.fetchOne(db, sql: "SELECT count(*) FROM nodes") ?? 0
            guard files == 0, nodes == 0 else { throw CatalogError.notEmpty(files: files, nodes: nodes) }
            try db.execute(sql: "UPDATE meta SET value = ? WHERE key = 'swarm'", arguments: [id.rawValue])
        }
    }

    public func isRecovering() async throws -> Bool {
        try await writer.read { db in try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'recovering'") == "1" }
    }

    public func setRecovering(_ recovering: Bool) async throws {
        try await writer.write { db in
            if recovering {
                try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES ('recovering', '1')")
            } else {
                try db.execute(sql: "DELETE FROM meta WHERE key = 'recovering'")
            }
        }
    }

    // MARK: Nodes

    public func registerNode(_ node: NodeRecord) async throws {
        try await writer.write { db in
            try db.execute(
                sql: """
                    INSERT INTO nodes (id, address, quota, load, last_report, alive)
                    VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT(id) DO UPDATE SET address = excluded.address, quota = excluded.quota,
                        load = excluded.load, last_report = excluded.last_report, alive = excluded.alive
                    """,
                arguments: [node.id.rawValue, node.address, node.quota, node.load,
                            node.lastReport.timeIntervalSince1970, node.alive])
        }
    }

    public func recordReport(node: NodeID, quota: Int64, load: Double, at time: Date) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE nodes SET quota = ?, load = ?, last_report = ? WHERE id = ?",
                arguments: [quota, load, time.timeIntervalSince1970, node.rawValue])
            if db.changesCount == 0 { throw CatalogError.unknownNode(node) }
        }
    }

    public func setNodeAlive(_ node: NodeID, alive: Bool) async throws {
        try await writer.write { db in
            // One statement; the node_liveness_changed trigger recomputes K of its files.
            try db.execute(sql: "UPDATE nodes SET alive = ? WHERE id = ?", arguments: [alive, node.rawValue])
            if db.changesCount == 0 { throw CatalogError.unknownNode(node) }
        }
    }

    public func removeNode(_ node: NodeID) async throws {
        try await writer.write { db in
            // Deleting the replicas first lets the per-row triggers adjust K; then the node.
            try db.execute(
                sql: "DELETE FROM replicas WHERE node = (SELECT seq FROM nodes WHERE id = ?)",
                arguments: [node.rawValue])
            try db.execute(sql: "DELETE FROM nodes WHERE id = ?", arguments: [node.rawValue])
        }
    }

    public func node(_ id: NodeID) async throws -> NodeRecord? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM nodes WHERE id = ?", arguments: [id.rawValue])
                .map(Self.nodeRecord)
        }
    }

    public func nodes() async throws -> [NodeRecord] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM nodes ORDER BY id").map(Self.nodeRecord)
        }
    }

    // MARK: Node states

    public func setDraining(_ node: NodeID, _ draining: Bool) async throws {
        try await writer.write { db in
            try db.execute(sql: "UPDATE nodes SET draining = ? WHERE id = ?", arguments: [draining, node.rawValue])
            if db.changesCount == 0 { throw CatalogError.unknownNode(node) }
        }
    }

    public func setMaintenance(_ node: NodeID, until: Date?) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE nodes SET maintenance_until = ? WHERE id = ?",
                arguments: [until?.timeIntervalSince1970, node.rawValue])
            if db.changesCount == 0 { throw CatalogError.unknownNode(node) }
        }
    }

    // MARK: Files

    public func file(upload: String) async throws -> FileRecord? {
        try await writer.read { db in
            try Self.fetchFile(db, sql: "SELECT * FROM files WHERE upload = ?", [upload])
        }
    }

    public func reserveFileIDs(through id: FileID) async throws {
        try await writer.write { db in
            // AUTOINCREMENT takes max(seq, largest rowid) + 1, and sqlite_sequence is a table
            // SQLite lets us write: raising seq is all it takes.
            try db.execute(
                sql: "UPDATE sqlite_sequence SET seq = ? WHERE name = 'files' AND seq < ?", arguments: [id.rawValue, id.rawValue])
            try db.execute(
                sql: """
                    INSERT INTO sqlite_sequence (name, seq) SELECT 'files', ?
                    WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'files')
                    """,
                arguments: [id.rawValue])
        }
    }

    public func putFile(_ file: NewFile) async throws -> FileRecord {
        guard file.n >= 1 else { throw CatalogError.invalidReplicaCount(file.n) }
        return try await writer.write { db in
            // A node asking again about an upload already recorded: its version, not a second one.
            if let upload = file.upload, let known = try Self.fetchFile(db, sql: "SELECT * FROM files WHERE upload = ?", [upload]) {
                return known
            }
            let path = file.path.rawValue
            let previous = try Int64.fetchOne(
                db.cachedStatement(sql: "SELECT max(version) FROM files WHERE path = ?"), arguments: [path]) ?? 0
            try Self.tombstone(db, path: path)
            try db.cachedStatement(sql: """
                INSERT INTO files (path, size, sha256, n, k, version, created, deleted, upload)
                VALUES (?, ?, ?, ?, 0, ?, ?, 0, ?)
                """
            ).execute(arguments: [path, file.size, file.sha256, file.n, max(previous + 1, file.version ?? 0),
                                  file.created.timeIntervalSince1970, file.upload])
            let id = db.lastInsertedRowID
            return try Self.fetchFile(db, sql: "SELECT * FROM files WHERE id = ?", [id])!
        }
    }

    public func putFiles(_ files: [NewFile], holder: NodeID) async throws -> [FileRecord] {
        if let bad = files.first(where: { $0.n < 1 }) { throw CatalogError.invalidReplicaCount(bad.n) }
        guard !files.isEmpty else { return [] }
        return try await writer.write { db in
            guard let seq = try Self.nodeSeq(db, holder) else { throw CatalogError.unknownNode(holder) }
            let known = try db.cachedStatement(sql: "SELECT id FROM files WHERE upload = ?")
            let version = try db.cachedStatement(sql: "SELECT max(version) FROM files WHERE path = ?")
            let insertFile = try db.cachedStatement(sql: """
                INSERT INTO files (path, size, sha256, n, k, version, created, deleted, upload) VALUES (?, ?, ?, ?, 0, ?, ?, 0, ?)
                """)
            // As setReplica: a deleted version's replica can only be pending deletion.
            let insertReplica = try db.cachedStatement(sql: """
                INSERT INTO replicas (file, node, state, size, kn)
                SELECT id, ?, CASE WHEN deleted THEN 2 ELSE ? END, size, kn FROM files WHERE id = ?
                ON CONFLICT(file, node) DO UPDATE SET state = excluded.state
                """)
            var ids: [Int64] = []
            for file in files {
                let id: Int64
                if let upload = file.upload, let recorded = try Int64.fetchOne(known, arguments: [upload]) {
                    // Asked again (the reply was lost): the version recorded then.
                    id = recorded
                } else {
                    let path = file.path.rawValue
                    let previous = try Int64.fetchOne(version, arguments: [path]) ?? 0
                    if previous > 0 { try Self.tombstone(db, path: path) }
                    try insertFile.execute(arguments: [
                        path, file.size, file.sha256, file.n, max(previous + 1, file.version ?? 0), file.created.timeIntervalSince1970,
                        file.upload,
                    ])
                    id = db.lastInsertedRowID
                }
                try insertReplica.execute(arguments: [seq, ReplicaState.live.storedCode, id])
                ids.append(id)
            }
            return try ids.map { try Self.fetchFile(db, sql: "SELECT * FROM files WHERE id = ?", [$0])! }
        }
    }

    public func importFiles(_ files: [ImportedFile]) async throws {
        if let bad = files.first(where: { $0.file.n < 1 }) { throw CatalogError.invalidReplicaCount(bad.file.n) }
        try await writer.write { db in
            var seqs: [NodeID: Int64] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT seq, id FROM nodes") { seqs[NodeID(row["id"])] = row["seq"] }
            let version = try db.cachedStatement(sql: "SELECT max(version) FROM files WHERE path = ?")
            let insertFile = try db.cachedStatement(sql: """
                INSERT INTO files (path, size, sha256, n, k, version, created, deleted) VALUES (?, ?, ?, ?, 0, ?, ?, 0)
                """)
            let insertReplica = try db.cachedStatement(sql: """
                INSERT INTO replicas (file, node, state, size, kn)
                SELECT id, ?, 0, size, kn FROM files WHERE id = ?
                ON CONFLICT(file, node) DO NOTHING
                """)
            for imported in files {
                let file = imported.file
                let path = file.path.rawValue
                let previous = try Int64.fetchOne(version, arguments: [path]) ?? 0
                if previous > 0 { try Self.tombstone(db, path: path) }
                try insertFile.execute(arguments: [
                    path, file.size, file.sha256, file.n, max(previous + 1, file.version ?? 0), file.created.timeIntervalSince1970,
                ])
                let id = db.lastInsertedRowID
                for holder in imported.holders {
                    guard let seq = seqs[holder] else { throw CatalogError.unknownNode(holder) }
                    // The replica_added trigger counts it and syncs replicas.kn.
                    try insertReplica.execute(arguments: [seq, id])
                }
            }
        }
    }

    public func file(at path: VirtualPath) async throws -> FileRecord? {
        try await writer.read { db in
            try Self.fetchFile(db, sql: "SELECT * FROM files WHERE path = ? AND deleted = 0", [path.rawValue])
        }
    }

    public func file(id: FileID) async throws -> FileRecord? {
        try await writer.read { db in
            try Self.fetchFile(db, sql: "SELECT * FROM files WHERE id = ?", [id.rawValue])
        }
    }

    public func deleteFile(at path: VirtualPath) async throws -> FileRecord? {
        try await writer.write { db in
            guard let id = try Self.tombstone(db, path: path.rawValue) else { return nil }
            return try Self.fetchFile(db, sql: "SELECT * FROM files WHERE id = ?", [id])
        }
    }

    /// Tombstones the current version of `path`, if any: its replicas become evicting
    /// (pending deletion) in the same transaction, so K drops with it.
    @discardableResult
    static func tombstone(_ db: Database, path: String) throws -> Int64? {
        guard let id = try Int64.fetchOne(
            db.cachedStatement(sql: "SELECT id FROM files WHERE path = ? AND deleted = 0"), arguments: [path])
        else { return nil }
        // Cached: with the triggers they fire, these cost far more to compile than to run.
        try db.cachedStatement(sql: "UPDATE replicas SET state = 2 WHERE file = ?").execute(arguments: [id])
        try db.cachedStatement(sql: "UPDATE files SET deleted = 1 WHERE id = ?").execute(arguments: [id])
        return id
    }

    public func listFiles(prefix: String, after: VirtualPath?, limit: Int) async throws -> [FileRecord] {
        try await writer.read { db in
            // A range on the path index: [max(prefix, after), prefix + U+10FFFF).
            let lower = max(prefix, after?.rawValue ?? "")
            let strict = after.map { $0.rawValue >= prefix } ?? false
            return try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM files WHERE deleted = 0 AND path \(strict ? ">" : ">=") ? AND path < ?
                    ORDER BY path LIMIT ?
                    """,
                arguments: [lower, prefix + "\u{10FFFF}", limit]
            ).map(Self.fileRecord)
        }
    }

    public func setN(_ n: Int, for file: FileID) async throws {
        guard n >= 1 else { throw CatalogError.invalidReplicaCount(n) }
        try await writer.write { db in
            try db.execute(sql: "UPDATE files SET n = ? WHERE id = ?", arguments: [n, file.rawValue])
            if db.changesCount == 0 { throw CatalogError.unknownFile(file) }
        }
    }

    public func reevaluateN(_ policy: @Sendable (VirtualPath, Int64) -> Int) async throws -> Int {
        // Read in pages, then write only the changes in one transaction.
        var changes: [(Int64, Int)] = []
        var after: Int64 = 0
        while true {
            let page = try await writer.read { [after] db in
                try Row.fetchAll(
                    db, sql: "SELECT id, path, size, n FROM files WHERE deleted = 0 AND id > ? ORDER BY id LIMIT 5000",
                    arguments: [after]
                ).map { row in (row["id"] as Int64, row["path"] as String, row["size"] as Int64, row["n"] as Int) }
            }
            guard let last = page.last else { break }
            after = last.0
            for (id, path, size, n) in page {
                guard let virtual = try? VirtualPath(path) else { continue }
                let wanted = policy(virtual, size)
                if wanted >= 1, wanted != n { changes.append((id, wanted)) }
            }
        }
        let updates = changes
        try await writer.write { db in
            let statement = try db.cachedStatement(sql: "UPDATE files SET n = ? WHERE id = ?")
            for (id, n) in updates { try statement.execute(arguments: [n, id]) }
        }
        return updates.count
    }

    // MARK: Replicas

    public func setReplica(_ file: FileID, on node: NodeID, state: ReplicaState) async throws {
        try await writer.write { db in
            guard let seq = try Self.nodeSeq(db, node) else { throw CatalogError.unknownNode(node) }
            guard let row = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT size, kn, deleted FROM files WHERE id = ?"), arguments: [file.rawValue])
            else { throw CatalogError.unknownFile(file) }
            // A deleted file's replicas can only be pending deletion.
            let code = (row["deleted"] as Bool) ? 2 : state.storedCode
            try db.cachedStatement(sql: """
                INSERT INTO replicas (file, node, state, size, kn) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(file, node) DO UPDATE SET state = excluded.state
                """
            ).execute(arguments: [file.rawValue, seq, code, row["size"] as Int64, row["kn"] as Int])
        }
    }

    public func setReplicas(_ changes: [ReplicaRecord]) async throws -> Set<FileID> {
        guard !changes.isEmpty else { return [] }
        return try await writer.write { db in
            var seqs: [NodeID: Int64] = [:]
            for node in Set(changes.map(\.node)) {
                guard let seq = try Self.nodeSeq(db, node) else { throw CatalogError.unknownNode(node) }
                seqs[node] = seq
            }
            let read = try db.cachedStatement(sql: "SELECT size, kn, deleted FROM files WHERE id = ?")
            let write = try db.cachedStatement(sql: """
                INSERT INTO replicas (file, node, state, size, kn) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(file, node) DO UPDATE SET state = excluded.state
                """)
            var notCounting: Set<FileID> = []
            for change in changes {
                guard let row = try Row.fetchOne(read, arguments: [change.file.rawValue]) else {
                    notCounting.insert(change.file)
                    continue
                }
                // A deleted file's replicas can only be pending deletion.
                let deleted = row["deleted"] as Bool
                if deleted { notCounting.insert(change.file) }
                try write.execute(arguments: [
                    change.file.rawValue, seqs[change.node]!, deleted ? 2 : change.state.storedCode, row["size"] as Int64,
                    row["kn"] as Int,
                ])
            }
            return notCounting
        }
    }

    public func removeReplica(_ file: FileID, from node: NodeID) async throws {
        try await writer.write { db in
            try db.cachedStatement(
                sql: "DELETE FROM replicas WHERE file = ? AND node = (SELECT seq FROM nodes WHERE id = ?)"
            ).execute(arguments: [file.rawValue, node.rawValue])
        }
    }

    public func replicas(of file: FileID) async throws -> [ReplicaRecord] {
        try await writer.read { db in try Self.replicas(db, of: file) }
    }

    public func holdings(on node: NodeID) async throws -> [Holding] {
        try await writer.read { db in
            guard let seq = try Self.nodeSeq(db, node) else { return [] }
            return try Row.fetchAll(
                db,
                sql: "SELECT f.*, r.state AS replica_state, r.moved_from FROM replicas r JOIN files f ON f.id = r.file WHERE r.node = ?",
                arguments: [seq]
            ).map { row in try Self.holding(row, file: Self.fileRecord(row)) }
        }
    }

    public func pendingDeletions(on node: NodeID) async throws -> [FileRecord] {
        try await writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT f.*, r.moved_from FROM replicas r JOIN files f ON f.id = r.file
                    WHERE r.node = (SELECT seq FROM nodes WHERE id = ?) AND r.state = 2 AND f.deleted = 1
                    ORDER BY f.path
                    """,
                arguments: [node.rawValue]
            ).map { row in
                // Where the node holds it: a version renamed, then deleted before the node moved it.
                var file = try Self.fileRecord(row)
                if let from = row["moved_from"] as String? { file.path = try VirtualPath(from) }
                return file
            }
        }
    }

    public func purgeTombstones() async throws -> Int {
        try await writer.write { db in
            try db.execute(sql: """
                DELETE FROM files WHERE deleted = 1
                AND NOT EXISTS (SELECT 1 FROM replicas WHERE replicas.file = files.id)
                """)
            return db.changesCount
        }
    }

    // MARK: Figures

    public func totals() async throws -> CatalogTotals {
        try await writer.read { db in
            let row = try Row.fetchOne(db, sql: "SELECT files, bytes, under FROM totals WHERE id = 1")!
            // min() over an indexed column reads one end of the index.
            let minKn = try Int.fetchOne(db, sql: Self.minKnSQL)
            return CatalogTotals(
                files: row["files"], bytes: row["bytes"], underReplicated: row["under"], minKn: minKn)
        }
    }

    public func nodeFigures() async throws -> [NodeID: NodeFigures] {
        try await writer.read { db in
            var figures: [NodeID: NodeFigures] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT seq, id, used, files FROM nodes") {
                let seq: Int64 = row["seq"]
                let files: Int = row["files"]
                // One end of the node's range of `replicas_by_node`.
                let maxKn = try Int.fetchOne(
                    db, sql: "SELECT max(kn) FROM replicas WHERE node = ? AND state = 0", arguments: [seq])
                figures[NodeID(row["id"])] = NodeFigures(files: files, used: row["used"], maxKn: maxKn)
            }
            return figures
        }
    }

    public func replicationCounts() async throws -> [ReplicationCount] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: Self.replicationCountsSQL).map { row in
                let kn: Int = row["kn"], k: Int = row["k"]
                return ReplicationCount(k: k, n: k - kn, files: row["files"], bytes: row["bytes"])
            }
        }
    }

    public func underReplicated(limit: Int) async throws -> [FileRecord] {
        try await writer.read { db in
            try Row.fetchAll(
                db,
                sql: Self.underReplicatedSQL,
                arguments: [limit]
            ).map(Self.fileRecord)
        }
    }

    // MARK: Planning

    public func withPlannerView<T: Sendable>(
        _ body: @escaping @Sendable (any PlannerQueries) throws -> T
    ) async throws -> T {
        try await writer.read { db in try body(SQLitePlannerQueries(db: db)) }
    }
}

// MARK: - Queries

extension SQLiteCatalog {
    static let minKnSQL = "SELECT min(kn) FROM files WHERE deleted = 0"
    /// The counts the triggers keep (a row per (kn, K) value present).
    static let replicationCountsSQL = """
        SELECT kn, k, files, bytes FROM replication_counts WHERE files > 0 ORDER BY kn, k
        """
    static let underReplicatedSQL = "SELECT * FROM files WHERE deleted = 0 AND kn < 0 ORDER BY kn, k, size, id LIMIT ?"
    static let replicasSQL = """
        SELECT n.id AS node, r.state FROM replicas r JOIN nodes n ON n.seq = r.node
        WHERE r.file = ?
        """
    /// What the node_liveness_changed trigger runs, with the node as a parameter.
    static let livenessRecountSQL = """
        UPDATE files SET k = (
            SELECT count(*) FROM replicas r JOIN nodes n ON n.seq = r.node
            WHERE r.file = files.id AND r.state = 0 AND n.alive = 1
        )
        WHERE id IN (SELECT file FROM replicas WHERE node = ? AND state = 0)
        """

    /// SQLite's query plan for each query the planner and the status figures depend on, for
    /// tests that check none of them scans a whole table.
    func queryPlans() async throws -> [String: String] {
        let queries: [String: String] = [
            "files from start": SQLitePlannerQueries.filesFromStart,
            "files after cursor": SQLitePlannerQueries.filesAfter,
            "bounded files from start": SQLitePlannerQueries.boundedFromStart,
            "bounded files after cursor": SQLitePlannerQueries.boundedAfter,
            "smallest file": SQLitePlannerQueries.smallestSQL,
            "highest kn on node": SQLitePlannerQueries.highestKnFromTop,
            "highest kn after cursor": SQLitePlannerQueries.highestKnAfter,
            "lowest kn on node": SQLitePlannerQueries.lowestKnFromBottom,
            "lowest kn after cursor": SQLitePlannerQueries.lowestKnAfter,
            "replicas of file": Self.replicasSQL,
            "min kn": Self.minKnSQL,
            "under-replicated": Self.underReplicatedSQL,
            "replication counts": Self.replicationCountsSQL,
            "node liveness recount": Self.livenessRecountSQL,
            "holdings in a path range": Self.holdingsInRangeSQL(after: true, through: true),
            "holdings after a path": Self.holdingsInRangeSQL(after: true, through: false),
        ]
        return try await writer.read { db in
            var plans: [String: String] = [:]
            for (name, sql) in queries {
                let rows = try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: StatementArguments(
                    Array(repeating: 0 as DatabaseValueConvertible?, count: sql.filter { $0 == "?" }.count)))
                plans[name] = rows.map { $0["detail"] as String }.joined(separator: "; ")
            }
            return plans
        }
    }
}

// MARK: - Row mapping

extension SQLiteCatalog {
    static func nodeSeq(_ db: Database, _ node: NodeID) throws -> Int64? {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT seq FROM nodes WHERE id = ?"), arguments: [node.rawValue])
    }

    static func nodeRecord(_ row: Row) -> NodeRecord {
        NodeRecord(
            id: NodeID(row["id"]), address: row["address"], quota: row["quota"], used: row["used"],
            load: row["load"], lastReport: Date(timeIntervalSince1970: row["last_report"]), alive: row["alive"],
            draining: row["draining"], maintenanceUntil: (row["maintenance_until"] as Double?).map(Date.init(timeIntervalSince1970:)))
    }

    static func fileRecord(_ row: Row) throws -> FileRecord {
        FileRecord(
            id: FileID(row["id"]), path: try VirtualPath(row["path"] as String), size: row["size"],
            sha256: row["sha256"], n: row["n"], k: row["k"], version: row["version"],
            created: Date(timeIntervalSince1970: row["created"]), deleted: row["deleted"])
    }

    static func fetchFile(_ db: Database, sql: String, _ arguments: StatementArguments) throws -> FileRecord? {
        // Every caller passes a constant query: compiled once per connection.
        try Row.fetchOne(db.cachedStatement(sql: sql), arguments: arguments).map(fileRecord)
    }

    static func replicas(_ db: Database, of file: FileID) throws -> [ReplicaRecord] {
        try Row.fetchAll(
            db.cachedStatement(sql: """
                SELECT n.id AS node, r.state FROM replicas r JOIN nodes n ON n.seq = r.node
                WHERE r.file = ? ORDER BY n.id
                """),
            arguments: [file.rawValue]
        ).map { row in ReplicaRecord(file: file, node: NodeID(row["node"]), state: ReplicaState(storedCode: row["state"])) }
            .sorted { $0.node < $1.node }
    }
}
