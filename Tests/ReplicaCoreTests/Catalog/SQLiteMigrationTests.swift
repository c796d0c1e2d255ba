import Foundation
import GRDB
import Testing
@testable import ReplicaCore

/// Catalogs written by earlier builds open with this one, their figures intact.
@Suite("SQLite schema migrations")
struct SQLiteMigrationTests {
    @Test("A schema 2 catalog with files gains the event log and a K − N histogram of the files it holds")
    func fromSchema2() async throws {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("fsdfs-migration-\(UUID().uuidString)").appendingPathComponent("catalog.sqlite").path
        try FileManager.default.createDirectory(
            atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path, withIntermediateDirectories: true)
        do {
            let old = try DatabaseQueue(path: path)
            try SQLiteCatalog.migrator.migrate(old, upTo: "v2")
            try await old.write { db in
                try db.execute(sql: "PRAGMA user_version = 2")
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
            try old.close()
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
}
