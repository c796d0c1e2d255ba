import Foundation
import Testing
@testable import ReplicaCore

/// The libmongoc layer against a real MongoDB-wire server (groundwork of the MongoDB catalog).
@Suite("MongoDB connection")
struct MongoConnectionTests {
    @Test("libmongoc reaches the test server through a client pool, off the cooperative pool")
    func pingTheTestServer() async throws {
        let server = try await MongoTestServer.start()
        do {
            let connection = try MongoConnection(uri: server.uri)
            try await connection.ping()
            // Many operations at once share the pool.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<16 { group.addTask { try await connection.ping() } }
                try await group.waitForAll()
            }
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    @Test("An unreachable server fails with a message naming the operation and the host")
    func unreachableServerIsNamed() async throws {
        let connection = try MongoConnection(uri: "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300&connectTimeoutMS=300")
        let error = try await #require(throws: MongoError.self) { try await connection.ping() }
        #expect(error.description.contains("ping on 127.0.0.1:1"))
    }

    @Test("A malformed URI is refused with the URI in the message")
    func malformedURI() throws {
        let error = #expect(throws: MongoError.self) { try MongoConnection(uri: "mongodb://") }
        #expect(error?.description.contains("parse URI on mongodb://") == true)
    }
}
