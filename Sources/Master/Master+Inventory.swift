import Foundation
import ReplicaCore
import Transport

/// Whole inventories, matched batch by batch (``InventoryBatch``): a node with a million files
/// sends them in batches of some thousands, and each batch is matched against the catalog with
/// one read and one write, whatever the number of files: no body holds the whole inventory, and
/// no file costs a catalog round trip of its own.
///
/// Rules kept from one batch to the next (ARCHITECTURE.md section 7):
/// - A batch stands for a range of paths (``PathRange``): replicas the catalog lists on the
///   node in that range that the batch does not hold are forgotten — except a copy under way
///   to the node, a version the node confirmed lately (``MasterState/landed``), an eviction
///   under way, and a deleted or replaced version (it stays until the node confirms removal).
/// - While its stream goes on, the node is talking to us: it is not declared down, and it is
///   not asked for its inventory again.
/// - At most ``MasterSettings/inventorySlots`` streams at once; a node that asks for another
///   is told to try again later (`inventory_busy`), and counts as alive meanwhile.
extension Master {
    /// Files one batch may hold: nodes send far fewer (``InventoryBatch``); a body of this many
    /// long paths stays within the request size limit.
    public static let maxInventoryBatch = 100_000
    /// Files of a one-body inventory (nodes that predate batches) matched at a time.
    static let legacyBatch = 10_000

    public func handleInventoryBatch(_ batch: InventoryBatch) async throws -> InventoryBatchReply {
        guard batch.files.count <= Self.maxInventoryBatch else {
            throw RouteError(
                .badRequest, "an inventory batch holds at most \(Self.maxInventoryBatch) files, this one \(batch.files.count)",
                code: "bad_request")
        }
        for (previous, next) in zip(batch.files, batch.files.dropFirst()) where !(previous.path < next.path) {
            throw RouteError(
                .badRequest, "inventory batch \(batch.sequence) is not in ascending path order at \(next.path)", code: "bad_request")
        }
        let swarm: SwarmID?
        if batch.sequence == 0 {
            guard let report = batch.report, report.node == batch.node else {
                throw RouteError(.badRequest, "the first batch of an inventory carries the node's report", code: "bad_request")
            }
            swarm = try await beginInventory(report, session: batch.session)
        } else {
            swarm = state.withLock { $0.swarm }
        }
        let stream = try takeBatch(batch)
        if let first = batch.files.first, let after = stream.after, !(after < first.path) {
            throw RouteError(
                .badRequest, "inventory batch \(batch.sequence) starts at \(first.path), not after \(after)", code: "bad_request")
        }
        defer { endBatch(batch) }
        let outcome: BatchOutcome
        if batch.files.isEmpty && !batch.done {
            outcome = BatchOutcome()
        } else {
            // The range this batch stands for: up to its last path, to the end for the last.
            let range = PathRange(after: stream.after, through: batch.done ? nil : batch.files.last?.path)
            outcome = if state.withLock({ $0.recovering }) {
                try await recovery.withLock {
                    try await matchBatch(batch.files, range: range, on: batch.node, address: stream.address)
                }
            } else {
                try await matchBatch(batch.files, range: range, on: batch.node, address: stream.address)
            }
        }
        let progress = try state.withLock { state throws -> MasterState.InventoryStream in
            guard var current = state.inventories[batch.node], current.session == batch.session else {
                throw Self.restart(batch, "the master gave its place to another inventory of the node meanwhile")
            }
            current.next += 1
            current.after = batch.files.last?.path ?? current.after
            current.files += batch.files.count
            current.unaccounted += outcome.unaccounted
            current.missing += outcome.missing
            current.missingSample = Array((current.missingSample + outcome.missingSample).prefix(3))
            state.inventories[batch.node] = current
            return current
        }
        var reply = InventoryBatchReply(swarm: swarm, adopt: outcome.adopt, matched: progress.files)
        guard batch.done else { return reply }
        if let total = batch.total, total != progress.files {
            state.withLock { _ = $0.inventories.removeValue(forKey: batch.node) }
            throw Self.restart(batch, "the node says it sent \(total) files, the master matched \(progress.files)")
        }
        reply.remove = try await finishInventory(batch.node, progress)
        return reply
    }

