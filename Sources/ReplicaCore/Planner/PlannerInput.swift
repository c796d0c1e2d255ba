/// A node as the planner sees it for one planning pass.
public struct PlannerNode: Sendable, Equatable {
    public var id: NodeID
    public var alive: Bool
    public var quota: Int64
    /// Bytes recorded on the node by the catalog (all replicas, any state).
    public var used: Int64
    /// 1-minute load average per core plus active transfers.
    public var load: Double
    /// Heard from within the last report interval (plus a margin the master chooses). An
    /// alive node that is not fresh may have died moments ago without being declared down
    /// yet: it receives no copy or upload, is a copy source only when no fresh one holds the
    /// file, and its replicas do not count when an eviction checks the floor. The planner
    /// has no clock; the master sets this from the report times it keeps.
    public var fresh: Bool
    /// Draining (``Planner`` rule 8): never a target; its copies do not count when the planner
    /// decides whether a file it holds needs another copy.
    public var draining: Bool
    /// Inside a maintenance window (``Planner`` rule 9): treated as silent whatever its last
    /// report says, while its copies keep counting in K.
    public var maintenance: Bool

    public init(
        id: NodeID, alive: Bool, quota: Int64, used: Int64, load: Double, fresh: Bool = true, draining: Bool = false,
        maintenance: Bool = false
    ) {
        self.id = id
        self.alive = alive
        self.quota = quota
        self.used = used
        self.load = load
        self.fresh = fresh
        self.draining = draining
        self.maintenance = maintenance
    }

    public init(_ record: NodeRecord) {
        self.init(record, fresh: true)
    }

    /// A node as the catalog records it, draining or not; `maintenance` comes from the
    /// master's clock (``NodeRecord/inMaintenance(at:)``), which the planner does not have.
    public init(_ record: NodeRecord, fresh: Bool, maintenance: Bool = false) {
        self.init(
            id: record.id, alive: record.alive, quota: record.quota, used: record.used, load: record.load, fresh: fresh,
            draining: record.draining, maintenance: maintenance)
    }

    /// Can receive copies and uploads as far as rules 6, 8 and 9 go: alive, fresh, not
    /// draining, not in maintenance. (Slots, load and room are the pass's business.)
    var canReceive: Bool { alive && fresh && !draining && !maintenance }

    /// Its live copies count for a drain (rule 8): alive, not draining, and either heard from
    /// recently or in a maintenance window (the operator said it counts while silent).
    var countsForDrain: Bool { alive && !draining && (fresh || maintenance) }
}

/// A copy the master has commanded and not yet seen finish, or an upload under way.
///
/// An upload is not in the catalog until it commits, so the planner reserves its size on the
/// target itself; a copy the catalog records as `copying` is already in the target's `used`.
public struct InFlightCopy: Sendable, Hashable {
    public var file: FileID
    public var size: Int64
    /// The node the bytes come from; nil for an upload from a client, which reserves space
    /// but takes none of the target's copy slots.
    public var source: NodeID?
    public var target: NodeID
    /// The catalog already records the copy on its target (state `copying`): its bytes are
    /// in the target's `used`, and the planner must not reserve them a second time.
    public var recorded: Bool

    public init(file: FileID, size: Int64, source: NodeID?, target: NodeID, recorded: Bool = false) {
        self.recorded = recorded
        self.file = file
        self.size = size
        self.source = source
        self.target = target
    }
}

/// A (file, node) pair, for evictions and for back-off after failures.
public struct Placement: Sendable, Hashable {
    public var file: FileID
    public var node: NodeID

    public init(file: FileID, node: NodeID) {
        self.file = file
        self.node = node
    }
}

/// An eviction commanded and not yet confirmed. The replica is already `evicting` in the
/// catalog (it no longer counts) but its bytes are still recorded on the node; the planner
/// counts them as free, because the copy that caused the eviction has reserved them.
public struct InFlightEviction: Sendable, Hashable {
    public var file: FileID
    public var node: NodeID
    public var size: Int64

    public init(file: FileID, node: NodeID, size: Int64) {
        self.file = file
        self.node = node
        self.size = size
    }
}

