import Foundation
import ReplicaCore

/// What the master keeps in memory only: work under way, back-offs, upload reservations,
/// node report times. Lost on restart on purpose: nodes re-send their inventory and the
/// scheduler re-plans from the catalog.
struct MasterState: Sendable {
    struct ActiveCopy: Sendable {
        var order: CopyOrder
        /// Recorded in the catalog as `copying` on its target.
        var recorded = false
        var plan: CopyPlan { order.plan }
        var started: Date
    }

    struct Reservation: Sendable {
        var path: VirtualPath
        var size: Int64
        var n: Int
        var node: NodeID
        var expires: Date
        /// Stands for the file in the planner until it has a catalog id (negative: never a real one).
        var placeholder: FileID
        /// Made on the node before the upload is granted.
        var evictions: [EvictionOrder] = []
        /// A commit is being recorded: a second one (the node asking again) must wait for it.
        var committing = false
        /// A batch upload's files, in order (`path` is then the first one's, `size` their sum,
        /// `n` the lowest of theirs); nil for a single upload.
        var batch: [UploadedFile]? = nil
        /// A node asked for the batch's files: it is being received, and no second request may
        /// take the same grant.
        var receiving = false
    }

    /// Why the master removes and evicts nothing for now (ARCHITECTURE.md section 11).
    struct SafeMode: Sendable {
        var reason: String
        var since: Date
        /// Nodes alive in the catalog at start that have not sent their inventory yet (or
        /// been declared down); safe mode ends by itself when none is left.
        var waitingFor: Set<NodeID>
        /// Only the operator ends it (`fsdfsd safe-mode leave`): a catalog being rebuilt.
        var untilOperator: Bool
    }

    /// The version of a path a catalog being rebuilt took, as the nodes numbered it.
    struct RecoveredVersion: Sendable {
        var version: Int64?
        var created: Date?

        /// Newer by the version the nodes recorded, then by creation time; a tie is not newer.
        func isOlder(than other: HeldFile) -> Bool {
            let mine = (version ?? -1, created?.timeIntervalSince1970 ?? -1)
            let theirs = (other.version ?? -1, other.created?.timeIntervalSince1970 ?? -1)
            return mine < theirs
        }
    }

    /// One node's whole inventory being matched: where the stream is, and what the end of
    /// the stream needs to know.
    struct InventoryStream: Sendable {
        var session: String
        /// The sequence number of the batch expected next.
        var next = 0
        /// The last path matched: the next batch stands for the paths after it.
        var after: VirtualPath?
        /// Files matched so far.
        var files = 0
        var unaccounted = 0
        var missing = 0
        var missingSample: [VirtualPath] = []
        var address: String
        var quota: Int64
        /// The node as the catalog had it when the stream began; nil for a node that joins.
        var before: NodeRecord?
        var started: Date
        /// When the last batch arrived or was answered.
        var lastActivity: Date
        /// A batch is being matched: the node is talking to us, however long it takes.
        var matching = false
    }

    /// The swarm of the catalog; nil while a recovering master waits for a node to tell it.
    var swarm: SwarmID?
    var safeMode: SafeMode?
    /// Set from `--recover` until safe mode ends: unknown files are taken into the catalog.
    var recovering = false
    var recovered: [VirtualPath: RecoveredVersion] = [:]
    /// The highest version id a node reported that the catalog's id counter was raised to.
    var reservedIDs: FileID?
    /// Nodes refused for belonging to another swarm.
    var refused: [NodeID: RefusedNode] = [:]
    /// Files each node holds that the catalog cannot account for: from its last inventory and
    /// the reports since. Kept on the nodes, listed by `fsdfsd unaccounted`.
    var unaccounted: [NodeID: [VirtualPath: UnaccountedFile]] = [:]
    /// Versions nodes keep aside in `.fsdfs/kept` (an upload's outcome never known), as
    /// each node last listed them: unaccounted too, and never deleted.
    var kept: [NodeID: [UnaccountedFile]] = [:]

    /// Everything nodes hold that the catalog cannot account for, by node.
    func strays() -> [NodeID: [UnaccountedFile]] {
        var all = unaccounted.mapValues { Array($0.values) }
        for (node, files) in kept { all[node, default: []] += files }
        return all
    }

