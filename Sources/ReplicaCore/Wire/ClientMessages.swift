import Foundation

/// `POST /v1/uploads` on the master: where should these bytes go?
public struct UploadRequest: Sendable, Codable, Equatable {
    public var path: VirtualPath
    public var size: Int64
    /// Nodes the client could not connect to with an earlier grant: the master places the
    /// upload elsewhere. Absent (nil) from clients that never retry.
    public var exclude: [NodeID]?

    public init(path: VirtualPath, size: Int64, exclude: [NodeID]? = nil) {
        self.path = path
        self.size = size
        self.exclude = exclude
    }
}

/// The master's grant: stream the bytes to `address` with `PUT /v1/blob?path=…&upload=…`.
public struct UploadGrant: Sendable, Codable, Equatable {
    public var upload: String
    public var path: VirtualPath
    public var size: Int64
    public var n: Int
    public var node: NodeID
    public var address: String

    public init(upload: String, path: VirtualPath, size: Int64, n: Int, node: NodeID, address: String) {
        self.upload = upload
        self.path = path
        self.size = size
        self.n = n
        self.node = node
        self.address = address
    }
}

/// `POST /v1/uploads/check` from the receiving node, before it accepts any byte.
public struct UploadCheck: Sendable, Codable, Equatable {
    public var upload: String
    public var path: VirtualPath
    public var size: Int64
    public var node: NodeID

    public init(upload: String, path: VirtualPath, size: Int64, node: NodeID) {
        self.upload = upload
        self.path = path
        self.size = size
        self.node = node
    }
}

/// `POST /v1/uploads/commit` from the receiving node, once the bytes are verified and stored.
/// The master's answer to an ``UploadCheck``: the versions of the path the upload may take
/// the place of on the node (the current one, older ones it still has to remove). Anything
/// else at the path is kept and the upload refused (`version_conflict`).
public struct UploadCheckReply: Sendable, Codable, Equatable {
    public var replaces: [VersionRef]?

    public init(replaces: [VersionRef]) { self.replaces = replaces }
}

public struct UploadCommit: Sendable, Codable, Equatable {
    public var upload: String
    public var node: NodeID
    public var sha256: String
    public var size: Int64

    public init(upload: String, node: NodeID, sha256: String, size: Int64) {
        self.upload = upload
        self.node = node
        self.sha256 = sha256
        self.size = size
    }
}

/// `POST /v1/uploads/abort`: the receiving node gave up; the reservation is released.
public struct UploadAbort: Sendable, Codable, Equatable {
    public var upload: String

    public init(upload: String) { self.upload = upload }
}

/// `where PATH --json` (ARCHITECTURE.md section 9; keep the field names).
public struct WhereReply: Sendable, Codable, Equatable {
    public var path: VirtualPath
    public var size: Int64
    public var sha256: String
    public var n: Int
    public var k: Int
    public var kn: Int
    /// Addresses of alive nodes holding a verified copy.
    public var nodes: [String]
    /// The version: its catalog id and number (reads name it to the nodes).
    public var fileID: FileID?
    public var version: Int64?
    /// The nodes of `nodes` that hold the file under another path, by address: renamed
    /// (`fsdfsd mv`) and not moved there yet (absent when there is none). They come last in
    /// `nodes`.
    public var heldAt: [String: VirtualPath]?

    public init(
        path: VirtualPath, size: Int64, sha256: String, n: Int, k: Int, kn: Int, nodes: [String], fileID: FileID? = nil,
        version: Int64? = nil, heldAt: [String: VirtualPath]? = nil
    ) {
        self.heldAt = heldAt
        self.fileID = fileID
        self.version = version
        self.path = path
        self.size = size
        self.sha256 = sha256
        self.n = n
        self.k = k
        self.kn = kn
        self.nodes = nodes
    }
}

/// One entry of `ls --json` (section 9).
public struct ListEntry: Sendable, Codable, Equatable {
    public var path: VirtualPath
    public var size: Int64
    public var n: Int
    public var k: Int

    public init(path: VirtualPath, size: Int64, n: Int, k: Int) {
        self.path = path
        self.size = size
        self.n = n
        self.k = k
    }
}

/// One file of `GET /v1/files/manifest?prefix=…`: what a bulk transfer (`put -r`, `get -r`)
/// needs to skip a file whose content already matches and to read the right version from a
/// node holding it, for a whole page of files in one call.
public struct ManifestEntry: Sendable, Codable, Equatable {
    public var path: VirtualPath
    public var size: Int64
    public var sha256: String
    public var fileID: FileID
    public var version: Int64
    /// Addresses of alive nodes holding a verified copy (as in ``WhereReply/nodes``).
    public var nodes: [String]
    /// Nodes that hold it under another path (``WhereReply/heldAt``).
    public var heldAt: [String: VirtualPath]?