    /// The first batch: admits the node (its swarm), takes a slot, registers it (not counting
    /// yet if it was down or is new) and starts the stream. Returns the catalog's swarm.
    private func beginInventory(_ report: NodeReport, session: String) async throws -> SwarmID {
        let now = Date()
        let swarm = try await admit(report, at: now)
        state.withLock { $0.noteInstance(report.instance, of: report.node) }
        if let scrub = report.scrub { state.withLock { $0.scrub[report.node] = scrub } }
        if let kept = report.kept { noteKept(kept, on: report.node, address: report.address) }
        let known = try await catalog.node(report.node)
        let slots = settings.inventorySlots
        let staleAfter = settings.inventoryStaleAfter
        let busy = state.withLock { state -> Int? in
            state.inventories = state.inventories.filter { $0.value.matching || now.timeIntervalSince($0.value.lastActivity) < staleAfter }
            let others = state.inventories.keys.filter { $0 != report.node }.count
            if others >= slots {
                // Talking to us: not silent, even while it waits its turn.
                if state.lastSeen[report.node] != nil { state.lastSeen[report.node] = now }
                return others
            }
            state.inventories[report.node] = MasterState.InventoryStream(
                session: session, address: report.address, quota: report.quota, before: known, started: now, lastActivity: now)
            // What the master wanted to know is asked by this stream; wanted again from now on
            // (a copy whose outcome is lost meanwhile), it is asked again after it.
            state.inventoryWanted.remove(report.node)
            return nil
        }
        if let busy {
            throw RouteError(
                .serviceUnavailable,
                "the master is matching the inventories of \(busy) other nodes (at most \(slots) at once): send it again in a little while",
                code: "inventory_busy")
        }
        if let known { try await endMaintenanceIfBack(known, at: now) }
        try await catalog.registerNode(NodeRecord(
            id: report.node, address: report.address, quota: report.quota, used: 0, load: report.load,
            lastReport: now, alive: known?.alive ?? false))
        noteUnaccounted([], on: report.node, replacing: true)
        return swarm
    }

    /// Checks the batch is the one the stream expects, and marks it being matched.
    private func takeBatch(_ batch: InventoryBatch) throws -> MasterState.InventoryStream {
        let now = Date()
        return try state.withLock { state in
            guard var stream = state.inventories[batch.node], stream.session == batch.session else {
                throw Self.restart(batch, "the master knows no inventory \(batch.session) of node \(batch.node) (it restarted, or gave up waiting)")
            }
            guard stream.next == batch.sequence, !stream.matching else {
                state.inventories[batch.node] = nil
                throw Self.restart(batch, "the master expected batch \(stream.next), not \(batch.sequence)")
            }
            stream.matching = true
            stream.lastActivity = now
            state.inventories[batch.node] = stream
            if state.lastSeen[batch.node] != nil || state.inventoryKnown.contains(batch.node) { state.lastSeen[batch.node] = now }
            return stream
        }
    }

    private func endBatch(_ batch: InventoryBatch) {
        let now = Date()
        state.withLock { state in
            guard var stream = state.inventories[batch.node], stream.session == batch.session else { return }
            stream.matching = false
            stream.lastActivity = now
            state.inventories[batch.node] = stream
            if state.lastSeen[batch.node] != nil { state.lastSeen[batch.node] = now }
        }
    }

    private static func restart(_ batch: InventoryBatch, _ why: String) -> RouteError {
        RouteError(.conflict, "\(why): send the whole inventory again", code: "inventory_restart")
    }

    /// The last batch is matched: the node counts again. Returns the removals it owes.
    private func finishInventory(_ node: NodeID, _ stream: MasterState.InventoryStream) async throws -> [FileRef] {
        let before = stream.before
        // Read again: declared down meanwhile (it cannot be while it streams, but cheaply sure).
        // Counting a node's copies again takes seconds at a million files.
        if try await catalog.node(node)?.alive != true { try await catalog.setNodeAlive(node, alive: true) }
        recordMissing(count: stream.missing, sample: stream.missingSample, on: node, address: stream.address)
        // Heard from now, not when the last batch came: the node reports again one interval
        // after this answer. A time taken before the catalog work above would leave the node
        // that long closer to being declared down, and at a million files past it: down,
        // its whole inventory again, down again after it, and so on.
        state.withLock { state in
            state.inventories[node] = nil
            state.lastSeen[node] = Date()
            state.inventoryKnown.insert(node)
        }
        announceInventory(
            of: node, address: stream.address, quota: stream.quota, files: stream.files, before: before, unaccounted: stream.unaccounted)
        // Matching it (and a recovery it ended) freed memory in proportion to its files.
        if stream.files >= HeapRelease.worthwhileFiles {
            await catalog.releaseMemory()
            await HeapRelease.trim()
        }
        let owed = try await owedRemovals(node)
        state.withLock { state in
            if state.lastSeen[node] != nil { state.lastSeen[node] = Date() }
        }
        return owed
    }

