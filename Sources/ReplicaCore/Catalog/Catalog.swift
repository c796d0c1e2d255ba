import Foundation

/// The master's metadata store: files, their replicas and the storage nodes.
///
/// Two implementations share one conformance suite: ``SQLiteCatalog`` (embedded, the default)
/// and the MongoDB catalog. Every method is safe to call concurrently; implementations run
/// their blocking work on their own threads, never on Swift's cooperative pool.
///
/// ## Invariants every implementation keeps
///
/// - `k` of a file is the number of its replicas in state ``ReplicaState/live`` on nodes that
///   are alive, and `kn = k - n`. Both change in the same atomic step as the replica, node
///   liveness or `n` change that moves them, so a reader never sees a stale `kn`.
/// - A file has at most one replica per node (a replica is never counted twice).
/// - A node's `used` is the sum of the sizes of all replicas recorded on it, in any state,
///   including those of deleted files that the node has not removed yet.
/// - Deleted files are tombstones: never scheduled, not in totals, listed by
///   ``pendingDeletions(on:)`` until every holder has confirmed the removal.
public protocol Catalog: Sendable {
    // MARK: Swarm

    /// The id of the swarm this catalog belongs to, made when the catalog was created.
    func swarmID() async throws -> SwarmID
    /// Gives an empty catalog (no files, no nodes) the id of the swarm whose nodes it is
    /// rebuilt from (`serve --recover`). Throws ``CatalogError/notEmpty(files:nodes:)`` otherwise.
    func setSwarmID(_ id: SwarmID) async throws
    /// Whether the catalog is being rebuilt from the nodes: set when `serve --recover` starts
    /// on an empty catalog, cleared when the operator ends the recovery. A master stopped
    /// meanwhile resumes the recovery instead of taking a half-built catalog for the truth.
    func isRecovering() async throws -> Bool
    func setRecovering(_ recovering: Bool) async throws

    // MARK: Nodes

    /// Adds a node or updates its address, quota and load. A node that registers is alive.
    func registerNode(_ node: NodeRecord) async throws
    /// Records a report: load, quota and the time it arrived. Does not change liveness.
    func recordReport(node: NodeID, quota: Int64, load: Double, at time: Date) async throws
    /// Marks a node up or down; the K of every file it holds is recomputed in the same step.
    func setNodeAlive(_ node: NodeID, alive: Bool) async throws
    /// Forgets a node and all its replicas (they stop counting at once).
    func removeNode(_ node: NodeID) async throws
    func node(_ id: NodeID) async throws -> NodeRecord?
    func nodes() async throws -> [NodeRecord]

    // MARK: Node states (drain and maintenance)

    /// Marks a node draining, or no longer (`fsdfsd node drain|undrain`). K does not change:
    /// a draining node's copies still count. The state survives re-registration (a report)
    /// and restarts; only ``removeNode(_:)`` forgets it. Throws ``CatalogError/unknownNode(_:)``.
    func setDraining(_ node: NodeID, _ draining: Bool) async throws
    /// Sets the end of a node's maintenance window, or clears it (nil). K does not change. The
    /// window survives re-registration and restarts. Throws ``CatalogError/unknownNode(_:)``.
    func setMaintenance(_ node: NodeID, until: Date?) async throws

    // MARK: Files

