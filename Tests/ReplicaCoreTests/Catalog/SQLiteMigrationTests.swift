import Foundation
import GRDB
import Testing
@testable import ReplicaCore

/// Catalogs written by earlier builds open with this one, their figures intact.
@Suite("SQLite schema migrations")
struct SQLiteMigrationTests {
    @Test("A schema 2 catalog with files gains the event log and a K − N histogram of the files it holds")
    func fromSchema2() async throws {
        let path = try await Self.oldCatalog(schema: 2) { db in
            try db.execute(sql: "INSERT INTO nodes (id, address, quota, last_report) VALUES ('n1', 'a:1', 1000, 0)")
            for (i, n) in [1, 2, 2, 3].enumerated() {
                try db.execute(
                    sql: "INSERT INTO files (path, size, sha256, n, version, created) VALUES (?, 10, 'x', ?, 1, 0)",
                    arguments: ["f\(i)", n])
                try db.execute(sql: "INSERT INTO replicas (file, node, state, size, kn) VALUES (?, 1, 0, 10, 0)", arguments: [i + 1])
            }
            // A tombstone does not count.
            try db.execute(sql: "INSERT INTO files (path, size, sha256, n, version, created, deleted) VALUES ('gone', 10, 'x', 1, 1, 0, 1)")
        }
        let catalog = try SQLiteCatalog(path: path)
        #expect(try await catalog.knHistogram() == [KnBucket(kn: -2, files: 1), KnBucket(kn: -1, files: 2), KnBucket(kn: 0, files: 1)])
        #expect(try await catalog.latestEvents(limit: 10).isEmpty)
        try await catalog.appendEvents([NewEvent(kind: .nodeJoined, message: "first")], keep: 10)
        #expect(try await catalog.latestEvents(limit: 10).map(\.message) == ["first"])
        // And the histogram keeps up from there.
        try await catalog.setReplica(FileID(1), on: "n1", state: .evicting)
        #expect(try await catalog.knHistogram() == [KnBucket(kn: -2, files: 1), KnBucket(kn: -1, files: 3)])
    }

    @Test("A schema 4 catalog gains counts by K and N and per-node file counts that match its rows, and keep up")
    func fromSchema4() async throws {
        let path = try await Self.oldCatalog(schema: 4) { db in
            for node in ["n1", "n2"] {
                try db.execute(sql: "INSERT INTO nodes (id, address, quota, last_report) VALUES (?, 'a:1', 1000, 0)", arguments: [node])
            }
            // (size, n, replicas as (node seq, state))
            let files: [(Int, Int, [(Int, Int)])] = [
                (10, 1, [(1, 0)]), (20, 2, [(1, 0), (2, 0)]), (30, 2, [(2, 0)]), (40, 3, [(1, 0), (2, 2)]), (50, 2, []),
            ]
            for (i, file) in files.enumerated() {
                try db.execute(
                    sql: "INSERT INTO files (path, size, sha256, n, version, created) VALUES (?, ?, 'x', ?, 1, 0)",
                    arguments: ["f\(i)", file.0, file.1])
                for (node, state) in file.2 {
                    try db.execute(
                        sql: "INSERT INTO replicas (file, node, state, size, kn) VALUES (?, ?, ?, ?, 0)",
                        arguments: [i + 1, node, state, file.0])
                }
            }
            try db.execute(sql: "INSERT INTO files (path, size, sha256, n, version, created, deleted) VALUES ('gone', 60, 'x', 1, 1, 0, 1)")
        }
        let catalog = try SQLiteCatalog(path: path)
        // kn, k, files, bytes: f0 (0, 1), f1 (0, 2), f2 (-1, 1), f3 (-2, 1), f4 (-2, 0).
        #expect(try await catalog.replicationCounts() == [
            ReplicationCount(k: 0, n: 2, files: 1, bytes: 50), ReplicationCount(k: 1, n: 3, files: 1, bytes: 40),
            ReplicationCount(k: 1, n: 2, files: 1, bytes: 30), ReplicationCount(k: 1, n: 1, files: 1, bytes: 10),
            ReplicationCount(k: 2, n: 2, files: 1, bytes: 20),
        ])
        #expect(try await catalog.knHistogram() == [KnBucket(kn: -2, files: 2), KnBucket(kn: -1, files: 1), KnBucket(kn: 0, files: 2)])
        var figures = try await catalog.nodeFigures()
        #expect(figures["n1"]?.files == 3 && figures["n2"]?.files == 2)
        // And they keep up from there.
        try await catalog.setReplica(FileID(5), on: "n1", state: .live)
        try await catalog.setReplica(FileID(2), on: "n2", state: .evicting)
        figures = try await catalog.nodeFigures()
        #expect(figures["n1"]?.files == 4 && figures["n2"]?.files == 1)
        #expect(try await catalog.knHistogram() == [KnBucket(kn: -2, files: 1), KnBucket(kn: -1, files: 3), KnBucket(kn: 0, files: 1)])
    }

    /// A catalog file written at schema version `schema` (as the build of that time left it),
    /// with the rows `fill` inserts. Returns its path.
    static func oldCatalog(schema: Int, _ fill: @escaping @Sendable (Database) throws -> Void) async throws -> String {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("fsdfs-migration-\(UUID().uuidString)").appendingPathComponent("catalog.sqlite").path
        try FileManager.default.createDirectory(
            atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path, withIntermediateDirectories: true)
        let old = try DatabaseQueue(path: path)
        try SQLiteCatalog.migrator.migrate(old, upTo: "v\(schema)")
        try await old.write { db in
            try db.execute(sql: "PRAGMA user_version = \(schema)")
            try fill(db)
        }
        try old.close()
        return path
    }
}
