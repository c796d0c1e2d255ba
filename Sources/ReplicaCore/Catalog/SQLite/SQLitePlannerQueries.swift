import GRDB

/// ``PlannerQueries`` over one SQLite read transaction. Each query is a range of an index:
/// `files_schedule` for the scheduling order, `replicas_by_node` for a node's highest-kn files,
/// and the replicas primary key for a file's holders.
struct SQLitePlannerQueries: PlannerQueries {
    let db: Database

    static let filesFromStart = """
        SELECT id, size, n, k FROM files INDEXED BY files_schedule
        WHERE deleted = 0 ORDER BY kn, k, size, id LIMIT ?
        """
    static let filesAfter = """
        SELECT id, size, n, k FROM files INDEXED BY files_schedule
        WHERE deleted = 0 AND (kn, k, size, id) > (?, ?, ?, ?)
        ORDER BY kn, k, size, id LIMIT ?
        """
    /// `files_schedule` holds kn, k, size and id, and n is k − kn: the filter and the result
    /// come from the index alone, without reading a table row.
    static let boundedFromStart = """
        SELECT id, size, k - kn, k FROM files INDEXED BY files_schedule
        WHERE deleted = 0 AND k < ? AND (size <= ? OR kn <= ?)
        ORDER BY kn, k, size, id LIMIT ?
        """
    static let boundedAfter = """
        SELECT id, size, k - kn, k FROM files INDEXED BY files_schedule
        WHERE deleted = 0 AND (kn, k, size, id) > (?, ?, ?, ?) AND k < ? AND (size <= ? OR kn <= ?)
        ORDER BY kn, k, size, id LIMIT ?
        """
    static let smallestSQL = "SELECT min(size) FROM files WHERE deleted = 0"
    /// The per-node and total counts the triggers keep: a row per node, no file read.
    static let holdingEverySQL = "SELECT id FROM nodes WHERE files > 0 AND files = (SELECT files FROM totals)"

    static let highestKnFromTop = """
        SELECT r.file, r.size, f.n, f.k FROM replicas r INDEXED BY replicas_by_node
        JOIN files f ON f.id = r.file
        WHERE r.node = ? AND r.state = 0 AND r.moved_from IS NULL
        ORDER BY r.kn DESC, r.size DESC, r.file DESC LIMIT ?
        """
    static let highestKnAfter = """
        SELECT r.file, r.size, f.n, f.k FROM replicas r INDEXED BY replicas_by_node
        JOIN files f ON f.id = r.file
        WHERE r.node = ? AND r.state = 0 AND r.moved_from IS NULL AND (r.kn, r.size, r.file) < (?, ?, ?)
        ORDER BY r.kn DESC, r.size DESC, r.file DESC LIMIT ?
        """

    static let lowestKnFromBottom = """
        SELECT r.file, r.size, f.n, f.k FROM replicas r INDEXED BY replicas_by_node
        JOIN files f ON f.id = r.file
        WHERE r.node = ? AND r.state = 0
        ORDER BY r.kn, r.size, r.file LIMIT ?
        """
    static let lowestKnAfter = """
        SELECT r.file, r.size, f.n, f.k FROM replicas r INDEXED BY replicas_by_node
        JOIN files f ON f.id = r.file
        WHERE r.node = ? AND r.state = 0 AND (r.kn, r.size, r.file) > (?, ?, ?)
        ORDER BY r.kn, r.size, r.file LIMIT ?
        """

    func files(after cursor: FileState?, limit: Int) throws -> [FileState] {
        let rows: [Row]
        if let cursor {
            rows = try Row.fetchAll(
                db.cachedStatement(sql: Self.filesAfter),
                arguments: [cursor.kn, cursor.k, cursor.size, cursor.id.rawValue, limit])
        } else {
            rows = try Row.fetchAll(
                db.cachedStatement(sql: Self.filesFromStart),
                arguments: [limit])
        }
        return rows.map { FileState(id: FileID($0[0]), size: $0[1], n: $0[2], k: $0[3]) }
    }

