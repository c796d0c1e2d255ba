import Foundation

/// `POST /v1/copy-batch` on the target: pull every file of `files` from `source` in one
/// request (``BlobsRequest``), verify each against the catalog's checksum, store each, and
/// answer per file (``CopyBatchReply``). One file failing fails that file only.
public struct CopyBatchCommand: Sendable, Codable, Equatable {
    /// Address of the node to pull from.
    public var source: String
    /// The swarm of the master's catalog: a node of another swarm copies nothing.
    public var swarm: SwarmID?
    public var files: [BatchedCopy]

    public init(source: String, swarm: SwarmID?, files: [BatchedCopy]) {
        self.source = source
        self.swarm = swarm
        self.files = files
    }
}

/// One file of a ``CopyBatchCommand``: what a ``CopyCommand`` says of it, less the source and swarm.
public struct BatchedCopy: Sendable, Codable, Equatable {
    public var fileID: FileID
    public var path: VirtualPath
    public var size: Int64
    public var sha256: String
    public var version: Int64?
    public var created: Date?
    /// Deleted or replaced versions of the path this copy may take the place of (see ``CopyCommand/replaces``).
    public var replaces: [VersionRef]?
    /// Where the source holds the version when that is not `path` (see ``CopyCommand/sourcePath``).
    public var sourcePath: VirtualPath?

    public init(
        fileID: FileID, path: VirtualPath, size: Int64, sha256: String, version: Int64? = nil, created: Date? = nil,
        replaces: [VersionRef] = [], sourcePath: VirtualPath? = nil
    ) {
        self.sourcePath = sourcePath
        self.fileID = fileID
        self.path = path
        self.size = size
        self.sha256 = sha256
        self.version = version
        self.created = created
        self.replaces = replaces
    }

    public init(_ command: CopyCommand) {
        self.init(
            fileID: command.fileID, path: command.path, size: command.size, sha256: command.sha256,
            version: command.version, created: command.created, replaces: command.replaces ?? [], sourcePath: command.sourcePath)
    }

    /// The single copy this file stands for.
    public func command(source: String, swarm: SwarmID?) -> CopyCommand {
        CopyCommand(
            fileID: fileID, path: path, size: size, sha256: sha256, source: source, version: version, created: created,
            replaces: replaces ?? [], swarm: swarm)
    }
}

/// The answer to a ``CopyBatchCommand``: one outcome per file, in the command's order.
public struct CopyBatchReply: Sendable, Codable, Equatable {
    public var files: [CopyOutcome]

    public init(files: [CopyOutcome]) {
        self.files = files
    }
}

/// What became of one file of a batch: stored (verified and durable on the target), or failed
/// with the error code a single copy would have answered (`source_corrupt`, `source_failed`,
/// `not_found`, `version_conflict`, `cancelled`, `over_quota` …).
public struct CopyOutcome: Sendable, Codable, Equatable {
    public var fileID: FileID
    public var path: VirtualPath
    public var stored: Bool
    public var error: String?
    public var code: String?

    public init(fileID: FileID, path: VirtualPath, stored: Bool, error: String? = nil, code: String? = nil) {
        self.fileID = fileID
        self.path = path
        self.stored = stored
        self.error = error
        self.code = code
    }

    public static func stored(_ fileID: FileID, _ path: VirtualPath) -> CopyOutcome {
        CopyOutcome(fileID: fileID, path: path, stored: true)
    }

    public static func failed(_ fileID: FileID, _ path: VirtualPath, _ error: String, code: String) -> CopyOutcome {
        CopyOutcome(fileID: fileID, path: path, stored: false, error: error, code: code)
    }
}

/// `POST /v1/blobs` on a source: the exact versions wanted, answered as a stream of
/// ``BlobFrame``s in the same order (see ``BlobFrameEncoder``).
public struct BlobsRequest: Sendable, Codable, Equatable {
    public var files: [WantedBlob]

    public init(files: [WantedBlob]) {
        self.files = files
    }

    /// Most files one request may name.
    public static let maxFiles = 4096
    /// Largest file a source sends in a framed stream (it holds each file in memory to verify
    /// it before sending): bigger ones go by `GET /v1/blob`.
    public static let maxFileSize: Int64 = 4 << 20
}

/// One version a ``BlobsRequest`` asks for: a node never sends another version under that name.
public struct WantedBlob: Sendable, Codable, Equatable {
    public var path: VirtualPath
    public var fileID: FileID?
    public var sha256: String

    public init(path: VirtualPath, fileID: FileID?, sha256: String) {
        self.path = path
        self.fileID = fileID
        self.sha256 = sha256
    }
}
