import TOMLKit

/// Turns the TOML table of one policy file into a ``PolicyFile``, checking every key and value.
///
/// Why so strict? A typo such as `mtach` or `[defualt]` that were silently ignored would leave
/// files with the wrong number of copies, which nobody notices until a disk fails. So every
/// unknown key, wrong type and impossible value is an error naming the file, the line and a fix.
struct PolicyFileParser {
    /// Keys allowed in a `[[rule]]` table, in the order messages list them.
    static let ruleKeys = ["match", "n", "min_size", "max_size"]
    /// The largest `n` accepted: far above any real cluster, low enough to catch typos.
    static let maxN = 1000

    let fileName: String
    let map: PolicySourceMap

    func parse(_ root: TOMLTable) throws(PolicyError) -> PolicyFile {
        let unknown = root.keys.filter { $0 != "rule" && $0 != "default" }
        if let key = firstInSource(unknown, line: map.topLevelLine) {
            throw error(
                at: map.topLevelLine(key),
                "unknown top-level key '\(key)'\(suggestion(for: key, among: ["rule", "default"]));"
                    + " a policy file has only [[rule]] tables and an optional [default] table"
            )
        }
        var file = PolicyFile(fileName: fileName)
        if let value = root["rule"] {
            file.rules = try parseRules(value)
        }
        if let value = root["default"] {
            file.defaultN = try parseDefault(value)
            file.defaultSource = PolicySource(file: fileName, line: map.defaultLine() ?? 1)
        }
        return file
    }

    // MARK: Rules

    private func parseRules(_ value: any TOMLValueConvertible) throws(PolicyError) -> [PolicyRule] {
        guard let array = value.array else {
            let what = value.type == .table ? "a single table" : describe(value)
            throw error(
                at: map.topLevelLine("rule"),
                "'rule' must be an array of tables, not \(what); start each rule with its own [[rule]] header"
                    + " (double brackets)"
            )
        }
        var rules: [PolicyRule] = []
        for (offset, element) in array.enumerated() {
            let k = offset + 1
            guard let table = element.table else {
                throw error(
                    at: map.ruleLine(k),
                    "rule \(k) must be a table with match and n, not \(describe(element))"
                )
            }
            rules.append(try parseRule(table, k))
        }
        return rules
    }

    private func parseRule(_ table: TOMLTable, _ k: Int) throws(PolicyError) -> PolicyRule {
        let unknown = table.keys.filter { !Self.ruleKeys.contains($0) }
        if let key = firstInSource(unknown, line: { map.ruleKeyLine(k, key: $0) }) {
            throw error(
                at: map.ruleKeyLine(k, key: key),
                "unknown key '\(key)' in rule \(k); expected \(Self.ruleKeys.joined(separator: ", "))"
                    + suggestion(for: key, among: Self.ruleKeys)
            )
        }

        guard let matchValue = table["match"] else {
            throw error(at: map.ruleLine(k), "rule \(k) has no 'match' key; add a glob such as match = \"videos/**\"")
        }
        let matchLine = map.ruleKeyLine(k, key: "match")
        guard let pattern = matchValue.string else {
            throw error(
                at: matchLine,
                "'match' in rule \(k) must be a string holding a glob such as \"videos/**\", not \(describe(matchValue))"
            )
        }
        let glob: Glob
        do throws(GlobError) {
            glob = try Glob(pattern)
        } catch {
            throw self.error(at: matchLine, "invalid glob in rule \(k): \(error.description)")
        }

        guard let nValue = table["n"] else {
            throw error(at: map.ruleLine(k), "rule \(k) has no 'n' key; add the number of copies, such as n = 2")
        }
        let n = try parseN(nValue, context: "rule \(k)", line: map.ruleKeyLine(k, key: "n"))

        let minSize = try table["min_size"].map { value throws(PolicyError) in
            try parseSize(value, key: "min_size", context: "rule \(k)", line: map.ruleKeyLine(k, key: "min_size"))
        }
        let maxSize = try table["max_size"].map { value throws(PolicyError) in
            try parseSize(value, key: "max_size", context: "rule \(k)", line: map.ruleKeyLine(k, key: "max_size"))
        }
        if let minSize, let maxSize, minSize > maxSize {
            throw error(
                at: map.ruleKeyLine(k, key: "max_size"),
                "rule \(k) has min_size (\(ByteSize.format(minSize))) larger than max_size (\(ByteSize.format(maxSize))),"
                    + " so it can never match; make max_size at least min_size"
            )
        }
        return PolicyRule(
            glob: glob, minSize: minSize, maxSize: maxSize, n: n,
            source: PolicySource(file: fileName, line: map.ruleLine(k) ?? 1)
        )
    }

