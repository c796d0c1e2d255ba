import Foundation
import ReplicaCore
import Transport

extension Master {
    /// Marks the replicas as being evicted (they stop counting at once) and books their space,
    /// before the placement lock is let go.
    func reserveEvictions(_ orders: [EvictionOrder]) async throws {
        for order in orders {
            try await catalog.setReplica(order.plan.file, on: order.plan.node, state: .evicting)
            state.withLock { $0.evictions[Placement(file: order.plan.file, node: order.plan.node)] = order.plan.size }
        }
    }

    /// Has the node remove exactly these versions and forgets the replicas it confirms. When
    /// the call fails the master cannot know what the node did: the replicas stay `evicting`
    /// (not counted) and the node is asked for its whole inventory at its next report, which
    /// counts again what it still holds and forgets what it removed.
    ///
    /// What was evicted is one `eviction` event per call (one node, one file made room for).
    func evict(_ orders: [EvictionOrder], makingRoomFor path: VirtualPath? = nil) async throws {
        guard let first = orders.first else { return }
        let node = first.plan.node
        defer {
            state.withLock { state in
                for order in orders { state.evictions[Placement(file: order.plan.file, node: node)] = nil }
            }
        }
        do {
            let reply: RemoveReply = try await client.call(
                .POST, first.address, Route.remove, body: RemoveCommand(swarm: swarm, files: orders.map(\.version)))
            for ref in reply.gone {
                try await catalog.removeReplica(ref.fileID, from: node)
                metrics.evictions.increment()
                logger.info("evicted \(ref.path) (version \(ref.fileID)) from \(node) to make room")
            }
            if !reply.gone.isEmpty { recordEviction(reply.gone, orders: orders, on: node, address: first.address, for: path) }
        } catch {
            state.withLock { _ = $0.inventoryWanted.insert(node) }
            logger.warning("eviction of \(orders.count) files on \(node) failed (\(error)); asking the node for its inventory")
            throw error
        }
    }

    private func recordEviction(_ gone: [FileRef], orders: [EvictionOrder], on node: NodeID, address: String, for path: VirtualPath?) {
        let sizes = Dictionary(orders.map { ($0.plan.file, $0.plan.size) }, uniquingKeysWith: { first, _ in first })
        let bytes = gone.reduce(Int64(0)) { $0 + (sizes[$1.fileID] ?? 0) }
        let names = gone.prefix(3).map(\.path.rawValue).joined(separator: ", ") + (gone.count > 3 ? ", …" : "")
        let purpose = path.map { " to make room for \($0)" } ?? " to make room"
        record(.eviction, node: node, address: address, path: gone.count == 1 ? gone[0].path : nil,
               "evicted \(gone.count) over-replicated file\(gone.count == 1 ? "" : "s") (\(ByteSize.format(bytes)): \(names)) from \(address)\(purpose)")
    }
}
