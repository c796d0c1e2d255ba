import Foundation

/// A file in the catalog, with its replication state.
///
/// `k` counts verified live replicas on alive nodes; `kn` is `k - n`, the figure the
/// scheduler sorts by. Both are maintained by the catalog in the same transaction as the
/// change that moves them, never computed by callers.
public struct FileRecord: Sendable, Equatable, Codable {
    public var id: FileID
    public var path: VirtualPath
    public var size: Int64
    /// Lower-case hex SHA-256 of the content.
    public var sha256: String
    /// Target replica count, from policy.
    public var n: Int
    /// Verified live replicas on alive nodes.
    public var k: Int
    /// Increases each time the path is uploaded again.
    public var version: Int64
    public var created: Date
    /// Set when the file was deleted (a tombstone); tombstoned files are never scheduled.
    public var deleted: Bool

    public var kn: Int { k - n }

    public init(
        id: FileID, path: VirtualPath, size: Int64, sha256: String, n: Int, k: Int,
        version: Int64, created: Date, deleted: Bool = false
    ) {
        self.id = id
        self.path = path
        self.size = size
        self.sha256 = sha256
        self.n = n
        self.k = k
        self.version = version
        self.created = created
        self.deleted = deleted
    }
}

/// What the planner needs to know of a file: a compact, ordered view.
public struct FileState: Sendable, Equatable, Hashable {
    public var id: FileID
    public var size: Int64
    public var n: Int
    public var k: Int
    public var kn: Int { k - n }

    public init(id: FileID, size: Int64, n: Int, k: Int) {
        self.id = id
        self.size = size
        self.n = n
        self.k = k
    }

    /// The scheduler's order: ascending kn, then smaller K, then smaller size, then id.
    public static func schedulingOrder(_ a: FileState, _ b: FileState) -> Bool {
        (a.kn, a.k, a.size, a.id.rawValue) < (b.kn, b.k, b.size, b.id.rawValue)
    }
}

/// A new file (or a new version of a path) to record in the catalog.
public struct NewFile: Sendable, Equatable {
    public var path: VirtualPath
    public var size: Int64
    public var sha256: String
    public var n: Int
    public var created: Date
    /// The lowest version number it may get (a catalog rebuilt from the nodes keeps the
    /// numbers they recorded); nil numbers on from the path's last version.
    public var version: Int64?
    /// The upload that stored it, so that a node asking again whether its commit went through
    /// (the reply was lost, the master restarted) gets a sure answer.
    public var upload: String?

    public init(
        path: VirtualPath, size: Int64, sha256: String, n: Int, created: Date = Date(), version: Int64? = nil,
        upload: String? = nil
    ) {
        self.upload = upload
        self.version = version
        self.path = path
        self.size = size
        self.sha256 = sha256
        self.n = n
        self.created = created
    }
}