    // MARK: [default]

    private func parseDefault(_ value: any TOMLValueConvertible) throws(PolicyError) -> Int {
        guard let table = value.table else {
            let reason = value.type == .array
                ? "'default' must be a single [default] table, not [[default]]"
                : "'default' must be a table; write [default] with n = 3 on the next line"
            throw error(at: map.defaultLine() ?? map.topLevelLine("default"), reason)
        }
        let unknown = table.keys.filter { $0 != "n" }
        if let key = firstInSource(unknown, line: map.defaultKeyLine) {
            throw error(
                at: map.defaultKeyLine(key),
                "unknown key '\(key)' in [default]; expected n" + suggestion(for: key, among: ["n"])
            )
        }
        guard let nValue = table["n"] else {
            throw error(
                at: map.defaultLine(),
                "[default] has no 'n' key; add the number of copies for files no rule matches, such as n = 3"
            )
        }
        return try parseN(nValue, context: "[default]", line: map.defaultKeyLine("n"))
    }

    // MARK: Values

    private func parseN(_ value: any TOMLValueConvertible, context: String, line: Int?) throws(PolicyError) -> Int {
        guard let n = value.int else {
            throw error(at: line, "'n' in \(context) must be a whole number of copies, such as n = 2, not \(describe(value))")
        }
        if n < 1 {
            throw error(at: line, "'n' in \(context) is \(n); it must be at least 1 (the number of copies of each file)")
        }
        if n > Self.maxN {
            throw error(at: line, "'n' in \(context) is \(n); the maximum is \(Self.maxN)")
        }
        return n
    }

    private func parseSize(
        _ value: any TOMLValueConvertible, key: String, context: String, line: Int?
    ) throws(PolicyError) -> Int64 {
        if let bytes = value.int {
            guard bytes >= 0 else {
                throw error(at: line, "'\(key)' in \(context) is \(bytes); a size cannot be negative")
            }
            return Int64(bytes)
        }
        guard let text = value.string else {
            throw error(
                at: line,
                "'\(key)' in \(context) must be a size such as \"10G\" or a whole number of bytes, not \(describe(value))"
            )
        }
        // ByteSize.parse traps on some non-ASCII letters (it builds a Character from an
        // uppercased letter, and "ß" uppercases to "SS"); no valid size has any, so stop here.
        guard text.unicodeScalars.allSatisfy(\.isASCII) else {
            throw error(at: line, "'\(key)' in \(context) is not a valid size: \(ByteSizeError.invalid(text).description)")
        }
        do throws(ByteSizeError) {
            return try ByteSize.parse(text)
        } catch {
            throw self.error(at: line, "'\(key)' in \(context) is not a valid size: \(error.description)")
        }
    }

    // MARK: Messages

    private func error(at line: Int?, _ reason: String) -> PolicyError {
        PolicyError(file: fileName, line: line, reason: reason)
    }

    /// Of several offending keys, the one written first, so fixing errors goes top to bottom.
    private func firstInSource(_ keys: [String], line: (String) -> Int?) -> String? {
        keys.min { a, b in
            switch (line(a), line(b)) {
            case let (x?, y?) where x != y: x < y
            case (_?, nil): true
            case (nil, _?): false
            default: a < b
            }
        }
    }

    /// ` (did you mean 'match'?)` when `key` is a likely typo of a known key, else "".
    private func suggestion(for key: String, among known: [String]) -> String {
        let typed = key.lowercased()
        let close = known.first { candidate in
            Self.editDistance(typed, candidate) <= (candidate.count > 3 ? 2 : 1)
                || typed.hasPrefix(candidate) || (typed.count >= 3 && candidate.hasPrefix(typed))
        }
        return close.map { " (did you mean '\($0)'?)" } ?? ""
    }

    /// Levenshtein distance: insertions, deletions and substitutions of characters.
    private static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1]
            for (j, y) in b.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }

    /// A value for messages: `the string "two"`, `the number 2.5`, `a table`.
    private func describe(_ value: any TOMLValueConvertible) -> String {
        switch value.type {
        case .string: "the string \"\(value.string ?? "")\""
        case .int: "the integer \(value.int.map(String.init) ?? "")"
        case .double: "the number \(value.double.map { String($0) } ?? "")"
        case .bool: "the boolean \(value.bool.map { String($0) } ?? "")"
        case .table: "a table"
        case .array: "an array"
        case .date, .time, .dateTime: "a date or time"
        }
    }
}
