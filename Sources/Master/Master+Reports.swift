import Foundation
import ReplicaCore
import Transport

extension Master {
    /// A node's report: liveness, load and quota, and its holdings (matched against the catalog
    /// when it sends its whole inventory). Answers with removals the node owes and whether the
    /// master needs the whole inventory.
    ///
    /// A node whose data directory belongs to another swarm is refused before anything is
    /// recorded (409 `foreign_swarm`): a replaced or mistyped catalog never makes nodes delete.
    public func handleReport(_ report: NodeReport) async throws -> NodeReportReply {
        state.withLock { $0.reportsInFlight[report.node, default: ReportsInFlight(since: Date())].count += 1 }
        var answered: NodeReportReply?
        defer {
            let freshAgain = state.withLock { state in
                if let inFlight = state.reportsInFlight[report.node], inFlight.count > 1 {
                    state.reportsInFlight[report.node]?.count -= 1
                } else {
                    state.reportsInFlight[report.node] = nil
                }
                // A report that counted is heard when its answer goes out, everything it told
                // taken in: the next one comes an interval later, however long this one waited
                // for the catalog. A refused one, or one answered "send your inventory", is not.
                guard let answered, !answered.sendInventory else { return false }
                return state.noteAnswered(report.node, at: Date(), within: settings.freshFor)
            }
            // Stale until now: without this wake the scheduler slept on, with files short of
            // copies, until something else happened (a node receiving batches of copies that
            // took long to report them looked silent to a pass that then found nothing to do).
            if freshAgain { schedule.signal() }
        }
        // Only files to match need the lock: a plain report must not wait behind an inventory
        // batch being taken in, or its node would look silent.
        if state.withLock({ $0.recovering }), report.inventory != nil || !report.added.isEmpty {
            answered = try await recovery.withLock { try await matchReport(report) }
        } else {
            answered = try await matchReport(report)
        }
        return answered!
    }

    private func matchReport(_ report: NodeReport) async throws -> NodeReportReply {
        let now = Date()
        let swarm = try await admit(report, at: now)
        state.withLock { $0.noteInstance(report.instance, of: report.node) }
        if let scrub = report.scrub { state.withLock { $0.scrub[report.node] = scrub } }
        if let kept = report.kept { noteKept(kept, on: report.node, address: report.address) }
        try await reserveIDs((report.inventory ?? []).lazy.compactMap(\.fileID).max())
        try await reserveIDs(report.added.lazy.compactMap(\.fileID).max())
        let known = try await catalog.node(report.node)
        // A report between the batches of a stream means the stream was given up: it is sent again.
        let inventoryKnown = state.withLock { state in
            let streaming = state.inventories.removeValue(forKey: report.node) != nil
            return state.inventoryKnown.contains(report.node) && !state.inventoryWanted.contains(report.node) && !streaming
        }

        guard let inventory = report.inventory else {
            guard let known, known.alive, inventoryKnown else {
                // First contact since the master started, or back from being down: its
                // holdings must be matched before any of them counts again.
                return NodeReportReply(swarm: swarm, sendInventory: true)
            }
            try await endMaintenanceIfBack(known, at: now)
            // Its last contact is taken when the answer goes out (handleReport), once the
            // removals and damage it tells of are taken in: not fresh before (make before break).
            try await catalog.recordReport(node: report.node, quota: report.quota, load: report.load, at: now)
            var changed = known.quota != report.quota
                || (known.load < settings.planner.maxLoad) != (report.load < settings.planner.maxLoad)
            for file in report.removed where try await forget(file, on: report.node, address: report.address, damaged: report.damaged) {
                changed = true
            }
            var adopt: [AdoptedFile] = []
            if !report.added.isEmpty {
                adopt = try await matchAdded(report.added, on: report.node, address: report.address)
                changed = true
            }
            if changed { schedule.signal() }
            return NodeReportReply(swarm: swarm, sendInventory: false, remove: try await owedRemovals(report.node), adopt: adopt)
        }

        // A whole inventory in one body (nodes that predate batches): register (not yet
        // counting), match in batches as a stream would be, then count.
        if let known { try await endMaintenanceIfBack(known, at: now) }
        let record = NodeRecord(
            id: report.node, address: report.address, quota: report.quota, used: 0, load: report.load,
            lastReport: now, alive: known?.alive ?? false)
        try await catalog.registerNode(record)
        state.withLock { state in
            state.inventoryWanted.remove(report.node)
            // Being matched: not declared down meanwhile, however long it takes.
            state.inventories[report.node] = MasterState.InventoryStream(
                session: "", address: report.address, quota: report.quota, before: known, started: now, lastActivity: now,
                matching: true)
        }
        defer { state.withLock { state in _ = state.inventories.removeValue(forKey: report.node) } }
        noteUnaccounted([], on: report.node, replacing: true)
        let files = inventory.sorted { $0.path < $1.path }
        var adopt: [AdoptedFile] = []
        var unaccounted = 0
        var missing = 0
        var missingSample: [VirtualPath] = []
        var start = 0
        repeat {
            let end = min(start + Self.legacyBatch, files.count)
            let batch = Array(files[start..<end])
            let range = PathRange(after: start == 0 ? nil : files[start - 1].path, through: end == files.count ? nil : batch.last?.path)
            let outcome = try await matchBatch(batch, range: range, on: report.node, address: report.address)
            adopt += outcome.adopt
            unaccounted += outcome.unaccounted
            missing += outcome.missing
            missingSample = Array((missingSample + outcome.missingSample).prefix(3))
            state.withLock { state in
                if state.lastSeen[report.node] != nil { state.lastSeen[report.node] = Date() }
            }
            start = end
        } while start < files.count
        if known?.alive != true { try await catalog.setNodeAlive(report.node, alive: true) }
        recordMissing(count: missing, sample: missingSample, on: report.node, address: report.address)
        state.withLock { state in
            state.lastSeen[report.node] = Date()
            state.inventoryKnown.insert(report.node)
        }
        announceInventory(
            of: report.node, address: report.address, quota: report.quota, files: files.count, before: known, unaccounted: unaccounted)
        return NodeReportReply(swarm: swarm, sendInventory: false, remove: try await owedRemovals(report.node), adopt: adopt)
    }