    /// Records a new file, or a new version of a path that exists (the old version becomes a
    /// tombstone whose replicas are pending deletion). Returns the new record, with K = 0.
    ///
    /// All or nothing, even when the master dies in the middle: the path is left with its old
    /// version or its new one, never without either. An upload already recorded
    /// (``NewFile/upload``; its node asks again) is not recorded twice: its version is returned.
    func putFile(_ file: NewFile) async throws -> FileRecord
    /// Records many uploaded files as ``putFile(_:)`` does, each with a live replica on
    /// `holder` (the node that stored and verified them all): a batch upload. One transaction
    /// on SQLite; on MongoDB each file is one ``putFile(_:)`` (all or nothing per file), then
    /// one bulk write of the replicas. An upload already recorded is not recorded twice.
    /// - Returns: the records, in order, with their K as recorded (1 unless the version was
    ///   replaced or deleted meanwhile).
    func putFiles(_ files: [NewFile], holder: NodeID) async throws -> [FileRecord]
    /// Gives back the memory this process holds for the catalog's sake (caches), after work
    /// on a whole node's files; it fills again as far as the work needs.
    func releaseMemory() async
    /// Records many files at once, each with the nodes that already hold a verified copy (a
    /// node adopting an existing data directory, a restore, a benchmark). Paths that exist get
    /// a new version, as with ``putFile(_:)``. All or nothing.
    func importFiles(_ files: [ImportedFile]) async throws
    /// Makes every file id assigned from now on greater than `id`. Nodes report the ids of
    /// what they hold; a catalog rebuilt from them (`serve --recover`) must never give one of
    /// those ids to another version, or a replacement naming that id could take a file the
    /// catalog cannot account for.
    func reserveFileIDs(through id: FileID) async throws
    /// The current (not deleted) version of a path.
    func file(at path: VirtualPath) async throws -> FileRecord?
    /// Any version by id, including tombstones.
    func file(id: FileID) async throws -> FileRecord?
    /// The version an upload stored (``NewFile/upload``), including tombstones.
    func file(upload: String) async throws -> FileRecord?
    /// Writes a tombstone for the current version of `path`; its replicas stop counting and
    /// become pending deletions. Returns the tombstoned record, or nil when there was none.
    func deleteFile(at path: VirtualPath) async throws -> FileRecord?
    /// Files not deleted, in path order, whose path starts with `prefix`, after `after`.
    func listFiles(prefix: String, after: VirtualPath?, limit: Int) async throws -> [FileRecord]
    /// Changes the target replica count of one file.
    func setN(_ n: Int, for file: FileID) async throws
    /// Re-evaluates N for every file not deleted; returns how many changed.
    func reevaluateN(_ policy: @Sendable (VirtualPath, Int64) -> Int) async throws -> Int

    // MARK: Replicas

    /// Records (or changes the state of) the replica of `file` on `node`.
    func setReplica(_ file: FileID, on node: NodeID, state: ReplicaState) async throws
    /// Forgets the replica of `file` on `node` (copy failed, evicted, deleted).
    func removeReplica(_ file: FileID, from node: NodeID) async throws
    /// Records every replica in `changes` as ``setReplica(_:on:state:)`` does, in one
    /// transaction (SQLite) or a few bulk writes (MongoDB): what a batch of copies needs, so
    /// that a thousand copies landing cost one commit, not a thousand. A file the catalog no
    /// longer knows (purged meanwhile) is skipped, not an error.
    /// - Returns: the files of `changes` that are deleted (their replicas recorded pending
    ///   deletion, whatever state was asked) or unknown: their copies do not count.
    /// - Throws: ``CatalogError/unknownNode(_:)`` when a node is not registered (nothing is recorded then).
    func setReplicas(_ changes: [ReplicaRecord]) async throws -> Set<FileID>
    func replicas(of file: FileID) async throws -> [ReplicaRecord]
    /// Every replica recorded on `node` (any state, deleted files included), for matching a
    /// node's inventory against the catalog.
    func holdings(on node: NodeID) async throws -> [Holding]
    /// Replicas of deleted files still recorded on `node`: the node must remove them. Each
    /// record's path is the one the node holds the version under (a version renamed, then
    /// deleted before the node moved it, is still under its old path there).
    func pendingDeletions(on node: NodeID) async throws -> [FileRecord]
    /// Drops tombstones whose replicas are all gone; returns how many were dropped.
    func purgeTombstones() async throws -> Int

    // MARK: S3 keys