    public init(
        path: VirtualPath, size: Int64, sha256: String, fileID: FileID, version: Int64, nodes: [String],
        heldAt: [String: VirtualPath]? = nil
    ) {
        self.heldAt = heldAt
        self.path = path
        self.size = size
        self.sha256 = sha256
        self.fileID = fileID
        self.version = version
        self.nodes = nodes
    }
}

/// `DELETE /v1/files?path=…`.
public struct DeleteReply: Sendable, Codable, Equatable {
    public var path: VirtualPath
    /// Holders that removed their copy at once; the others remove it when they report.
    public var removedFrom: Int
    public var pending: Int

    public init(path: VirtualPath, removedFrom: Int, pending: Int) {
        self.path = path
        self.removedFrom = removedFrom
        self.pending = pending
    }
}

/// `status --json` (section 9; keep the field names). Fields after `nodes` are additions.
/// `POST /v1/files/rename` (`fsdfsd mv SRC DST [-r]`). Without `recursive`, the file at
/// `from` becomes the file at `to` (a file there is replaced, as `mv` replaces it); with it,
/// every file under the prefix `from/` moves under `to/`, and none may be there already.
public struct RenameRequest: Sendable, Codable, Equatable {
    public var from: String
    public var to: String
    public var recursive: Bool

    public init(from: String, to: String, recursive: Bool) {
        self.from = from
        self.to = to
        self.recursive = recursive
    }
}

public struct RenameReply: Sendable, Codable, Equatable {
    /// Files renamed.
    public var renamed: Int
    /// Versions replaced at their new path (a single file's `mv` onto an existing file).
    public var replaced: Int

    public init(renamed: Int, replaced: Int) {
        self.renamed = renamed
        self.replaced = replaced
    }
}

public struct StatusReply: Sendable, Codable, Equatable {
    public var master: String
    public var minKn: Int?
    public var files: Int
    public var bytes: Int64
    public var underReplicated: Int
    public var nodes: [NodeStatus]
    /// Replication work under way and its estimated end.
    public var replication: ReplicationStatus
    /// The swarm of the master's catalog.
    public var swarm: SwarmID?
    /// Set while the master removes and evicts nothing (after a restart, during recovery).
    public var safeMode: SafeModeStatus?
    /// Nodes that reported and were refused because their data belongs to another swarm.
    public var refused: [RefusedNode]?
    /// Files nodes hold that the catalog cannot account for: kept, never removed
    /// (`fsdfsd unaccounted` lists them).
    public var unaccountedFiles: Int?
    public var unaccountedBytes: Int64?
    /// How many files have each K − N, lowest first (``KnBucket``).
    public var knHistogram: [KnBucket]?
    /// Files with K = 0: no copy on a node that is up (`fsdfsd at-risk` lists them).
    public var lostFiles: Int?

    public init(
        master: String, minKn: Int?, files: Int, bytes: Int64, underReplicated: Int,
        nodes: [NodeStatus], replication: ReplicationStatus, swarm: SwarmID? = nil, safeMode: SafeModeStatus? = nil,
        refused: [RefusedNode]? = nil, unaccountedFiles: Int? = nil, unaccountedBytes: Int64? = nil,
        knHistogram: [KnBucket]? = nil, lostFiles: Int? = nil
    ) {
        self.knHistogram = knHistogram
        self.lostFiles = lostFiles
        self.swarm = swarm
        self.safeMode = safeMode
        self.refused = refused
        self.unaccountedFiles = unaccountedFiles
        self.unaccountedBytes = unaccountedBytes
        self.master = master
        self.minKn = minKn
        self.files = files
        self.bytes = bytes
        self.underReplicated = underReplicated
        self.nodes = nodes
        self.replication = replication
    }

    // minKn is written as null when there are no files (synthesised Codable would omit it).
    enum CodingKeys: String, CodingKey {
        case master, minKn, files, bytes, underReplicated, nodes, replication
        case swarm, safeMode, refused, unaccountedFiles, unaccountedBytes
        case knHistogram, lostFiles
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(master, forKey: .master)
        try container.encode(minKn, forKey: .minKn)
        try container.encode(files, forKey: .files)
        try container.encode(bytes, forKey: .bytes)
        try container.encode(underReplicated, forKey: .underReplicated)
        try container.encode(nodes, forKey: .nodes)
        try container.encode(replication, forKey: .replication)
        try container.encodeIfPresent(swarm, forKey: .swarm)
        try container.encodeIfPresent(safeMode, forKey: .safeMode)
        try container.encodeIfPresent(refused, forKey: .refused)
        try container.encodeIfPresent(unaccountedFiles, forKey: .unaccountedFiles)
        try container.encodeIfPresent(unaccountedBytes, forKey: .unaccountedBytes)
        try container.encodeIfPresent(knHistogram, forKey: .knHistogram)
        try container.encodeIfPresent(lostFiles, forKey: .lostFiles)
    }
}

