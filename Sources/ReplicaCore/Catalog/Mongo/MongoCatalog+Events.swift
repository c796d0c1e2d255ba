import Foundation

/// The `events` collection: the master's event log, `_id` the event's number. Numbers come from
/// the `event` counter in `meta` (`counters`), so they are never reused, not even once the
/// oldest events are trimmed; the counter is repaired to at least the highest `_id` when the
/// catalog opens.
enum Events {
    static let collection = "events"

    static func document(_ event: NewEvent, seq: Int64) -> BSONDocument {
        var document: BSONDocument = [
            "_id": .int64(seq),
            "time": .double(event.time.timeIntervalSince1970),
            "kind": .string(event.kind.rawValue),
            "message": .string(event.message),
        ]
        if let node = event.node { document["node"] = .string(node.rawValue) }
        if let address = event.address { document["address"] = .string(address) }
        if let path = event.path { document["path"] = .string(path.rawValue) }
        return document
    }

    static func record(_ document: BSONDocument) throws -> EventRecord {
        guard let seq = document["_id"]?.int64Value, let kind = document["kind"]?.stringValue else {
            throw CatalogError.corrupt("an event document lacks _id or kind: \(document.keys)")
        }
        let path = try document["path"]?.stringValue.map { try VirtualPath($0) }
        return EventRecord(seq: seq, NewEvent(
            time: Date(timeIntervalSince1970: document["time"]?.doubleValue ?? 0), kind: EventKind(kind),
            node: document["node"]?.stringValue.map { NodeID($0) }, address: document["address"]?.stringValue, path: path,
            message: document["message"]?.stringValue ?? ""))
    }

    /// Keeps the event counter at or above the highest event number in use.
    static func repairCounter(_ session: MongoSession) throws {
        let highest = try session.find(collection, [:], sort: ["_id": -1], projection: ["_id": 1], limit: 1)
            .first?["_id"]?.int64Value ?? 0
        guard highest > 0 else { return }
        _ = try session.update(
            Meta.collection, ["_id": "counters", "$or": [["event": ["$exists": false]], ["event": ["$lt": .int64(highest)]]]],
            .operators(["$set": ["event": .int64(highest)]]))
    }
}

extension MongoCatalog {
    /// One aggregation over the current file documents: unlike SQLite, which keeps the
    /// histogram with triggers, this reads every file's `kn`.
    public func knHistogram() async throws -> [KnBucket] {
        try await withSession { session in
            try session.aggregate(Files.collection, [
                ["$match": ["deleted": false]],
                ["$group": ["_id": "$kn", "files": ["$sum": .int64(1)]]],
                ["$sort": ["_id": 1]],
            ]).compactMap { row in
                guard let kn = row["_id"]?.intValue, let files = row["files"]?.intValue, files > 0 else { return nil }
                return KnBucket(kn: kn, files: files)
            }
        }
    }

    public func appendEvents(_ events: [NewEvent], keep: Int) async throws {
        guard !events.isEmpty else { return }
        try await withSession { session in
            let counter = try session.findAndModify(
                Meta.collection, ["_id": "counters"], .operators(["$inc": ["event": .int64(Int64(events.count))]]),
                upsert: true, returnNew: true)
            guard let last = counter?["event"]?.int64Value else {
                throw MongoError(
                    operation: "findAndModify", target: session.target(Meta.collection), message: "the event counter is missing")
            }
            let first = last - Int64(events.count) + 1
            try session.insert(Events.collection, events.enumerated().map { Events.document($1, seq: first + Int64($0)) })
            _ = try session.delete(Events.collection, ["_id": ["$lte": .int64(last - Int64(max(0, keep)))]])
        }
    }

    public func events(after seq: Int64, limit: Int) async throws -> [EventRecord] {
        guard limit > 0 else { return [] }
        return try await withSession { session in
            try session.find(Events.collection, ["_id": ["$gt": .int64(seq)]], sort: ["_id": 1], limit: limit).map(Events.record)
        }
    }

    public func latestEvents(limit: Int) async throws -> [EventRecord] {
        guard limit > 0 else { return [] }
        return try await withSession { session in
            try session.find(Events.collection, [:], sort: ["_id": -1], limit: limit).reversed().map(Events.record)
        }
    }
}
