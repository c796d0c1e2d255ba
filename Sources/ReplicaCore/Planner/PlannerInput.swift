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

    public init(id: NodeID, alive: Bool, quota: Int64, used: Int64, load: Double, fresh: Bool = true) {
        self.id = id
        self.alive = alive
        self.quota = quota
        self.used = used
        self.load = load
        self.fresh = fresh
    }

    public init(_ record: NodeRecord) {
        self.init(record, fresh: true)
    }

    public init(_ record: NodeRecord, fresh: Bool) {
        self.init(id: record.id, alive: record.alive, quota: record.quota, used: record.used, load: record.load, fresh: fresh)
    }
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

/// Work the master has under way: the planner reserves space for it and never plans the
/// same file twice.
public struct InFlight: Sendable, Equatable {
    /// Copies commanded and not finished. Each reserves its size on the target, takes one of
    /// the target's copy slots and keeps its file out of planning until it ends.
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
