import Foundation

/// The `files` collection: document shape, indexes and the update stages that keep the
/// derived fields in step with the replicas array.
enum Files {
    static let collection = "files"
    /// Where file versions are: current in `files`, retired in `tombstones`.
    static let withTombstones = [collection, Tombstones.collection]

    static let live = Int32(ReplicaState.live.storedCode)
    static let evicting = Int32(ReplicaState.evicting.storedCode)

    static let currentPathIndex = "path_current"
    static let pathVersionIndex = "path_version"
    static let scheduleIndex = "schedule"
    static let liveIndex = "live_kn"
    static let holdersIndex = "holders"
    static let holdersPathIndex = "holders_path"
    static let stagedIndex = "staged"
    static let sizeIndex = "size"

    /// The scheduling order (ARCHITECTURE.md section 3): lowest kn, then fewer copies, then
    /// smaller, then older.
    static let scheduleOrder: BSONDocument = ["kn": 1, "k": 1, "size": 1, "_id": 1]

    static let indexes: [BSONDocument] = [
        // One current version per path; tombstones keep their path but stay out.
        ["key": ["path": 1], "name": .string(currentPathIndex), "unique": true,
         "partialFilterExpression": ["deleted": false]],
        // The highest version of a path, tombstones included.
        ["key": ["path": 1, "version": -1], "name": .string(pathVersionIndex)],
        // The planner's order; min(kn) and the under-replicated files are one end of it.
        ["key": .document(scheduleOrder), "name": .string(scheduleIndex), "partialFilterExpression": ["deleted": false]],
        // Node membership with kn: the highest-kn live files on one node are a range.
        ["key": ["live": 1, "kn": -1, "size": -1, "_id": -1], "name": .string(liveIndex)],
        // Every replica on a node, any state (inventory matching, pending deletions).
        ["key": ["replicas.node": 1], "name": .string(holdersIndex)],
        // A node's replicas in path order: one batch of its inventory is a range of it.
        ["key": ["replicas.node": 1, "path": 1], "name": .string(holdersPathIndex)],
        // Replicas a node still holds under the path they had before a rename.
        ["key": ["replicas.from": 1], "name": "moving", "sparse": true],
        // Versions retired but not yet moved to `tombstones` (a move cut short by a crash).
        ["key": ["deleted": 1], "name": "retired", "partialFilterExpression": ["deleted": true]],
        // The version an upload stored, for a node asking again whether its commit went through.
        ["key": ["upload": 1], "name": "upload", "sparse": true],
        // The smallest current file: a planning pass with less room than that reads nothing.
        ["key": ["size": 1], "name": .string(sizeIndex), "partialFilterExpression": ["deleted": false]],
        // Versions a put staged and has not made current yet (a put cut short by a crash).
        ["key": ["staged": 1], "name": .string(stagedIndex), "partialFilterExpression": ["staged": true]],
    ]

    /// Update stages that recompute `k` (live replicas on nodes that are up), `live` (nodes
    /// with a live replica) and `kn` from the document's own replicas, in the same atomic
    /// update as the change before them.
    static let derive: [BSON] = [
        ["$set": [
            "k": ["$size": ["$filter": [
                "input": "$replicas",
                "cond": ["$and": [["$eq": ["$$this.state", .int32(live)]], ["$eq": ["$$this.up", true]]]],
            ]]],
            "live": ["$map": [
                "input": ["$filter": ["input": "$replicas", "cond": ["$eq": ["$$this.state", .int32(live)]]]],
                "in": "$$this.node",
            ]],
        ]],
        ["$set": ["kn": ["$subtract": ["$k", "$n"]]]],
    ]

    /// The replicas array without the entry for `node`.
    static func replicas(without node: BSON) -> BSON {
        ["$filter": ["input": "$replicas", "cond": ["$ne": ["$$this.node", node]]]]
    }

