/// Where a rule or a `[default]` was written, so decisions and errors can point at it.
public struct PolicySource: Sendable, Hashable, CustomStringConvertible {
    /// The policy file, as named when loading (for a directory, `DIR/name.toml`).
    public var file: String
    /// The 1-based line of the `[[rule]]` or `[default]` header.
    public var line: Int

    /// A position in a policy file.
    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }

    /// `file:line`.
    public var description: String { "\(file):\(line)" }
}
