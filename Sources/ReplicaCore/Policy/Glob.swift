/// A shell-style pattern on virtual paths, such as `videos/**` or `**/*.db`.
///
/// Patterns are `/`-separated like ``VirtualPath``, and are matched segment by segment:
///
/// - `*` matches any run of characters (including none) inside one segment, never a `/`;
/// - `?` matches exactly one character inside a segment;
/// - `[abc]`, `[a-z]` and `[!a]` (or `[^a]`) match one character from, or not from, a class;
/// - `**` as a whole segment matches zero or more segments, so `videos/**` matches
///   `videos/a` and `videos/a/b.mp4` (and a file named `videos`), and `**/*.db` matches
///   `x.db` and `a/b/x.db`;
/// - `\` makes the next character literal, as in `notes\*.txt` for a file named `notes*.txt`;
/// - anything else matches itself. There is no special case for names starting with `.`.
///
/// Matching never backtracks exponentially: both levels (characters inside a segment, and
/// segments around `**`) use the two-pointer wildcard algorithm, which is O(pattern × text).
///
/// Why reject patterns such as `a**` instead of treating them as `a*`? Because the author
/// almost certainly meant something else (`a/**`), and a policy that silently matches the
/// wrong files decides how many copies of them survive a disk failure.
public struct Glob: Sendable, Hashable, CustomStringConvertible {
    /// The pattern as written, for example `videos/**`.
    public let pattern: String

    let segments: [Segment]

    /// Parses `pattern`, throwing ``GlobError`` when it is malformed.
    public init(_ pattern: String) throws(GlobError) {
        self.segments = try Self.parse(pattern)
        self.pattern = pattern
    }

    public var description: String { pattern }

    /// Whether `path` matches the whole pattern.
    public func matches(_ path: VirtualPath) -> Bool {
        matches(segments: Self.split(path.rawValue))
    }

    /// Matching on a path already split with ``split(_:)``, so a policy splits each path once.
    func matches(segments path: [Substring]) -> Bool {
        Self.matchSegments(segments, path)
    }

    /// Splits on the scalar `/`, the byte the file system splits on. `String.split` works on
    /// characters, and a `/` followed by a combining mark is a different character.
    static func split(_ string: String) -> [Substring] {
        let scalars = string.unicodeScalars
        var result: [Substring] = []
        var start = scalars.startIndex
        var index = start
        while index < scalars.endIndex {
            if scalars[index] == "/" {
                result.append(Substring(scalars[start..<index]))
                start = scalars.index(after: index)
            }
            index = scalars.index(after: index)
        }
        result.append(Substring(scalars[start...]))
        return result
    }

    /// Segments around `**`: `**` takes any number of segments, every other pattern segment
    /// exactly one. On a mismatch, retry from the most recent `**` with one more segment.
    private static func matchSegments(_ pattern: [Segment], _ path: [Substring]) -> Bool {
        var p = 0
        var s = 0
        var starP: Int?
        var starS = 0
        while s < path.count {
            if p < pattern.count, pattern[p] == .anyDepth {
                starP = p
                starS = s
                p += 1
            } else if p < pattern.count, pattern[p].matches(path[s]) {
                p += 1
                s += 1
            } else if let star = starP {
                p = star + 1
                starS += 1
                s = starS
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == .anyDepth { p += 1 }
        return p == pattern.count
    }
}

extension Glob {
    /// One `/`-separated part of a pattern.
    enum Segment: Sendable, Hashable {
        /// `**`: zero or more whole segments.
        case anyDepth
        /// A segment with no wildcard, compared as a string.
        case literal(String)
        /// A segment with `*`, `?` or a class.
        case wildcard([Token])

        func matches(_ text: Substring) -> Bool {
            switch self {
            case .anyDepth: true
            case .literal(let literal): text == literal
            case .wildcard(let tokens): Self.match(tokens, text)
            }
        }

        /// Characters inside one segment; `*` may absorb more on a later mismatch.
        private static func match(_ tokens: [Token], _ text: Substring) -> Bool {
            var t = 0
            var i = text.startIndex
            var starT: Int?
            var starI = i
            while i < text.endIndex {
                if t < tokens.count {
                    switch tokens[t] {
                    case .star:
                        starT = t
                        starI = i
                        t += 1
                        continue
                    case .any:
                        t += 1
                        i = text.index(after: i)
                        continue
                    case .character(let c) where c == text[i]:
                        t += 1
                        i = text.index(after: i)
                        continue
                    case .set(let set) where set.contains(text[i]):
                        t += 1
                        i = text.index(after: i)
                        continue
                    default:
                        break
                    }
                }
                guard let star = starT else { return false }
                t = star + 1
                starI = text.index(after: starI)
                i = starI
            }
            while t < tokens.count, tokens[t] == .star { t += 1 }
            return t == tokens.count
        }
    }

    /// One element of a wildcard segment.
    enum Token: Sendable, Hashable {
        case character(Character)
        case any
        case star
        case set(CharacterClass)
    }

    /// `[abc]`, `[a-z]`, `[!a]`.
    struct CharacterClass: Sendable, Hashable {
        var negated: Bool
        var ranges: [ClosedRange<Character>]

        func contains(_ character: Character) -> Bool {
            ranges.contains { $0.contains(character) } != negated
        }
    }
}
