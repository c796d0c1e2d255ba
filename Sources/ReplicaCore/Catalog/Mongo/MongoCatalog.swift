import Foundation
import Synchronization

private typealias Update = MongoSession.Update

/// The catalog in MongoDB, through libmongoc (`--catalog mongodb://…`).
///
/// ## Layout
///
/// - `files`: one document per file version. Its replicas live **in the document**, as an
///   array `replicas: [{node, state, up}]`, rather than in a collection of their own: every
///   replica change is then one atomic single-document update that also recomputes the
///   derived fields `k`, `kn` and `live` from the array (an update pipeline), so `kn` can never
///   disagree with the replicas, with no transactions. `up` mirrors the holder's liveness and
///   `live` lists the nodes holding a live copy, for the per-node index.
/// - `tombstones`: deleted or replaced versions whose replicas are still to be deleted from
///   their nodes, in the same shape with `deleted: true`. Retiring a version is first one
///   atomic update of its `files` document (`deleted: true`, every replica pending deletion,
///   K = 0), which is the moment it stops counting; the document is then copied to
///   `tombstones` and the original deleted only if it did not change since it was copied (see
///   ``moveToTombstones(_:id:)``). While a move is under way the `files` document is the
///   authority; a move cut short by a crash is finished when the catalog next opens.
/// - A put is three steps, none of which leaves the path without its current version if the
///   master dies after it: the new version is first written **staged** (`staged: true`,
///   counted nowhere); then the current version is retired but stays in `files`, where no
///   removal is owed for it; then the staged version becomes current, and only then does the
///   retired one move to `tombstones`. Once staged, a put is carried through: by the node
///   asking again about its commit (``file(upload:)``, or ``putFile(_:)`` with the same
///   upload), or when the catalog next opens (see ``finishPut(_:_:)``).
/// - `nodes`: one document per node, `_id` its UUID.
/// - `meta`: the schema version, the file and event id counters and the store totals.
/// - `events`: the master's event log (`MongoCatalog+Events.swift`).
///
/// ## Consistency
///
/// One master owns a catalog, and claims it in `meta` (``claim(for:address:lease:)``): a
/// second master on the same database is refused at start. Node liveness is the only fact that spans documents (a node
/// going down changes `up` in every document it holds); the master orders those changes
/// against replica writes with a ``LivenessGate``, so each replica write records `up` as it
/// is. Node usage and the totals are kept with `$inc` after the file write and recounted
/// from the file documents when the catalog opens, so a crash between the two writes is
/// repaired at the next start.
///
/// Writes use the URI's write concern, `majority` when it names none: a write is done only
/// when a majority of the replica set has it, and a write-concern error fails the call.
public final class MongoCatalog: Catalog {
    static let schemaVersion = 1

    let connection: MongoConnection
    let gate = LivenessGate()
    /// This master's claim on the database, once made (see `MongoCatalog+Claim.swift`).
    let ownership = Mutex(Ownership())

    /// Connects, checks the schema, creates the indexes and repairs the counters. Throws
    /// ``CatalogError/unreachable(_:)`` naming the host when the server cannot be reached.
    ///
    /// A master passes `master` (its node and address) to claim the database first
    /// (``claim(for:address:lease:)``): a master refused with ``CatalogError/inUse(_:)`` has
    /// written nothing, not even the repairs of an opening catalog.
    public init(uri: String, master: (node: NodeID, address: String)? = nil) async throws {
        connection = try MongoConnection(uri: uri)
        do {
            try await connection.ping()
        } catch let error as MongoError {
            throw CatalogError.unreachable(error.description)
        }
        if let master { try await claim(for: master.node, address: master.address) }
        do {
            try await prepare()
        } catch {
            await release()
            throw error
        }
    }

    deinit {
        ownership.withLock { $0.renewal?.cancel() }
    }

    /// Runs one operation on a pooled client. A server that cannot be reached, or a write a
    /// majority did not confirm in time, becomes ``CatalogError/unreachable(_:)``: the master
    /// pauses replication on it and resumes when the catalog answers again. So does a master
    /// that may no longer write (``checkOwnership()``), except for the claim's own operations.
    func withSession<T: Sendable>(
        checkingOwnership: Bool = true, _ body: @escaping @Sendable (MongoSession) throws -> T
    ) async throws -> T {
        if checkingOwnership { try checkOwnership() }
        do {
            return try await connection.withSession(body)
        } catch let error as MongoError where error.isUnreachable || error.isWriteConcern {
            throw CatalogError.unreachable(error.description)
        }
    }

    /// The hosts from the URI, for messages.
    public var hosts: String { connection.hosts }

    /// Checks the server answers (for the master's pause and resume).
    public func ping() async throws { try await withSession { session in _ = try session.command(["ping": 1], database: "admin", operation: "ping") } }

    /// Where the catalog is, for the startup log (no password).
    public var summary: String {
        "MongoDB at \(connection.hosts), database \(connection.database), write concern \(connection.writeConcern)"
    }