    /// A node leaving cleanly: it is down at once, so its replicas stop counting — unless it
    /// is in a maintenance window: then it stays up (its copies keep counting) but receives
    /// nothing, and its next report, once it is back, ends the window.
    public func handleLeave(_ leave: NodeLeave) async throws {
        guard let known = try await catalog.node(leave.node) else { return }
        if known.alive, known.inMaintenance(at: Date()) {
            state.withLock { state in
                state.inventoryKnown.remove(leave.node)
                state.away.insert(leave.node)
            }
            logger.info("node \(leave.node) left during its maintenance window: not declared down, its replicas keep counting until \(known.maintenanceUntil!.formatted(.iso8601))")
            schedule.signal()
            return
        }
        try await catalog.setNodeAlive(leave.node, alive: false)
        state.withLock { state in
            state.inventoryKnown.remove(leave.node)
            state.lastSeen[leave.node] = nil
        }
        logger.info("node \(leave.node) left; its replicas no longer count")
        if known.alive {
            record(.nodeDown, node: leave.node, address: known.address,
                   "node \(known.address) left (it was stopped); its replicas no longer count")
        }
        schedule.signal()
    }

    /// Keeps the catalog's id counter above every version id a node reports (`highest`, the
    /// greatest of them), so that an id is never given to two versions even when the catalog
    /// was rebuilt from the nodes (a version the catalog cannot account for keeps an id
    /// nothing else will have).
    func reserveIDs(_ highest: FileID?) async throws {
        guard let highest else { return }
        let reserved = state.withLock { $0.reservedIDs }
        guard reserved.map({ highest > $0 }) ?? true else { return }
        try await catalog.reserveFileIDs(through: highest)
        state.withLock { $0.reservedIDs = max($0.reservedIDs ?? highest, highest) }
    }

    /// A node in a maintenance window that left or fell silent and now reports again is
    /// back: its window ends (the planned restart is over), and it may receive copies again.
    func endMaintenanceIfBack(_ known: NodeRecord, at now: Date) async throws {
        guard known.inMaintenance(at: now) else { return }
        let back = state.withLock { state in
            state.away.contains(known.id)
                || state.lastSeen[known.id].map { now.timeIntervalSince($0) > settings.freshFor } ?? true
        }
        guard back else { return }
        try await catalog.setMaintenance(known.id, until: nil)
        state.withLock { _ = $0.away.remove(known.id) }
        logger.info("node \(known.id) at \(known.address) is back: its maintenance window ends")
        record(.maintenanceEnded, node: known.id, address: known.address, "node \(known.address) is back: its maintenance window ends")
        schedule.signal()
    }

