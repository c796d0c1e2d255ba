import Foundation
import GRDB

/// Renames (`fsdfsd mv`): a version changes path in place, so its replicas, and K, stay.
extension SQLiteCatalog {
    public func renameFiles(_ renames: [FileRename]) async throws -> [FileRecord] {
        if let bad = renames.first(where: { $0.n < 1 }) { throw CatalogError.invalidReplicaCount(bad.n) }
        guard !renames.isEmpty else { return [] }
        return try await writer.write { db in
            let current = try db.cachedStatement(sql: "SELECT id FROM files WHERE path = ? AND deleted = 0")
            let version = try db.cachedStatement(sql: "SELECT max(version) FROM files WHERE path = ?")
            // The path the node holds it under is the first of a chain of renames; back there,
            // it is not moving any more. Replicas being evicted are left as they are: the
            // eviction names the version where the node has it.
            let moving = try db.cachedStatement(sql: "UPDATE replicas SET moved_from = ? WHERE file = ? AND moved_from IS NULL AND state != 2")
            let back = try db.cachedStatement(sql: "UPDATE replicas SET moved_from = NULL WHERE file = ? AND moved_from = ?")
            let rename = try db.cachedStatement(sql: "UPDATE files SET path = ?, version = ?, n = ? WHERE id = ?")
            var ids: [Int64] = []
            for change in renames {
                guard let id = try Int64.fetchOne(current, arguments: [change.from.rawValue]) else {
                    throw CatalogError.noFile(change.from)
                }
                ids.append(id)
                guard change.to != change.from else {
                    try db.cachedStatement(sql: "UPDATE files SET n = ? WHERE id = ?").execute(arguments: [change.n, id])
                    continue
                }
                let to = change.to.rawValue
                let previous = try Int64.fetchOne(version, arguments: [to]) ?? 0
                _ = try Self.tombstone(db, path: to)
                try moving.execute(arguments: [change.from.rawValue, id])
                try back.execute(arguments: [id, to])
                try rename.execute(arguments: [to, previous + 1, change.n, id])
            }
            return try ids.map { try Self.fetchFile(db, sql: "SELECT * FROM files WHERE id = ?", [$0])! }
        }
    }

    public func pendingMoves(on node: NodeID) async throws -> [PendingMove] {
        try await writer.read { db in
            guard let seq = try Self.nodeSeq(db, node) else { return [] }
            return try Row.fetchAll(
                db.cachedStatement(sql: """
                    SELECT f.*, r.moved_from, r.state AS replica_state FROM replicas r JOIN files f ON f.id = r.file
                    WHERE r.node = ? AND r.moved_from IS NOT NULL AND r.state IN (0, 1) AND f.deleted = 0
                    ORDER BY r.moved_from
                    """),
                arguments: [seq]
            ).map { row in
                PendingMove(
                    file: try Self.fileRecord(row), from: try VirtualPath(row["moved_from"] as String),
                    state: ReplicaState(storedCode: row["replica_state"]))
            }
        }
    }

    public func confirmMoves(_ files: [FileID], on node: NodeID) async throws {
        guard !files.isEmpty else { return }
        try await writer.write { db in
            guard let seq = try Self.nodeSeq(db, node) else { throw CatalogError.unknownNode(node) }
            let clear = try db.cachedStatement(sql: "UPDATE replicas SET moved_from = NULL WHERE file = ? AND node = ?")
            for file in files { try clear.execute(arguments: [file.rawValue, seq]) }
        }
    }
}
