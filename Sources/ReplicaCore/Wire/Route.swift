import Foundation

/// The HTTP routes of a node and of the master, and how their queries are encoded.
public enum Route {
    // Every node.
    public static let blobPath = "/v1/blob"
    public static let copy = "/v1/copy"
    /// `POST` a ``CopyBatchCommand``: the target pulls many small files in one request.
    public static let copyBatch = "/v1/copy-batch"
    /// `POST` a ``BlobsRequest``: the source answers the files as a framed stream (``BlobFrame``).
    public static let blobs = "/v1/blobs"
    public static let remove = "/v1/remove"
    /// `POST` a ``MoveCommand``: move versions renamed in the catalog (`fsdfsd mv`) to their path.
    public static let move = "/v1/move"
    public static let verify = "/v1/verify"
    public static let health = "/v1/health"
    public static let diskAudit = "/v1/disk-audit"
    /// `POST` starts a full scrub pass now; `GET` answers the scrubber's ``ScrubStatus``.
    public static let scrub = "/v1/scrub"
    /// `PUT ?upload=…`: the files of a batch upload granted by the master, as ``BlobFrame``s.
    public static let blobBatchPath = "/v1/blob-batch"

    // The master.
    public static let report = "/v1/nodes/report"
    public static let leave = "/v1/nodes/leave"
    /// `POST`: one batch of a node's whole inventory (``InventoryBatch``).
    public static let inventory = "/v1/nodes/inventory"
    public static let uploads = "/v1/uploads"
    public static let uploadCheck = "/v1/uploads/check"
    public static let uploadCommit = "/v1/uploads/commit"
    public static let uploadAbort = "/v1/uploads/abort"
    /// Batch uploads of small new files (``UploadBatchRequest``, ``UploadBatchCheck``, ``UploadBatchCommit``).
    public static let uploadBatch = "/v1/uploads/batch"
    public static let uploadBatchCheck = "/v1/uploads/batch/check"
    public static let uploadBatchCommit = "/v1/uploads/batch/commit"
    public static let filesPath = "/v1/files"
    /// `POST` an ``S3KeyCreate``, `GET` the ``S3KeyEntry`` list, `DELETE ?access=KEY` (`fsdfsd s3-key`).
    public static let s3Keys = "/v1/s3-keys"
    /// `POST` a ``RenameRequest`` (`fsdfsd mv`).
    public static let rename = "/v1/files/rename"
    /// `GET ?prefix=…[&after=…]&limit=N`: an array of ``ManifestEntry``, in path order.
    public static let manifestPath = "/v1/files/manifest"
    public static let wherePath = "/v1/where"
    /// `GET ?path=DIR[&after=NAME]&limit=N`: the ``DirEntry`` list of a directory, by name
    /// (`path` empty for the top). `GET ?entry=PATH`: what PATH is, a list of one ``DirEntry``
    /// or none.
    public static let dirPath = "/v1/dir"
    public static let status = "/v1/status"
    public static let nodes = "/v1/nodes"
    public static let unaccounted = "/v1/unaccounted"
    public static let safeMode = "/v1/safe-mode"
    public static let auditPath = "/v1/audit"
    /// `GET ?limit=N`: ``AtRiskReply``.
    public static let atRiskPath = "/v1/at-risk"
    /// `GET [?after=SEQ][&limit=N]`: an array of ``EventRecord``, oldest first.
    public static let eventsPath = "/v1/events"
    /// The operator's node commands (``DrainCommand``, ``MaintenanceCommand``, ``ForgetCommand``).
    public static let nodeDrain = "/v1/nodes/drain"
    public static let nodeMaintenance = "/v1/nodes/maintenance"
    public static let nodeForget = "/v1/nodes/forget"

    /// `GET`/`PUT /v1/blob?path=…[&upload=…]`. A read names the version it wants
    /// (`file=ID&sha256=…`): a node never serves another version under that name.
    /// - Parameter receiverVerifies: the reader checks the bytes against the catalog's sha256
    ///   and has a mismatch checked on the holder (a node's copy, ``receiverVerifiesQuery``):
    ///   the holder sends them without hashing them a second time.
    public static func blob(
        _ path: VirtualPath, upload: String? = nil, version: BlobVersion? = nil, receiverVerifies: Bool = false,
        range: ClosedRange<Int64>? = nil
    ) -> String {
        var query = "path=\(encode(path.rawValue))"
        if let range { query += "&range=\(range.lowerBound)-\(range.upperBound)" }
        if let upload { query += "&upload=\(encode(upload))" }
        if let version {
            if let file = version.file { query += "&file=\(file.rawValue)" }
            query += "&sha256=\(encode(version.sha256))"
        }
        if receiverVerifies { query += "&\(receiverVerifiesQuery.name)=\(receiverVerifiesQuery.value)" }
        return "\(blobPath)?\(query)"
    }

    /// The query item of ``blob(_:upload:version:receiverVerifies:)`` with `receiverVerifies`.
    public static let receiverVerifiesQuery = (name: "check", value: "receiver")

    public static func blobBatch(upload: String) -> String { "\(blobBatchPath)?upload=\(encode(upload))" }

    public static func file(_ path: VirtualPath) -> String { "\(filesPath)?path=\(encode(path.rawValue))" }

    public static func whereIs(_ path: VirtualPath) -> String { "\(wherePath)?path=\(encode(path.rawValue))" }

    public static func list(prefix: String, after: VirtualPath?, limit: Int) -> String {
        var query = "prefix=\(encode(prefix))&limit=\(limit)"
        if let after { query += "&after=\(encode(after.rawValue))" }
        return "\(filesPath)?\(query)"
    }

    /// One page of ``manifestPath``: the files whose path starts with `prefix`, after `after`.
    public static func manifest(prefix: String, after: VirtualPath?, limit: Int) -> String {
        var query = "prefix=\(encode(prefix))&limit=\(limit)"
        if let after { query += "&after=\(encode(after.rawValue))" }
        return "\(manifestPath)?\(query)"
    }

    /// `GET /v1/audit[?deep=1]` on the master.
    public static func audit(deep: Bool) -> String { deep ? "\(auditPath)?deep=1" : auditPath }

    /// `GET /v1/at-risk?limit=N` on the master.
    public static func atRisk(limit: Int) -> String { "\(atRiskPath)?limit=\(limit)" }

    /// `GET /v1/events` on the master: the events after `after`, oldest first; without
    /// `after`, the newest `limit`.
    public static func events(after: Int64?, limit: Int) -> String {
        if let after { return "\(eventsPath)?after=\(after)&limit=\(limit)" }
        return "\(eventsPath)?limit=\(limit)"
    }

    /// Percent-encodes everything but unreserved characters, so the signed request target is
    /// the same bytes on both sides.
    public static func encode(_ value: String) -> String {
        var out = ""
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }
}

/// The version a read asks for: its catalog id when known, and its checksum.
public struct BlobVersion: Sendable, Equatable {
    public var file: FileID?
    public var sha256: String

    public init(file: FileID?, sha256: String) {
        self.file = file
        self.sha256 = sha256
    }
}