    // MARK: Swarm

    /// The swarm a reporting node may join: the catalog's. A node of another swarm is refused
    /// and listed in `status`. A master rebuilding its catalog that does not know its swarm
    /// yet takes the swarm of the first node that has one.
    func admit(_ report: NodeReport, at now: Date) async throws -> SwarmID {
        var swarm = state.withLock { $0.swarm }
        if swarm == nil {
            guard let theirs = report.swarm else {
                throw RouteError(
                    .serviceUnavailable,
                    "the master is rebuilding its catalog (--recover) and does not know its swarm yet: it waits for a node that belongs to one",
                    code: "swarm_unknown")
            }
            try await catalog.setSwarmID(theirs)
            state.withLock { $0.swarm = theirs }
            logger.notice("recovery: the catalog takes the identity of swarm \(theirs), the swarm of node \(report.node) at \(report.address)")
            swarm = theirs
        }
        guard let swarm else { preconditionFailure("set above") }
        if let theirs = report.swarm, theirs != swarm {
            let message = "node \(report.node) at \(report.address) belongs to swarm \(theirs), not to this master's swarm \(swarm): refused, and it deletes nothing. "
                + "If this master's catalog was replaced or lost, restart it with --recover on an empty catalog or with the right --catalog"
            let first = state.withLock { state in
                let first = state.refused[report.node] == nil
                state.refused[report.node] = RefusedNode(
                    id: report.node, address: report.address, swarm: theirs, at: now.formatted(.iso8601))
                return first
            }
            if first {
                logger.error("\(message)")
                record(.nodeRefused, node: report.node, address: report.address, message)
            }
            throw RouteError(.conflict, message, code: "foreign_swarm")
        }
        state.withLock { _ = $0.refused.removeValue(forKey: report.node) }
        return swarm
    }

    // MARK: Matching holdings

    enum Match {
        /// The current version, recorded as such on the node.
        case counted(FileID)
        /// The current version, which the node must record under this id.
        case adopt(AdoptedFile)
        /// A deleted or replaced version the catalog lists on this node: its removal is owed.
        case pending(FileID)
        /// Nothing the catalog can account for: kept on the node, not counted.
        case unaccounted(UnaccountedFile)
    }

    /// The files a node's report says it added (copies and uploads that landed, mostly
    /// counted already): those that are their path's current version are counted with one
    /// read and one write, however many (a node receiving batches of copies adds thousands
    /// per report); the others one by one (``match(_:on:address:holdings:)``), as before.
    private func matchAdded(_ items: [HeldFile], on node: NodeID, address: String) async throws -> [AdoptedFile] {
        let current = try await catalog.currentVersions(of: items.map(\.path), on: node)
        var live: [FileID] = []
        var counted = [Bool](repeating: false, count: items.count)
        var adopt: [AdoptedFile] = []
        for (index, item) in items.enumerated() {
            guard let found = current[item.path], found.file.sha256 == item.sha256, found.file.size == item.size else { continue }
            if found.state != .live { live.append(found.file.id) }
            counted[index] = true
        }
        // Not their path's current version: perhaps renamed since the node got them (a copy
        // that landed under the old path). One read of the node's moves, only then.
        var moving: [VirtualPath: PendingMove] = [:]
        if counted.contains(false) {
            for move in try await catalog.pendingMoves(on: node) { moving[move.from] = move }
        }
        for (index, item) in items.enumerated() where !counted[index] {
            guard let move = moving[item.path], move.file.sha256 == item.sha256, move.file.size == item.size,
                  item.fileID == nil || item.fileID == move.file.id
            else { continue }
            if move.state != .live { live.append(move.file.id) }
            counted[index] = true
            deletions.signal()  // the pusher moves it
        }
        if !live.isEmpty { try await catalog.applyInventory(on: node, live: live, forget: []) }
        // In the report's order: a path reported twice (an older version, then the current
        // one) ends as the last says.
        for (index, item) in items.enumerated() {
            if counted[index], let found = current[item.path]?.file, found.sha256 == item.sha256, found.size == item.size {
                if item.fileID != found.id || item.version != found.version { adopt.append(AdoptedFile(found)) }
                noteAccounted(item.path, on: node)
                continue
            }
            if counted[index] {
                // Counted under its old path; the move is pushed (the deletion pusher's pass).
                noteAccounted(item.path, on: node)
                continue
            }
            switch try await match(item, on: node, address: address, holdings: nil) {
            case .adopt(let file):
                adopt.append(file)
                noteAccounted(item.path, on: node)
            case .unaccounted(let file): noteUnaccounted([file], on: node, replacing: false)
            case .counted, .pending: noteAccounted(item.path, on: node)
            }
        }
        return adopt
    }

