import CMongo
import Dispatch
import Foundation

/// A libmongoc client pool for one MongoDB URI. Every call takes a client from the pool for
/// one operation and runs on the connection's own dispatch queue, never on Swift's
/// cooperative pool: libmongoc blocks on network I/O.
///
/// `@unchecked Sendable` is safe here because the only mutable C state, the
/// `mongoc_client_pool_t`, is documented thread-safe by libmongoc (pop/push from any thread),
/// and the URI is never changed after `init`. Clients never leave the closure they are lent to.
public final class MongoConnection: @unchecked Sendable {
    private let pool: OpaquePointer
    private let uri: OpaquePointer
    /// Host list from the URI, for error messages.
    public let hosts: String
    private let queue = DispatchQueue(label: "fsdfs-mongo", attributes: .concurrent)

    private static let initialised: Void = { mongoc_init() }()

    /// Parses `uri` and creates the pool; connects lazily (see ``ping()``).
    public init(uri text: String) throws(MongoError) {
        _ = Self.initialised
        var error = bson_error_t()
        guard let uri = mongoc_uri_new_with_error(text, &error) else {
            throw MongoError(operation: "parse URI", target: text, error: error)
        }
        guard let pool = mongoc_client_pool_new(uri) else {
            mongoc_uri_destroy(uri)
            throw MongoError(operation: "create client pool", target: text, message: "libmongoc refused the URI")
        }
        mongoc_client_pool_set_error_api(pool, Int32(MONGOC_ERROR_API_VERSION_2))
        self.uri = uri
        self.pool = pool
        var hosts: [String] = []
        var host: UnsafePointer<mongoc_host_list_t>? = mongoc_uri_get_hosts(uri)
        while let current = host {
            hosts.append(withUnsafeBytes(of: current.pointee.host_and_port) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            })
            host = UnsafePointer(current.pointee.next)
        }
        self.hosts = hosts.joined(separator: ",")
    }

    deinit {
        mongoc_client_pool_destroy(pool)
        mongoc_uri_destroy(uri)
    }

    /// Lends a pooled client to `body` on the connection's queue.
    func withClient<T: Sendable>(_ body: @escaping @Sendable (OpaquePointer) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                let client = mongoc_client_pool_pop(self.pool)!
                defer { mongoc_client_pool_push(self.pool, client) }
                continuation.resume(with: Result { try body(client) })
            }
        }
    }

    /// Runs `{ping: 1}` on the admin database: the server is reachable and answers.
    public func ping() async throws {
        let hosts = self.hosts
        try await withClient { client in
            let command = bson_new()!
            defer { bson_destroy(command) }
            bson_append_int32(command, "ping", -1, 1)
            try BSONReply.with { reply in
                var error = bson_error_t()
                guard mongoc_client_command_simple(client, "admin", command, nil, reply, &error) else {
                    throw MongoError(operation: "ping", target: hosts, error: error)
                }
            }
        }
    }
}

/// Storage for a `bson_t` that libmongoc initialises (replies): allocated with libbson's
/// 128-byte alignment, destroyed and freed on every path, never moved.
enum BSONReply {
    static func with<T>(_ body: (OpaquePointer) throws -> T) rethrows -> T {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: fsdfs_bson_size(), alignment: fsdfs_bson_alignment())
        bson_init(OpaquePointer(raw))
        let reply = OpaquePointer(raw)
        // libmongoc initialises the reply on success and failure alike.
        defer {
            bson_destroy(reply)
            raw.deallocate()
        }
        return try body(reply)
    }
}

/// A failed MongoDB operation: what was attempted, against what, and the server's words.
public struct MongoError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var target: String
    public var message: String
    public var domain: UInt32
    public var code: UInt32

    init(operation: String, target: String, error: bson_error_t) {
        self.operation = operation
        self.target = target
        self.domain = error.domain
        self.code = error.code
        self.message = withUnsafeBytes(of: error.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    init(operation: String, target: String, message: String) {
        self.operation = operation
        self.target = target
        self.message = message
        self.domain = 0
        self.code = 0
    }

    public var description: String { "MongoDB \(operation) on \(target) failed: \(message)" }
}