/// Work the master has under way: the planner reserves space for it and never plans a copy
/// a file has under way already.
public struct InFlight: Sendable, Equatable {
    /// Copies commanded and not finished. Each reserves its size on the target, takes one of
    /// the target's copy slots and counts against the copies its file may have at once.
    public var copies: [InFlightCopy]
    /// Evictions commanded and not yet confirmed.
    public var evictions: [InFlightEviction]
    /// (file, target) pairs whose copy failed recently: not tried again until the master
    /// lifts the back-off.
    public var backoff: Set<Placement>

    public init(copies: [InFlightCopy] = [], evictions: [InFlightEviction] = [], backoff: Set<Placement> = []) {
        self.copies = copies
        self.evictions = evictions
        self.backoff = backoff
    }

    public static let none = InFlight()
}

/// How many bytes of copies a pass may start (`--max-replication-rate`); see
/// ``ReplicationRateLimiter``, which hands them out.
public struct CopyBudget: Sendable, Equatable {
    /// Bytes the copies of this pass may add up to; negative while an earlier oversized copy
    /// is still being paid for.
    public var bytes: Int64
    /// The bucket is full: the first copy of the pass may be larger than `bytes` (a file
    /// bigger than the whole bucket would never fit otherwise). It then goes alone.
    public var full: Bool

    public init(bytes: Int64, full: Bool) {
        self.bytes = bytes
        self.full = full
    }
}

/// What one planning pass decided.
public struct Plan: Sendable, Equatable {
    /// Copies, each right after the evictions it needs.
    public var actions: [ReplicationAction]
    /// Size of the copy the budget held back, when it did: the pass stopped there so that
    /// files keep their order, and the next pass should come once that much is affordable.
    public var heldBack: Int64?
    /// Free space the pass left on each node it sent a copy to, after its own bookings: what
    /// an upload granted while the pass read the catalog may take there without the pass's
    /// copies overfilling the node (the master checks it before it books them).
    public var slack: [NodeID: Int64]

    public init(actions: [ReplicationAction], heldBack: Int64? = nil, slack: [NodeID: Int64] = [:]) {
        self.actions = actions
        self.heldBack = heldBack
        self.slack = slack
    }

    /// Nothing to do, nothing waiting for the budget.
    public var isIdle: Bool { actions.isEmpty && heldBack == nil }
}

/// Knobs of the planner, with the defaults of `fsdfsd serve`.
public struct PlannerLimits: Sendable, Equatable {
    /// Concurrent incoming copies per node (`--max-copies`).
    public var maxCopiesPerNode: Int
    /// Nodes at or above this load receive no copies (`--max-load`).
    public var maxLoad: Double
    /// Evictions never take a file below `N + evictionFloor` (`--eviction-floor`).
    public var evictionFloor: Int
    /// Most copies one planning pass returns (each with the evictions it needs).
    public var maxActions: Int
    /// Files read from the catalog per query.
    public var batchSize: Int
    /// Whether evictions may be planned at all (the master's safe mode turns them off).
    public var allowEvictions = true
    /// Copies of files up to ``smallFileSize`` bytes to one target go in batches of up to
    /// this many files (one command, one pull): such copies take one copy slot per this many.
    /// 1 (the default of the pure planner): no batches, every copy takes a slot.
    public var batchFiles = 1
    /// Most bytes one batch carries: a batch of 1 MiB files holds 64 of them.
    public var batchBytes: Int64 = 64 << 20
    /// Batches of small files that share one copy slot: a target has twice as many batches
    /// under way as it has slots, so that while one batch is written to its disk the next is
    /// pulled and the master records and plans the ones after (with one batch per slot, the
    /// node waited for the master between batches: a third of the time at 4 KiB). A slot
    /// counts full at ``batchesPerSlot`` × ``batchFiles`` files or × ``batchBytes`` bytes,
    /// whichever comes first, so that bigger small files do not multiply the bytes in flight.
    public var batchesPerSlot = 2
    /// Largest file copied in a batch; bigger ones go alone, one slot each.
    public var smallFileSize: Int64 = 1 << 20

    /// Whether a copy of `size` bytes goes in a batch.
    public func isBatched(_ size: Int64) -> Bool { batchFiles > 1 && size <= smallFileSize }

    public init(
        maxCopiesPerNode: Int = 2, maxLoad: Double = 4.0, evictionFloor: Int = 0,
        maxActions: Int = 1024, batchSize: Int = 256
    ) {
        self.maxCopiesPerNode = maxCopiesPerNode
        self.maxLoad = maxLoad
        self.evictionFloor = evictionFloor
        self.maxActions = maxActions
        self.batchSize = batchSize
    }
}