    /// Records a new S3 key. Throws ``S3KeyError/exists(_:)`` when the access key is taken.
    func addS3Key(_ key: S3KeyRecord) async throws
    /// Every S3 key, by access key.
    func s3Keys() async throws -> [S3KeyRecord]
    func s3Key(accessKey: String) async throws -> S3KeyRecord?
    /// Forgets an S3 key; false when there was none.
    func deleteS3Key(accessKey: String) async throws -> Bool

    // MARK: S3 buckets

    /// Records a bucket. Throws ``S3BucketError/exists(_:)`` when there is one of that name.
    func createBucket(_ bucket: S3BucketRecord) async throws
    /// Every bucket, by name.
    func buckets() async throws -> [S3BucketRecord]
    func bucket(named name: String) async throws -> S3BucketRecord?
    /// Forgets a bucket (its files are the caller's business); false when there was none.
    func deleteBucket(named name: String) async throws -> Bool
    /// Keeps the S3 metadata of a version (replacing what it had); dropped with the version.
    func setObjectMeta(_ meta: S3ObjectMeta, of file: FileID) async throws
    /// The S3 metadata kept for each of `files` that has some.
    func objectMeta(of files: [FileID]) async throws -> [FileID: S3ObjectMeta]

    // MARK: Renames

    /// Renames files (`fsdfsd mv`), in order: the current version at each `from` takes the path
    /// `to`, the N given for it and the next version number of `to`; it keeps its id, its
    /// replicas and so its K (nothing is copied). The current version at `to`, if any, is
    /// replaced as a put replaces it (retired, its replicas pending deletion). Each live or
    /// copying replica of a renamed version is marked as held at the path its node has it under
    /// (``pendingMoves(on:)``) until the node confirms the move (``confirmMoves(_:on:)``); a
    /// version renamed back to that path is no longer moving. SQLite renames them all in one
    /// transaction. MongoDB renames one version at a time in two writes: the version at `to`
    /// is retired, then the renamed one takes the path in one atomic update (stopped between
    /// the two, `to` has no current version and `from` is not renamed; a list stopped part-way
    /// has renamed the versions before).
    /// - Throws: ``CatalogError/noFile(_:)`` when a `from` has no current version (SQLite:
    ///   nothing renamed), ``CatalogError/invalidReplicaCount(_:)``.
    func renameFiles(_ renames: [FileRename]) async throws -> [FileRecord]
    /// The replicas on `node` (live, or a copy under way) of current versions it holds, or
    /// will hold, under another path than theirs (renamed since): the node must move the live
    /// ones, and the copies once they land.
    func pendingMoves(on node: NodeID) async throws -> [PendingMove]
    /// The node holds these versions under their path now (or no longer under the old one):
    /// they are no longer moving there. Unknown versions are skipped.
    func confirmMoves(_ files: [FileID], on node: NodeID) async throws

    // MARK: Inventories

    /// One read for one batch of a node's inventory (``InventoryBatch``): the current version
    /// of each of `paths`, and every replica recorded on `node` of a version whose path is in
    /// `range`. Its cost follows the batch and the versions in the range, never the number of
    /// files the node holds. An unknown node holds nothing.
    func inventoryView(on node: NodeID, paths: [VirtualPath], range: PathRange) async throws -> InventoryView
    /// One read for the files a node's report says it added: the current version of each of
    /// `paths` that has one, with the state of `node`'s replica of it (nil when none is
    /// recorded). Its cost follows the paths asked for, never the files the node holds.
    func currentVersions(of paths: [VirtualPath], on node: NodeID) async throws -> [VirtualPath: CurrentVersion]
    /// Records what matching one batch decided, in one transaction where the catalog has them
    /// (each change atomic otherwise): a replica of every version of `live` on `node` in state
    /// live (as ``setReplica(_:on:state:)``: a deleted version's stays pending deletion), and
    /// none of `forget` (as ``removeReplica(_:from:)``). A version no longer in the catalog
    /// is skipped. Throws ``CatalogError/unknownNode(_:)``.
    func applyInventory(on node: NodeID, live: [FileID], forget: [FileID]) async throws

