import Foundation

// Wire types of `fsdfsd audit`: the master asks every node what its disk holds
// (`POST /v1/disk-audit`) and answers the client with every difference from the catalog
// (`GET /v1/audit`). Kept in a file of their own so the other message files stay untouched.

/// `POST /v1/disk-audit` on a node: one page of its holdings as they are on disk, in path
/// order after `after`. The node changes nothing (no quarantine, no index write).
public struct DiskAuditCommand: Sendable, Codable, Equatable {
    /// Re-hash every file of the page, not only those whose size, mtime or inode changed.
    public var deep: Bool
    /// Start after this path (the previous page's ``DiskAuditReply/next``); nil for the first page.
    public var after: VirtualPath?
    /// Files at most in this page (the node caps it, and ends a deep page early once it has
    /// hashed enough bytes).
    public var limit: Int
    /// Also walk the data directory for regular files the node's store does not know.
    public var listUnindexed: Bool

    public init(deep: Bool, after: VirtualPath?, limit: Int, listUnindexed: Bool) {
        self.deep = deep
        self.after = after
        self.limit = limit
        self.listUnindexed = listUnindexed
    }
}

/// One file of a node's store, as found on disk.
public struct DiskBlob: Sendable, Codable, Equatable {
    public var path: VirtualPath
    /// The catalog version the node recorded for it; nil for a file found with no record.
    public var fileID: FileID?
    /// Size on disk; nil when the file could not be found or read.
    public var size: Int64?
    /// The checksum of the bytes on disk: re-hashed when ``rehashed``, otherwise the indexed
    /// one (size, mtime and inode unchanged since it was verified). Nil when there is no file.
    public var sha256: String?
    public var rehashed: Bool
    /// Why the file is not there: "missing", "not a regular file", or an I/O error. Nil when present.
    public var problem: String?

    public init(path: VirtualPath, fileID: FileID?, size: Int64?, sha256: String?, rehashed: Bool, problem: String?) {
        self.path = path
        self.fileID = fileID
        self.size = size
        self.sha256 = sha256
        self.rehashed = rehashed
        self.problem = problem
    }

    /// Whether a file with readable bytes is there.
    public var present: Bool { problem == nil && sha256 != nil && size != nil }
}

/// A node's answer to ``DiskAuditCommand``.
public struct DiskAuditReply: Sendable, Codable, Equatable {
    public var node: NodeID
    public var blobs: [DiskBlob]
    /// Ask again with this as `after`; nil when the page was the last.
    public var next: VirtualPath?
    /// Regular files under the data directory (outside `.fsdfs`) that the store does not know,
    /// relative to it; only when asked, and at most a few (see ``unindexedCount``).
    public var unindexed: [String]
    /// How many such files the walk found.
    public var unindexedCount: Int
    /// The walk stopped early or not every file found is listed.
    public var unindexedTruncated: Bool

    public init(
        node: NodeID, blobs: [DiskBlob], next: VirtualPath?, unindexed: [String] = [],
        unindexedCount: Int = 0, unindexedTruncated: Bool = false
    ) {
        self.node = node
        self.blobs = blobs
        self.next = next
        self.unindexed = unindexed
        self.unindexedCount = unindexedCount
        self.unindexedTruncated = unindexedTruncated
    }
}

/// `audit --json`: the catalog compared with what the nodes hold on disk.
///
/// `clean` is true when every node in the catalog was audited and nothing in `differences`
/// was found. `notes` are informational and never make an audit unclean: versions pending
/// deletion that a node still holds (expected after a node was away), and unaccounted files
/// (data the catalog does not know, kept on purpose: ARCHITECTURE.md section 11).
public struct AuditReply: Sendable, Codable, Equatable {
    public var clean: Bool
    /// Every file of every audited node was re-hashed.
    public var deep: Bool
    /// Current (not deleted) files in the catalog.
    public var files: Int
    /// Verified copies of current files found on the audited nodes.
    public var copies: Int
    /// Addresses of the nodes whose disks were compared.
    public var nodesAudited: [String]
    public var nodesNotAudited: [UnauditedNode]
    public var differences: [AuditDifference]
    /// Versions of deleted or replaced files that nodes still hold or have not confirmed
    /// removing (informational).
    public var pendingDeletions: Int
    /// Files on nodes that the catalog does not know (informational: kept, never counted).
    public var unaccounted: Int
    /// Informational findings (kinds ``AuditDifference/Kind/pendingDeletion`` and
    /// ``AuditDifference/Kind/unaccounted``), at most ``AuditReply/maxNotes``.
    public var notes: [AuditDifference]

    public static let maxNotes = 1000

    public init(
        clean: Bool, deep: Bool, files: Int, copies: Int, nodesAudited: [String], nodesNotAudited: [UnauditedNode],
        differences: [AuditDifference], pendingDeletions: Int, unaccounted: Int, notes: [AuditDifference]
    ) {
        self.clean = clean
        self.deep = deep
        self.files = files
        self.copies = copies
        self.nodesAudited = nodesAudited
        self.nodesNotAudited = nodesNotAudited
        self.differences = differences
        self.pendingDeletions = pendingDeletions
        self.unaccounted = unaccounted
        self.notes = notes
    }
}

/// A node of the catalog whose disk could not be compared.
public struct UnauditedNode: Sendable, Codable, Equatable {
    public var node: NodeID
    public var address: String
    public var reason: String

    public init(node: NodeID, address: String, reason: String) {
        self.node = node
        self.address = address
        self.reason = reason
    }
}

/// One way the catalog and a node's disk disagree (or, for notes, one informational finding).
public struct AuditDifference: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// The catalog counts a live replica on the node; the node has no such file on disk.
        case missing
        /// The catalog counts a live replica; the node's file has other bytes.
        case wrongChecksum
        /// The catalog counts a live replica of the current version; the node holds the path
        /// under another version (with other bytes).
        case otherVersion
        /// The node holds a good copy of the current version that the catalog does not count.
        case uncounted
        /// The catalog's K differs from the verified copies found on alive nodes.
        case wrongK
        /// Informational: a deleted or replaced version the node still holds; it removes it
        /// when the master's instruction reaches it.
        case pendingDeletion
        /// Informational: a file the catalog does not know (kept, never counted).
        case unaccounted

        /// Whether this kind makes an audit unclean.
        public var isFailure: Bool { self != .pendingDeletion && self != .unaccounted }
    }

    public var path: String
    /// The catalog's version number of the file concerned (nil when the catalog has none).
    public var version: Int64?
    /// The node's address (nil for ``Kind/wrongK``, which is about the whole file).
    public var node: String?
    public var kind: Kind
    /// The catalog's K for the file (nil when the catalog has no current version of it).
    public var catalogK: Int?
    /// Verified copies of the current version found on audited nodes.
    public var found: Int?
    /// One sentence for people.
    public var detail: String

    public init(
        path: String, version: Int64?, node: String?, kind: Kind, catalogK: Int?, found: Int?, detail: String
    ) {
        self.path = path
        self.version = version
        self.node = node
        self.kind = kind
        self.catalogK = catalogK
        self.found = found
        self.detail = detail
    }

    // Every key is always written (null when absent), so the shape never changes.
    enum CodingKeys: String, CodingKey {
        case path, version, node, kind, catalogK, found, detail
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(path, forKey: .path)
        try container.encode(version, forKey: .version)
        try container.encode(node, forKey: .node)
        try container.encode(kind, forKey: .kind)
        try container.encode(catalogK, forKey: .catalogK)
        try container.encode(found, forKey: .found)
        try container.encode(detail, forKey: .detail)
    }
}
