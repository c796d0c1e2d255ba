import Foundation
import GRDB

extension SQLiteCatalog {
    /// The node's replicas of the versions whose path is in a range: a range of the path
    /// index (`files_by_path_version`, tombstones included), then one primary-key probe of
    /// `replicas` per version. CROSS JOIN keeps that order: starting from the node's replicas
    /// would read all of them for every batch. The bounds are bound as text (byte order).
    /// Without either bound the range is every path: then the node's replicas are all there is
    /// to read.
    static func holdingsInRangeSQL(after: Bool, through: Bool) -> String {
        guard after || through else {
            return "SELECT f.*, r.state AS replica_state, r.moved_from FROM replicas r JOIN files f ON f.id = r.file WHERE r.node = ?"
        }
        return """
        SELECT f.*, r.state AS replica_state, r.moved_from FROM files f CROSS JOIN replicas r
        WHERE r.file = f.id AND r.node = ?\(after ? " AND f.path > ?" : "")\(through ? " AND f.path <= ?" : "")
        """
    }

    /// The holdings are read first: a version the node holds that is not deleted is the current
    /// version of its path (one per path, `files_current_path`), so a node that still holds
    /// what the catalog lists (a restart, a rejoin) costs one range read and no lookup per path.
    /// Only the paths no holding answers are looked up one by one.
    public func inventoryView(on node: NodeID, paths: [VirtualPath], range: PathRange) async throws -> InventoryView {
        try await writer.read { db in
            var current: [VirtualPath: FileRecord] = [:]
            var holdings: [FileID: Holding] = [:]
            var movingHoldings: [FileID: Holding] = [:]
            let asked = Set(paths)
            if let seq = try Self.nodeSeq(db, node) {
                var arguments: [any DatabaseValueConvertible] = [seq]
                if let after = range.after { arguments.append(after.rawValue) }
                if let through = range.through { arguments.append(through.rawValue) }
                let statement = try db.cachedStatement(sql: Self.holdingsInRangeSQL(after: range.after != nil, through: range.through != nil))
                let rows = try Row.fetchCursor(statement, arguments: StatementArguments(arguments))
                holdings.reserveCapacity(paths.count)
                while let row = try rows.next() {
                    let file = try Self.fileRecord(row)
                    let holding = try Self.holding(row, file: file)
                    holdings[file.id] = holding
                    if !file.deleted, asked.contains(file.path) { current[file.path] = file }
                }
                // Versions renamed since the node got them, that it holds under a path in the range.
                var bounds: [any DatabaseValueConvertible] = [seq]
                if let after = range.after { bounds.append(after.rawValue) }
                if let through = range.through { bounds.append(through.rawValue) }
                let moving = try Row.fetchCursor(
                    db.cachedStatement(sql: """
                        SELECT f.*, r.state AS replica_state, r.moved_from FROM replicas r JOIN files f ON f.id = r.file
                        WHERE r.node = ? AND r.moved_from IS NOT NULL\(range.after != nil ? " AND r.moved_from > ?" : "")\(range.through != nil ? " AND r.moved_from <= ?" : "")
                        """),
                    arguments: StatementArguments(bounds))
                while let row = try moving.next() {
                    let file = try Self.fileRecord(row)
                    movingHoldings[file.id] = try Self.holding(row, file: file)
                }
            }
            let byPath = try db.cachedStatement(sql: "SELECT * FROM files WHERE path = ? AND deleted = 0")
            for path in paths where current[path] == nil {
                if let row = try Row.fetchOne(byPath, arguments: [path.rawValue]) { current[path] = try Self.fileRecord(row) }
            }
            return InventoryView(current: current, holdings: holdings, moving: movingHoldings)
        }
    }

    /// A replica row of the holdings queries (`replica_state`, `moved_from`) of `file`.
    static func holding(_ row: Row, file: FileRecord) throws -> Holding {
        let from: String? = row["moved_from"]
        return Holding(file: file, state: ReplicaState(storedCode: row["replica_state"]), movedFrom: try from.map { try VirtualPath($0) })
    }

    public func currentVersions(of paths: [VirtualPath], on node: NodeID) async throws -> [VirtualPath: CurrentVersion] {
        guard !paths.isEmpty else { return [:] }
        return try await writer.read { db in
            let seq = try Self.nodeSeq(db, node)
            let byPath = try db.cachedStatement(sql: "SELECT * FROM files WHERE path = ? AND deleted = 0")
            let replica = try db.cachedStatement(sql: "SELECT state FROM replicas WHERE file = ? AND node = ?")
            var found: [VirtualPath: CurrentVersion] = [:]
            for path in paths {
                guard let row = try Row.fetchOne(byPath, arguments: [path.rawValue]) else { continue }
                let file = try Self.fileRecord(row)
                let state = try seq.flatMap { seq in
                    try Int.fetchOne(replica, arguments: [file.id.rawValue, seq]).map { ReplicaState(storedCode: $0) }
                }
                found[path] = CurrentVersion(file: file, state: state)
            }
            return found
        }
    }

    public func applyInventory(on node: NodeID, live: [FileID], forget: [FileID]) async throws {
        guard !live.isEmpty || !forget.isEmpty else { return }
        try await writer.write { db in
            guard let seq = try Self.nodeSeq(db, node) else { throw CatalogError.unknownNode(node) }
            let lookup = try db.cachedStatement(sql: "SELECT size, kn, deleted FROM files WHERE id = ?")
            let upsert = try db.cachedStatement(sql: """
                INSERT INTO replicas (file, node, state, size, kn) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(file, node) DO UPDATE SET state = excluded.state WHERE state != excluded.state
                """)
            for file in live {
                guard let row = try Row.fetchOne(lookup, arguments: [file.rawValue]) else { continue }
                // A deleted file's replicas can only be pending deletion.
                let code = (row["deleted"] as Bool) ? 2 : ReplicaState.live.storedCode
                try upsert.execute(arguments: [file.rawValue, seq, code, row["size"] as Int64, row["kn"] as Int])
            }
            let delete = try db.cachedStatement(sql: "DELETE FROM replicas WHERE file = ? AND node = ?")
            for file in forget { try delete.execute(arguments: [file.rawValue, seq]) }
        }
    }
}