    private func prepare() async throws {
        try await withSession { session in
            let schema = try session.findAndModify(
                Meta.collection, ["_id": "schema"],
                .operators(["$setOnInsert": ["version": .int64(Int64(Self.schemaVersion))]]),
                upsert: true, returnNew: true)
            let found = schema?["version"]?.intValue ?? Self.schemaVersion
            if found > Self.schemaVersion {
                throw CatalogError.schemaTooNew(found: found, supported: Self.schemaVersion)
            }
            _ = try session.findAndModify(
                Meta.collection, ["_id": "swarm"], .operators(["$setOnInsert": ["id": .string(SwarmID.make().rawValue)]]),
                upsert: true, returnNew: true)
            for (collection, indexes) in [(Files.collection, Files.indexes), (Tombstones.collection, Tombstones.indexes)] {
                _ = try session.writeCommand(
                    ["createIndexes": .string(collection), "indexes": .array(indexes.map(BSON.document))],
                    on: collection, operation: "createIndexes")
            }
            // Finish the puts a crash cut short, oldest version first (see `finishPut`), then the
            // moves to `tombstones`.
            for staged in try session.find(
                Files.collection, ["staged": true], sort: ["version": 1, "_id": 1], hint: Files.stagedIndex)
            {
                _ = try Self.finishPut(session, staged)
            }
            for retired in try session.find(
                Files.collection, ["deleted": true, "staged": ["$exists": false]], projection: ["_id": 1], hint: "retired")
            {
                if let id = retired["_id"]?.int64Value { try Self.moveToTombstones(session, id: id) }
            }
            try Self.repairCounters(session)
        }
    }

    public func swarmID() async throws -> SwarmID {
        try await withSession { session in
            guard let id = try session.findOne(Meta.collection, ["_id": "swarm"])?["id"]?.stringValue else {
                throw CatalogError.corrupt("the catalog has no swarm id in \(Meta.collection)")
            }
            return SwarmID(id)
        }
    }

    public func setSwarmID(_ id: SwarmID) async throws {
        try await withSession { session in
            let files = try session.count(Files.collection, [:]) + session.count(Tombstones.collection, [:])
            let nodes = try session.count(Nodes.collection, [:])
            guard files == 0, nodes == 0 else { throw CatalogError.notEmpty(files: files, nodes: nodes) }
            _ = try session.update(Meta.collection, ["_id": "swarm"], .operators(["$set": ["id": .string(id.rawValue)]]), upsert: true)
        }
    }

    public func isRecovering() async throws -> Bool {
        try await withSession { session in
            try session.findOne(Meta.collection, ["_id": "recovery"])?["underway"]?.boolValue == true
        }
    }

    public func setRecovering(_ recovering: Bool) async throws {
        try await withSession { session in
            _ = try session.update(
                Meta.collection, ["_id": "recovery"], .operators(["$set": ["underway": .bool(recovering)]]), upsert: true)
        }
    }

    /// Recomputes what is kept with `$inc` beside the file documents: node usage, the totals,
    /// and the id counter (never below an id in use).
    private static func repairCounters(_ session: MongoSession) throws {
        var used: [String: Int64] = [:]
        for collection in Files.withTombstones {
            for row in try session.aggregate(collection, [
                ["$unwind": "$replicas"],
                ["$group": ["_id": "$replicas.node", "used": ["$sum": "$size"]]],
            ]) {
                if let node = row["_id"]?.stringValue { used[node, default: 0] += row["used"]?.int64Value ?? 0 }
            }
        }
        for node in try session.find(Nodes.collection, [:], projection: ["used": 1]) {
            guard let id = node["_id"]?.stringValue else { continue }
            let value = used[id] ?? 0
            if node["used"]?.int64Value != value {
                _ = try session.update(Nodes.collection, ["_id": .string(id)], .operators(["$set": ["used": .int64(value)]]))
            }
        }
        let totals = try session.aggregate(Files.collection, [
            ["$match": ["deleted": false]],
            ["$group": ["_id": .null, "files": ["$sum": .int64(1)], "bytes": ["$sum": "$size"]]],
        ]).first
        _ = try session.update(
            Meta.collection, ["_id": "totals"],
            .operators(["$set": [
                "files": .int64(totals?["files"]?.int64Value ?? 0), "bytes": .int64(totals?["bytes"]?.int64Value ?? 0),
            ]]),
            upsert: true)
        let highest = try Files.withTombstones.map { collection in
            try session.find(collection, [:], sort: ["_id": -1], projection: ["_id": 1], limit: 1).first?["_id"]?.int64Value ?? 0
        }.max() ?? 0
        _ = try session.update(
            Meta.collection, ["_id": "counters", "file": ["$lt": .int64(highest)]],
            .operators(["$set": ["file": .int64(highest)]]))
        _ = try session.update(
            Meta.collection, ["_id": "counters"], .operators(["$setOnInsert": ["file": .int64(highest)]]), upsert: true)
        try Events.repairCounter(session)
    }

    // MARK: Nodes

    public func registerNode(_ node: NodeRecord) async throws {
        try await gate.exclusive {
            try await withSession { session in
                let before = try session.findAndModify(
                    Nodes.collection, ["_id": .string(node.id.rawValue)],
                    .operators([
                        "$set": [
                            "address": .string(node.address), "quota": .int64(node.quota), "load": .double(node.load),
                            "lastReport": .double(node.lastReport.timeIntervalSince1970), "alive": .bool(node.alive),
                        ],
                        "$setOnInsert": ["used": .int64(0)],
                    ]),
                    upsert: true, returnNew: false)
                if let before, before["alive"]?.boolValue != node.alive {
                    try Self.markHolder(session, node.id, up: node.alive)
                }
            }
        }
    }

