import Foundation

// Wire types between the master and storage nodes: Codable DTOs, all in this folder.
// Routes are listed in ``Route``.

/// One file a node holds, as it reports it.
public struct HeldFile: Sendable, Codable, Equatable {
    public var path: VirtualPath
    /// The catalog version the node stored; nil for a file found on disk with no record.
    public var fileID: FileID?
    public var size: Int64
    public var sha256: String
    /// The catalog's number and creation time of that version, when the node was told them:
    /// a catalog rebuilt from the nodes keeps the newest version of a path.
    public var version: Int64?
    public var created: Date?

    public init(
        path: VirtualPath, fileID: FileID?, size: Int64, sha256: String, version: Int64? = nil, created: Date? = nil
    ) {
        self.path = path
        self.fileID = fileID
        self.size = size
        self.sha256 = sha256
        self.version = version
        self.created = created
    }
}

/// A version the master tells a node it holds (a file found on disk that matches the current
/// version, or a file a rebuilt catalog took in): its catalog id, number and creation time.
public struct AdoptedFile: Sendable, Codable, Equatable, Hashable {
    public var fileID: FileID
    public var path: VirtualPath
    /// The checksum the master matched: the node records the version only if its copy still has it.
    public var sha256: String?
    public var version: Int64?
    public var created: Date?

    public init(fileID: FileID, path: VirtualPath, sha256: String?, version: Int64?, created: Date?) {
        self.fileID = fileID
        self.path = path
        self.sha256 = sha256
        self.version = version
        self.created = created
    }

    public init(_ file: FileRecord) {
        self.init(fileID: file.id, path: file.path, sha256: file.sha256, version: file.version, created: file.created)
    }
}

/// A (version, path) pair a node must drop, or has dropped.
///
/// Removals the master commands carry the version's checksum too: a node removes what it
/// holds only if id, path and checksum all agree, so a catalog that numbered its files anew
/// (rebuilt by `serve --recover`) can never name another file the node keeps.
public struct FileRef: Sendable, Codable, Equatable, Hashable {
    public var fileID: FileID
    public var path: VirtualPath
    /// The checksum of the version meant; nil in what a node reports (it says what it dropped).
    public var sha256: String?

    public init(fileID: FileID, path: VirtualPath, sha256: String? = nil) {
        self.fileID = fileID
        self.path = path
        self.sha256 = sha256
    }

    /// The same version and path, whether or not either side names the checksum.
    public func names(_ other: FileRef) -> Bool { fileID == other.fileID && path == other.path }
}

/// A version a node keeps aside in `DIR/.fsdfs/kept`: an upload replaced it and the master
/// never said whether it recorded that upload. fsdfs never deletes it; the master lists it
/// with the unaccounted files.
public struct KeptVersion: Sendable, Codable, Equatable {
    public var path: VirtualPath
    public var fileID: FileID?
    public var size: Int64
    public var sha256: String
    public var version: Int64?
    /// The file on the node's disk.
    public var location: String
    public var since: Date

    public init(
        path: VirtualPath, fileID: FileID?, size: Int64, sha256: String, version: Int64?, location: String, since: Date
    ) {
        self.path = path
        self.fileID = fileID
        self.size = size
        self.sha256 = sha256
        self.version = version
        self.location = location
        self.since = since
    }
}

/// One exact version a node may let a copy or an upload take the place of: its catalog id
/// and its checksum. Both must match what the node holds.
public struct VersionRef: Sendable, Codable, Equatable, Hashable {
    public var fileID: FileID
    public var sha256: String

    public init(fileID: FileID, sha256: String) {
        self.fileID = fileID
        self.sha256 = sha256
    }

    public init(_ file: FileRecord) { self.init(fileID: file.id, sha256: file.sha256) }
}

/// `POST /v1/nodes/report`: sent every report interval, and at once after a change the master
/// must hear about quickly (a quarantined replica).
public struct NodeReport: Sendable, Codable, Equatable {
    public var node: NodeID
    /// The swarm the node's data directory belongs to; nil until it has joined one.
    public var swarm: SwarmID?
    public var address: String
    public var quota: Int64
    /// Bytes the node's store holds or has reserved.
    public var used: Int64
    /// 1-minute load average per core plus active transfers.
    public var load: Double
    /// The whole inventory (on join, and whenever the master asks); nil for a delta report.
    public var inventory: [HeldFile]?
    /// Files stored since the last report (delta reports).
    public var added: [HeldFile]
    /// Files gone since the last report: removed, evicted, replaced or quarantined.
    public var removed: [FileRef]
    /// The node's background scrubber (absent from nodes that predate it).
    public var scrub: ScrubStatus?
    /// Every version the node keeps aside (``KeptVersion``): sent with the inventory and
    /// whenever the list changes; nil when unchanged.
    public var kept: [KeptVersion]?
    /// Why some of `removed` went: found corrupt or missing (scrub, a read, a check). Absent
    /// when none was, and from nodes that predate it.
    public var damaged: [ReplicaDamage]?
    /// Made anew each time the node's process starts (absent from nodes that predate it): an
    /// inventory from another instance than the master last heard was taken after every copy
    /// the master saw land on the node.
    public var instance: String?