    /// Copies commanded and not finished, by file and target (a file short of several copies
    /// has as many under way at once, to different targets).
    var copies: [Placement: ActiveCopy] = [:]
    var evictions: [Placement: Int64] = [:]
    /// (file, target) pairs not to try again before the date; failures double the wait.
    var backoff: [Placement: (until: Date, failures: Int)] = [:]
    var uploads: [String: Reservation] = [:]
    /// Renames done: a planning pass that read the catalog before one drops what it planned
    /// (its files' paths may be old ones).
    var renames = 0
    var lastPlaceholder: Int64 = 0
    /// When each node last reported, since this master started.
    var lastSeen: [NodeID: Date] = [:]
    /// Nodes whose inventory has been matched against the catalog since they (re)joined.
    var inventoryKnown: Set<NodeID> = []
    /// Nodes asked for their whole inventory at their next report: a call whose outcome the
    /// master could not learn (an eviction, a copy) left it unsure of what they hold.
    var inventoryWanted: Set<NodeID> = []
    /// Whole inventories being matched, batch by batch (``InventoryBatch``), by node.
    var inventories: [NodeID: InventoryStream] = [:]
    /// Reports being handled, by node: the node is talking to us while its report waits for
    /// the catalog (behind a write that counts a million copies again, say).
    var reportsInFlight: [NodeID: ReportsInFlight] = [:]

    /// Whether `node` is not silent whatever its last report's time: its inventory is being
    /// matched, or a report of it is being handled (for at most `limit` seconds: a handler
    /// stuck longer does not keep it alive).
    func beingHeard(_ node: NodeID, now: Date, limit: Double) -> Bool {
        if inventories[node]?.matching == true { return true }
        return reportsInFlight[node].map { now.timeIntervalSince($0.since) < limit } ?? false
    }
    /// Since when, and why, the catalog cannot be reached; nil while it answers.
    var catalogOutage: (since: Date, message: String)?
    /// The last status built from the catalog, served (marked paused) while it is unreachable.
    var lastStatus: StatusReply?
    /// Bytes of the copies finished in each second of the last minute, oldest first, for
    /// the replication rate and ETA: at most 61 entries, however many copies land (a batch
    /// of small files records hundreds at once; one entry per copy made each record cost
    /// the number of copies of the last minute, under the state lock).
    var finished: [(second: Int64, bytes: Int64)] = []
    /// Each node's scrubber, as it last reported it.
    var scrub: [NodeID: ScrubStatus] = [:]
    /// Files that lost a replica to damage, and since when: a copy that brings one back to N
    /// is recorded as its repair (``Master/noteCopied(_:)``).
    var damaged: [FileID: Date] = [:]
    /// The inputs of the last planning pass that found nothing to do (``Planner`` rule 11):
    /// while they stay the same, the scheduler does not read the catalog again.
    var idleInputs: PlanningInputs?
    /// Bytes granted to uploads on each node since the master started (only ever grows): a
    /// planning pass that read the catalog without the placement lock checks what was
    /// granted meanwhile against the room it left (``Plan/slack``).
    var grantedBytes: [NodeID: Int64] = [:]
    /// Versions each node confirmed holding lately (a copy that ended, an upload recorded),
    /// and when. A node's whole inventory is taken before it is sent, so it can be older than
    /// such a confirmation: matching it must not make the master forget them.
    var landed: [NodeID: [FileID: Date]] = [:]
    /// How long a confirmation outlives a whole inventory taken before it: well beyond the
    /// 30 s a report may take.
    static let landedMemory: TimeInterval = 120
    /// The instance (process run) each node last reported from.
    var instances: [NodeID: String] = [:]

    /// Notes the instance a report came from. A node that restarted took its inventory from its
    /// disk after every copy that landed before: what it confirmed before no longer holds.
    mutating func noteInstance(_ instance: String?, of node: NodeID) {
        guard let instance else { return }
        if let known = instances[node], known != instance { landed[node] = nil }
        instances[node] = instance
    }

