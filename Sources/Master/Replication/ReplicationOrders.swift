import ReplicaCore

/// A copy as the executor carries it out: the planner's decision resolved, in the same catalog
/// view, into everything the calls need (the version's path and checksum, the nodes'
/// addresses, the evictions before it), so that carrying it out reads nothing back.
struct CopyOrder: Sendable {
    var plan: CopyPlan
    var file: FileRecord
    var source: String
    var target: String
    /// Done first, on the target.
    var evictions: [EvictionOrder]
}

/// One replica to remove from a node to make room: the exact version, its path and the node.
struct EvictionOrder: Sendable {
    var plan: EvictionPlan
    var version: FileRef
    var address: String
}

extension CopyOrder {
    /// Every version an action names, for one ``PlannerQueries/records(of:)`` call.
    static func files(of actions: [ReplicationAction]) -> [FileID] {
        actions.map { action in
            switch action {
            case .evict(let plan): plan.file
            case .copy(let plan): plan.file
            }
        }
    }

    /// Turns the planner's actions into orders. A copy whose version or node is not found
    /// (the view cannot lose one, but a catalog can be edited by hand) is dropped with the
    /// evictions before it, so nothing is evicted for a copy that will not happen.
    static func resolve(
        _ actions: [ReplicationAction], records: [FileRecord], addresses: [NodeID: String]
    ) -> [CopyOrder] {
        let files = Dictionary(records.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var orders: [CopyOrder] = []
        var evictions: [EvictionOrder] = []
        var complete = true
        for action in actions {
            switch action {
            case .evict(let plan):
                if let record = files[plan.file], let address = addresses[plan.node] {
                    evictions.append(EvictionOrder(plan: plan, version: FileRef(fileID: record.id, path: record.path, sha256: record.sha256), address: address))
                } else {
                    complete = false
                }
            case .copy(let plan):
                defer {
                    evictions = []
                    complete = true
                }
                guard complete, let file = files[plan.file], !file.deleted,
                      let source = addresses[plan.source], let target = addresses[plan.target]
                else { continue }
                orders.append(CopyOrder(plan: plan, file: file, source: source, target: target, evictions: evictions))
            }
        }
        return orders
    }
}

extension EvictionOrder {
    /// The evictions an upload placement needs, resolved like a copy's.
    static func resolve(
        _ files: [FileID], on node: NodeID, making placeholder: FileID, records: [FileRecord], address: String
    ) -> [EvictionOrder]? {
        let byID = Dictionary(records.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var orders: [EvictionOrder] = []
        for file in files {
            guard let record = byID[file] else { return nil }
            orders.append(EvictionOrder(
                plan: EvictionPlan(file: file, node: node, size: record.size, makingRoomFor: placeholder),
                version: FileRef(fileID: file, path: record.path, sha256: record.sha256), address: address))
        }
        return orders
    }
}