    public func recordReport(node: NodeID, quota: Int64, load: Double, at time: Date) async throws {
        let result = try await withSession { session in
            try session.update(
                Nodes.collection, ["_id": .string(node.rawValue)],
                .operators(["$set": [
                    "quota": .int64(quota), "load": .double(load), "lastReport": .double(time.timeIntervalSince1970),
                ]]))
        }
        if result.matched == 0 { throw CatalogError.unknownNode(node) }
    }

    public func setNodeAlive(_ node: NodeID, alive: Bool) async throws {
        try await gate.exclusive {
            try await withSession { session in
                // The files first, then the node: a failure between the two leaves the node
                // document as it was, so the caller (which goes by it) tries again, and the
                // second try redoes only the files still to change. Idempotent.
                guard try session.findOne(Nodes.collection, ["_id": .string(node.rawValue)], projection: ["_id": 1]) != nil
                else { throw CatalogError.unknownNode(node) }
                try Self.markHolder(session, node, up: alive)
                _ = try session.update(
                    Nodes.collection, ["_id": .string(node.rawValue)], .operators(["$set": ["alive": .bool(alive)]]))
            }
        }
    }

    /// Sets `up` on every replica held by `node`; each file document recomputes its K in the
    /// same atomic update.
    private static func markHolder(_ session: MongoSession, _ node: NodeID, up: Bool) throws {
        let id = BSON.string(node.rawValue)
        for collection in Files.withTombstones {
            _ = try session.update(
                collection, ["replicas": ["$elemMatch": ["node": id, "up": ["$ne": .bool(up)]]]],
                .pipeline([
                    ["$set": ["replicas": ["$map": [
                        "input": "$replicas",
                        "in": ["$cond": [["$eq": ["$$this.node", id]], ["$mergeObjects": ["$$this", ["up": .bool(up)]]], "$$this"]],
                    ]]]],
                ] + Files.derive),
                many: true)
        }
    }

    public func removeNode(_ node: NodeID) async throws {
        try await gate.exclusive {
            try await withSession { session in
                let id = BSON.string(node.rawValue)
                for collection in Files.withTombstones {
                    _ = try session.update(
                        collection, ["replicas.node": id],
                        .pipeline([["$set": ["replicas": Files.replicas(without: id)]]] + Files.derive),
                        many: true)
                }
                _ = try session.delete(Nodes.collection, ["_id": id])
            }
        }
    }

    public func node(_ id: NodeID) async throws -> NodeRecord? {
        try await withSession { session in
            try session.findOne(Nodes.collection, ["_id": .string(id.rawValue)]).map(Nodes.record)
        }
    }

    public func nodes() async throws -> [NodeRecord] {
        try await withSession { session in
            try session.find(Nodes.collection, [:], sort: ["_id": 1]).map(Nodes.record)
        }
    }

    // MARK: Node states

    public func setDraining(_ node: NodeID, _ draining: Bool) async throws {
        let result = try await withSession { session in
            try session.update(
                Nodes.collection, ["_id": .string(node.rawValue)], .operators(["$set": ["draining": .bool(draining)]]))
        }
        if result.matched == 0 { throw CatalogError.unknownNode(node) }
    }

    public func setMaintenance(_ node: NodeID, until: Date?) async throws {
        let change: BSONDocument = if let until {
            ["$set": ["maintenanceUntil": .double(until.timeIntervalSince1970)]]
        } else {
            ["$unset": ["maintenanceUntil": ""]]
        }
        let result = try await withSession { session in
            try session.update(Nodes.collection, ["_id": .string(node.rawValue)], .operators(change))
        }
        if result.matched == 0 { throw CatalogError.unknownNode(node) }
    }

    // MARK: Files

    public func reserveFileIDs(through id: FileID) async throws {
        try await withSession { session in
            _ = try session.update(
                Meta.collection, ["_id": "counters", "file": ["$lt": .int64(id.rawValue)]],
                .operators(["$set": ["file": .int64(id.rawValue)]]))
            _ = try session.update(
                Meta.collection, ["_id": "counters"], .operators(["$setOnInsert": ["file": .int64(id.rawValue)]]), upsert: true)
        }
    }

    /// Writes the new version staged, then makes it current (``finishPut(_:_:)``): a master
    /// dying at any point leaves the path with its old version or its new one, never neither.
    /// An upload already recorded (its node asking again) is carried through, not recorded twice.
    public func putFiles(_ files: [NewFile], holder: NodeID) async throws -> [FileRecord] {
        try await putFilesOneByOne(files, holder: holder)
    }

    /// Nothing to give back: the server keeps the cache, and the driver's pool is small.
    public func releaseMemory() async {}

    public func putFile(_ file: NewFile) async throws -> FileRecord {
        guard file.n >= 1 else { throw CatalogError.invalidReplicaCount(file.n) }
        return try await withSession { session in
            if let upload = file.upload, let known = try Self.version(session, upload: upload) {
                return try Self.finishPut(session, known)
            }
            let previous = try Self.lastVersion(session, of: file.path)
            let id = try Self.reserveIDs(session, count: 1)
            let staged = Files.newDocument(
                id: id, file: file, version: max(previous + 1, file.version ?? 0), holders: [], staged: true)
            try session.insert(Files.collection, [staged])
            return try Self.finishPut(session, staged)
        }
    }

