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
    /// The database named in the URI path (`mongodb://host/fsdfs`), or `fsdfs`.
    public let database: String
    private let queue = DispatchQueue(label: "fsdfs-mongo", attributes: .concurrent)

    private static let initialised: Void = {
        mongoc_init()
        MongoDriver.releaseSharedCounters()
        // libmongoc's own handler prints its debug chatter (server monitoring…) to stdout.
        // Keep warnings and errors, one line each on stderr; our errors carry the rest.
        mongoc_log_set_handler({ level, domain, message, _ in
            guard level.rawValue <= MONGOC_LOG_LEVEL_WARNING.rawValue, let message else { return }
            let origin = domain.map { String(cString: $0) } ?? "mongoc"
            FileHandle.standardError.write(Data("libmongoc \(origin): \(String(cString: message))\n".utf8))
        }, nil)
    }()

    /// Parses `uri` and creates the pool; connects lazily (see ``ping()``).
    ///
    /// Defaults that the URI may override: write concern `majority` with a 10 s `wtimeoutMS`
    /// (a write is only done once a majority of the replica set has it), 5 s for server
    /// selection and connecting, so an unreachable server is reported quickly instead of
    /// after libmongoc's 30 s, and 30 s for a reply on an open socket (libmongoc: 5 minutes).
    public init(uri text: String) throws(MongoError) {
        _ = Self.initialised
        var error = bson_error_t()
        guard let uri = mongoc_uri_new_with_error(text, &error) else {
            throw MongoError(operation: "parse URI", target: Self.redacted(text), error: error)
        }
        Self.applyDefaults(uri)
        guard let pool = mongoc_client_pool_new(uri) else {
            mongoc_uri_destroy(uri)
            throw MongoError(operation: "create client pool", target: Self.redacted(text), message: "libmongoc refused the URI")
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
        self.database = mongoc_uri_get_database(uri).map { String(cString: $0) } ?? "fsdfs"
    }

    private static func applyDefaults(_ uri: OpaquePointer) {
        if let concern = mongoc_uri_get_write_concern(uri),
            mongoc_write_concern_get_w(concern) == MONGOC_WRITE_CONCERN_W_DEFAULT,
            !mongoc_write_concern_get_wmajority(concern)
        {
            let majority = mongoc_write_concern_new()!
            defer { mongoc_write_concern_destroy(majority) }
            let timeout = mongoc_write_concern_get_wtimeout_int64(concern)
            mongoc_write_concern_set_wmajority(majority, timeout > 0 ? Int32(clamping: timeout) : 10_000)
            mongoc_write_concern_set_journal(majority, mongoc_write_concern_get_journal(concern))
            mongoc_uri_set_write_concern(uri, majority)
        }
        for option in ["serverselectiontimeoutms", "connecttimeoutms"] where !mongoc_uri_has_option(uri, option) {
            _ = mongoc_uri_set_option_as_int32(uri, option, 5_000)
        }
        // libmongoc waits 5 minutes for a silent server; a catalog call should give up sooner.
        if !mongoc_uri_has_option(uri, "sockettimeoutms") {
            _ = mongoc_uri_set_option_as_int32(uri, "sockettimeoutms", 30_000)
        }
    }

    /// The write concern in force, for the startup log: `majority (wtimeout 10000 ms)`, `w=1`…
    public var writeConcern: String {
        guard let concern = mongoc_uri_get_write_concern(uri) else { return "default" }
        let timeout = mongoc_write_concern_get_wtimeout_int64(concern)
        let suffix = timeout > 0 ? " (wtimeout \(timeout) ms)" : ""
        if mongoc_write_concern_get_wmajority(concern) { return "majority" + suffix }
        if let tag = mongoc_write_concern_get_wtag(concern) { return "w=" + String(cString: tag) + suffix }
        return "w=\(mongoc_write_concern_get_w(concern))" + suffix
    }

    /// The URI without its password, for messages.
    static func redacted(_ text: String) -> String {
        guard let scheme = text.range(of: "://"), let at = text[scheme.upperBound...].firstIndex(of: "@") else { return text }
        let credentials = text[scheme.upperBound..<at]
        guard let colon = credentials.firstIndex(of: ":") else { return text }
        return text[..<colon] + ":***" + text[at...]
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

    /// Lends a pooled client, wrapped with this connection's database, to `body` on the
    /// connection's queue.
    func withSession<T: Sendable>(_ body: @escaping @Sendable (MongoSession) throws -> T) async throws -> T {
        let database = self.database, hosts = self.hosts
        return try await withClient { client in
            try body(MongoSession(client: client, database: database, hosts: hosts))
        }
    }

    /// Runs `{ping: 1}` on the admin database: the server is reachable and answers.
    public func ping() async throws {
        try await withSession { session in
            _ = try session.command(["ping": 1], database: "admin", operation: "ping")
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
        let message = withUnsafeBytes(of: error.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        self.message = error.domain == UInt32(MONGOC_ERROR_WRITE_CONCERN.rawValue)
            ? "write concern not satisfied: " + message : message
    }

    init(operation: String, target: String, message: String) {
        self.operation = operation
        self.target = target
        self.message = message
        self.domain = 0
        self.code = 0
    }

    /// libmongoc could not reach any suitable server (down, wrong host, no primary).
    public var isUnreachable: Bool {
        domain == UInt32(MONGOC_ERROR_SERVER_SELECTION.rawValue) || domain == UInt32(MONGOC_ERROR_STREAM.rawValue)
    }

    /// A write the requested write concern did not confirm (no majority, timeout…).
    public var isWriteConcern: Bool { domain == UInt32(MONGOC_ERROR_WRITE_CONCERN.rawValue) }

    /// The server refused a write because a unique index already has the key.
    public var isDuplicateKey: Bool { code == 11000 }

    public var description: String { "MongoDB \(operation) on \(target) failed: \(message)" }
}
