/// Why a policy file or directory was rejected: the file, the line where known, and a reason
/// a user can act on. Prints as `<file>:<line>: <reason>`, the shape editors and `grep -n` use.
public struct PolicyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The policy file (or directory) at fault, as it was named when loading.
    public var file: String
    /// The 1-based line in `file`, when the problem can be pinned to one.
    public var line: Int?
    /// What is wrong and, where possible, how to fix it.
    public var reason: String

    /// An error about `file`, at `line` when known.
    public init(file: String, line: Int? = nil, reason: String) {
        self.file = file
        self.line = line
        self.reason = reason
    }

    public var description: String {
        if let line { "\(file):\(line): \(reason)" } else { "\(file): \(reason)" }
    }
}
