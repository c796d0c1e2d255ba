import Foundation

/// The paths one batch of a node's inventory stands for: after `after` (excluded; from the
/// first path when nil) through `through` (included; to the last path when nil), in the byte
/// order of ``VirtualPath`` (the order of the catalogs' path indexes).
public struct PathRange: Sendable, Equatable {
    public var after: VirtualPath?
    public var through: VirtualPath?

    public init(after: VirtualPath?, through: VirtualPath?) {
        self.after = after
        self.through = through
    }

    /// Every path.
    public static let all = PathRange(after: nil, through: nil)

    public func contains(_ path: VirtualPath) -> Bool {
        (after.map { $0 < path } ?? true) && (through.map { path <= $0 } ?? true)
    }
}

/// What the catalog knows about one batch of a node's inventory, read at once
/// (``Catalog/inventoryView(on:paths:range:)``).
public struct InventoryView: Sendable, Equatable {
    /// The current version of each path asked for that has one.
    public var current: [VirtualPath: FileRecord]
    /// Every replica recorded on the node (any state) of a version, current or deleted, whose
    /// path is in the range, by version id.
    public var holdings: [FileID: Holding]
    /// Every replica on the node of a version renamed since the node got it, held under a
    /// path in the range (``Holding/movedFrom``), by version id; such a replica whose new path
    /// is in the range is in `holdings` too.
    public var moving: [FileID: Holding]

    public init(current: [VirtualPath: FileRecord], holdings: [FileID: Holding], moving: [FileID: Holding] = [:]) {
        self.current = current
        self.holdings = holdings
        self.moving = moving
    }
}