    public init(
        node: NodeID, swarm: SwarmID? = nil, address: String, quota: Int64, used: Int64, load: Double,
        inventory: [HeldFile]?, added: [HeldFile] = [], removed: [FileRef] = [], scrub: ScrubStatus? = nil,
        kept: [KeptVersion]? = nil, damaged: [ReplicaDamage]? = nil, instance: String? = nil
    ) {
        self.instance = instance
        self.kept = kept
        self.damaged = damaged
        self.node = node
        self.swarm = swarm
        self.address = address
        self.quota = quota
        self.used = used
        self.load = load
        self.inventory = inventory
        self.added = added
        self.removed = removed
        self.scrub = scrub
    }
}

/// A replica a node dropped because it was damaged: corrupt (moved to quarantine) or missing
/// from the disk. Sent with the removal, so the master can say which it was.
public struct ReplicaDamage: Sendable, Codable, Equatable {
    public static let corrupt = "corrupt"
    public static let missing = "missing"

    public var file: FileRef
    /// ``corrupt`` or ``missing`` (a string, so a newer node's kind does not break a report).
    public var kind: String
    /// What was found, in words.
    public var detail: String?

    public init(file: FileRef, kind: String, detail: String? = nil) {
        self.file = file
        self.kind = kind
        self.detail = detail
    }
}

/// The master's answer to a report.
public struct NodeReportReply: Sendable, Codable, Equatable {
    /// The swarm of the master's catalog. A node that has not joined a swarm yet joins this
    /// one; a node of another swarm applies nothing of this reply.
    public var swarm: SwarmID?
    /// The master does not know the node's holdings (first contact, master restart, or the
    /// node was declared down): send the whole inventory now.
    public var sendInventory: Bool
    /// Files of deleted or replaced versions the node must remove.
    public var remove: [FileRef]
    /// Files found on disk with no version recorded, or with another one, that the master
    /// recognised (same path, size and checksum as the current version), or took into a
    /// catalog it is rebuilding.
    public var adopt: [AdoptedFile]

    public init(swarm: SwarmID? = nil, sendInventory: Bool, remove: [FileRef] = [], adopt: [AdoptedFile] = []) {
        self.swarm = swarm
        self.sendInventory = sendInventory
        self.remove = remove
        self.adopt = adopt
    }
}

/// `POST /v1/nodes/inventory`: one batch of a node's whole inventory, sent when the master
/// answers a report with `sendInventory`. A node with a million files sends them in batches of
/// some thousands, each a signed request of a few MiB, instead of one body.
///
/// A stream is the batches of one `session` (a random id the node makes), numbered from 0 by
/// `sequence`; the first carries the `report` it belongs to, the last says `done` with the
/// `total` of files sent. Files are in ascending order of their path's UTF-8 bytes across the
/// whole stream, and a batch stands for the whole range of paths from the last path of the
/// batch before (excluded) to its own last path (included; to the end for the last batch):
/// a replica the catalog lists on the node in that range that the batch does not hold is gone.
/// So the master matches each batch on its own and keeps nothing of the stream but its place.
///
/// Errors: `inventory_busy` (503) when the master matches as many inventories as it allows at
/// once: the node tries the same batch again a little later; `inventory_restart` (409) when
/// the master does not know the session or expected another batch (it restarted, or a batch
/// was lost): the node starts the stream again.
public struct InventoryBatch: Sendable, Codable, Equatable {
    public var node: NodeID
    public var session: String
    public var sequence: Int
    /// The report this inventory belongs to, in the first batch only (its `inventory` nil,
    /// its `added` empty: the inventory holds them).
    public var report: NodeReport?
    public var files: [HeldFile]
    /// The last batch of the stream.
    public var done: Bool
    /// With `done`: how many files the whole stream sent (the master checks it).
    public var total: Int?