    /// A version's document; `staged`, one a put has written but not made current yet (see
    /// ``MongoCatalog/putFile(_:)``): `staged: true` and `deleted: true`, so that it counts
    /// nowhere and no query for current or retired versions finds it.
    static func newDocument(
        id: Int64, file: NewFile, version: Int64, holders: [(node: NodeID, up: Bool)], staged: Bool = false
    ) -> BSONDocument {
        let k = holders.filter(\.up).count
        var document: BSONDocument = [
            "_id": .int64(id),
            "path": .string(file.path.rawValue),
            "size": .int64(file.size),
            "sha256": .string(file.sha256),
            "n": .int64(Int64(file.n)),
            "k": .int64(Int64(k)),
            "kn": .int64(Int64(k - file.n)),
            "version": .int64(version),
            "created": .double(file.created.timeIntervalSince1970),
            "deleted": false,
            "replicas": .array(holders.map { ["node": .string($0.node.rawValue), "state": .int32(live), "up": .bool($0.up)] }),
            "live": .array(holders.map { .string($0.node.rawValue) }),
        ]
        if let upload = file.upload { document["upload"] = .string(upload) }
        if staged {
            document["deleted"] = true
            document["staged"] = true
        }
        return document
    }

    static func record(_ document: BSONDocument) throws -> FileRecord {
        guard let id = document["_id"]?.int64Value, let path = document["path"]?.stringValue,
            let size = document["size"]?.int64Value, let n = document["n"]?.intValue
        else { throw CatalogError.corrupt("a file document lacks _id, path, size or n: \(document.keys)") }
        return FileRecord(
            id: FileID(id), path: try VirtualPath(path), size: size, sha256: document["sha256"]?.stringValue ?? "",
            n: n, k: document["k"]?.intValue ?? 0, version: document["version"]?.int64Value ?? 1,
            created: Date(timeIntervalSince1970: document["created"]?.doubleValue ?? 0),
            deleted: document["deleted"]?.boolValue ?? false)
    }

    static func replicaStates(_ document: BSONDocument) -> [NodeID: ReplicaState] {
        var states: [NodeID: ReplicaState] = [:]
        for entry in document["replicas"]?.arrayValue ?? [] {
            guard let entry = entry.documentValue, let node = entry["node"]?.stringValue else { continue }
            states[NodeID(node)] = ReplicaState(storedCode: entry["state"]?.intValue)
        }
        return states
    }

    /// The path `node` holds the version under, when a rename since left it elsewhere
    /// (`from` of its replica entry; null or absent otherwise).
    static func movedFrom(_ document: BSONDocument, on node: NodeID) throws -> VirtualPath? {
        for entry in document["replicas"]?.arrayValue ?? [] {
            guard let entry = entry.documentValue, entry["node"]?.stringValue == node.rawValue else { continue }
            return try entry["from"]?.stringValue.map { try VirtualPath($0) }
        }
        return nil
    }

    /// A node's replica in a file document, with where the node holds it.
    static func holding(_ document: BSONDocument, on node: NodeID) throws -> Holding {
        Holding(
            file: try record(document), state: replicaStates(document)[node] ?? .evicting,
            movedFrom: try movedFrom(document, on: node))
    }

    static func holders(_ document: BSONDocument) -> Set<NodeID> {
        Set(replicaStates(document).keys)
    }

    static func replicaRecords(_ document: BSONDocument, of file: FileID) -> [ReplicaRecord] {
        replicaStates(document).map { ReplicaRecord(file: file, node: $0.key, state: $0.value) }.sorted { $0.node < $1.node }
    }

    static func fileState(_ document: BSONDocument) -> FileState? {
        guard let id = document["_id"]?.int64Value, let size = document["size"]?.int64Value,
            let n = document["n"]?.intValue, let k = document["k"]?.intValue
        else { return nil }
        return FileState(id: FileID(id), size: size, n: n, k: k)
    }
}

/// The `tombstones` collection: deleted (or replaced) file versions whose replicas are still
/// to be deleted from their nodes. A tombstone keeps the shape of its `files` document, with
/// `deleted: true` and every replica pending deletion; it is dropped once no replica is left.
enum Tombstones {
    static let collection = "tombstones"

    static let holdersIndex = "holders"
    static let holdersPathIndex = "holders_path"
    static let pathVersionIndex = "path_version"

