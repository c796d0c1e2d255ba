import Foundation
import ReplicaCore
import TestSupport

/// A catalog implementation under test. The conformance suite runs every test against each
/// backend listed in ``all``; the MongoDB backend joins the list with its own server.
struct CatalogBackend: CustomStringConvertible, Sendable {
    let name: String
    let make: @Sendable () async throws -> any Catalog

    var description: String { name }

    /// The SQLite catalog on a real file in WAL mode, as a master runs it.
    static let sqliteFile = CatalogBackend(name: "sqlite-file") {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("fsdfs-catalog-\(UUID().uuidString)")
        return try SQLiteCatalog(path: directory.appendingPathComponent("catalog.sqlite").path)
    }

    /// The SQLite catalog in memory.
    static let sqliteMemory = CatalogBackend(name: "sqlite-memory") { try SQLiteCatalog() }

    /// The MongoDB catalog on the shared test server (``MongoTestServer/shared()``), in a
    /// database of its own.
    static let mongodb = CatalogBackend(name: "mongodb") {
        let server = try await MongoTestServer.shared()
        return try await MongoCatalog(uri: server.uri(database: "fsdfs_\(UUID().uuidString.prefix(8))"))
    }

    static let all: [CatalogBackend] = [.sqliteFile, .sqliteMemory, .mongodb]
}

/// Small helpers shared by catalog and planner tests.
enum Fixture {
    static func path(_ text: String) -> VirtualPath { try! VirtualPath(text) }

    static func newFile(_ path: String, size: Int64 = 10, n: Int = 2) -> NewFile {
        NewFile(path: Fixture.path(path), size: size, sha256: String(repeating: "0", count: 64), n: n,
                created: Date(timeIntervalSince1970: 1_700_000_000))
    }

    static func node(_ id: String, quota: Int64 = 1_000, load: Double = 0) -> NodeRecord {
        NodeRecord(id: NodeID(id), address: "127.0.0.1:\(4000 + abs(id.hashValue % 1000))", quota: quota, load: load)
    }
}
