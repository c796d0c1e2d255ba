/// What the planner asks the master to do.
public enum ReplicationAction: Sendable, Hashable, CustomStringConvertible {
    /// Copy `file` from `source` to `target`. The target first removes the files in
    /// `evicting` (already counted as gone and their space reserved for this copy).
    case copy(CopyPlan)

    public var description: String {
        switch self {
        case .copy(let plan): plan.description
        }
    }
}

/// One copy decision, with the evictions that make room for it.
public struct CopyPlan: Sendable, Hashable, CustomStringConvertible {
    public var file: FileID
    public var size: Int64
    public var source: NodeID
    public var target: NodeID
    /// Files to evict from `target` before the copy, highest kn first.
    public var evicting: [FileID]

    public init(file: FileID, size: Int64, source: NodeID, target: NodeID, evicting: [FileID] = []) {
        self.file = file
        self.size = size
        self.source = source
        self.target = target
        self.evicting = evicting
    }

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