public struct NodeStatus: Sendable, Codable, Equatable {
    public var id: NodeID
    public var address: String
    public var alive: Bool
    public var quota: Int64
    public var used: Int64
    public var free: Int64
    public var files: Int
    public var load: Double
    public var maxKn: Int?
    /// Files on the node the catalog cannot account for (kept), and their bytes.
    public var unaccountedFiles: Int?
    public var unaccountedBytes: Int64?

    /// The node's background scrubber, as it last reported it (addition; omitted when unknown).
    public var scrub: ScrubStatus?

    /// Draining (`fsdfsd node drain`): it receives nothing new (addition).
    public var draining: Bool?
    /// How far the drain is, while the node is draining (addition).
    public var drain: DrainStatus?
    /// End of the node's maintenance window (ISO 8601), while it lasts (addition): its copies
    /// count even while it does not answer, by the operator's decision.
    public var maintenanceUntil: String?

    public init(
        id: NodeID, address: String, alive: Bool, quota: Int64, used: Int64, free: Int64,
        files: Int, load: Double, maxKn: Int?, unaccountedFiles: Int? = nil, unaccountedBytes: Int64? = nil,
        scrub: ScrubStatus? = nil, draining: Bool? = nil, drain: DrainStatus? = nil, maintenanceUntil: String? = nil
    ) {
        self.draining = draining
        self.drain = drain
        self.maintenanceUntil = maintenanceUntil
        self.unaccountedFiles = unaccountedFiles
        self.unaccountedBytes = unaccountedBytes
        self.id = id
        self.address = address
        self.alive = alive
        self.quota = quota
        self.used = used
        self.free = free
        self.files = files
        self.load = load
        self.maxKn = maxKn
        self.scrub = scrub
    }

    enum CodingKeys: String, CodingKey {
        case id, address, alive, quota, used, free, files, load, maxKn, unaccountedFiles, unaccountedBytes, scrub
        case draining, drain, maintenanceUntil
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(address, forKey: .address)
        try container.encode(alive, forKey: .alive)
        try container.encode(quota, forKey: .quota)
        try container.encode(used, forKey: .used)
        try container.encode(free, forKey: .free)
        try container.encode(files, forKey: .files)
        try container.encode(load, forKey: .load)
        try container.encode(maxKn, forKey: .maxKn)
        try container.encodeIfPresent(unaccountedFiles, forKey: .unaccountedFiles)
        try container.encodeIfPresent(unaccountedBytes, forKey: .unaccountedBytes)
        try container.encodeIfPresent(scrub, forKey: .scrub)
        try container.encodeIfPresent(draining, forKey: .draining)
        try container.encodeIfPresent(drain, forKey: .drain)
        try container.encodeIfPresent(maintenanceUntil, forKey: .maintenanceUntil)
    }
}

/// A drain's progress (`status`, on a draining node).
public struct DrainStatus: Sendable, Codable, Equatable {
    /// Files on the node with fewer than N copies on other nodes that are up, answering and
    /// not draining: they still need the node's copy.
    public var filesLeft: Int
    public var bytesLeft: Int64
    /// No file needs the node's copies: it can be stopped without any file losing a copy it needs.
    public var done: Bool
    /// Why the drain cannot go on now, when it cannot (too few other nodes, no room).
    public var blocked: String?

    public init(filesLeft: Int, bytesLeft: Int64, done: Bool, blocked: String? = nil) {
        self.filesLeft = filesLeft
        self.bytesLeft = bytesLeft
        self.done = done
        self.blocked = blocked
    }
}

/// The scheduler's backlog, for `status`.
public struct ReplicationStatus: Sendable, Codable, Equatable {
    /// Copies commanded and not finished.
    public var copiesInFlight: Int
    /// Bytes still missing to bring every file to N (sum of size × (N − K) over files at risk).
    public var backlogBytes: Int64
    /// Bytes copied per second over the last minute.
    public var bytesPerSecond: Double
    /// Seconds until the backlog is cleared at that rate; nil when nothing moves or nothing is due.
    public var etaSeconds: Double?
    /// Why the scheduler is not running, when it is not (catalog unreachable…).
    public var paused: String?
    /// Why the backlog cannot progress, and what would fix it; null while it progresses or
    /// there is none (then `etaSeconds` is null too).
    public var stuck: StuckReplication?
    /// The cap on copy traffic across the swarm (`--max-replication-rate`), bytes per second;
    /// absent without one (addition).
    public var maxBytesPerSecond: Int64?

