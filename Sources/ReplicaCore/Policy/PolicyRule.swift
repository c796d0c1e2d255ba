/// One `[[rule]]` of a policy file: files whose path matches ``glob`` and whose size lies within
/// the optional bounds get ``n`` replicas.
public struct PolicyRule: Sendable, Equatable, CustomStringConvertible {
    /// The pattern the virtual path must match.
    public var glob: Glob
    /// Smallest matching size in bytes, inclusive; `nil` for no lower bound.
    public var minSize: Int64?
    /// Largest matching size in bytes, inclusive; `nil` for no upper bound.
    public var maxSize: Int64?
    /// How many replicas a matching file should have (at least 1).
    public var n: Int
    /// Where the rule was written.
    public var source: PolicySource

    /// A rule as parsed from a file; `minSize` must not exceed `maxSize` (the parser checks).
    public init(glob: Glob, minSize: Int64? = nil, maxSize: Int64? = nil, n: Int, source: PolicySource) {
        self.glob = glob
        self.minSize = minSize
        self.maxSize = maxSize
        self.n = n
        self.source = source
    }

    /// Whether a file at `path` of `size` bytes falls under this rule. Both bounds are inclusive.
    public func matches(path: VirtualPath, size: Int64) -> Bool {
        matches(segments: Glob.split(path.rawValue), size: size)
    }

    /// The same on a path already split with ``Glob/split(_:)``; sizes are checked first, as
    /// they are cheaper than the pattern.
    func matches(segments: [Substring], size: Int64) -> Bool {
        if let minSize, size < minSize { return false }
        if let maxSize, size > maxSize { return false }
        return glob.matches(segments: segments)
    }

    /// The rule as an operator would write it, e.g. `match = "**/*.db", min_size = 1.0 MiB, n = 5`.
    public var description: String {
        var parts = ["match = \"\(glob)\""]
        if let minSize { parts.append("min_size = \(ByteSize.format(minSize))") }
        if let maxSize { parts.append("max_size = \(ByteSize.format(maxSize))") }
        parts.append("n = \(n)")
        return parts.joined(separator: ", ")
    }
}
