import Foundation
import ReplicaCore
import Transport

/// The master's event log (ARCHITECTURE.md section 12, `fsdfsd events`): what happened to the
/// swarm — nodes joining, going down, coming back or being refused, damaged replicas and their
/// repair, evictions, policy reloads, catalog outages, safe mode — kept in the catalog, the
/// newest ``Master/eventsKept``, each with a number that only grows.
///
/// What is recorded is bounded by what happens to nodes and damaged files, never by routine
/// work: a copy that brings a new upload to N is not an event, one that repairs a damaged
/// file is.
extension Master {
    /// Events the catalog keeps; older ones are dropped as new ones come.
    public static let eventsKept = 10_000
    /// Files remembered as damaged until they have N copies again (for `file_repaired`).
    static let damagedRemembered = 10_000

    /// Records an event; ``EventWriter`` writes it to the catalog soon after, or once the
    /// catalog is back. Never waits, never fails.
    func record(_ kind: EventKind, node: NodeID? = nil, address: String? = nil, path: VirtualPath? = nil, _ message: String) {
        events.append(NewEvent(kind: kind, node: node, address: address, path: path, message: message))
    }

    /// Writes the recorded events to the catalog, a batch at a time. Returns false when the
    /// catalog did not take them (they stay queued).
    @discardableResult
    func flushEvents() async -> Bool {
        while let batch = events.next(limit: 500) {
            do {
                try await catalog.appendEvents(batch.events, keep: Self.eventsKept)
                events.remove(through: batch.through, dropped: batch.dropped)
                noteCatalogReachable()
            } catch {
                if !noteCatalogFailure(error) { logger.error("could not write \(batch.events.count) events to the catalog: \(error)") }
                return false
            }
        }
        return true
    }

    /// `GET /v1/events`: the events after `after`, oldest first, or without it the newest `limit`.
    public func eventLog(after: Int64?, limit: Int) async throws -> [EventRecord] {
        let limit = min(max(limit, 1), Self.eventsKept)
        if let after { return try await catalog.events(after: after, limit: limit) }
        return try await catalog.latestEvents(limit: limit)
    }

    // MARK: Damaged replicas and their repair

    /// A node lost a replica the catalog counted, without being told to remove it: the scrubber
    /// or a read found it corrupt or gone. Records the event and remembers the file until a
    /// copy brings it back to N.
    func noteDamaged(_ file: FileRecord, on node: NodeID, address: String, damage: ReplicaDamage?) {
        let kind: EventKind = damage?.kind == ReplicaDamage.corrupt ? .replicaCorrupt : .replicaMissing
        let what: String = switch damage?.kind {
        case ReplicaDamage.corrupt?: "corrupt (\(damage?.detail ?? "checksum mismatch")): quarantined on the node"
        case ReplicaDamage.missing?: "missing from the node's disk"
        default: "no longer on the node"
        }
        record(kind, node: node, address: address, path: file.path,
               "replica of \(file.path) (version \(file.version)) on \(address) is \(what); it no longer counts")
        remember(damaged: [file.id])
    }

    /// A node's whole inventory lacks copies the catalog counted on it (it came back without
    /// them, or its disk was replaced): one event for all of them, however many, and each file
    /// is remembered for its repair.
    func noteMissing(_ files: [FileRecord], on node: NodeID, address: String) {
        recordMissing(count: files.count, sample: files.prefix(3).map(\.path), on: node, address: address)
        remember(damaged: files.map(\.id))
    }

    /// The event of ``noteMissing(_:on:address:)`` for an inventory matched in batches: `count`
    /// copies missing in all, the first few of them named.
    func recordMissing(count: Int, sample: [VirtualPath], on node: NodeID, address: String) {
        guard let first = sample.first, count > 0 else { return }
        let names = sample.prefix(3).map(\.rawValue).joined(separator: ", ") + (count > 3 ? ", …" : "")
        let what = count == 1 ? "a counted copy of \(first) is" : "\(count) counted copies (\(names)) are"
        record(.replicaMissing, node: node, address: address, path: count == 1 ? first : nil,
               "\(what) missing from the inventory of node \(address); they no longer count")
    }

    func remember(damaged files: [FileID]) {
        let now = Date()
        state.withLock { state in
            for file in files { state.damaged[file] = now }
            let excess = state.damaged.count - Self.damagedRemembered
            if excess > 0 {
                for (file, _) in state.damaged.sorted(by: { $0.value < $1.value }).prefix(excess) { state.damaged[file] = nil }
            }
        }
    }

    /// A copy of `file` finished: if the file was damaged and has N copies again, that is a repair.
    func noteCopied(_ file: FileID) async {
        guard state.withLock({ $0.damaged[file] != nil }) else { return }
        guard let current = try? await catalog.file(id: file) else { return }
        if current.deleted {
            state.withLock { _ = $0.damaged.removeValue(forKey: file) }
            return
        }
        guard current.k >= current.n, state.withLock({ $0.damaged.removeValue(forKey: file) }) != nil else { return }
        record(.fileRepaired, path: current.path, "\(current.path) has \(current.k) verified copies again (N = \(current.n))")
    }
}
