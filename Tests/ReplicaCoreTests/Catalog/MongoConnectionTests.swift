import Foundation
import Testing
@testable import ReplicaCore
import TestSupport

/// The libmongoc layer: BSON conversion, the client pool, and errors, against a real MongoDB-wire server.
@Suite("MongoDB connection")
struct MongoConnectionTests {
    @Test("libmongoc reaches the test server through a client pool, off the cooperative pool")
    func pingTheTestServer() async throws {
        let server = try await MongoTestServer.shared()
        let connection = try MongoConnection(uri: server.uri)
        try await connection.ping()
        // Many operations at once share the pool.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<16 { group.addTask { try await connection.ping() } }
            try await group.waitForAll()
        }
    }

    @Test("An unreachable server fails with a message naming the operation and the host")
    func unreachableServerIsNamed() async throws {
        let connection = try MongoConnection(uri: "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300&connectTimeoutMS=300")
        let error = try await #require(throws: MongoError.self) { try await connection.ping() }
        #expect(error.description.contains("MongoDB ping on admin at 127.0.0.1:1 failed"))
    }

    @Test("A malformed URI is refused with the URI in the message")
    func malformedURI() throws {
        let error = #expect(throws: MongoError.self) { try MongoConnection(uri: "mongodb://") }
        #expect(error?.description.contains("parse URI on mongodb://") == true)
    }

    @Test("BSON values survive the trip through libbson unchanged")
    func bsonRoundTrip() throws {
        let document: BSONDocument = [
            "int32": .int32(-7), "int64": .int64(Int64.max), "min": .int64(Int64.min), "double": 2.5,
            "text": "größe/日本/\u{0}inside", "empty": "", "bool": false, "null": .null, "date": .datetime(1_700_000_000_000),
            "nested": ["a": ["b": [1, "two", ["three": 3]]]], "array": [], "doc": [:],
        ]
        let copy = try document.withCDocument { BSONDocument(copying: $0) }
        #expect(copy == document)
        #expect(copy.keys == document.keys, "key order is kept")
    }

    @Test("A write that the requested write concern does not confirm is a failed write")
    func writeConcernErrorFails() async throws {
        let server = try await MongoTestServer.shared()
        // The test server is a single node: w=2 can never be satisfied.
        let connection = try MongoConnection(uri: server.uri(database: "fsdfs_wc") + "&w=2&wtimeoutMS=200")
        let error = try await #require(throws: MongoError.self) {
            try await connection.withSession { session in try session.insert("probe", [["a": 1]]) }
        }
        #expect(error.description.contains("insert on fsdfs_wc.probe at"), "\(error)")
        #expect(error.description.lowercased().contains("write concern"), "\(error)")
    }

    @Test("Without a write concern in the URI, writes wait for a majority")
    func majorityIsTheDefault() throws {
        #expect(try MongoConnection(uri: "mongodb://127.0.0.1:1/x").writeConcern == "majority (wtimeout 10000 ms)")
        #expect(try MongoConnection(uri: "mongodb://127.0.0.1:1/x?w=1").writeConcern == "w=1")
        #expect(try MongoConnection(uri: "mongodb://127.0.0.1:1/x?w=majority&wtimeoutMS=500").writeConcern == "majority (wtimeout 500 ms)")
    }
}
