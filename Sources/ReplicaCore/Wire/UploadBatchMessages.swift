import Foundation

// Many small new files stored with one grant, one request to the node and one catalog
// transaction (`put -r`):
//
// 1. client → master `POST /v1/uploads/batch` (``UploadBatchRequest``): one node with room for
//    all of them, without evicting anything; the answer is an ``UploadBatchGrant``.
// 2. client → node `PUT /v1/blob-batch?upload=…`: the files as ``BlobFrame``s, in the granted
//    order, the whole body signed.
// 3. node → master `POST /v1/uploads/batch/check` (``UploadBatchCheck``): the granted files,
//    before the node keeps any byte.
// 4. node: each file checked against its granted size and sha256, stored with one flush to the
//    disk, over nothing (a file already at the path is refused, `version_conflict`: replacing is
//    the single upload's business, with its keep-aside and put-back).
// 5. node → master `POST /v1/uploads/batch/commit` (``UploadBatchCommit``): the files stored,
//    recorded with K = 1 in one transaction; the node answers the client per file
//    (``UploadBatchReply``).

/// One file of a batch upload, as the client announces it.
public struct UploadedFile: Sendable, Codable, Equatable {
    public var path: VirtualPath
    public var size: Int64
    public var sha256: String

    public init(path: VirtualPath, size: Int64, sha256: String) {
        self.path = path
        self.size = size
        self.sha256 = sha256
    }
}

/// `POST /v1/uploads/batch` on the master.
public struct UploadBatchRequest: Sendable, Codable, Equatable {
    public var files: [UploadedFile]
    /// Nodes the client could not connect to with an earlier grant.
    public var exclude: [NodeID]?

    public init(files: [UploadedFile], exclude: [NodeID]? = nil) {
        self.files = files
        self.exclude = exclude
    }

    /// Most files one batch may hold.
    public static let maxFiles = 1024
    /// Largest file a batch takes: bigger ones go by a single upload (streamed, not held in memory).
    public static let maxFileSize: Int64 = 1 << 20
    /// Most bytes of files one batch may hold (the node holds the batch in memory to check it).
    public static let maxBytes: Int64 = 16 << 20
}

/// The master's answer to an ``UploadBatchRequest``: send the files, in this order, to `address`.
public struct UploadBatchGrant: Sendable, Codable, Equatable {
    public var upload: String
    public var node: NodeID
    public var address: String
    public var files: [UploadedFile]

    public init(upload: String, node: NodeID, address: String, files: [UploadedFile]) {
        self.upload = upload
        self.node = node
        self.address = address
        self.files = files
    }
}

/// `POST /v1/uploads/batch/check` from the receiving node, before it keeps any byte.
public struct UploadBatchCheck: Sendable, Codable, Equatable {
    public var upload: String
    public var node: NodeID

    public init(upload: String, node: NodeID) {
        self.upload = upload
        self.node = node
    }
}

/// The master's answer to an ``UploadBatchCheck``: the files granted, in the order they come.
public struct UploadBatchCheckReply: Sendable, Codable, Equatable {
    public var files: [UploadedFile]

    public init(files: [UploadedFile]) { self.files = files }
}

/// `POST /v1/uploads/batch/commit` from the receiving node: the files of the batch it stored
/// and verified (a subset of the grant, in its order).
public struct UploadBatchCommit: Sendable, Codable, Equatable {
    public var upload: String
    public var node: NodeID
    public var files: [UploadedFile]
    /// Each file's place in the grant (what makes its record findable when asked again).
    public var places: [Int]

    public init(upload: String, node: NodeID, files: [UploadedFile], places: [Int]) {
        self.upload = upload
        self.node = node
        self.files = files
        self.places = places
    }
}

/// What became of one file of a batch upload: recorded (`stored`), or why not (`error`, with
/// the code a single upload would answer).
public struct UploadBatchOutcome: Sendable, Codable, Equatable {
    public var path: VirtualPath
    public var stored: StoredReply?
    public var error: String?
    public var code: String?

    public init(path: VirtualPath, stored: StoredReply) {
        self.path = path
        self.stored = stored
    }

    public init(path: VirtualPath, error: String, code: String) {
        self.path = path
        self.error = error
        self.code = code
    }
}

/// The master's answer to an ``UploadBatchCommit``, and the node's answer to the client: one
/// outcome per file, in order.
public struct UploadBatchReply: Sendable, Codable, Equatable {
    public var files: [UploadBatchOutcome]

    public init(files: [UploadBatchOutcome]) { self.files = files }
}
