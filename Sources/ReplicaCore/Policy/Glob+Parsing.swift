extension Glob {
    /// Splits `pattern` into segments and checks every rule listed on ``GlobError``.
    static func parse(_ pattern: String) throws(GlobError) -> [Segment] {
        if pattern.isEmpty { throw .empty }
        if pattern.unicodeScalars.first == "/" { throw .absolute(pattern: pattern) }
        let parts = split(pattern)
        var segments: [Segment] = []
        for (index, part) in parts.enumerated() {
            if part.isEmpty {
                throw index == parts.count - 1 ? .trailingSlash(pattern: pattern) : .emptySegment(pattern: pattern)
            }
            if part == "." || part == ".." { throw .dotSegment(pattern: pattern, segment: String(part)) }
            if part == "**" {
                // `a/**/**/b` means the same as `a/**/b`; keeping one avoids useless retries.
                if segments.last != .anyDepth { segments.append(.anyDepth) }
                continue
            }
            segments.append(try parseSegment(part, pattern: pattern))
        }
        return segments
    }

    private static func parseSegment(_ part: Substring, pattern: String) throws(GlobError) -> Segment {
        let characters = Array(part)
        var tokens: [Token] = []
        var literal = ""
        var hasWildcard = false
        var i = 0
        while i < characters.count {
            let c = characters[i]
            switch c {
            case "\\":
                guard i + 1 < characters.count else { throw .trailingBackslash(pattern: pattern) }
                tokens.append(.character(characters[i + 1]))
                literal.append(characters[i + 1])
                i += 2
            case "*":
                if tokens.last == .star { throw .doubleStarInSegment(pattern: pattern, segment: String(part)) }
                tokens.append(.star)
                hasWildcard = true
                i += 1
            case "?":
                tokens.append(.any)
                hasWildcard = true
                i += 1
            case "[":
                let (set, next) = try parseClass(characters, from: i, segment: part, pattern: pattern)
                tokens.append(.set(set))
                hasWildcard = true
                i = next
            default:
                tokens.append(.character(c))
                literal.append(c)
                i += 1
            }
        }
        return hasWildcard ? .wildcard(tokens) : .literal(literal)
    }

    /// Parses the class starting at `characters[start] == "["`; returns it and the index after `]`.
    private static func parseClass(
        _ characters: [Character], from start: Int, segment: Substring, pattern: String
    ) throws(GlobError) -> (CharacterClass, Int) {
        var i = start + 1
        var negated = false
        if i < characters.count, characters[i] == "!" || characters[i] == "^" {
            negated = true
            i += 1
        }
        var ranges: [ClosedRange<Character>] = []

        /// The character at `i`, honouring `\` escapes; advances `i`.
        func take() throws(GlobError) -> Character {
            if characters[i] == "\\" {
                guard i + 1 < characters.count else { throw .unclosedBracket(pattern: pattern, segment: String(segment)) }
                i += 2
                return characters[i - 1]
            }
            i += 1
            return characters[i - 1]
        }

        while i < characters.count, characters[i] != "]" {
            let rangeStart = i
            let low = try take()
            // `-` is a range only between two characters; first or last it is literal.
            if i + 1 < characters.count, characters[i] == "-", characters[i + 1] != "]" {
                i += 1
                let high = try take()
                guard low <= high else {
                    throw .reversedRange(pattern: pattern, range: String(characters[rangeStart..<i]))
                }
                ranges.append(low...high)
            } else {
                ranges.append(low...low)
            }
        }
        guard i < characters.count else { throw .unclosedBracket(pattern: pattern, segment: String(segment)) }
        guard !ranges.isEmpty else { throw .emptyClass(pattern: pattern, segment: String(segment)) }
        return (CharacterClass(negated: negated, ranges: ranges), i + 1)
    }
}