    /// One held file against the catalog. Only two answers lead to a removal, and both name
    /// the exact version: the catalog lists the node as a holder of a tombstone with that id,
    /// path and checksum (`pending`, removed through ``owedRemovals(_:)``). Anything else
    /// the catalog does not know is unaccounted and kept.
    private func match(
        _ item: HeldFile, on node: NodeID, address: String, holdings: [FileID: Holding]?
    ) async throws -> Match {
        let current = try await catalog.file(at: item.path)
        if let current, current.sha256 == item.sha256, current.size == item.size {
            let state: ReplicaState? = if let holdings { holdings[current.id]?.state } else {
                try await catalog.replicas(of: current.id).first { $0.node == node }?.state
            }
            if state != .live { try await catalog.setReplica(current.id, on: node, state: .live) }
            let recorded = item.fileID == current.id && item.version == current.version
            return recorded ? .counted(current.id) : .adopt(AdoptedFile(current))
        }
        if let id = item.fileID, let retired = try await catalog.file(id: id), retired.deleted,
            retired.path == item.path, retired.sha256 == item.sha256
        {
            let listed: Bool = if let holdings { holdings[id] != nil } else {
                try await catalog.replicas(of: id).contains { $0.node == node }
            }
            if listed { return .pending(id) }
        }
        if state.withLock({ $0.recovering }) {
            return try await recover(item, on: node, address: address, current: current)
        }
        let reason: String = if let current {
            "the catalog's current version of \(item.path) is another (version \(current.version), sha256 \(current.sha256.prefix(12)))"
        } else if item.fileID != nil {
            "\(item.path) is not in the catalog (version \(item.fileID!) unknown or already purged)"
        } else {
            "\(item.path) is not in the catalog"
        }
        return .unaccounted(unaccountedFile(item, on: node, address: address, reason: reason))
    }

    /// Recovery: takes a file the rebuilt catalog does not have yet, or a newer version of a
    /// path than the one it took; the copies of the older version stop counting and stay on
    /// their nodes, listed as unaccounted for the operator.
    func recover(
        _ item: HeldFile, on node: NodeID, address: String, current: FileRecord?
    ) async throws -> Match {
        if let current {
            let taken = state.withLock { $0.recovered[item.path] } ?? MasterState.RecoveredVersion(version: current.version, created: current.created)
            guard taken.isOlder(than: item) else {
                return .unaccounted(unaccountedFile(
                    item, on: node, address: address,
                    reason: "recovery: an older or conflicting version of \(item.path) than the one recovered (version \(current.version), sha256 \(current.sha256.prefix(12)))"))
            }
            var older: [(NodeID, UnaccountedFile)] = []
            let addresses = Dictionary(uniqueKeysWithValues: try await catalog.nodes().map { ($0.id, $0.address) })
            for replica in try await catalog.replicas(of: current.id) {
                try await catalog.removeReplica(current.id, from: replica.node)
                let held = HeldFile(
                    path: current.path, fileID: current.id, size: current.size, sha256: current.sha256,
                    version: current.version, created: current.created)
                older.append((replica.node, unaccountedFile(
                    held, on: replica.node, address: addresses[replica.node] ?? "?",
                    reason: "recovery: an older version of \(item.path) than the one recovered (version \(item.version.map(String.init) ?? "?") on \(address))")))
            }
            for (holder, file) in older { noteUnaccounted([file], on: holder, replacing: false) }
            logger.warning("recovery: nodes disagree about \(item.path); keeping the newest version (\(item.version.map(String.init) ?? "?") on \(address)), the \(older.count) older copies are kept on their nodes and listed by fsdfsd unaccounted")
        }
        let n = policies.replicas(for: item.path, size: item.size)
        let file = try await catalog.putFile(NewFile(
            path: item.path, size: item.size, sha256: item.sha256, n: n, created: item.created ?? Date(), version: item.version))
        // The older version just retired has no replica left: drop its tombstone at once, so
        // that nothing can ever take it for a removal owed by the nodes that hold it.
        _ = try await catalog.purgeTombstones()
        try await catalog.setReplica(file.id, on: node, state: .live)
        state.withLock { $0.recovered[item.path] = MasterState.RecoveredVersion(version: item.version, created: item.created) }
        return .adopt(AdoptedFile(file))
    }