    /// The second half of a put: makes the staged version in `document` current. The path's
    /// current version is retired but kept in `files` (no removal is owed for it there), the
    /// staged one becomes current, and only then does the retired one move to `tombstones`.
    /// Each step is one conditional write, so running this again, for a put cut short or by a
    /// second caller, goes on from where it stopped; a version already finished is returned as
    /// it stands (deleted if it was replaced or deleted since).
    ///
    /// Another upload of the same path can become current between the retire and ours: the
    /// unique index refuses ours and we go again, retiring theirs (last writer wins), unless
    /// theirs is a later version than ours (this put was cut short and a later upload was
    /// recorded meanwhile): then ours is retired unrecorded, so that finishing an old put never
    /// replaces a newer version.
    private static func finishPut(_ session: MongoSession, _ document: BSONDocument) throws -> FileRecord {
        var staged = try Files.record(document)
        let key = BSON.int64(staged.id.rawValue)
        for _ in 0..<16 {
            guard try session.findOne(Files.collection, ["_id": key, "staged": true], projection: ["_id": 1]) != nil else {
                // Finished already (its move to `tombstones` perhaps not).
                try moveRetired(session, path: staged.path)
                guard let now = try session.findOne(Files.collection, ["_id": key])
                    ?? session.findOne(Tombstones.collection, ["_id": key])
                else { throw CatalogError.unknownFile(staged.id) }
                return try Files.record(now)
            }
            if let current = try session.findOne(
                Files.collection, ["path": .string(staged.path.rawValue), "deleted": false], projection: ["version": 1]),
                let currentID = current["_id"]?.int64Value
            {
                if current["version"]?.int64Value ?? 0 > staged.version {
                    // A later version is current: ours becomes an ordinary retired version.
                    _ = try session.update(Files.collection, ["_id": key, "staged": true], .operators(["$unset": ["staged": ""]]))
                    continue
                }
                try retire(session, path: staged.path, only: currentID, move: false)
            }
            do {
                let made = try session.update(
                    Files.collection, ["_id": key, "staged": true],
                    .operators(["$set": ["deleted": false], "$unset": ["staged": ""]]))
                if made.matched == 0 { continue }
            } catch let error as MongoError where error.isDuplicateKey {
                continue
            }
            try addTotals(session, files: 1, bytes: staged.size)
            try moveRetired(session, path: staged.path)
            staged.deleted = false
            return staged
        }
        throw MongoError(
            operation: "update", target: session.target(Files.collection),
            message: "\(staged.path) is being uploaded by too many writers at once")
    }

    /// Moves the retired versions of `path` still in `files` to `tombstones`.
    private static func moveRetired(_ session: MongoSession, path: VirtualPath) throws {
        for retired in try session.find(
            Files.collection, ["path": .string(path.rawValue), "deleted": true, "staged": ["$exists": false]],
            projection: ["_id": 1], hint: Files.pathVersionIndex)
        {
            if let id = retired["_id"]?.int64Value { try moveToTombstones(session, id: id) }
        }
    }

    public func importFiles(_ files: [ImportedFile]) async throws {
        if let bad = files.first(where: { $0.file.n < 1 }) { throw CatalogError.invalidReplicaCount(bad.file.n) }
        try await gate.shared {
            try await withSession { session in
                var alive: [NodeID: Bool] = [:]
                for node in try session.find(Nodes.collection, [:], projection: ["alive": 1]) {
                    if let id = node["_id"]?.stringValue { alive[NodeID(id)] = node["alive"]?.boolValue ?? false }
                }
                for imported in files {
                    for holder in imported.holders where alive[holder] == nil { throw CatalogError.unknownNode(holder) }
                }
                var start = files.startIndex
                while start < files.endIndex {
                    // A batch never holds one path twice: the second must retire the first.
                    var seen = Set<VirtualPath>()
                    var end = start
                    while end < files.endIndex, end - start < 1000, seen.insert(files[end].file.path).inserted { end += 1 }
                    try Self.importBatch(session, Array(files[start..<end]), alive: alive)
                    start = end
                }
            }
        }
    }

    private static func importBatch(_ session: MongoSession, _ batch: [ImportedFile], alive: [NodeID: Bool]) throws {
        let paths = batch.map { BSON.string($0.file.path.rawValue) }
        var versions: [String: Int64] = [:]
        var current: [VirtualPath] = []
        for collection in Files.withTombstones {
            for row in try session.find(
                collection, ["path": ["$in": .array(paths)]], projection: ["path": 1, "version": 1, "deleted": 1])
            {
                guard let path = row["path"]?.stringValue else { continue }
                versions[path] = max(versions[path] ?? 0, row["version"]?.int64Value ?? 0)
                if row["deleted"]?.boolValue == false, let virtual = try? VirtualPath(path) { current.append(virtual) }
            }
        }
        for path in current { try retire(session, path: path) }
        let last = try reserveIDs(session, count: batch.count)
        var used: [NodeID: Int64] = [:]
        var documents: [BSONDocument] = []
        for (offset, imported) in batch.enumerated() {
            let holders = Array(Set(imported.holders)).sorted().map { (node: $0, up: alive[$0] ?? false) }
            for holder in holders { used[holder.node, default: 0] += imported.file.size }
            documents.append(Files.newDocument(
                id: last - Int64(batch.count - 1 - offset), file: imported.file,
                version: (versions[imported.file.path.rawValue] ?? 0) + 1, holders: holders))
        }
        try session.insert(Files.collection, documents)
        try addTotals(session, files: batch.count, bytes: batch.reduce(0) { $0 + $1.file.size })
        for (node, bytes) in used { try addUsed(session, node, bytes) }
    }