    public init(
        copiesInFlight: Int, backlogBytes: Int64, bytesPerSecond: Double, etaSeconds: Double?, paused: String?,
        stuck: StuckReplication? = nil, maxBytesPerSecond: Int64? = nil
    ) {
        self.maxBytesPerSecond = maxBytesPerSecond
        self.copiesInFlight = copiesInFlight
        self.backlogBytes = backlogBytes
        self.bytesPerSecond = bytesPerSecond
        self.etaSeconds = etaSeconds
        self.paused = paused
        self.stuck = stuck
    }

    // `etaSeconds` and `stuck` are written as null when unset (synthesised Codable would omit
    // them): a reader sees at once there is no estimate and nothing is stuck.
    enum CodingKeys: String, CodingKey {
        case copiesInFlight, backlogBytes, bytesPerSecond, etaSeconds, paused, stuck, maxBytesPerSecond
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(copiesInFlight, forKey: .copiesInFlight)
        try container.encode(backlogBytes, forKey: .backlogBytes)
        try container.encode(bytesPerSecond, forKey: .bytesPerSecond)
        try container.encode(etaSeconds, forKey: .etaSeconds)
        try container.encodeIfPresent(paused, forKey: .paused)
        try container.encode(stuck, forKey: .stuck)
        try container.encodeIfPresent(maxBytesPerSecond, forKey: .maxBytesPerSecond)
    }
}

/// Why the master removes and evicts nothing for now, and what it waits for.
public struct SafeModeStatus: Sendable, Codable, Equatable {
    public var reason: String
    /// When safe mode began (ISO 8601).
    public var since: String
    /// Addresses of the nodes it still waits for; empty when only the operator ends it.
    public var waitingFor: [String]
    /// The master is rebuilding its catalog from the nodes (`serve --recover`).
    public var recovering: Bool

    public init(reason: String, since: String, waitingFor: [String], recovering: Bool) {
        self.reason = reason
        self.since = since
        self.waitingFor = waitingFor
        self.recovering = recovering
    }
}

/// A node refused because its data directory belongs to another swarm.
public struct RefusedNode: Sendable, Codable, Equatable {
    public var id: NodeID
    public var address: String
    /// The swarm the node belongs to.
    public var swarm: SwarmID?
    /// Last refused (ISO 8601).
    public var at: String

    public init(id: NodeID, address: String, swarm: SwarmID?, at: String) {
        self.id = id
        self.address = address
        self.swarm = swarm
        self.at = at
    }
}

/// A file a node holds that the catalog cannot account for. It is kept, never removed by
/// default; `fsdfsd unaccounted` lists them.
public struct UnaccountedFile: Sendable, Codable, Equatable {
    public var node: NodeID
    public var address: String
    public var path: VirtualPath
    public var size: Int64
    public var sha256: String
    /// The version the node recorded for it, if any.
    public var fileID: FileID?
    public var version: Int64?
    /// Why it is not counted, in words.
    public var reason: String
    /// Where the node keeps it when it is not at its path: a version kept aside in
    /// `DIR/.fsdfs/kept` (addition; absent otherwise).
    public var kept: String?

    public init(
        node: NodeID, address: String, path: VirtualPath, size: Int64, sha256: String, fileID: FileID?, version: Int64?,
        reason: String, kept: String? = nil
    ) {
        self.kept = kept
        self.node = node
        self.address = address
        self.path = path
        self.size = size
        self.sha256 = sha256
        self.fileID = fileID
        self.version = version
        self.reason = reason
    }
}

/// `POST /v1/safe-mode`: the operator ends safe mode (`fsdfsd safe-mode leave`).
public struct SafeModeCommand: Sendable, Codable, Equatable {
    public var leave: Bool

    public init(leave: Bool) { self.leave = leave }
}

/// One entry of a directory of the store (`GET /v1/dir`), for the mount: a file with its
/// size, modification time (its version's creation, Unix seconds), version and checksum, or a
/// directory (a prefix some file lies under).
public struct DirEntry: Sendable, Codable, Equatable {
    public var name: String
    public var directory: Bool
    public var size: Int64
    public var modified: Double
    public var version: Int64?
    public var sha256: String?

    public init(name: String, directory: Bool, size: Int64, modified: Double, version: Int64? = nil, sha256: String? = nil) {
        self.name = name
        self.directory = directory
        self.size = size
        self.modified = modified
        self.version = version
        self.sha256 = sha256
    }
}