    public init(
        node: NodeID, session: String, sequence: Int, report: NodeReport? = nil, files: [HeldFile], done: Bool,
        total: Int? = nil
    ) {
        self.node = node
        self.session = session
        self.sequence = sequence
        self.report = report
        self.files = files
        self.done = done
        self.total = total
    }
}

/// The master's answer to one ``InventoryBatch``.
public struct InventoryBatchReply: Sendable, Codable, Equatable {
    /// The swarm of the master's catalog (as in ``NodeReportReply``).
    public var swarm: SwarmID?
    /// Files of this batch found on disk with no version recorded, or another one, that the
    /// master recognised or took in (as in ``NodeReportReply``).
    public var adopt: [AdoptedFile]
    /// With the last batch: versions of deleted or replaced files the node must remove.
    public var remove: [FileRef]
    /// Files of the stream matched so far.
    public var matched: Int

    public init(swarm: SwarmID?, adopt: [AdoptedFile] = [], remove: [FileRef] = [], matched: Int) {
        self.swarm = swarm
        self.adopt = adopt
        self.remove = remove
        self.matched = matched
    }
}

/// `POST /v1/nodes/leave`: a node shutting down cleanly; its replicas stop counting at once.
public struct NodeLeave: Sendable, Codable, Equatable {
    public var node: NodeID

    public init(node: NodeID) { self.node = node }
}

/// `POST /v1/copy` on the target: pull `path` from `source`, verify, store, answer.
public struct CopyCommand: Sendable, Codable, Equatable {
    public var fileID: FileID
    public var path: VirtualPath
    public var size: Int64
    public var sha256: String
    /// Address of the node to pull from.
    public var source: String
    /// The version's number and creation time, which the node records with it.
    public var version: Int64?
    public var created: Date?
    /// The swarm of the master's catalog: a node of another swarm copies nothing.
    public var swarm: SwarmID?
    /// Deleted or replaced versions of the path this copy may take the place of on the node;
    /// any other file there (a newer version, a file the catalog cannot account for) is kept
    /// and the copy refused with `version_conflict`.
    public var replaces: [VersionRef]?
    /// Where the source holds the version when that is not `path`: a source that has not
    /// moved a renamed file yet (absent otherwise).
    public var sourcePath: VirtualPath?

    public init(
        fileID: FileID, path: VirtualPath, size: Int64, sha256: String, source: String, version: Int64? = nil,
        created: Date? = nil, replaces: [VersionRef] = [], swarm: SwarmID? = nil, sourcePath: VirtualPath? = nil
    ) {
        self.sourcePath = sourcePath
        self.swarm = swarm
        self.replaces = replaces
        self.version = version
        self.created = created
        self.fileID = fileID
        self.path = path
        self.size = size
        self.sha256 = sha256
        self.source = source
    }
}

/// `POST /v1/remove` on a node: drop these versions (a version the node does not hold, or
/// holds under another version, counts as gone).
public struct RemoveCommand: Sendable, Codable, Equatable {
    /// The swarm of the master's catalog: a node of another swarm (or of none yet) removes nothing.
    public var swarm: SwarmID?
    public var files: [FileRef]

    public init(swarm: SwarmID?, files: [FileRef]) {
        self.swarm = swarm
        self.files = files
    }
}

public struct RemoveReply: Sendable, Codable, Equatable {
    /// Every version in the command that the node no longer holds.
    public var gone: [FileRef]

    public init(gone: [FileRef]) { self.gone = gone }
}

/// `POST /v1/move` on a node: versions renamed in the catalog (`fsdfsd mv`) that the node
/// holds under their old path, to move to their new one. A node of another swarm moves nothing.
public struct MoveCommand: Sendable, Codable, Equatable {
    public var swarm: SwarmID?
    public var moves: [MoveOrder]

    public init(swarm: SwarmID?, moves: [MoveOrder]) {
        self.swarm = swarm
        self.moves = moves
    }
}

/// One version to move: the exact version (id and checksum) the node holds at `from`.
public struct MoveOrder: Sendable, Codable, Equatable {
    public var fileID: FileID
    public var from: VirtualPath
    public var to: VirtualPath
    public var sha256: String
    /// The version number it has at `to`, for the node's index.
    public var version: Int64

    public init(fileID: FileID, from: VirtualPath, to: VirtualPath, sha256: String, version: Int64) {
        self.fileID = fileID
        self.from = from
        self.to = to
        self.sha256 = sha256
        self.version = version
    }
}

public struct MoveReply: Sendable, Codable, Equatable {
    /// Versions now at their new path (moved now, or before a reply was lost).
    public var moved: [FileID]
    /// Versions the node holds at neither path: its replica is not there.
    public var absent: [FileID]
    /// Versions left where they are, and why (another file at the new path: kept, never
    /// written over).
    public var blocked: [MoveBlocked]

