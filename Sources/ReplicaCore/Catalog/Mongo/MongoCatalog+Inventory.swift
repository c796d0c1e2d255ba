import Foundation

extension MongoCatalog {
    /// Paths per `$in` query: a query document stays far below the 16 MiB a document may have,
    /// even with long paths.
    static let inventoryChunk = 2000

    /// The current versions by `$in` over the unique path index, a few thousand paths per
    /// query; the node's replicas in the range by a range of the path indexes of `files` and
    /// `tombstones` (each version in the range is read once), or by the holders index when the
    /// range is every path.
    public func inventoryView(on node: NodeID, paths: [VirtualPath], range: PathRange) async throws -> InventoryView {
        try await withSession { session in
            var current: [VirtualPath: FileRecord] = [:]
            var start = paths.startIndex
            while start < paths.endIndex {
                let end = min(start + Self.inventoryChunk, paths.endIndex)
                let chunk = paths[start..<end].map { BSON.string($0.rawValue) }
                for document in try session.find(
                    Files.collection, ["path": ["$in": .array(chunk)], "deleted": false], hint: Files.currentPathIndex)
                {
                    let file = try Files.record(document)
                    current[file.path] = file
                }
                start = end
            }
            var filter: BSONDocument = ["replicas.node": .string(node.rawValue)]
            var bounds = BSONDocument()
            if let after = range.after { bounds["$gt"] = .string(after.rawValue) }
            if let through = range.through { bounds["$lte"] = .string(through.rawValue) }
            let whole = range.after == nil && range.through == nil
            if !whole { filter["path"] = .document(bounds) }
            var holdings: [FileID: Holding] = [:]
            // Tombstones first, so that a version caught mid-move is taken from `files`.
            for (collection, byPath, byHolder) in [
                (Tombstones.collection, Tombstones.pathVersionIndex, Tombstones.holdersIndex),
                (Files.collection, Files.pathVersionIndex, Files.holdersIndex),
            ] {
                for document in try session.find(collection, filter, hint: whole ? byHolder : byPath) {
                    let file = try Files.record(document)
                    holdings[file.id] = Holding(file: file, state: Files.replicaStates(document)[node] ?? .evicting)
                }
            }
            return InventoryView(current: current, holdings: holdings)
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
