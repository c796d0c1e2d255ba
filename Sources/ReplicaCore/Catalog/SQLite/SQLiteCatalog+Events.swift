import Foundation
import GRDB

// The event log and the K − N histogram (schema v3).
extension SQLiteCatalog {
    public func knHistogram() async throws -> [KnBucket] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: Self.knHistogramSQL).map { KnBucket(kn: $0["kn"], files: $0["number"]) }
        }
    }

    public func appendEvents(_ events: [NewEvent], keep: Int) async throws {
        guard !events.isEmpty else { return }
        try await writer.write { db in
            let insert = try db.cachedStatement(sql: """
                INSERT INTO events (time, kind, node, address, path, message) VALUES (?, ?, ?, ?, ?, ?)
                """)
            for event in events {
                try insert.execute(arguments: [
                    event.time.timeIntervalSince1970, event.kind.rawValue, event.node?.rawValue, event.address,
                    event.path?.rawValue, event.message,
                ])
            }
            // The newest `keep` stay: everything at or below the number `keep` places down goes.
            try db.execute(
                sql: "DELETE FROM events WHERE seq <= (SELECT seq FROM events ORDER BY seq DESC LIMIT 1 OFFSET ?)",
                arguments: [max(0, keep)])
        }
    }

    public func events(after seq: Int64, limit: Int) async throws -> [EventRecord] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?", arguments: [seq, max(0, limit)])
                .map(Self.eventRecord)
        }
    }

    public func latestEvents(limit: Int) async throws -> [EventRecord] {
        try await writer.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM (SELECT * FROM events ORDER BY seq DESC LIMIT ?) ORDER BY seq", arguments: [max(0, limit)]
            ).map(Self.eventRecord)
        }
    }

    static let knHistogramSQL = """
        SELECT kn, sum(files) AS number FROM replication_counts GROUP BY kn HAVING sum(files) > 0 ORDER BY kn
        """

    static func eventRecord(_ row: Row) throws -> EventRecord {
        let path: VirtualPath? = try (row["path"] as String?).map { try VirtualPath($0) }
        return EventRecord(seq: row["seq"], NewEvent(
            time: Date(timeIntervalSince1970: row["time"]), kind: EventKind(row["kind"] as String),
            node: (row["node"] as String?).map { NodeID($0) }, address: row["address"], path: path, message: row["message"]))
    }
}
