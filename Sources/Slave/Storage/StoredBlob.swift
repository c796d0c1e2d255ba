import Foundation
import ReplicaCore

/// One verified file held by this node.
public struct StoredBlob: Sendable, Equatable, Codable {
    /// Where the file lives, relative to the data directory.
    public var path: VirtualPath
    /// The catalog version this file is; `nil` if it was found on disk but never recorded by
    /// fsdfs (unknown origin) and not yet adopted.
    public var fileID: FileID?
    /// Size in bytes.
    public var size: Int64
    /// SHA-256 of the content, lowercase hex.
    public var sha256: String
    /// Modification time of the file on disk.
    public var modified: Date
    /// Inode number of the file on disk.
    public var inode: UInt64
    /// The catalog's version number and creation time of `fileID`, when the master gave them.
    public var version: Int64?
    public var created: Date?

    /// Creates a description of a stored file.
    public init(
        path: VirtualPath, fileID: FileID?, size: Int64, sha256: String, modified: Date, inode: UInt64,
        version: Int64? = nil, created: Date? = nil
    ) {
        self.version = version
        self.created = created
        self.path = path
        self.fileID = fileID
        self.size = size
        self.sha256 = sha256
        self.modified = modified
        self.inode = inode
    }
}

/// What ``BlobStore/scan()`` found when it checked the data directory against the index.
public struct ScanReport: Sendable {
    /// The resulting inventory, ordered by path.
    public var blobs: [StoredBlob]
    /// Files whose size, mtime and inode matched the index, taken without re-hashing.
    public var trusted: Int
    /// Files that were re-hashed: changed since indexed (same content) or not indexed at all.
    public var rehashed: Int
    /// Indexed files whose content changed; moved to `.fsdfs/quarantine/` and left out.
    public var quarantined: Int
    /// Index entries whose file was gone.
    public var dropped: Int

    /// Creates a report.
    public init(blobs: [StoredBlob], trusted: Int, rehashed: Int, quarantined: Int, dropped: Int) {
        self.blobs = blobs
        self.trusted = trusted
        self.rehashed = rehashed
        self.quarantined = quarantined
        self.dropped = dropped
    }
}