    public func file(at path: VirtualPath) async throws -> FileRecord? {
        try await withSession { session in
            try session.findOne(Files.collection, ["path": .string(path.rawValue), "deleted": false]).map(Files.record)
        }
    }

    public func file(id: FileID) async throws -> FileRecord? {
        try await withSession { session in
            // Looked up in `files` first: a version being moved is in both for a moment.
            try (session.findOne(Files.collection, ["_id": .int64(id.rawValue)])
                ?? session.findOne(Tombstones.collection, ["_id": .int64(id.rawValue)])).map(Files.record)
        }
    }

    /// A version a put staged and did not finish (the master died, or the catalog failed, in
    /// the middle) is finished first: the node asking decides the put, as it kept the bytes.
    public func file(upload: String) async throws -> FileRecord? {
        try await withSession { session in
            guard let document = try Self.version(session, upload: upload) else { return nil }
            if document["staged"]?.boolValue == true { return try Self.finishPut(session, document) }
            return try Files.record(document)
        }
    }

    /// The document of the version `upload` stored, staged, current or retired.
    private static func version(_ session: MongoSession, upload: String) throws -> BSONDocument? {
        try session.findOne(Files.collection, ["upload": .string(upload)])
            ?? session.findOne(Tombstones.collection, ["upload": .string(upload)])
    }

    public func deleteFile(at path: VirtualPath) async throws -> FileRecord? {
        try await withSession { session in try Self.retire(session, path: path) }
    }

    /// The highest version `path` ever had, current or retired; 0 for a new path.
    static func lastVersion(_ session: MongoSession, of path: VirtualPath) throws -> Int64 {
        let indexes = [(Files.collection, Files.pathVersionIndex), (Tombstones.collection, Tombstones.pathVersionIndex)]
        return try indexes.map { collection, index in
            try session.find(
                collection, ["path": .string(path.rawValue)], sort: ["path": 1, "version": -1], projection: ["version": 1],
                limit: 1, hint: index
            ).first?["version"]?.int64Value ?? 0
        }.max() ?? 0
    }

    /// Retires the current version of `path`, if any (and only if it is `only`, when given):
    /// one atomic update makes it deleted, every replica pending deletion and K = 0; then it
    /// moves to `tombstones`, unless `move` is false (a put moves it once its replacement is
    /// current).
    @discardableResult
    static func retire(
        _ session: MongoSession, path: VirtualPath, only id: Int64? = nil, move: Bool = true
    ) throws -> FileRecord? {
        var filter: BSONDocument = ["path": .string(path.rawValue), "deleted": false]
        if let id { filter["_id"] = .int64(id) }
        guard let document = try session.findAndModify(
            Files.collection, filter,
            .pipeline([
                ["$set": [
                    "deleted": true,
                    "replicas": ["$map": ["input": "$replicas", "in": ["$mergeObjects": ["$$this", ["state": .int32(Files.evicting)]]]]],
                ]],
            ] + Files.derive),
            returnNew: true)
        else { return nil }
        let record = try Files.record(document)
        try addTotals(session, files: -1, bytes: -record.size)
        if move { try moveToTombstones(session, id: record.id.rawValue) }
        return record
    }

    /// Moves a retired version from `files` to `tombstones`: copies it, then deletes the
    /// original only if its replicas are still those copied. A replica write that lands in
    /// between changes the original, so the move goes again with the new replicas; nothing
    /// written during a move is lost. Writers look in `tombstones` only once the `files`
    /// document is gone, when the copy there is final. Stopped half-way (a crash), the
    /// original stays in `files` as the authority and the move is finished at the next open.
    private static func moveToTombstones(_ session: MongoSession, id: Int64) throws {
        for _ in 0..<64 {
            guard let document = try session.findOne(
                Files.collection, ["_id": .int64(id), "deleted": true, "staged": ["$exists": false]])
            else { return }
            try session.replace(Tombstones.collection, ["_id": .int64(id)], with: document, upsert: true)
            let unchanged: BSONDocument = ["_id": .int64(id), "deleted": true, "replicas": document["replicas"] ?? .array([])]
            if try session.delete(Files.collection, unchanged) > 0 { return }
        }
        throw MongoError(
            operation: "delete", target: session.target(Files.collection),
            message: "the replicas of deleted file \(id) kept changing while it moved to \(Tombstones.collection)")
    }

