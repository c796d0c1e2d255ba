import Foundation

/// What happened, as a short code (`fsdfsd events`, the `kind` field of its JSON).
///
/// A string rather than a closed enum: a master reads back events that a newer build wrote,
/// and new kinds are added beside the features that record them.
public struct EventKind: Hashable, Sendable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    /// A node reported for the first time.
    public static let nodeJoined: EventKind = "node_joined"
    /// A node missed `--missed-reports` reports, or left cleanly: its replicas stop counting.
    public static let nodeDown: EventKind = "node_down"
    /// A node that was down reported again and its inventory was matched.
    public static let nodeBack: EventKind = "node_back"
    /// A node of another swarm reported and was refused.
    public static let nodeRefused: EventKind = "node_refused"
    /// A replica was found corrupt (by the scrubber, a read or a check): quarantined, not counted.
    public static let replicaCorrupt: EventKind = "replica_corrupt"
    /// A node no longer has a replica the catalog counted, and was not told to remove it.
    public static let replicaMissing: EventKind = "replica_missing"
    /// A file that lost a replica to damage has its N copies again.
    public static let fileRepaired: EventKind = "file_repaired"
    /// Over-replicated files were removed from a node to make room.
    public static let eviction: EventKind = "eviction"
    public static let policyReload: EventKind = "policy_reload"
    public static let policyReloadFailed: EventKind = "policy_reload_failed"
    /// The catalog stopped answering: replication paused.
    public static let catalogPaused: EventKind = "catalog_paused"
    public static let catalogResumed: EventKind = "catalog_resumed"
    public static let safeModeOn: EventKind = "safe_mode_on"
    public static let safeModeOff: EventKind = "safe_mode_off"
    /// The operator started or cancelled a node's drain (`fsdfsd node drain|undrain`).
    public static let nodeDraining: EventKind = "node_draining"
    public static let nodeUndrained: EventKind = "node_undrained"
    /// A maintenance window began, or ended (by the operator, the node's return or its end).
    public static let maintenanceStarted: EventKind = "maintenance_started"
    public static let maintenanceEnded: EventKind = "maintenance_ended"
    /// The operator removed a node that was down for good (`fsdfsd node forget`).
    public static let nodeForgotten: EventKind = "node_forgotten"
    /// Files were renamed (`fsdfsd mv`); nodes move their copies, nothing is copied again.
    public static let renamed: EventKind = "renamed"
    /// Events recorded while the catalog was away that did not fit in the master's buffer.
    public static let eventsDropped: EventKind = "events_dropped"
}

/// An event to append to the log; the catalog numbers it.
public struct NewEvent: Sendable, Equatable {
    public var time: Date
    public var kind: EventKind
    /// The node it is about, if any.
    public var node: NodeID?
    /// That node's address, as it was then.
    public var address: String?
    /// The file it is about, if any.
    public var path: VirtualPath?
    /// What happened, in a sentence.
    public var message: String

    public init(
        time: Date = Date(), kind: EventKind, node: NodeID? = nil, address: String? = nil, path: VirtualPath? = nil,
        message: String
    ) {
        self.time = time
        self.kind = kind
        self.node = node
        self.address = address
        self.path = path
        self.message = message
    }
}

/// One event of the master's log (`fsdfsd events`, `GET /v1/events`).
///
/// JSON: `{"seq", "time" (ISO 8601), "kind", "node", "address", "path", "message"}`, where
/// `node`, `address` and `path` are absent when the event is not about one.
public struct EventRecord: Sendable, Equatable, Codable {
    /// Increases with every event, never reused: a reader asks for the events after the last
    /// one it saw.
    public var seq: Int64
    public var time: Date
    public var kind: EventKind
    public var node: NodeID?
    public var address: String?
    public var path: VirtualPath?
    public var message: String

    public init(seq: Int64, _ event: NewEvent) {
        self.seq = seq
        self.time = event.time
        self.kind = event.kind
        self.node = event.node
        self.address = event.address
        self.path = event.path
        self.message = event.message
    }

    enum CodingKeys: String, CodingKey {
        case seq, time, kind, node, address, path, message
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        seq = try container.decode(Int64.self, forKey: .seq)
        let text = try container.decode(String.self, forKey: .time)
        guard let time = Self.parseTime(text) else {
            throw DecodingError.dataCorruptedError(forKey: .time, in: container, debugDescription: "not an ISO 8601 time: \(text)")
        }
        self.time = time
        kind = try container.decode(EventKind.self, forKey: .kind)
        node = try container.decodeIfPresent(NodeID.self, forKey: .node)
        address = try container.decodeIfPresent(String.self, forKey: .address)
        path = try container.decodeIfPresent(VirtualPath.self, forKey: .path)
        message = try container.decode(String.self, forKey: .message)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(seq, forKey: .seq)
        try container.encode(Self.format(time), forKey: .time)
        try container.encode(kind, forKey: .kind)
        try container.encodeIfPresent(node, forKey: .node)
        try container.encodeIfPresent(address, forKey: .address)
        try container.encodeIfPresent(path, forKey: .path)
        try container.encode(message, forKey: .message)
    }

    /// ISO 8601 in UTC with milliseconds, rounded (`2025-06-01T10:02:11.481Z`), so that a time
    /// read back and written again is the same text.
    public static func format(_ time: Date) -> String {
        let milliseconds = Int64((time.timeIntervalSince1970 * 1000).rounded())
        let (seconds, fraction) = (milliseconds.floorDivided(by: 1000), milliseconds.floorModulo(1000))
        let whole = Date(timeIntervalSince1970: Double(seconds)).formatted(.iso8601)
        return whole.dropLast() + String(format: ".%03dZ", Int(fraction))
    }

    static func parseTime(_ text: String) -> Date? {
        (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)) ?? (try? Date.ISO8601FormatStyle().parse(text))
    }
}

extension Int64 {
    fileprivate func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return self % divisor < 0 ? quotient - 1 : quotient
    }

    fileprivate func floorModulo(_ divisor: Int64) -> Int64 {
        let remainder = self % divisor
        return remainder < 0 ? remainder + divisor : remainder
    }
}
