import Foundation
import ReplicaCore
import Transport

extension Master {
    /// A node's report: liveness, load and quota, and its holdings (matched against the catalog
    /// when it sends its whole inventory). Answers with removals the node owes and whether the
    /// master needs the whole inventory.
    public func handleReport(_ report: NodeReport) async throws -> NodeReportReply {
        let now = Date()
        if let scrub = report.scrub { state.withLock { $0.scrub[report.node] = scrub } }
        let known = try await catalog.node(report.node)
        let inventoryKnown = state.withLock { $0.inventoryKnown.contains(report.node) }

        guard let inventory = report.inventory else {
            guard let known, known.alive, inventoryKnown else {
                // First contact since the master started, or back from being down: its
                // holdings must be matched before any of them counts again.
                return NodeReportReply(sendInventory: true)
            }
            state.withLock { $0.lastSeen[report.node] = now }
            try await catalog.recordReport(node: report.node, quota: report.quota, load: report.load, at: now)
            var changed = known.quota != report.quota
                || (known.load < settings.planner.maxLoad) != (report.load < settings.planner.maxLoad)
            for file in report.removed where try await forget(file, on: report.node) { changed = true }
            var adopt: [FileRef] = []
            for item in report.added {
                if case .adopt(let ref) = try await match(item, on: report.node, holdings: nil) { adopt.append(ref) }
                changed = true
            }
            if changed { schedule.signal() }
            return NodeReportReply(sendInventory: false, remove: try await owedRemovals(report.node), adopt: adopt)
        }

        // A whole inventory: register (not yet counting), match, then count.
        let record = NodeRecord(
            id: report.node, address: report.address, quota: report.quota, used: 0, load: report.load,
            lastReport: now, alive: known?.alive ?? false)
        try await catalog.registerNode(record)
        let reply = try await reconcile(node: report.node, inventory: inventory)
        if known?.alive != true { try await catalog.setNodeAlive(report.node, alive: true) }
        state.withLock { state in
            state.lastSeen[report.node] = now
            state.inventoryKnown.insert(report.node)
        }
        if known == nil {
            logger.info("node \(report.node) joined at \(report.address): \(inventory.count) files, quota \(ByteSize.format(report.quota))")
        } else if known?.alive != true {
            logger.info("node \(report.node) is back at \(report.address) with \(inventory.count) files")
        } else {
            logger.info("node \(report.node) sent its inventory: \(inventory.count) files")
        }
        schedule.signal()
        deletions.signal()
        return reply
    }

    /// A node leaving cleanly: it is down at once, so its replicas stop counting.
    public func handleLeave(_ leave: NodeLeave) async throws {
        guard try await catalog.node(leave.node) != nil else { return }
        try await catalog.setNodeAlive(leave.node, alive: false)
        state.withLock { state in
            state.inventoryKnown.remove(leave.node)
            state.lastSeen[leave.node] = nil
        }
        logger.info("node \(leave.node) left; its replicas no longer count")
        schedule.signal()
    }

    /// Matches a whole inventory against the replicas the catalog records on the node.
    private func reconcile(node: NodeID, inventory: [HeldFile]) async throws -> NodeReportReply {
        let holdings = try await catalog.holdings(on: node)
        var byID: [FileID: Holding] = [:]
        for holding in holdings { byID[holding.file.id] = holding }
        var matched = Set<FileID>()
        var adopt: [FileRef] = []
        var remove: [FileRef] = []
        var unknown = 0
        for item in inventory {
            switch try await match(item, on: node, holdings: byID) {
            case .counted(let id): matched.insert(id)
            case .adopt(let ref):
                matched.insert(ref.fileID)
                adopt.append(ref)
            case .stale(let ref): remove.append(ref)
            case .unknown: unknown += 1
            }
        }
        // Replicas the catalog records that the node no longer has (an eviction under way
        // forgets its own when the node confirms it).
        let evicting = state.withLock { state in Set(state.evictions.keys.filter { $0.node == node }.map(\.file)) }
        for holding in holdings where !matched.contains(holding.file.id) && !evicting.contains(holding.file.id) {
            try await catalog.removeReplica(holding.file.id, from: node)
        }
        if unknown > 0 {
            logger.notice("node \(node) holds \(unknown) files the catalog does not know; they are not counted")
        }
        let owed = try await owedRemovals(node)
        return NodeReportReply(sendInventory: false, remove: remove + owed.filter { !remove.contains($0) }, adopt: adopt)
    }

    enum Match {
        case counted(FileID)
        case adopt(FileRef)
        case stale(FileRef)
        case unknown
    }

    /// One held file against the catalog: the current version (counted), an old or deleted
    /// version (to remove), or unknown.
    private func match(_ item: HeldFile, on node: NodeID, holdings: [FileID: Holding]?) async throws -> Match {
        if let current = try await catalog.file(at: item.path), current.sha256 == item.sha256, current.size == item.size {
            let state: ReplicaState? = if let holdings { holdings[current.id]?.state } else {
                try await catalog.replicas(of: current.id).first { $0.node == node }?.state
            }
            if state != .live { try await catalog.setReplica(current.id, on: node, state: .live) }
            return item.fileID == current.id ? .counted(current.id) : .adopt(FileRef(fileID: current.id, path: item.path))
        }
        if let id = item.fileID, try await catalog.file(id: id) != nil {
            return .stale(FileRef(fileID: id, path: item.path))
        }
        if let id = item.fileID {
            // A version whose tombstone is already purged: nobody needs it.
            return .stale(FileRef(fileID: id, path: item.path))
        }
        return .unknown
    }

    /// The node no longer holds `file`: stop counting it. Returns whether anything changed.
    private func forget(_ file: FileRef, on node: NodeID) async throws -> Bool {
        guard try await catalog.replicas(of: file.fileID).contains(where: { $0.node == node }) else { return false }
        try await catalog.removeReplica(file.fileID, from: node)
        logger.notice("node \(node) no longer holds \(file.path) (version \(file.fileID))")
        return true
    }

    /// Versions of deleted or replaced files the node must still remove.
    func owedRemovals(_ node: NodeID) async throws -> [FileRef] {
        try await catalog.pendingDeletions(on: node).map { FileRef(fileID: $0.id, path: $0.path) }
    }
}