    static let indexes: [BSONDocument] = [
        // A node's pending deletions.
        ["key": ["replicas.node": 1], "name": .string(holdersIndex)],
        // A node's replicas in path order, for matching its inventory batch by batch.
        ["key": ["replicas.node": 1, "path": 1], "name": .string(holdersPathIndex)],
        // The highest retired version of a path: a new version numbers on from it.
        ["key": ["path": 1, "version": -1], "name": .string(pathVersionIndex)],
        ["key": ["upload": 1], "name": "upload", "sparse": true],
    ]
}

/// The `nodes` collection: `_id` is the node's UUID. The operator's states are optional
/// fields, absent on documents written before them: `draining` (bool) and `maintenanceUntil`
/// (seconds since 1970, removed when the window is cleared).
enum Nodes {
    static let collection = "nodes"

    static func record(_ document: BSONDocument) throws -> NodeRecord {
        guard let id = document["_id"]?.stringValue else {
            throw CatalogError.corrupt("a node document lacks its _id: \(document.keys)")
        }
        return NodeRecord(
            id: NodeID(id), address: document["address"]?.stringValue ?? "", quota: document["quota"]?.int64Value ?? 0,
            used: document["used"]?.int64Value ?? 0, load: document["load"]?.doubleValue ?? 0,
            lastReport: Date(timeIntervalSince1970: document["lastReport"]?.doubleValue ?? 0),
            alive: document["alive"]?.boolValue ?? false, draining: document["draining"]?.boolValue ?? false,
            maintenanceUntil: document["maintenanceUntil"]?.doubleValue.map(Date.init(timeIntervalSince1970:)))
    }
}

/// The `meta` collection: `schema` (version), `counters` (last file id), `totals`.
enum Meta {
    static let collection = "meta"
}

/// ``PlannerQueries`` over one pooled client, on the connection's queue. Each query is a
/// range of an index: `schedule` for the scheduling order, `live_kn` for a node's highest-kn
/// files. A file's holders are in its own document, so the page of the scheduling order
/// brings them along and the planner's `replicas(of:)` for a file of that page costs no
/// round trip. One view serves one planning pass, on one thread.
final class MongoPlannerQueries: PlannerQueries {
    let session: MongoSession
    /// The replicas of the files of the last page of `files(after:limit:)`.
    private var pageReplicas: [FileID: [ReplicaRecord]] = [:]

    init(session: MongoSession) {
        self.session = session
    }

    private static let projection: BSONDocument = ["size": 1, "n": 1, "k": 1]

    /// This catalog keeps no count of each node's replicas yet: no node is known to hold
    /// everything (a pass then reads the files such a node's room admits).
    func nodesHoldingEveryFile() throws -> Set<NodeID> { [] }
    private static let pageProjection: BSONDocument = ["size": 1, "n": 1, "k": 1, "replicas": 1]

    func files(after cursor: FileState?, limit: Int) throws -> [FileState] {
        try page(after: cursor, limit: limit, bounds: nil)
    }

    func files(after cursor: FileState?, limit: Int, within bounds: CandidateBounds) throws -> [FileState] {
        // Too little room for the smallest file and no eviction for the lowest kn: nothing to
        // read (each one end of an index).
        let smallest = try session.find(
            Files.collection, ["deleted": false], sort: ["size": 1], projection: ["size": 1], limit: 1, hint: Files.sizeIndex
        ).first?["size"]?.int64Value
        let lowestKn = try session.find(
            Files.collection, ["deleted": false], sort: Files.scheduleOrder, projection: ["kn": 1], limit: 1, hint: Files.scheduleIndex
        ).first?["kn"]?.intValue
        let fits = bounds.mayAdmitAny(smallestSize: smallest, lowestKn: lowestKn)
        guard fits else { return [] }
        return try page(after: cursor, limit: limit, bounds: bounds)
    }

