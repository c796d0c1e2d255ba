import Foundation

// The JSON of the web dashboard's own API (`/ui/api/…`, served by the master behind a session
// cookie). It is not a command-line contract: the page's script reads every field as optional,
// so fields may be added (or be absent from an older master) without breaking it.

/// How the store is doing, in one word the page colours by.
public enum HealthLevel: String, Sendable, Codable, Equatable {
    /// No files yet.
    case empty
    /// Every file has at least one copy more than its N.
    case spare
    /// Every file has exactly its N copies: no margin.
    case exact
    /// Some file has fewer copies than its N.
    case risk
}

/// `GET /ui/api/overview`.
public struct DashboardOverview: Sendable, Codable, Equatable {
    public var master: String
    public var swarm: SwarmID?
    /// min(K − N) over all files; nil without files.
    public var minKn: Int?
    public var health: HealthLevel
    /// What min(K − N) means right now, in a sentence.
    public var meaning: String
    public var files: Int
    public var bytes: Int64
    /// Files with K < N.
    public var underReplicated: Int
    public var nodesAlive: Int
    public var nodesTotal: Int
    /// Bytes used and allowed on the nodes that are up.
    public var used: Int64
    public var quota: Int64
    public var replication: ReplicationStatus
    /// Why the backlog cannot shrink now, when it cannot (absent while it moves or is empty).
    public var stuck: String?
    public var safeMode: SafeModeStatus?
    /// Files per K − N value, lowest first; absent when the master cannot tell.
    public var histogram: [KnBucket]?
    public var unaccountedFiles: Int?
    /// Nodes refused for belonging to another swarm.
    public var refusedNodes: Int?

    public init(
        master: String, swarm: SwarmID?, minKn: Int?, health: HealthLevel, meaning: String, files: Int, bytes: Int64,
        underReplicated: Int, nodesAlive: Int, nodesTotal: Int, used: Int64, quota: Int64, replication: ReplicationStatus,
        stuck: String? = nil, safeMode: SafeModeStatus? = nil, histogram: [KnBucket]? = nil, unaccountedFiles: Int? = nil,
        refusedNodes: Int? = nil
    ) {
        self.master = master
        self.swarm = swarm
        self.minKn = minKn
        self.health = health
        self.meaning = meaning
        self.files = files
        self.bytes = bytes
        self.underReplicated = underReplicated
        self.nodesAlive = nodesAlive
        self.nodesTotal = nodesTotal
        self.used = used
        self.quota = quota
        self.replication = replication
        self.stuck = stuck
        self.safeMode = safeMode
        self.histogram = histogram
        self.unaccountedFiles = unaccountedFiles
        self.refusedNodes = refusedNodes
    }
}

/// One point of the health chart: sampled by the master every few seconds, kept for a day.
public struct HealthSample: Sendable, Codable, Equatable {
    /// Seconds since 1970.
    public var t: Double
    public var minKn: Int?
    public var backlogBytes: Int64
    public var bytesPerSecond: Double
    public var underReplicated: Int

    public init(t: Double, minKn: Int?, backlogBytes: Int64, bytesPerSecond: Double, underReplicated: Int) {
        self.t = t
        self.minKn = minKn
        self.backlogBytes = backlogBytes
        self.bytesPerSecond = bytesPerSecond
        self.underReplicated = underReplicated
    }
}

/// `GET /ui/api/nodes`: one storage node.
public struct DashboardNode: Sendable, Codable, Equatable {
    public var id: NodeID
    public var address: String
    /// `up`, `silent` (missed a report, not down yet) or `down`; later masters may add others.
    public var state: String
    public var alive: Bool
    public var quota: Int64
    public var used: Int64
    public var free: Int64
    public var files: Int
    public var load: Double
    /// When its last report arrived, seconds since 1970.
    public var lastReport: Double?
    public var maxKn: Int?
    public var unaccountedFiles: Int?
    public var scrub: ScrubStatus?
    /// How far a drain is (`fsdfsd node drain`), and when a maintenance window ends.
    public var drain: DrainStatus?
    public var maintenanceUntil: String?

    public init(
        id: NodeID, address: String, state: String, alive: Bool, quota: Int64, used: Int64, free: Int64, files: Int,
        load: Double, lastReport: Double?, maxKn: Int?, unaccountedFiles: Int?, scrub: ScrubStatus?,
        drain: DrainStatus? = nil, maintenanceUntil: String? = nil
    ) {
        self.drain = drain
        self.maintenanceUntil = maintenanceUntil
        self.id = id
        self.address = address
        self.state = state
        self.alive = alive
        self.quota = quota
        self.used = used
        self.free = free
        self.files = files
        self.load = load
        self.lastReport = lastReport
        self.maxKn = maxKn
        self.unaccountedFiles = unaccountedFiles
        self.scrub = scrub
    }
}

/// A file as the dashboard lists it: its figures and the alive nodes holding a live copy.
public struct DashboardFile: Sendable, Codable, Equatable {
    public var path: VirtualPath
    public var size: Int64
    public var n: Int
    public var k: Int
    public var kn: Int
    public var holders: [String]
    public var version: Int64?
    /// On the at-risk page: why it is not at N yet (a ``RepairReason`` code) and what would fix it.
    public var reason: String?
    public var message: String?

    public init(
        path: VirtualPath, size: Int64, n: Int, k: Int, kn: Int, holders: [String], version: Int64?,
        reason: String? = nil, message: String? = nil
    ) {
        self.reason = reason
        self.message = message
        self.path = path
        self.size = size
        self.n = n
        self.k = k
        self.kn = kn
        self.holders = holders
        self.version = version
    }
}

/// `GET /ui/api/files?prefix=…&after=…`: one page of the file browser.
public struct DashboardFilePage: Sendable, Codable, Equatable {
    public var prefix: String
    public var files: [DashboardFile]
    /// Pass as `after` for the next page; absent on the last one.
    public var next: String?

    public init(prefix: String, files: [DashboardFile], next: String?) {
        self.prefix = prefix
        self.files = files
        self.next = next
    }
}

/// One entry of the master's event log (`GET /ui/api/events?after=ID`).
public struct DashboardEvent: Sendable, Codable, Equatable {
    /// Increasing; the page asks for the events after the last one it has.
    public var id: Int64
    /// Seconds since 1970.
    public var at: Double
    /// `info`, `notice`, `warning` or `error`.
    public var level: String
    public var message: String
    /// A short category (`node`, `file`, `replication`…), when known.
    public var kind: String?

    public init(id: Int64, at: Double, level: String, message: String, kind: String? = nil) {
        self.id = id
        self.at = at
        self.level = level
        self.message = message
        self.kind = kind
    }
}

/// `GET /ui/api/session`: what the page needs to make changes.
public struct DashboardSessionInfo: Sendable, Codable, Equatable {
    /// Sent back in the `X-CSRF-Token` header of every change.
    public var csrf: String
    /// When the session ends, seconds since 1970.
    public var expires: Double
    public var master: String

    public init(csrf: String, expires: Double, master: String) {
        self.csrf = csrf
        self.expires = expires
        self.master = master
    }
}
