import Foundation

/// Renames (`fsdfsd mv`): a version's document changes path in one atomic update, its replicas
/// and K with it. No multi-document transaction: a list of renames goes one version at a time.
extension MongoCatalog {
    public func renameFiles(_ renames: [FileRename]) async throws -> [FileRecord] {
        if let bad = renames.first(where: { $0.n < 1 }) { throw CatalogError.invalidReplicaCount(bad.n) }
        guard !renames.isEmpty else { return [] }
        return try await gate.shared {
            try await withSession { session in
                var renamed: [FileRecord] = []
                for change in renames { renamed.append(try Self.rename(session, change)) }
                return renamed
            }
        }
    }

    /// One rename: the version at `to` is retired first (the unique index of current paths
    /// allows one), then the version at `from` takes the path in one conditional update. Each
    /// replica entry not being evicted remembers the path its node holds the version under
    /// (`from`, the first of a chain of renames; null again when renamed back there).
    private static func rename(_ session: MongoSession, _ change: FileRename) throws -> FileRecord {
        let from = BSON.string(change.from.rawValue), to = BSON.string(change.to.rawValue)
        guard let found = try session.findOne(Files.collection, ["path": from, "deleted": false], projection: ["_id": 1, "staged": 1]),
              found["staged"] == nil, let id = found["_id"]
        else { throw CatalogError.noFile(change.from) }
        let n = BSON.int64(Int64(change.n))
        if change.to == change.from {
            guard let document = try session.findAndModify(
                Files.collection, ["_id": id, "deleted": false], .pipeline([["$set": ["n": n]]] + Files.derive), returnNew: true)
            else { throw CatalogError.noFile(change.from) }
            return try Files.record(document)
        }
        let version = try lastVersion(session, of: change.to) + 1
        try retire(session, path: change.to)
        // Where the node holds it: as before, or (not being evicted) the old path; null back there.
        let held: BSON = ["$cond": [
            ["$eq": ["$$this.state", .int32(Files.evicting)]], ["$ifNull": ["$$this.from", .null]], ["$ifNull": ["$$this.from", from]],
        ]]
        let entry: BSON = ["$mergeObjects": ["$$this", ["from": ["$cond": [["$eq": [held, to]], .null, held]]]]]
        guard let document = try session.findAndModify(
            Files.collection, ["_id": id, "path": from, "deleted": false],
            .pipeline([
                ["$set": [
                    "path": to, "version": .int64(version), "n": n,
                    "replicas": ["$map": ["input": "$replicas", "in": entry]],
                ]],
            ] + Files.derive),
            returnNew: true)
        else { throw CatalogError.noFile(change.from) }
        return try Files.record(document)
    }

    public func pendingMoves(on node: NodeID) async throws -> [PendingMove] {
        try await withSession { session in
            let filter: BSONDocument = [
                "deleted": false,
                "replicas": ["$elemMatch": ["node": .string(node.rawValue), "from": ["$type": "string"], "state": ["$in": [.int32(Files.live), .int32(Int32(ReplicaState.copying.storedCode))]]]],
            ]
            return try session.find(Files.collection, filter).compactMap { document -> PendingMove? in
                guard document["staged"] == nil, let from = try Files.movedFrom(document, on: node) else { return nil }
                return PendingMove(file: try Files.record(document), from: from, state: Files.replicaStates(document)[node] ?? .live)
            }.sorted { $0.from < $1.from }
        }
    }

    public func confirmMoves(_ files: [FileID], on node: NodeID) async throws {
        guard !files.isEmpty else { return }
        try await gate.shared {
            try await withSession { session in
                guard try session.findOne(Nodes.collection, ["_id": .string(node.rawValue)], projection: ["_id": 1]) != nil
                else { throw CatalogError.unknownNode(node) }
                let id = BSON.string(node.rawValue)
                let entry: BSON = [
                    "$cond": [["$eq": ["$$this.node", id]], ["$mergeObjects": ["$$this", ["from": .null]]], "$$this"],
                ]
                let clear = MongoSession.Update.pipeline([["$set": ["replicas": ["$map": ["input": "$replicas", "in": entry]]]]])
                for file in files {
                    for collection in Files.withTombstones {
                        _ = try session.update(collection, ["_id": .int64(file.rawValue), "replicas.node": id], clear)
                    }
                }
            }
        }
    }
}