    public func listFiles(prefix: String, after: VirtualPath?, limit: Int) async throws -> [FileRecord] {
        let lower = max(prefix, after?.rawValue ?? "")
        let strict = after.map { $0.rawValue >= prefix } ?? false
        return try await withSession { session in
            try session.find(
                Files.collection,
                ["deleted": false, "path": [strict ? "$gt" : "$gte": .string(lower), "$lt": .string(prefix + "\u{10FFFF}")]],
                sort: ["path": 1], limit: limit, hint: Files.currentPathIndex
            ).map(Files.record)
        }
    }

    public func setN(_ n: Int, for file: FileID) async throws {
        guard n >= 1 else { throw CatalogError.invalidReplicaCount(n) }
        let result = try await withSession { session in
            try session.update(
                Files.collection, ["_id": .int64(file.rawValue)],
                .pipeline([["$set": ["n": .int64(Int64(n))]]] + Files.derive))
        }
        if result.matched == 0 { throw CatalogError.unknownFile(file) }
    }

    public func reevaluateN(_ policy: @Sendable (VirtualPath, Int64) -> Int) async throws -> Int {
        var changes: [(FileID, Int)] = []
        var after: Int64 = 0
        while true {
            let page = try await withSession { [after] session in
                try session.find(
                    Files.collection, ["deleted": false, "_id": ["$gt": .int64(after)]], sort: ["_id": 1],
                    projection: ["path": 1, "size": 1, "n": 1], limit: 5000)
            }
            guard let last = page.last?["_id"]?.int64Value else { break }
            after = last
            for row in page {
                guard let id = row["_id"]?.int64Value, let text = row["path"]?.stringValue,
                    let path = try? VirtualPath(text), let size = row["size"]?.int64Value, let n = row["n"]?.intValue
                else { continue }
                let wanted = policy(path, size)
                if wanted >= 1, wanted != n { changes.append((FileID(id), wanted)) }
            }
        }
        for (file, n) in changes { try await setN(n, for: file) }
        return changes.count
    }

    // MARK: Replicas

    public func setReplica(_ file: FileID, on node: NodeID, state: ReplicaState) async throws {
        try await gate.shared {
            try await withSession { session in
                guard let holder = try session.findOne(Nodes.collection, ["_id": .string(node.rawValue)], projection: ["alive": 1])
                else { throw CatalogError.unknownNode(node) }
                guard try Self.writeReplica(session, file, on: node, up: holder["alive"]?.boolValue ?? false, state: state) else {
                    throw CatalogError.unknownFile(file)
                }
            }
        }
    }

    /// Records the replica of `file` on `node` (whose liveness is `up`) in `state`, in
    /// whichever collection the version is. Returns false when the version is in neither.
    static func writeReplica(_ session: MongoSession, _ file: FileID, on node: NodeID, up: Bool, state: ReplicaState) throws -> Bool {
        let id = BSON.string(node.rawValue)
        // Two conditional updates, so that only the one that adds the node counts
        // its bytes, however many writers race on this file.
        let set = replicaUpdate(node, up: up, state: state)
        let key = BSON.int64(file.rawValue)
        /// True when one of the two writes matched in `collection`.
        func write(in collection: String) throws -> Bool {
            if try session.findAndModify(
                collection, ["_id": key, "replicas.node": id], set, returnNew: false, fields: ["_id": 1]) != nil
            {
                return true
            }
            guard let added = try session.findAndModify(
                collection, ["_id": key, "replicas.node": ["$ne": id]], set, returnNew: false, fields: ["size": 1])
            else { return false }
            try addUsed(session, node, added["size"]?.int64Value ?? 0)
            return true
        }
        for _ in 0..<64 {
            if try write(in: Files.collection) { return true }
            // Neither matched: another writer moved between the two, or the file is no
            // longer in `files` (then its tombstone, if any, is final).
            if try session.findOne(Files.collection, ["_id": key], projection: ["_id": 1]) != nil { continue }
            if try write(in: Tombstones.collection) { return true }
            if try session.findOne(Tombstones.collection, ["_id": key], projection: ["_id": 1]) == nil { return false }
        }
        throw MongoError(
            operation: "findAndModify", target: session.target(Files.collection),
            message: "the replicas of file \(file) kept changing under this write")
    }

    /// The replica entry of `node` in a file document (state `state`, or pending deletion on a
    /// deleted file), and the update that puts it in place of any entry of that node.
    private static func replicaUpdate(_ node: NodeID, up: Bool, state: ReplicaState) -> Update {
        let id = BSON.string(node.rawValue)
        let replica: BSON = [
            "node": id,
            // A deleted file's replicas can only be pending deletion.
            "state": ["$cond": ["$deleted", .int32(Files.evicting), .int32(Int32(state.storedCode))]],
            "up": .bool(up),
        ]
        // The entry keeps where its node holds the version (`from`, a rename not moved yet).
        let before: BSON = ["$arrayElemAt": [["$filter": ["input": "$replicas", "cond": ["$eq": ["$$this.node", id]]]], 0]]
        return Update.pipeline([
            ["$set": ["replicas": ["$concatArrays": [
                Files.replicas(without: id), .array([["$mergeObjects": [["$ifNull": [before, [:]]], replica]]]),
            ]]]],
        ] + Files.derive)
    }