    // MARK: Figures

    /// Totals over files not deleted; `minKn` is nil without files.
    func totals() async throws -> CatalogTotals
    /// Per-node figures for `status`: files held (live), bytes used and the highest kn held.
    func nodeFigures() async throws -> [NodeID: NodeFigures]
    /// Files with K < N, most at risk first.
    func underReplicated(limit: Int) async throws -> [FileRecord]
    /// Files not deleted, counted per (K, N) pair present, in ascending kn then K: a few rows
    /// whatever the number of files (SQLite reads its scheduling index only, MongoDB groups the
    /// file documents). The metrics take from it the histogram of K − N, the lost files (K = 0)
    /// and the replication backlog.
    func replicationCounts() async throws -> [ReplicationCount]
    /// How many files (not deleted) have each value of K − N, lowest first; values no file has
    /// are left out.
    func knHistogram() async throws -> [KnBucket]

    // MARK: Events

    /// Appends events to the master's log in the order given, numbering each after every event
    /// appended before (numbers are never reused, not even after a trim), then drops the oldest
    /// so that at most `keep` remain.
    func appendEvents(_ events: [NewEvent], keep: Int) async throws
    /// Events numbered after `seq`, oldest first, at most `limit`.
    func events(after seq: Int64, limit: Int) async throws -> [EventRecord]
    /// The newest `limit` events, oldest first.
    func latestEvents(limit: Int) async throws -> [EventRecord]

    // MARK: Planning

    /// Runs `body` against a consistent, synchronous view for the planner, on the catalog's
    /// own thread. The planner itself stays pure: it only reads through ``PlannerQueries``.
    func withPlannerView<T: Sendable>(_ body: @escaping @Sendable (any PlannerQueries) throws -> T) async throws -> T
}

/// A file with the nodes holding a verified copy of it, for ``Catalog/importFiles(_:)``.
public struct ImportedFile: Sendable, Equatable {
    public var file: NewFile
    public var holders: [NodeID]

    public init(file: NewFile, holders: [NodeID]) {
        self.file = file
        self.holders = holders
    }
}

/// One replica recorded on a node, with the file version it belongs to.
public struct Holding: Sendable, Equatable {
    public var file: FileRecord
    public var state: ReplicaState
    /// The path the node holds it under when that is not the version's own (renamed since,
    /// the node has not moved it yet: ``Catalog/pendingMoves(on:)``).
    public var movedFrom: VirtualPath?

    public init(file: FileRecord, state: ReplicaState, movedFrom: VirtualPath? = nil) {
        self.file = file
        self.state = state
        self.movedFrom = movedFrom
    }

    /// The path the node holds the version under.
    public var heldAt: VirtualPath { movedFrom ?? file.path }
}

/// One rename of ``Catalog/renameFiles(_:)``: the current version at `from` goes to `to`,
/// with `n` replicas wanted there (the policies' N for the new path).
public struct FileRename: Sendable, Equatable {
    public var from: VirtualPath
    public var to: VirtualPath
    public var n: Int

    public init(from: VirtualPath, to: VirtualPath, n: Int) {
        self.from = from
        self.to = to
        self.n = n
    }
}

/// A version a node holds under the path it had before a rename (``Catalog/pendingMoves(on:)``).
public struct PendingMove: Sendable, Equatable {
    /// The version as the catalog has it now (its new path).
    public var file: FileRecord
    /// Where the node holds it.
    public var from: VirtualPath
    /// Live, or copying (the copy lands under `from`).
    public var state: ReplicaState

    public init(file: FileRecord, from: VirtualPath, state: ReplicaState = .live) {
        self.file = file
        self.from = from
        self.state = state
    }
}

/// A path's current version and the state of one node's replica of it
/// (``Catalog/currentVersions(of:on:)``).
public struct CurrentVersion: Sendable, Equatable {
    public var file: FileRecord
    /// The node's replica of it; nil when the catalog records none.
    public var state: ReplicaState?

