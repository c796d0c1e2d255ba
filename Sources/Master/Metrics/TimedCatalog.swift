import Foundation
import Metrics
import ReplicaCore
import Synchronization

/// The catalog the master uses: every call goes to `base` and its duration is recorded in
/// `fsdfs_catalog_seconds{call="…"}` (the method's name; never an argument), whether it
/// succeeded or threw. Without a metrics backend the timers record nothing.
///
/// It also counts the calls that may write (``writes``): every call but the reads listed in
/// ``reads`` and a node's routine report, so that a method added later counts as a write
/// until it is listed. The scheduler compares the count to know that nothing it plans from
/// changed (``PlanningInputs``).
public final class TimedCatalog: Catalog {
    public let base: any Catalog
    private let timers = Mutex<[String: Metrics.Timer]>([:])
    private let writeCount = Atomic<Int>(0)

    /// Calls that change nothing a planning pass reads. `recordReport` writes a node's quota,
    /// load and report time, which the planner takes from ``PlannerNode`` (compared as such).
    static let reads: Set<String> = [
        "swarmID", "isRecovering", "node", "nodes", "fileAtPath", "fileByID", "fileByUpload", "listFiles", "replicas",
        "holdings", "pendingDeletions", "totals", "nodeFigures", "underReplicated", "replicationCounts", "knHistogram",
        "events", "latestEvents", "withPlannerView", "recordReport", "appendEvents", "currentVersions", "pendingMoves", "s3Keys", "s3Key", "addS3Key", "deleteS3Key", "createBucket", "buckets", "bucket", "deleteBucket",
    ]

    /// Calls that may have written so far; read it before reading what it guards.
    public var writes: Int { writeCount.load(ordering: .acquiring) }

    public init(_ base: any Catalog) {
        self.base = base
    }

    private func timer(_ call: String) -> Metrics.Timer {
        timers.withLock { timers in
            if let timer = timers[call] { return timer }
            let timer = Metrics.Timer(label: MasterMetrics.Metric.catalogSeconds.name, dimensions: [("call", call)])
            timers[call] = timer
            return timer
        }
    }

    private func timed<T>(_ call: String, _ body: () async throws -> T) async throws -> T {
        let start = ContinuousClock.now
        defer {
            timer(call).record(duration: ContinuousClock.now - start)
            // Counted once the call is over, written or not: a pass that began before sees
            // another count afterwards.
            if !Self.reads.contains(call) { writeCount.add(1, ordering: .releasing) }
        }
        return try await body()
    }

    // MARK: Swarm

    public func swarmID() async throws -> SwarmID { try await timed("swarmID") { try await base.swarmID() } }
    public func setSwarmID(_ id: SwarmID) async throws { try await timed("setSwarmID") { try await base.setSwarmID(id) } }
    public func isRecovering() async throws -> Bool { try await timed("isRecovering") { try await base.isRecovering() } }
    public func setRecovering(_ recovering: Bool) async throws {
        try await timed("setRecovering") { try await base.setRecovering(recovering) }
    }

    // MARK: Nodes

    public func registerNode(_ node: NodeRecord) async throws {
        try await timed("registerNode") { try await base.registerNode(node) }
    }
    public func recordReport(node: NodeID, quota: Int64, load: Double, at time: Date) async throws {
        try await timed("recordReport") { try await base.recordReport(node: node, quota: quota, load: load, at: time) }
    }
    public func setNodeAlive(_ node: NodeID, alive: Bool) async throws {
        try await timed("setNodeAlive") { try await base.setNodeAlive(node, alive: alive) }
    }
    public func removeNode(_ node: NodeID) async throws { try await timed("removeNode") { try await base.removeNode(node) } }
    public func setDraining(_ node: NodeID, _ draining: Bool) async throws {
        try await timed("setDraining") { try await base.setDraining(node, draining) }
    }
    public func setMaintenance(_ node: NodeID, until: Date?) async throws {
        try await timed("setMaintenance") { try await base.setMaintenance(node, until: until) }
    }
    public func node(_ id: NodeID) async throws -> NodeRecord? { try await timed("node") { try await base.node(id) } }
    public func nodes() async throws -> [NodeRecord] { try await timed("nodes") { try await base.nodes() } }

    // MARK: Files

    public func putFile(_ file: NewFile) async throws -> FileRecord { try await timed("putFile") { try await base.putFile(file) } }
    public func putFiles(_ files: [NewFile], holder: NodeID) async throws -> [FileRecord] {
        try await timed("putFiles") { try await base.putFiles(files, holder: holder) }
    }
    /// Not timed, and not a write: it changes nothing a planning pass reads.
    public func releaseMemory() async { await base.releaseMemory() }
    public func importFiles(_ files: [ImportedFile]) async throws {
        try await timed("importFiles") { try await base.importFiles(files) }
    }
    public func reserveFileIDs(through id: FileID) async throws {
        try await timed("reserveFileIDs") { try await base.reserveFileIDs(through: id) }
    }
    public func file(at path: VirtualPath) async throws -> FileRecord? {
        try await timed("fileAtPath") { try await base.file(at: path) }
    }
    public func file(id: FileID) async throws -> FileRecord? { try await timed("fileByID") { try await base.file(id: id) } }
    public func file(upload: String) async throws -> FileRecord? {
        try await timed("fileByUpload") { try await base.file(upload: upload) }
    }
    public func deleteFile(at path: VirtualPath) async throws -> FileRecord? {
        try await timed("deleteFile") { try await base.deleteFile(at: path) }
    }
    public func listFiles(prefix: String, after: VirtualPath?, limit: Int) async throws -> [FileRecord] {
        try await timed("listFiles") { try await base.listFiles(prefix: prefix, after: after, limit: limit) }
    }
    public func setN(_ n: Int, for file: FileID) async throws { try await timed("setN") { try await base.setN(n, for: file) } }
    public func reevaluateN(_ policy: @Sendable (VirtualPath, Int64) -> Int) async throws -> Int {
        try await timed("reevaluateN") { try await base.reevaluateN(policy) }
    }