    public init(moved: [FileID], absent: [FileID], blocked: [MoveBlocked]) {
        self.moved = moved
        self.absent = absent
        self.blocked = blocked
    }
}

public struct MoveBlocked: Sendable, Codable, Equatable {
    public var fileID: FileID
    public var reason: String

    public init(fileID: FileID, reason: String) {
        self.fileID = fileID
        self.reason = reason
    }
}

/// `POST /v1/verify` on a node: re-hash one file; a corrupt file is quarantined.
public struct VerifyCommand: Sendable, Codable, Equatable {
    public var path: VirtualPath

    public init(path: VirtualPath) { self.path = path }
}

public struct VerifyReply: Sendable, Codable, Equatable {
    /// False when the node does not hold the file or its bytes were corrupt.
    public var intact: Bool

    public init(intact: Bool) { self.intact = intact }
}

/// What a node's background scrubber has done: its last full pass, the pass under way, and
/// the damaged replicas it has found. Carried in ``NodeReport``, shown by `status`, and the
/// reply of `GET /v1/scrub` on the node. Times are seconds since 1970.
public struct ScrubStatus: Sendable, Codable, Equatable {
    /// The last full pass that ran to its end; nil before the first.
    public var lastPass: ScrubPass?
    /// The pass under way; nil while the scrubber waits for the next one.
    public var current: ScrubPass?
    /// Replicas found corrupt (or unreadable) and quarantined, over every pass of this node.
    public var corrupt: Int
    /// Replicas found missing from the disk, over every pass of this node.
    public var missing: Int

    public init(lastPass: ScrubPass? = nil, current: ScrubPass? = nil, corrupt: Int = 0, missing: Int = 0) {
        self.lastPass = lastPass
        self.current = current
        self.corrupt = corrupt
        self.missing = missing
    }
}

/// One pass of the scrubber over the node's inventory as it was when the pass started.
public struct ScrubPass: Sendable, Codable, Equatable {
    /// Numbers the node's passes from 1 (kept across restarts).
    public var number: Int
    /// When it started, seconds since 1970.
    public var started: Double
    /// When it ended, seconds since 1970; nil while it runs.
    public var ended: Double?
    public var filesDone: Int
    public var filesTotal: Int
    public var bytesDone: Int64
    public var bytesTotal: Int64
    /// Replicas this pass found corrupt or unreadable (quarantined).
    public var corrupt: Int
    /// Replicas this pass found missing from the disk.
    public var missing: Int

    public init(
        number: Int, started: Double, ended: Double? = nil, filesDone: Int = 0, filesTotal: Int,
        bytesDone: Int64 = 0, bytesTotal: Int64, corrupt: Int = 0, missing: Int = 0
    ) {
        self.number = number
        self.started = started
        self.ended = ended
        self.filesDone = filesDone
        self.filesTotal = filesTotal
        self.bytesDone = bytesDone
        self.bytesTotal = bytesTotal
        self.corrupt = corrupt
        self.missing = missing
    }
}

/// The reply to `POST /v1/scrub` on a node: the full pass it started.
public struct ScrubStarted: Sendable, Codable, Equatable {
    /// The number of the pass started; it has ended once `ScrubStatus.lastPass.number` reaches it.
    public var pass: Int
    /// Whether a pass that was under way was cut short for it.
    public var restarted: Bool

    public init(pass: Int, restarted: Bool) {
        self.pass = pass
        self.restarted = restarted
    }
}

/// A successful store on a node (upload or copy).
public struct StoredReply: Sendable, Codable, Equatable {
    public var path: VirtualPath
    public var fileID: FileID
    public var size: Int64
    public var sha256: String
    /// K of the file right after the store.
    public var k: Int
    /// The version's number and creation time (from the master), which the node records.
    public var version: Int64?
    public var created: Date?

    public init(
        path: VirtualPath, fileID: FileID, size: Int64, sha256: String, k: Int, version: Int64? = nil, created: Date? = nil
    ) {
        self.version = version
        self.created = created
        self.path = path
        self.fileID = fileID
        self.size = size
        self.sha256 = sha256
        self.k = k
    }
}

/// Every error body: `{"error": "...", "code": "..."}`.
public struct ErrorReply: Sendable, Codable, Equatable, Error, CustomStringConvertible {
    public var error: String
    public var code: String

    public init(error: String, code: String) {
        self.error = error
        self.code = code
    }

    public var description: String { error }
}