    /// In bulk for the current versions of each (node, state) group: one update for the files
    /// that already have an entry of the node (a copy recorded as under way), one for those
    /// that have none (their bytes are added to the node's usage, or the usage recounted when
    /// another writer raced the update), one read of what is current. Deleted, retired and
    /// unknown files then go one by one, as ``setReplica(_:on:state:)`` does them.
    public func setReplicas(_ changes: [ReplicaRecord]) async throws -> Set<FileID> {
        guard !changes.isEmpty else { return [] }
        return try await gate.shared {
            try await withSession { session in
                var up: [NodeID: Bool] = [:]
                for node in Set(changes.map(\.node)) {
                    guard let holder = try session.findOne(Nodes.collection, ["_id": .string(node.rawValue)], projection: ["alive": 1])
                    else { throw CatalogError.unknownNode(node) }
                    up[node] = holder["alive"]?.boolValue ?? false
                }
                var notCounting: Set<FileID> = []
                let groups = Dictionary(grouping: changes) { ReplicaGroup(node: $0.node, state: $0.state) }
                for (group, members) in groups {
                    let id = BSON.string(group.node.rawValue)
                    let keys = BSON.array(Set(members.map(\.file)).map { .int64($0.rawValue) })
                    let set = Self.replicaUpdate(group.node, up: up[group.node]!, state: group.state)
                    _ = try session.update(
                        Files.collection, ["_id": ["$in": keys], "deleted": false, "replicas.node": id], set, many: true)
                    let absent: BSONDocument = ["_id": ["$in": keys], "deleted": false, "replicas.node": ["$ne": id]]
                    let adding = try session.find(Files.collection, absent, projection: ["size": 1])
                    if !adding.isEmpty {
                        let result = try session.update(Files.collection, absent, set, many: true)
                        if result.modified == adding.count {
                            try Self.addUsed(session, group.node, adding.reduce(0) { $0 + ($1["size"]?.int64Value ?? 0) })
                        } else {
                            try Self.recountUsed(session, group.node)
                        }
                    }
                    let current = Set(try session.find(
                        Files.collection, ["_id": ["$in": keys], "deleted": false, "replicas.node": id], projection: ["_id": 1]
                    ).compactMap { $0["_id"]?.int64Value.map(FileID.init) })
                    for member in members where !current.contains(member.file) {
                        notCounting.insert(member.file)
                        _ = try Self.writeReplica(session, member.file, on: group.node, up: up[group.node]!, state: group.state)
                    }
                }
                return notCounting
            }
        }
    }

    private struct ReplicaGroup: Hashable {
        var node: NodeID
        var state: ReplicaState
    }

    /// Sets the node's usage to the sum of the sizes of every replica recorded on it.
    private static func recountUsed(_ session: MongoSession, _ node: NodeID) throws {
        let id = BSON.string(node.rawValue)
        var used: Int64 = 0
        for collection in Files.withTombstones {
            for row in try session.aggregate(collection, [
                ["$match": ["replicas.node": id]],
                ["$group": ["_id": .null, "used": ["$sum": "$size"]]],
            ]) {
                used += row["used"]?.int64Value ?? 0
            }
        }
        _ = try session.update(Nodes.collection, ["_id": id], .operators(["$set": ["used": .int64(used)]]))
    }

    public func removeReplica(_ file: FileID, from node: NodeID) async throws {
        try await withSession { session in try Self.dropReplica(session, file, from: node) }
    }

    /// Forgets the replica of `file` on `node`, in whichever collection the version is.
    static func dropReplica(_ session: MongoSession, _ file: FileID, from node: NodeID) throws {
        let id = BSON.string(node.rawValue), key = BSON.int64(file.rawValue)
        let remove = Update.pipeline([["$set": ["replicas": Files.replicas(without: id)]]] + Files.derive)
        var before = try session.findAndModify(
            Files.collection, ["_id": key, "replicas.node": id], remove, returnNew: false, fields: ["size": 1])
        // Only once the file is no longer in `files` is its tombstone the one to change.
        if before == nil, try session.findOne(Files.collection, ["_id": key], projection: ["_id": 1]) == nil {
            before = try session.findAndModify(
                Tombstones.collection, ["_id": key, "replicas.node": id], remove, returnNew: false, fields: ["size": 1])
        }
        guard let before else { return }
        try addUsed(session, node, -(before["size"]?.int64Value ?? 0))
    }

    public func replicas(of file: FileID) async throws -> [ReplicaRecord] {
        try await withSession { session in
            let key = BSON.int64(file.rawValue)
            guard let document = try session.findOne(Files.collection, ["_id": key], projection: ["replicas": 1])
                ?? session.findOne(Tombstones.collection, ["_id": key], projection: ["replicas": 1])
            else { return [] }
            return Files.replicaRecords(document, of: file)
        }
    }

    public func holdings(on node: NodeID) async throws -> [Holding] {
        try await withSession { session in
            var holdings: [FileID: Holding] = [:]
            // Tombstones first, so that a version caught mid-move is taken from `files`.
            for (collection, index) in [(Tombstones.collection, Tombstones.holdersIndex), (Files.collection, Files.holdersIndex)] {
                for document in try session.find(collection, ["replicas.node": .string(node.rawValue)], hint: index) {
                    let holding = try Files.holding(document, on: node)
                    holdings[holding.file.id] = holding
                }
            }
            return holdings.values.sorted { $0.file.id < $1.file.id }
        }
    }

