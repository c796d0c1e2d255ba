/// Line numbers for the parts of a policy file.
///
/// TOMLKit reports lines only for syntax errors, not for values, so error messages about a value
/// find its line here: a light scan of the text for table headers (`[default]`, `[[rule]]`) and
/// key assignments (`n = 2`). It only needs to be right for files that TOMLKit already accepted,
/// and every lookup falls back to a coarser line (the rule's header) when it finds nothing.
struct PolicySourceMap {
    enum Kind: Equatable {
        /// `[name]` or, when `isArray`, `[[name]]`.
        case header(isArray: Bool)
        /// `name = value`.
        case key
    }

    struct Entry {
        var kind: Kind
        /// The dotted name, unquoted: `[rule.meta]` gives `["rule", "meta"]`.
        var name: [String]
        var line: Int
    }

    private(set) var entries: [Entry] = []

    init(_ text: String) {
        var closing: String?  // the delimiter of an open multi-line string
        let lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false)
        for (index, scalars) in lines.enumerated() {
            let line = String(String.UnicodeScalarView(scalars))
            if let delimiter = closing {
                if line.contains(delimiter) { closing = nil }
                continue
            }
            guard let (entry, rest) = Self.scan(line, number: index + 1) else { continue }
            entries.append(entry)
            closing = Self.openMultilineString(in: rest)
        }
    }

    // MARK: Lookups

    /// The line of the `k`-th (1-based) `[[rule]]` header, or of `rule = [...]` when written inline.
    func ruleLine(_ k: Int) -> Int? {
        headerIndex(named: ["rule"], isArray: true, occurrence: k).map { entries[$0].line }
            ?? rootKeyLine("rule")
    }

    /// The line where `key` is assigned in the `k`-th rule, falling back to the rule's header.
    func ruleKeyLine(_ k: Int, key: String) -> Int? {
        guard let header = headerIndex(named: ["rule"], isArray: true, occurrence: k) else { return ruleLine(k) }
        return keyLine(inSectionAfter: header, table: "rule", key: key) ?? entries[header].line
    }

    /// The line of the `[default]` header, or of a root `default = {...}` / `default.n = ...`.
    func defaultLine() -> Int? {
        headerIndex(named: ["default"], isArray: false, occurrence: 1).map { entries[$0].line }
            ?? rootKeyLine("default")
    }

    /// The line where `key` is assigned in `[default]`, falling back to the header.
    func defaultKeyLine(_ key: String) -> Int? {
        if let header = headerIndex(named: ["default"], isArray: false, occurrence: 1) {
            return keyLine(inSectionAfter: header, table: "default", key: key) ?? entries[header].line
        }
        return rootEntries.first { $0.kind == .key && $0.name == ["default", key] }?.line ?? defaultLine()
    }

    /// The first line that introduces the top-level name: a header `[name...]`/`[[name...]]`
    /// anywhere, or a key `name = ...` before the first header.
    func topLevelLine(_ name: String) -> Int? {
        let header = entries.first { $0.kind != .key && $0.name.first == name }?.line
        let key = rootKeyLine(name)
        switch (header, key) {
        case let (header?, key?): return min(header, key)
        case let (header, key): return header ?? key
        }
    }

    // MARK: Helpers

    private var rootEntries: ArraySlice<Entry> {
        entries.prefix { $0.kind == .key }
    }

    private func rootKeyLine(_ name: String) -> Int? {
        rootEntries.first { $0.name.first == name }?.line
    }

    private func headerIndex(named name: [String], isArray: Bool, occurrence: Int) -> Int? {
        var seen = 0
        for (index, entry) in entries.enumerated() where entry.kind == .header(isArray: isArray) && entry.name == name {
            seen += 1
            if seen == occurrence { return index }
        }
        return nil
    }

    /// Keys of the section that starts at `header`, including its sub-tables (`[rule.meta]`
    /// counts as key `meta`), up to the next header of another table.
    private func keyLine(inSectionAfter header: Int, table: String, key: String) -> Int? {
        for entry in entries[(header + 1)...] {
            switch entry.kind {
            case .key:
                if entry.name.first == key { return entry.line }
            case .header:
                guard entry.name.count > 1, entry.name.first == table else { return nil }
                if entry.name[1] == key { return entry.line }
            }
        }
        return nil
    }

    // MARK: Scanning one line

    /// Recognises a header or a key assignment; returns it and the rest of the line.
    private static func scan(_ line: String, number: Int) -> (Entry, Substring)? {
        var rest = Substring(line).drop { $0 == " " || $0 == "\t" }
        if rest.hasPrefix("[[") {
            rest = rest.dropFirst(2)
            guard let name = parseKey(&rest), rest.hasPrefix("]]") else { return nil }
            return (Entry(kind: .header(isArray: true), name: name, line: number), rest.dropFirst(2))
        }
        if rest.hasPrefix("[") {
            rest = rest.dropFirst()
            guard let name = parseKey(&rest), rest.hasPrefix("]") else { return nil }
            return (Entry(kind: .header(isArray: false), name: name, line: number), rest.dropFirst())
        }
        guard let name = parseKey(&rest), rest.hasPrefix("=") else { return nil }
        return (Entry(kind: .key, name: name, line: number), rest.dropFirst())
    }

    /// A dotted key (`a`, `"a b".c`, `'x'`), consuming it and the blanks after it.
    private static func parseKey(_ text: inout Substring) -> [String]? {
        var parts: [String] = []
        while true {
            text = text.drop { $0 == " " || $0 == "\t" }
            guard let first = text.first else { return nil }
            if first == "\"" || first == "'" {
                text = text.dropFirst()
                var part = ""
                while let c = text.first, c != first {
                    if c == "\\", first == "\"", text.count > 1 {
                        text = text.dropFirst()
                        part.append(text.first!)
                    } else {
                        part.append(c)
                    }
                    text = text.dropFirst()
                }
                guard !text.isEmpty else { return nil }
                text = text.dropFirst()
                parts.append(part)
            } else {
                let bare = text.prefix { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }
                guard !bare.isEmpty else { return nil }
                parts.append(String(bare))
                text = text.dropFirst(bare.count)
            }
            text = text.drop { $0 == " " || $0 == "\t" }
            guard text.first == "." else { return parts }
            text = text.dropFirst()
        }
    }

    /// The delimiter of a multi-line string that opens in `rest` and does not close there.
    private static func openMultilineString(in rest: Substring) -> String? {
        for delimiter in ["\"\"\"", "'''"] {
            guard let open = rest.firstRange(of: delimiter) else { continue }
            return rest[open.upperBound...].firstRange(of: delimiter) == nil ? delimiter : nil
        }
        return nil
    }
}