    /// A page of the `schedule` index; the bounds are tested on its keys (kn, k, size).
    private func page(after cursor: FileState?, limit: Int, bounds: CandidateBounds?) throws -> [FileState] {
        var filter: BSONDocument = ["deleted": false]
        var conditions: [BSON] = []
        if let bounds {
            filter["k"] = ["$lt": .int64(Int64(bounds.kBelow))]
            var fits: [BSON] = [.document(["size": ["$lte": .int64(bounds.roomFor)]])]
            if let kn = bounds.evictionUpToKn { fits.append(.document(["kn": ["$lte": .int64(Int64(kn))]])) }
            conditions.append(.document(["$or": .array(fits)]))
        }
        if let cursor {
            let kn = BSON.int64(Int64(cursor.kn)), k = BSON.int64(Int64(cursor.k))
            let size = BSON.int64(cursor.size), id = BSON.int64(cursor.id.rawValue)
            conditions.append(["$or": [
                ["kn": ["$gt": kn]],
                ["kn": kn, "k": ["$gt": k]],
                ["kn": kn, "k": k, "size": ["$gt": size]],
                ["kn": kn, "k": k, "size": size, "_id": ["$gt": id]],
            ]])
        }
        if conditions.count == 1 {
            filter["$or"] = conditions[0].documentValue?["$or"]
        } else if !conditions.isEmpty {
            filter["$and"] = .array(conditions)
        }
        let documents = try session.find(
            Files.collection, filter, sort: Files.scheduleOrder, projection: Self.pageProjection, limit: limit,
            hint: Files.scheduleIndex)
        pageReplicas.removeAll(keepingCapacity: true)
        return documents.compactMap { document in
            guard let file = Files.fileState(document) else { return nil }
            pageReplicas[file.id] = Files.replicaRecords(document, of: file.id)
            return file
        }
    }

    func replicas(of file: FileID) throws -> [ReplicaRecord] {
        if let known = pageReplicas[file] { return known }
        guard let document = try session.findOne(Files.collection, ["_id": .int64(file.rawValue)], projection: ["replicas": 1])
        else { return [] }
        return Files.replicaRecords(document, of: file)
    }

    func highestKnFiles(on node: NodeID, after cursor: FileState?, limit: Int) throws -> [FileState] {
        let id = BSON.string(node.rawValue)
        // Not a replica its node still holds under the path before a rename.
        var filter: BSONDocument = ["live": id, "replicas": ["$not": ["$elemMatch": ["node": id, "from": ["$type": "string"]]]]]
        if let cursor {
            let kn = BSON.int64(Int64(cursor.kn)), size = BSON.int64(cursor.size), file = BSON.int64(cursor.id.rawValue)
            filter["$or"] = [
                ["kn": ["$lt": kn]],
                ["kn": kn, "size": ["$lt": size]],
                ["kn": kn, "size": size, "_id": ["$lt": file]],
            ]
        }
        return try session.find(
            Files.collection, filter, sort: ["kn": -1, "size": -1, "_id": -1], projection: Self.projection, limit: limit,
            hint: Files.liveIndex
        ).compactMap(Files.fileState)
    }

    func lowestKnFiles(on node: NodeID, after cursor: FileState?, limit: Int) throws -> [FileState] {
        let id = BSON.string(node.rawValue)
        var filter: BSONDocument = ["live": id]
        if let cursor {
            let kn = BSON.int64(Int64(cursor.kn)), size = BSON.int64(cursor.size), file = BSON.int64(cursor.id.rawValue)
            filter["$or"] = [
                ["kn": ["$gt": kn]],
                ["kn": kn, "size": ["$gt": size]],
                ["kn": kn, "size": size, "_id": ["$gt": file]],
            ]
        }
        // The `live_kn` index read backwards.
        return try session.find(
            Files.collection, filter, sort: ["kn": 1, "size": 1, "_id": 1], projection: Self.projection, limit: limit,
            hint: Files.liveIndex
        ).compactMap(Files.fileState)
    }

    func records(of files: [FileID]) throws -> [FileRecord] {
        guard !files.isEmpty else { return [] }
        let ids = BSON.array(files.map { .int64($0.rawValue) })
        return try session.find(Files.collection, ["_id": ["$in": ids]]).map(Files.record)
    }
}
