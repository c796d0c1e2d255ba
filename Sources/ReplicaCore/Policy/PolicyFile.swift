/// The content of one policy file, as returned by ``PolicySet/parse(_:fileName:)``.
public struct PolicyFile: Sendable, Equatable {
    /// The file name used in sources and error messages.
    public var fileName: String
    /// The `[[rule]]` tables, in the order they appear in the file.
    public var rules: [PolicyRule]
    /// `n` from the file's `[default]` table, if it has one.
    public var defaultN: Int?
    /// Where the `[default]` table is, if the file has one.
    public var defaultSource: PolicySource?

    /// A parsed file; the defaults describe an empty one.
    public init(fileName: String, rules: [PolicyRule] = [], defaultN: Int? = nil, defaultSource: PolicySource? = nil) {
        self.fileName = fileName
        self.rules = rules
        self.defaultN = defaultN
        self.defaultSource = defaultSource
    }
}