    /// Says what a whole inventory changed, then wakes the scheduler and the deletion pusher.
    func announceInventory(of node: NodeID, address: String, quota: Int64, files: Int, before: NodeRecord?, unaccounted: Int) {
        if before == nil {
            logger.info("node \(node) joined at \(address): \(files) files, quota \(ByteSize.format(quota))")
            record(.nodeJoined, node: node, address: address,
                   "node \(address) joined with \(files) files, quota \(ByteSize.format(quota))")
        } else if before?.alive != true {
            logger.info("node \(node) is back at \(address) with \(files) files")
            record(.nodeBack, node: node, address: address, "node \(address) is back with \(files) files; its copies count again")
        } else {
            logger.info("node \(node) sent its inventory: \(files) files")
        }
        if unaccounted > 0 {
            logger.notice("node \(node) holds \(unaccounted) files the catalog cannot account for; they are kept, not counted (fsdfsd unaccounted lists them)")
        }
        nodeReported(node)
        schedule.signal()
        deletions.signal()
    }

    struct BatchOutcome {
        var adopt: [AdoptedFile] = []
        var unaccounted = 0
        /// Counted copies the batch lacked, and the first few of them.
        var missing = 0
        var missingSample: [VirtualPath] = []
    }

    /// Matches one batch of a whole inventory (files in ascending path order, all in `range`):
    /// one catalog read for the batch, one write for what changes, and the per-file work of a
    /// recovery for what the rebuilt catalog does not have yet.
    func matchBatch(_ files: [HeldFile], range: PathRange, on node: NodeID, address: String) async throws -> BatchOutcome {
        try await reserveIDs(files.lazy.compactMap(\.fileID).max())
        let view = try await catalog.inventoryView(on: node, paths: files.map(\.path), range: range)
        let recovering = state.withLock { $0.recovering }
        var outcome = BatchOutcome()
        var live: [FileID] = []
        var matched = Set<FileID>()
        var unaccounted: [UnaccountedFile] = []
        var unknown: [(item: HeldFile, current: FileRecord?)] = []
        // Versions renamed since the node got them, by the path the node holds them under.
        let moving = Dictionary(view.moving.values.map { ($0.movedFrom ?? $0.file.path, $0) }, uniquingKeysWith: { first, _ in first })
        for item in files {
            if let current = view.current[item.path], current.sha256 == item.sha256, current.size == item.size {
                if view.holdings[current.id]?.state != .live { live.append(current.id) }
                matched.insert(current.id)
                if item.fileID != current.id || item.version != current.version { outcome.adopt.append(AdoptedFile(current)) }
                continue
            }
            // Still under its old path there: it counts (the node holds it, with the checksum
            // the catalog has); the move is pushed after (``pushMoves(to:)``).
            if let held = moving[item.path], held.file.sha256 == item.sha256, held.file.size == item.size,
               item.fileID == nil || item.fileID == held.file.id
            {
                if held.state != .live { live.append(held.file.id) }
                matched.insert(held.file.id)
                continue
            }
            // A deleted or replaced version the catalog lists on this node, exactly: its
            // removal is owed (``owedRemovals(_:)``). Anything else it does not know is kept.
            if let id = item.fileID, let held = view.holdings[id], held.file.deleted, held.file.path == item.path,
               held.file.sha256 == item.sha256
            {
                matched.insert(id)
                continue
            }
            if recovering {
                unknown.append((item, view.current[item.path]))
                continue
            }
            unaccounted.append(unaccountedFile(item, on: node, address: address, reason: unaccountedReason(item, current: view.current[item.path])))
        }
        // Replicas the catalog records in the range that the node no longer has. Not forgotten:
        // - a copy under way to the node: not in the inventory yet, it settles its own record;
        // - a version the node confirmed lately (a copy that ended, an upload recorded): the
        //   batch may have been read just before it landed;
        // - an eviction under way: it forgets its own replica when the node confirms it;
        // - a deleted or replaced version: it stays listed until the node confirms its removal
        //   (a node asked to remove what it does not hold confirms at once).
        // A version forgotten wrongly would stay on the node unaccounted for good once retired,
        // and keep every newer version of its path off that node.
        let kept = state.withLock { state in
            Set(state.evictions.keys.lazy.filter { $0.node == node }.map(\.file))
                .union(state.copies.values.lazy.filter { $0.plan.target == node }.map(\.plan.file))
                .union(state.landed(on: node, now: Date()))
        }
        var missing: [FileRecord] = []
        var forget: [FileID] = []
        // A renamed version the node has not been seen to move is not judged here: the node may
        // hold it under either path, in another batch. The push of its move settles it (moved,
        // or held at neither path: forgotten then).
        for holding in view.holdings.values
        where holding.movedFrom == nil && !matched.contains(holding.file.id) && !kept.contains(holding.file.id) && !holding.file.deleted {
            forget.append(holding.file.id)
            if holding.state == .live { missing.append(holding.file) }
        }
        try await catalog.applyInventory(on: node, live: live, forget: forget)
        remember(damaged: missing.map(\.id))
        outcome.missing = missing.count
        outcome.missingSample = missing.map(\.path).sorted().prefix(3).map { $0 }
        if !unknown.isEmpty {
            let (adopted, left) = try await recoverAll(unknown, on: node, address: address)
            outcome.adopt += adopted
            unaccounted += left
        }
        noteUnaccounted(unaccounted, on: node, replacing: false)
        outcome.unaccounted = unaccounted.count
        return outcome
    }

