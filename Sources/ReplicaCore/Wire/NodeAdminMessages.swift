import Foundation

// The operator's commands on nodes (`fsdfsd node drain|undrain|maintenance|forget`), sent to
// the master. A node is named by its address (HOST:PORT, as `status` lists it) or its id.

/// `POST /v1/nodes/drain`: start (`drain: true`) or cancel a node's drain.
public struct DrainCommand: Sendable, Codable, Equatable {
    public var node: String
    public var drain: Bool

    public init(node: String, drain: Bool) {
        self.node = node
        self.drain = drain
    }
}

/// `POST /v1/nodes/maintenance`: a maintenance window of `seconds` from now; 0 ends the
/// window at once.
public struct MaintenanceCommand: Sendable, Codable, Equatable {
    public var node: String
    public var seconds: Double

    public init(node: String, seconds: Double) {
        self.node = node
        self.seconds = seconds
    }
}

/// `POST /v1/nodes/forget`: remove a node that is down from the catalog, with its replicas.
public struct ForgetCommand: Sendable, Codable, Equatable {
    public var node: String

    public init(node: String) { self.node = node }
}

/// The master's answer to a node command: the node it acted on and what it did, in words.
public struct NodeAdminReply: Sendable, Codable, Equatable {
    public var id: NodeID
    public var address: String
    public var message: String

    public init(id: NodeID, address: String, message: String) {
        self.id = id
        self.address = address
        self.message = message
    }
}
