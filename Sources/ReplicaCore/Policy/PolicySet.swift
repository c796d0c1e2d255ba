/// The replica-count policy: ordered rules and a default N.
///
/// ``replicas(for:size:)`` tries the rules in order and the first one that matches decides; when
/// none does, ``defaultN`` applies. Order matters so that a specific rule written before a broad
/// one (`videos/raw/**` before `videos/**`) wins, exactly as an operator reads the files top to
/// bottom. A policy set is a value: reloading on SIGHUP builds a new one and swaps it in.
public struct PolicySet: Sendable, Equatable {
    /// N when no policy file has a `[default]` table.
    public static let builtinDefaultN = 3

    /// No rules, N = ``builtinDefaultN`` for every file: what runs without `--policies`.
    public static let builtin = PolicySet(rules: [], defaultN: builtinDefaultN)

    /// The rules, in the order they are tried.
    public var rules: [PolicyRule]
    /// N for files that no rule matches.
    public var defaultN: Int
    /// Where ``defaultN`` was set; `nil` when it is the built-in default.
    public var defaultSource: PolicySource?

    /// A policy from rules already in order; `defaultSource` says where `defaultN` came from.
    public init(rules: [PolicyRule], defaultN: Int = builtinDefaultN, defaultSource: PolicySource? = nil) {
        self.rules = rules
        self.defaultN = defaultN
        self.defaultSource = defaultSource
    }

    /// Combines parsed files in the given order: rules are concatenated, and at most one file
    /// may have a `[default]` (two would make the result depend on file names silently).
    public init(files: [PolicyFile]) throws(PolicyError) {
        var rules: [PolicyRule] = []
        var defaultN = Self.builtinDefaultN
        var defaultSource: PolicySource?
        for file in files {
            rules += file.rules
            guard let n = file.defaultN else { continue }
            let source = file.defaultSource ?? PolicySource(file: file.fileName, line: 1)
            if let first = defaultSource {
                throw PolicyError(
                    file: source.file, line: source.line,
                    reason: "a second [default] table: \(first) already sets the default N, and only one "
                        + "[default] is allowed across the policy files; remove one of them"
                )
            }
            defaultN = n
            defaultSource = source
        }
        self.init(rules: rules, defaultN: defaultN, defaultSource: defaultSource)
    }

    /// The first rule that matches, or `nil` when the default applies.
    public func rule(for path: VirtualPath, size: Int64) -> PolicyRule? {
        guard !rules.isEmpty else { return nil }
        let segments = Glob.split(path.rawValue)
        return rules.first { $0.matches(segments: segments, size: size) }
    }

    /// The number of replicas a file at `path` of `size` bytes should have.
    public func replicas(for path: VirtualPath, size: Int64) -> Int {
        rule(for: path, size: size)?.n ?? defaultN
    }

    /// One line for operators saying what N applies to the file and what decided it, e.g.
    /// `videos/a.mp4 (12.0 MiB): n = 2 from rule at policies/media.toml:4 (match = "videos/**", n = 2)`.
    public func explain(path: VirtualPath, size: Int64) -> String {
        let subject = "\(path) (\(ByteSize.format(size)))"
        if let rule = rule(for: path, size: size) {
            return "\(subject): n = \(rule.n) from rule at \(rule.source) (\(rule))"
        }
        let checked = rules.isEmpty ? "there are no rules" : "none of the \(rules.count) rules matched"
        if let defaultSource {
            return "\(subject): n = \(defaultN) from [default] at \(defaultSource) (\(checked))"
        }
        return "\(subject): n = \(defaultN), the built-in default (\(checked) and no policy file has a [default])"
    }
}