    private func unaccountedReason(_ item: HeldFile, current: FileRecord?) -> String {
        if let current {
            "the catalog's current version of \(item.path) is another (version \(current.version), sha256 \(current.sha256.prefix(12)))"
        } else if let id = item.fileID {
            "\(item.path) is not in the catalog (version \(id) unknown or already purged)"
        } else {
            "\(item.path) is not in the catalog"
        }
    }

    /// Recovery of one batch: paths the rebuilt catalog does not have at all are taken in one
    /// import; a path it has in another version goes through ``recover(_:on:address:current:)``.
    private func recoverAll(
        _ items: [(item: HeldFile, current: FileRecord?)], on node: NodeID, address: String
    ) async throws -> (adopt: [AdoptedFile], unaccounted: [UnaccountedFile]) {
        var adopt: [AdoptedFile] = []
        var unaccounted: [UnaccountedFile] = []
        let policies = self.policies
        let fresh = items.filter { $0.current == nil }.map(\.item)
        if !fresh.isEmpty {
            try await catalog.importFiles(fresh.map { item in
                ImportedFile(
                    file: NewFile(
                        path: item.path, size: item.size, sha256: item.sha256, n: policies.replicas(for: item.path, size: item.size),
                        created: item.created ?? Date(), version: item.version),
                    holders: [node])
            })
            // The ids the import gave: the paths again, with an empty range (no holdings).
            let taken = try await catalog.inventoryView(
                on: node, paths: fresh.map(\.path), range: PathRange(after: fresh[0].path, through: fresh[0].path)).current
            state.withLock { state in
                for item in fresh {
                    guard let file = taken[item.path] else { continue }
                    // Kept only when it says more than the catalog's record of the version.
                    if file.version != item.version || file.created != item.created {
                        state.recovered[item.path] = MasterState.RecoveredVersion(version: item.version, created: item.created)
                    }
                }
            }
            for item in fresh {
                if let file = taken[item.path] { adopt.append(AdoptedFile(file)) }
            }
        }
        for (item, current) in items where current != nil {
            switch try await recover(item, on: node, address: address, current: current) {
            case .adopt(let file): adopt.append(file)
            case .unaccounted(let file): unaccounted.append(file)
            case .counted, .pending: break
            }
        }
        return (adopt, unaccounted)
    }
}