    func unaccountedFile(_ item: HeldFile, on node: NodeID, address: String, reason: String) -> UnaccountedFile {
        UnaccountedFile(
            node: node, address: address, path: item.path, size: item.size, sha256: item.sha256, fileID: item.fileID,
            version: item.version, reason: reason)
    }

    /// Records unaccounted files of a node: all of them (a whole inventory) or a few more.
    func noteUnaccounted(_ files: [UnaccountedFile], on node: NodeID, replacing: Bool) {
        state.withLock { state in
            if replacing { state.unaccounted[node] = [:] }
            for file in files { state.unaccounted[node, default: [:]][file.path] = file }
        }
    }

    /// The versions a node keeps aside, as it lists them now.
    func noteKept(_ kept: [KeptVersion], on node: NodeID, address: String) {
        let files = kept.map { version in
            UnaccountedFile(
                node: node, address: address, path: version.path, size: version.size, sha256: version.sha256,
                fileID: version.fileID, version: version.version,
                reason: "kept aside since \(version.since.formatted(.iso8601)) in \(version.location): an upload replaced it there and "
                    + "the master never said whether it recorded that upload; fsdfs never deletes it (compare it with `fsdfsd get \(version.path)`, then remove it by hand)",
                kept: version.location)
        }
        let before = state.withLock { state in
            defer { state.kept[node] = files.isEmpty ? nil : files }
            return state.kept[node]?.count ?? 0
        }
        if files.count > before {
            logger.warning("node \(node) at \(address) keeps \(files.count) replaced versions aside in .fsdfs/kept (fsdfsd unaccounted lists them)")
        }
    }

    /// What the node holds at `path` is accounted for now.
    private func noteAccounted(_ path: VirtualPath, on node: NodeID) {
        state.withLock { _ = $0.unaccounted[node]?.removeValue(forKey: path) }
    }

    /// The node no longer holds `file`: stop counting it. Returns whether anything changed.
    ///
    /// A counted copy of a current version that goes without the master having asked for it
    /// (a removal or an eviction, which it forgets itself) was damaged: the node says corrupt or
    /// missing in `damaged` (older nodes do not; then it is recorded as missing).
    private func forget(_ file: FileRef, on node: NodeID, address: String, damaged: [ReplicaDamage]?) async throws -> Bool {
        state.withLock { state in
            if state.unaccounted[node]?[file.path]?.fileID == file.fileID { state.unaccounted[node]?[file.path] = nil }
        }
        // An eviction under way forgets its own replica when the node confirms it. Forgetting it
        // here first would free its bytes twice (the catalog's `used` and the eviction in flight)
        // and let the planner fill the room the eviction made for another file.
        if state.withLock({ $0.evictions[Placement(file: file.fileID, node: node)] != nil }) { return false }
        guard let replica = try await catalog.replicas(of: file.fileID).first(where: { $0.node == node }) else { return false }
        try await catalog.removeReplica(file.fileID, from: node)
        logger.notice("node \(node) no longer holds \(file.path) (version \(file.fileID))")
        if replica.state == .live, let current = try await catalog.file(id: file.fileID), !current.deleted {
            noteDamaged(current, on: node, address: address, damage: damaged?.first { $0.file == file })
        }
        return true
    }

    /// Versions of deleted or replaced files the node must still remove; none in safe mode.
    ///
    /// Make before break: a version that a newer upload replaced is removed only once the
    /// newer version has a counted copy. If the upload's copy never materialised (its node
    /// lost it, a commit whose outcome was unknown), the older bytes stay on the nodes.
    func owedRemovals(_ node: NodeID) async throws -> [FileRef] {
        guard !inSafeMode else { return [] }
        var owed: [FileRef] = []
        var heldBack: [VirtualPath: Bool] = [:]
        for file in try await catalog.pendingDeletions(on: node) {
            let hold: Bool
            if let known = heldBack[file.path] {
                hold = known
            } else {
                hold = try await catalog.file(at: file.path).map { $0.k == 0 } ?? false
                heldBack[file.path] = hold
            }
            if !hold { owed.append(FileRef(fileID: file.id, path: file.path, sha256: file.sha256)) }
        }
        return owed
    }
}