    public func pendingDeletions(on node: NodeID) async throws -> [FileRecord] {
        try await withSession { session in
            try session.find(Tombstones.collection, ["replicas.node": .string(node.rawValue)], hint: Tombstones.holdersIndex)
                .filter { Files.replicaStates($0)[node] == .evicting }
                .map { document in
                    // Where the node holds it: a version renamed, then deleted before the node moved it.
                    var file = try Files.record(document)
                    if let from = try Files.movedFrom(document, on: node) { file.path = from }
                    return file
                }
                .sorted { $0.path < $1.path }
        }
    }

    public func purgeTombstones() async throws -> Int {
        try await withSession { session in
            let gone = try session.find(Tombstones.collection, ["replicas": ["$size": 0]], projection: ["_id": 1]).compactMap { $0["_id"] }
            guard !gone.isEmpty else { return 0 }
            let purged = try session.delete(Tombstones.collection, ["_id": ["$in": .array(gone)], "replicas": ["$size": 0]])
            _ = try session.delete(Self.objectsCollection, ["_id": ["$in": .array(gone)]])
            return purged
        }
    }

    // MARK: Figures

    public func totals() async throws -> CatalogTotals {
        try await withSession { session in
            let totals = try session.findOne(Meta.collection, ["_id": "totals"])
            let under = try session.count(Files.collection, ["deleted": false, "kn": ["$lt": .int64(0)]], hint: Files.scheduleIndex)
            let minKn = try session.find(
                Files.collection, ["deleted": false], sort: Files.scheduleOrder, projection: ["kn": 1], limit: 1,
                hint: Files.scheduleIndex
            ).first?["kn"]?.intValue
            return CatalogTotals(
                files: totals?["files"]?.intValue ?? 0, bytes: totals?["bytes"]?.int64Value ?? 0,
                underReplicated: under, minKn: minKn)
        }
    }

    public func nodeFigures() async throws -> [NodeID: NodeFigures] {
        try await withSession { session in
            var figures: [NodeID: NodeFigures] = [:]
            for node in try session.find(Nodes.collection, [:], projection: ["used": 1]) {
                guard let id = node["_id"] else { continue }
                let files = try session.count(Files.collection, ["live": id], hint: Files.liveIndex)
                let maxKn = try session.find(
                    Files.collection, ["live": id], sort: ["kn": -1, "size": -1, "_id": -1], projection: ["kn": 1],
                    limit: 1, hint: Files.liveIndex
                ).first?["kn"]?.intValue
                figures[NodeID(id.stringValue ?? "")] = NodeFigures(
                    files: files, used: node["used"]?.int64Value ?? 0, maxKn: maxKn)
            }
            return figures
        }
    }

    public func replicationCounts() async throws -> [ReplicationCount] {
        try await withSession { session in
            try session.aggregate(Files.collection, [
                ["$match": ["deleted": false]],
                ["$group": [
                    "_id": ["kn": "$kn", "k": "$k"], "files": ["$sum": .int64(1)], "bytes": ["$sum": "$size"],
                ]],
            ]).map { row in
                guard let group = row["_id"]?.documentValue, let kn = group["kn"]?.intValue, let k = group["k"]?.intValue,
                      let files = row["files"]?.intValue, let bytes = row["bytes"]?.int64Value
                else { throw CatalogError.corrupt("a count of files by K and N: \(row)") }
                return ReplicationCount(k: k, n: k - kn, files: files, bytes: bytes)
            }.sorted { ($0.kn, $0.k) < ($1.kn, $1.k) }
        }
    }

    public func underReplicated(limit: Int) async throws -> [FileRecord] {
        try await withSession { session in
            try session.find(
                Files.collection, ["deleted": false, "kn": ["$lt": .int64(0)]], sort: Files.scheduleOrder, limit: limit,
                hint: Files.scheduleIndex
            ).map(Files.record)
        }
    }

    // MARK: Planning

    public func withPlannerView<T: Sendable>(
        _ body: @escaping @Sendable (any PlannerQueries) throws -> T
    ) async throws -> T {
        try await withSession { session in try body(MongoPlannerQueries(session: session)) }
    }

    // MARK: Counters

    /// Reserves `count` new file ids; returns the last.
    private static func reserveIDs(_ session: MongoSession, count: Int) throws -> Int64 {
        let counter = try session.findAndModify(
            Meta.collection, ["_id": "counters"], .operators(["$inc": ["file": .int64(Int64(count))]]),
            upsert: true, returnNew: true)
        guard let last = counter?["file"]?.int64Value else {
            throw MongoError(operation: "findAndModify", target: session.target(Meta.collection), message: "the file id counter is missing")
        }
        return last
    }

    private static func addTotals(_ session: MongoSession, files: Int, bytes: Int64) throws {
        _ = try session.update(
            Meta.collection, ["_id": "totals"],
            .operators(["$inc": ["files": .int64(Int64(files)), "bytes": .int64(bytes)]]), upsert: true)
    }

    static func addUsed(_ session: MongoSession, _ node: NodeID, _ bytes: Int64) throws {
        guard bytes != 0 else { return }
        _ = try session.update(Nodes.collection, ["_id": .string(node.rawValue)], .operators(["$inc": ["used": .int64(bytes)]]))
    }
}