    public init(file: FileRecord, state: ReplicaState?) {
        self.file = file
        self.state = state
    }
}

/// Whole-store figures.
public struct CatalogTotals: Sendable, Equatable, Codable {
    public var files: Int
    public var bytes: Int64
    /// Files with K < N.
    public var underReplicated: Int
    /// min(K − N) over all files; nil when the store is empty. Below 0 means files at risk.
    public var minKn: Int?

    public init(files: Int, bytes: Int64, underReplicated: Int, minKn: Int?) {
        self.files = files
        self.bytes = bytes
        self.underReplicated = underReplicated
        self.minKn = minKn
    }
}

/// How many files (not deleted) have one pair of K and N, and their bytes.
public struct ReplicationCount: Sendable, Equatable {
    public var k: Int
    public var n: Int
    public var files: Int
    public var bytes: Int64

    public init(k: Int, n: Int, files: Int, bytes: Int64) {
        self.k = k
        self.n = n
        self.files = files
        self.bytes = bytes
    }

    public var kn: Int { k - n }

    /// Bytes still to copy to bring these files up to N (0 when K ≥ N).
    public var missingBytes: Int64 { bytes * Int64(max(0, n - k)) }
}

/// One node's share of the store.
public struct NodeFigures: Sendable, Equatable {
    /// Live replicas of files not deleted.
    public var files: Int
    /// Bytes of all replicas recorded on the node.
    public var used: Int64
    /// Highest kn among the live replicas it holds; nil when it holds none.
    public var maxKn: Int?

    public init(files: Int, used: Int64, maxKn: Int?) {
        self.files = files
        self.used = used
        self.maxKn = maxKn
    }
}

/// Catalog failures, in words an operator can act on.
public enum CatalogError: Error, Equatable, Sendable, CustomStringConvertible {
    case unknownNode(NodeID)
    case unknownFile(FileID)
    case invalidReplicaCount(Int)
    case unreachable(String)
    case schemaTooNew(found: Int, supported: Int)
    case corrupt(String)
    case inUse(String)
    case notEmpty(files: Int, nodes: Int)
    case noFile(VirtualPath)

    public var description: String {
        switch self {
        case .unknownNode(let id): "node \(id) is not registered with the master"
        case .unknownFile(let id): "file \(id) is not in the catalog"
        case .invalidReplicaCount(let n): "replica count \(n) is invalid; N must be at least 1"
        case .unreachable(let message): "the catalog is unreachable: \(message)"
        case .schemaTooNew(let found, let supported):
            "the catalog was written by a newer fsdfs (schema \(found), this build knows \(supported)); upgrade fsdfsd"
        case .corrupt(let message): "the catalog holds a record fsdfs cannot read: \(message)"
        case .inUse(let message): message
        case .noFile(let path): "no file at \(path)"
        case .notEmpty(let files, let nodes):
            "the catalog is not empty (\(files) file versions, \(nodes) nodes): only a new catalog can take another swarm's identity"
        }
    }
}

extension Catalog {
    /// ``putFiles(_:holder:)`` as one ``putFile(_:)`` per file, then one ``setReplicas(_:)``:
    /// for a catalog without a transaction over many files. Not a default: a wrapper that
    /// forgot to forward `putFiles` would silently lose its base's single transaction.
    public func putFilesOneByOne(_ files: [NewFile], holder: NodeID) async throws -> [FileRecord] {
        guard try await node(holder) != nil else { throw CatalogError.unknownNode(holder) }
        var records: [FileRecord] = []
        for file in files { records.append(try await putFile(file)) }
        let notCounting = try await setReplicas(records.map { ReplicaRecord(file: $0.id, node: holder, state: .live) })
        return records.map { record in
            var record = record
            if !notCounting.contains(record.id), !record.deleted { record.k = max(record.k, 1) }
            return record
        }
    }
}