    // MARK: Replicas

    public func setReplica(_ file: FileID, on node: NodeID, state: ReplicaState) async throws {
        try await timed("setReplica") { try await base.setReplica(file, on: node, state: state) }
    }
    public func setReplicas(_ changes: [ReplicaRecord]) async throws -> Set<FileID> {
        try await timed("setReplicas") { try await base.setReplicas(changes) }
    }
    public func removeReplica(_ file: FileID, from node: NodeID) async throws {
        try await timed("removeReplica") { try await base.removeReplica(file, from: node) }
    }
    public func replicas(of file: FileID) async throws -> [ReplicaRecord] {
        try await timed("replicas") { try await base.replicas(of: file) }
    }
    public func holdings(on node: NodeID) async throws -> [Holding] {
        try await timed("holdings") { try await base.holdings(on: node) }
    }
    public func pendingDeletions(on node: NodeID) async throws -> [FileRecord] {
        try await timed("pendingDeletions") { try await base.pendingDeletions(on: node) }
    }
    public func purgeTombstones() async throws -> Int { try await timed("purgeTombstones") { try await base.purgeTombstones() } }

    // MARK: Figures

    public func totals() async throws -> CatalogTotals { try await timed("totals") { try await base.totals() } }
    public func nodeFigures() async throws -> [NodeID: NodeFigures] {
        try await timed("nodeFigures") { try await base.nodeFigures() }
    }
    public func underReplicated(limit: Int) async throws -> [FileRecord] {
        try await timed("underReplicated") { try await base.underReplicated(limit: limit) }
    }
    public func replicationCounts() async throws -> [ReplicationCount] {
        try await timed("replicationCounts") { try await base.replicationCounts() }
    }
    public func knHistogram() async throws -> [KnBucket] { try await timed("knHistogram") { try await base.knHistogram() } }

    // MARK: Events

    public func appendEvents(_ events: [NewEvent], keep: Int) async throws {
        try await timed("appendEvents") { try await base.appendEvents(events, keep: keep) }
    }
    public func events(after seq: Int64, limit: Int) async throws -> [EventRecord] {
        try await timed("events") { try await base.events(after: seq, limit: limit) }
    }
    public func latestEvents(limit: Int) async throws -> [EventRecord] {
        try await timed("latestEvents") { try await base.latestEvents(limit: limit) }
    }

    // MARK: Planning

    public func withPlannerView<T: Sendable>(_ body: @escaping @Sendable (any PlannerQueries) throws -> T) async throws -> T {
        try await timed("withPlannerView") { try await base.withPlannerView(body) }
    }

    // MARK: Inventories

    public func inventoryView(on node: NodeID, paths: [VirtualPath], range: PathRange) async throws -> InventoryView {
        try await timed("inventoryView") { try await base.inventoryView(on: node, paths: paths, range: range) }
    }
    public func currentVersions(of paths: [VirtualPath], on node: NodeID) async throws -> [VirtualPath: CurrentVersion] {
        try await timed("currentVersions") { try await base.currentVersions(of: paths, on: node) }
    }
    public func applyInventory(on node: NodeID, live: [FileID], forget: [FileID]) async throws {
        try await timed("applyInventory") { try await base.applyInventory(on: node, live: live, forget: forget) }
    }

    // MARK: S3 keys

    public func addS3Key(_ key: S3KeyRecord) async throws {
        try await timed("addS3Key") { try await base.addS3Key(key) }
    }
    public func s3Keys() async throws -> [S3KeyRecord] {
        try await timed("s3Keys") { try await base.s3Keys() }
    }
    public func s3Key(accessKey: String) async throws -> S3KeyRecord? {
        try await timed("s3Key") { try await base.s3Key(accessKey: accessKey) }
    }
    public func deleteS3Key(accessKey: String) async throws -> Bool {
        try await timed("deleteS3Key") { try await base.deleteS3Key(accessKey: accessKey) }
    }

    // MARK: S3 buckets

    public func createBucket(_ bucket: S3BucketRecord) async throws {
        try await timed("createBucket") { try await base.createBucket(bucket) }
    }
    public func buckets() async throws -> [S3BucketRecord] {
        try await timed("buckets") { try await base.buckets() }
    }
    public func bucket(named name: String) async throws -> S3BucketRecord? {
        try await timed("bucket") { try await base.bucket(named: name) }
    }
    public func deleteBucket(named name: String) async throws -> Bool {
        try await timed("deleteBucket") { try await base.deleteBucket(named: name) }
    }
    public func setObjectMeta(_ meta: S3ObjectMeta, of file: FileID) async throws {
        try await timed("setObjectMeta") { try await base.setObjectMeta(meta, of: file) }
    }
    public func objectMeta(of files: [FileID]) async throws -> [FileID: S3ObjectMeta] {
        try await timed("objectMeta") { try await base.objectMeta(of: files) }
    }

    // MARK: Renames

    public func renameFiles(_ renames: [FileRename]) async throws -> [FileRecord] {
        try await timed("renameFiles") { try await base.renameFiles(renames) }
    }
    public func pendingMoves(on node: NodeID) async throws -> [PendingMove] {
        try await timed("pendingMoves") { try await base.pendingMoves(on: node) }
    }
    public func confirmMoves(_ files: [FileID], on node: NodeID) async throws {
        try await timed("confirmMoves") { try await base.confirmMoves(files, on: node) }
    }
}