    /// A node confirmed holding `file` (forgets confirmations older than ``landedMemory``).
    /// Forgetting costs a pass over the node's confirmations, so it is done at most once per
    /// tenth of ``landedMemory``: a burst of thousands of copies costs O(1) each.
    mutating func noteLanded(_ file: FileID, on node: NodeID, at now: Date) {
        landed[node, default: [:]][file] = now
        if now.timeIntervalSince(landedPruned[node] ?? .distantPast) >= Self.landedMemory / 10 {
            landed[node] = landed[node]?.filter { now.timeIntervalSince($0.value) < Self.landedMemory }
            landedPruned[node] = now
        }
    }
    /// When each node's confirmations were last pruned.
    var landedPruned: [NodeID: Date] = [:]

    /// The versions `node` confirmed holding within ``landedMemory`` before `now`.
    func landed(on node: NodeID, now: Date) -> Set<FileID> {
        Set((landed[node] ?? [:]).filter { now.timeIntervalSince($0.value) < Self.landedMemory }.keys)
    }

    /// `--max-replication-rate`: the budget of the copies the scheduler starts.
    var rateLimiter: ReplicationRateLimiter?
    /// When the copy the budget held back becomes affordable: the scheduler looks again then.
    var budgetWake: Date?
    /// The earliest end of a maintenance window of a node that reports: it may receive copies
    /// again from then on, so the scheduler looks again.
    var maintenanceWake: Date?
    /// Nodes in a maintenance window that left or fell silent during it: their next report
    /// means they are back, and ends the window.
    var away: Set<NodeID> = []
    /// The last planning pass started no copy (and held none back for the rate limit).
    var lastPassIdle = false
    /// The last measure of the drains under way, for `status`: when, how long it took, of
    /// which nodes.
    var drainProgress: (at: Date, took: Double, nodes: [NodeID], progress: [(NodeID, DrainProgress)])?

    /// The planner's view of the work under way.
    func inFlight(now: Date) -> InFlight {
        var copies = self.copies.values.map {
            InFlightCopy(file: $0.plan.file, size: $0.plan.size, source: $0.plan.source, target: $0.plan.target, recorded: $0.recorded)
        }
        for upload in uploads.values where upload.expires > now {
            copies.append(InFlightCopy(file: upload.placeholder, size: upload.size, source: nil, target: upload.node))
        }
        let evictions = self.evictions.map { InFlightEviction(file: $0.key.file, node: $0.key.node, size: $0.value) }
        let backoff = Set(self.backoff.filter { $0.value.until > now }.keys)
        return InFlight(copies: copies, evictions: evictions, backoff: backoff)
    }

    /// Forgets the reservations that lapsed (none being committed): a grant never used, or
    /// whose node gave up without saying so.
    mutating func pruneUploads(now: Date) {
        uploads = uploads.filter { $0.value.expires > now || $0.value.committing }
    }

    /// The earliest moment a back-off or reservation lapses, when the scheduler should look again.
    func nextExpiry(now: Date) -> Date? {
        let dates = backoff.values.map(\.until).filter { $0 > now } + uploads.values.map(\.expires).filter { $0 > now }
            + [budgetWake, maintenanceWake].compactMap { $0 }.filter { $0 > now }
        return dates.min()
    }

    mutating func recordFinished(bytes: Int64, at now: Date) {
        let second = Int64(now.timeIntervalSince1970.rounded(.down))
        if let last = finished.last, last.second >= second {
            // Same second (or a task that took its time a moment earlier): same bucket.
            finished[finished.count - 1].bytes += bytes
        } else {
            finished.append((second, bytes))
        }
        let expired = finished.prefix { second - $0.second > 60 }.count
        if expired > 0 { finished.removeFirst(expired) }
    }

    /// Bytes per second copied over the last minute.
    func rate(now: Date) -> Double {
        let second = Int64(now.timeIntervalSince1970.rounded(.down))
        let recent = finished.filter { second - $0.second <= 60 }
        guard let first = recent.first else { return 0 }
        let span = max(1, now.timeIntervalSince(Date(timeIntervalSince1970: Double(first.second))))
        return Double(recent.reduce(0) { $0 + $1.bytes }) / span
    }
}

/// A node's reports being handled: since the first began, and how many (a report retried
/// after a timeout may overlap the one it replaces).
struct ReportsInFlight {
    var since: Date
    var count = 0
}
