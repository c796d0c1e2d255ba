/// What the planner asks the master to do. A copy that needs room comes right after the
/// evictions that make it: `[.evict(a), .evict(b), .copy(f)]`, with `f.evicting == [a, b]`.
public enum ReplicationAction: Sendable, Hashable, CustomStringConvertible {
    /// Remove one replica from a node to make room for a copy.
    case evict(EvictionPlan)
    /// Copy `file` from `source` to `target`, once the evictions it lists are done.
    case copy(CopyPlan)

    public var description: String {
        switch self {
        case .evict(let plan): plan.description
        case .copy(let plan): plan.description
        }
    }
}

/// One eviction decision: `file`'s replica on `node` goes, so that `makingRoomFor` fits.
public struct EvictionPlan: Sendable, Hashable, CustomStringConvertible {
    public var file: FileID
    public var node: NodeID
    public var size: Int64
    /// The file whose copy needs the space.
    public var makingRoomFor: FileID

    public init(file: FileID, node: NodeID, size: Int64, makingRoomFor: FileID) {
        self.file = file
        self.node = node
        self.size = size
        self.makingRoomFor = makingRoomFor
    }

    public var description: String {
        "evict \(file) (\(size) B) from \(node) for \(makingRoomFor)"
    }
}

/// One copy decision, with the evictions that make room for it.
public struct CopyPlan: Sendable, Hashable, CustomStringConvertible {
    public var file: FileID
    public var size: Int64
    public var source: NodeID
    public var target: NodeID
    /// Files evicted from `target` for this copy, highest kn first: the
    /// ``ReplicationAction/evict(_:)`` actions just before this one.
    public var evicting: [FileID]

    public init(file: FileID, size: Int64, source: NodeID, target: NodeID, evicting: [FileID] = []) {
        self.file = file
        self.size = size
        self.source = source
        self.target = target
        self.evicting = evicting
    }

    /// The file and the node it goes to: one copy under way per pair.
    public var placement: Placement { Placement(file: file, node: target) }

    public var description: String {
        let evictions = evicting.isEmpty ? "" : " after evicting \(evicting.map(\.description).joined(separator: ", "))"
        return "copy \(file) (\(size) B) \(source) → \(target)\(evictions)"
    }
}

/// Where an upload goes: a node with room, possibly after evictions.
public struct UploadPlacement: Sendable, Hashable {
    public var target: NodeID
    public var evicting: [FileID]

    public init(target: NodeID, evicting: [FileID]) {
        self.target = target
        self.evicting = evicting
    }
}
