import Foundation

/// A storage node as the catalog knows it.
public struct NodeRecord: Sendable, Equatable, Codable {
    public var id: NodeID
    /// `host:port` other nodes and clients use to reach it.
    public var address: String
    /// Bytes this node may hold.
    public var quota: Int64
    /// Bytes the node reported in use by fsdfs files.
    public var used: Int64
    /// 1-minute load average per core plus active transfers, as last reported.
    public var load: Double
    public var lastReport: Date
    public var alive: Bool
    /// Draining (`fsdfsd node drain`): it receives no new copy or upload, and every file it
    /// holds that needs its copy gets one elsewhere. Its copies still count towards K; the
    /// drain never removes them (the operator stops the node once it is drained).
    public var draining: Bool
    /// The end of the node's maintenance window (`fsdfsd node maintenance`): until then it is
    /// not declared down for silence and its copies keep counting. Nil when none was set; a
    /// date in the past is a window that has ended.
    public var maintenanceUntil: Date?

    public var free: Int64 { max(0, quota - used) }

    /// Whether `now` is inside the node's maintenance window.
    public func inMaintenance(at now: Date) -> Bool {
        maintenanceUntil.map { $0 > now } ?? false
    }

    public init(
        id: NodeID, address: String, quota: Int64, used: Int64 = 0, load: Double = 0,
        lastReport: Date = Date(), alive: Bool = true, draining: Bool = false, maintenanceUntil: Date? = nil
    ) {
        self.draining = draining
        self.maintenanceUntil = maintenanceUntil
        self.id = id
        self.address = address
        self.quota = quota
        self.used = used
        self.load = load
        self.lastReport = lastReport
        self.alive = alive
    }
}

/// The state of one copy of a file on one node.
public enum ReplicaState: String, Sendable, Codable, CaseIterable {
    /// Stored and verified; counts towards K while the node is alive.
    case live
    /// Being copied to the node; does not count yet.
    case copying
    /// Chosen for eviction; no longer counts.
    case evicting

    /// The number both catalogs store: 0 live, 1 copying, 2 evicting.
    public var storedCode: Int {
        switch self {
        case .live: 0
        case .copying: 1
        case .evicting: 2
        }
    }

    /// The state a stored number stands for; anything unknown no longer counts (evicting).
    public init(storedCode: Int?) {
        switch storedCode {
        case 0: self = .live
        case 1: self = .copying
        default: self = .evicting
        }
    }
}

/// One copy of a file on one node.
public struct ReplicaRecord: Sendable, Equatable, Hashable {
    public var file: FileID
    public var node: NodeID
    public var state: ReplicaState

    public init(file: FileID, node: NodeID, state: ReplicaState) {
        self.file = file
        self.node = node
        self.state = state
    }
}
