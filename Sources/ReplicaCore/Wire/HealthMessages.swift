import Foundation

/// `replication.stuck` in `status --json`: why the backlog cannot progress, when it cannot.
public struct StuckReplication: Sendable, Codable, Equatable {
    /// The short code of a ``RepairReason`` (`too-few-nodes`, `no-room`…).
    public var reason: String
    /// What is wrong and what would fix it.
    public var message: String
    /// How many files at risk it stands for.
    public var files: Int

    public init(reason: String, message: String, files: Int) {
        self.reason = reason
        self.message = message
        self.files = files
    }

    public init(_ reason: RepairReason, files: Int) {
        self.init(reason: reason.code, message: reason.message(files: files), files: files)
    }
}

/// One file of `fsdfsd at-risk` (`GET /v1/at-risk`).
public struct AtRiskFile: Sendable, Codable, Equatable {
    public var path: VirtualPath
    public var size: Int64
    public var n: Int
    public var k: Int
    public var kn: Int
    /// Addresses of the alive nodes holding a verified copy (those that count in K).
    public var holders: [String]
    /// Addresses of the nodes that are down holding a copy (counted again when they return).
    public var downHolders: [String]
    /// The short code of the ``RepairReason`` it is not at N.
    public var reason: String
    /// What is wrong and what would fix it.
    public var message: String

    public init(
        path: VirtualPath, size: Int64, n: Int, k: Int, holders: [String], downHolders: [String], reason: String,
        message: String
    ) {
        self.path = path
        self.size = size
        self.n = n
        self.k = k
        self.kn = k - n
        self.holders = holders
        self.downHolders = downHolders
        self.reason = reason
        self.message = message
    }
}

/// `GET /v1/at-risk?limit=N`: files with K < N, most at risk first (lowest K − N, then the
/// biggest), lost files (K = 0) apart. Each list holds at most `limit` files; the totals count
/// them all.
public struct AtRiskReply: Sendable, Codable, Equatable {
    /// Files with 0 < K < N.
    public var files: [AtRiskFile]
    /// Files with K = 0: no copy on a node that is up.
    public var lost: [AtRiskFile]
    /// How many files have 0 < K < N, and K = 0.
    public var filesTotal: Int
    public var lostTotal: Int

    public init(files: [AtRiskFile], lost: [AtRiskFile], filesTotal: Int, lostTotal: Int) {
        self.files = files
        self.lost = lost
        self.filesTotal = filesTotal
        self.lostTotal = lostTotal
    }
}
