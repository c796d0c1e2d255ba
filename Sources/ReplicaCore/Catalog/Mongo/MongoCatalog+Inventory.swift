import Foundation

extension MongoCatalog {
    /// The current versions by one range of the path index, from the least to the greatest
    /// path asked (a batch's paths are a contiguous run of a node's, in path order): a `$in` of
    /// thousands of paths is far slower on some servers, and the range reads each version once
    /// over a whole inventory. The node's replicas in the range come from a range of the
    /// `holders_path` indexes of `files` and `tombstones` (node, then path), or from the holders
    /// index when the range is every path. Each query names one field or an index prefix, so
    /// that every server can take it from an index; none gives a hint, which makes SecantusDB
    /// walk the whole index named (a hinted range there costs seconds at 20,000 files).
    public func inventoryView(on node: NodeID, paths: [VirtualPath], range: PathRange) async throws -> InventoryView {
        try await withSession { session in
            var current: [VirtualPath: FileRecord] = [:]
            if let lowest = paths.min(), let highest = paths.max() {
                let wanted = Set(paths)
                for document in try session.find(
                    Files.collection, ["path": ["$gte": .string(lowest.rawValue), "$lte": .string(highest.rawValue)]])
                where document["deleted"]?.boolValue == false && document["staged"] == nil {
                    let file = try Files.record(document)
                    if wanted.contains(file.path) { current[file.path] = file }
                }
            }
            var filter: BSONDocument = ["replicas.node": .string(node.rawValue)]
            var bounds = BSONDocument()
            if let after = range.after { bounds["$gt"] = .string(after.rawValue) }
            if let through = range.through { bounds["$lte"] = .string(through.rawValue) }
            if range.after != nil || range.through != nil { filter["path"] = .document(bounds) }
            var holdings: [FileID: Holding] = [:]
            // Tombstones first, so that a version caught mid-move is taken from `files`.
            for collection in [Tombstones.collection, Files.collection] {
                for document in try session.find(collection, filter)
                where document["staged"] == nil {
                    let holding = try Files.holding(document, on: node)
                    holdings[holding.file.id] = holding
                }
            }
            // Versions renamed since the node got them, that it holds under a path in the range.
            var moving: [FileID: Holding] = [:]
            let from: BSON = range.after != nil || range.through != nil ? .document(bounds) : ["$type": "string"]
            for collection in [Tombstones.collection, Files.collection] {
                for document in try session.find(collection, ["replicas": ["$elemMatch": ["node": .string(node.rawValue), "from": from]]])
                where document["staged"] == nil {
                    let holding = try Files.holding(document, on: node)
                    moving[holding.file.id] = holding
                }
            }
            return InventoryView(current: current, holdings: holdings, moving: moving)
        }
    }

    /// The file documents carry their replicas: one `$in` query by path per few hundred paths
    /// (a long `$in` list is far slower than several short ones on some servers).
    public func currentVersions(of paths: [VirtualPath], on node: NodeID) async throws -> [VirtualPath: CurrentVersion] {
        guard !paths.isEmpty else { return [:] }
        return try await withSession { session in
            var found: [VirtualPath: CurrentVersion] = [:]
            var start = 0
            while start < paths.count {
                let chunk = paths[start..<min(paths.count, start + 256)]
                start += chunk.count
                for document in try session.find(
                    Files.collection, ["path": ["$in": .array(chunk.map { .string($0.rawValue) })], "deleted": false])
                where document["staged"] == nil {
                    let file = try Files.record(document)
                    found[file.path] = CurrentVersion(file: file, state: Files.replicaStates(document)[node])
                }
            }
            return found
        }
    }

    /// Each change is one atomic update of its version's document (there are no multi-document
    /// transactions here), in one session; matching asks only for the replicas that change,
    /// which a node rejoining with what the catalog lists leaves none of.
    public func applyInventory(on node: NodeID, live: [FileID], forget: [FileID]) async throws {
        guard !live.isEmpty || !forget.isEmpty else { return }
        try await gate.shared {
            try await withSession { session in
                guard let holder = try session.findOne(Nodes.collection, ["_id": .string(node.rawValue)], projection: ["alive": 1])
                else { throw CatalogError.unknownNode(node) }
                let up = holder["alive"]?.boolValue ?? false
                for file in live { _ = try Self.writeReplica(session, file, on: node, up: up, state: .live) }
                for file in forget { try Self.dropReplica(session, file, from: node) }
            }
        }
    }
}