    func files(after cursor: FileState?, limit: Int, within bounds: CandidateBounds) throws -> [FileState] {
        // Every file on every alive node (the counts by K say so at once): nothing to read.
        let belowK = try Int.fetchOne(
            db.cachedStatement(sql: "SELECT coalesce(sum(files), 0) FROM replication_counts WHERE k < ?"), arguments: [bounds.kBelow])
        if belowK == 0 { return [] }
        // Too little room for the smallest file, and no eviction for the lowest kn: the same.
        let smallest = try Int64.fetchOne(db.cachedStatement(sql: Self.smallestSQL))
        let lowestKn = try Int.fetchOne(db.cachedStatement(sql: SQLiteCatalog.minKnSQL))
        if !bounds.mayAdmitAny(smallestSize: smallest, lowestKn: lowestKn) { return [] }
        // No eviction: a kn no file has.
        let evictable = bounds.evictionUpToKn ?? Int(Int32.min)
        let filter: [any DatabaseValueConvertible] = [bounds.kBelow, bounds.roomFor, evictable, limit]
        let rows: [Row]
        if let cursor {
            rows = try Row.fetchAll(
                db.cachedStatement(sql: Self.boundedAfter),
                arguments: StatementArguments([cursor.kn, cursor.k, cursor.size, cursor.id.rawValue] + filter))
        } else {
            rows = try Row.fetchAll(db.cachedStatement(sql: Self.boundedFromStart), arguments: StatementArguments(filter))
        }
        return rows.map { FileState(id: FileID($0[0]), size: $0[1], n: $0[2], k: $0[3]) }
    }

    func nodesHoldingEveryFile() throws -> Set<NodeID> {
        // Live replicas are of files not deleted only (a tombstone's are pending deletion), so
        // a node with as many as there are files holds each of them.
        let ids: [String] = try String.fetchAll(db.cachedStatement(sql: Self.holdingEverySQL))
        return Set(ids.map { NodeID($0) })
    }

    func replicas(of file: FileID) throws -> [ReplicaRecord] {
        try SQLiteCatalog.replicas(db, of: file)
    }

    func highestKnFiles(on node: NodeID, after cursor: FileState?, limit: Int) throws -> [FileState] {
        guard let seq = try SQLiteCatalog.nodeSeq(db, node) else { return [] }
        let rows: [Row]
        if let cursor {
            rows = try Row.fetchAll(
                db.cachedStatement(sql: Self.highestKnAfter),
                arguments: [seq, cursor.kn, cursor.size, cursor.id.rawValue, limit])
        } else {
            rows = try Row.fetchAll(
                db.cachedStatement(sql: Self.highestKnFromTop),
                arguments: [seq, limit])
        }
        return rows.map { FileState(id: FileID($0[0]), size: $0[1], n: $0[2], k: $0[3]) }
    }

    func lowestKnFiles(on node: NodeID, after cursor: FileState?, limit: Int) throws -> [FileState] {
        guard let seq = try SQLiteCatalog.nodeSeq(db, node) else { return [] }
        let rows: [Row]
        if let cursor {
            rows = try Row.fetchAll(
                db.cachedStatement(sql: Self.lowestKnAfter),
                arguments: [seq, cursor.kn, cursor.size, cursor.id.rawValue, limit])
        } else {
            rows = try Row.fetchAll(db.cachedStatement(sql: Self.lowestKnFromBottom), arguments: [seq, limit])
        }
        return rows.map { FileState(id: FileID($0[0]), size: $0[1], n: $0[2], k: $0[3]) }
    }

    func records(of files: [FileID]) throws -> [FileRecord] {
        guard !files.isEmpty else { return [] }
        let marks = Array(repeating: "?", count: files.count).joined(separator: ", ")
        return try Row.fetchAll(
            db, sql: "SELECT * FROM files WHERE id IN (\(marks))",
            arguments: StatementArguments(files.map(\.rawValue))
        ).map(SQLiteCatalog.fileRecord)
    }
}
