/// Why a string is not a valid ``Glob``. Descriptions are one line a user can act on.
public enum GlobError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The pattern is the empty string.
    case empty
    /// The pattern starts with `/`.
    case absolute(pattern: String)
    /// The pattern ends with `/`.
    case trailingSlash(pattern: String)
    /// The pattern contains `//`.
    case emptySegment(pattern: String)
    /// A segment is `.` or `..`, which never occur in a virtual path.
    case dotSegment(pattern: String, segment: String)
    /// A segment mixes `**` with other characters, as in `a**` or `**b`.
    case doubleStarInSegment(pattern: String, segment: String)
    /// A `[` has no closing `]` in the same segment.
    case unclosedBracket(pattern: String, segment: String)
    /// A character class lists no character: `[]` or `[!]`.
    case emptyClass(pattern: String, segment: String)
    /// A range inside a class runs backwards, as in `[z-a]`.
    case reversedRange(pattern: String, range: String)
    /// The pattern ends with a `\` that escapes nothing.
    case trailingBackslash(pattern: String)

    public var description: String {
        switch self {
        case .empty:
            "the pattern is empty; use '**' to match every path"
        case .absolute(let pattern):
            "the pattern '\(pattern)' starts with '/'; patterns are relative to the store root, as in 'videos/**'"
        case .trailingSlash(let pattern):
            "the pattern '\(pattern)' ends with '/'; write '\(pattern)**' to match everything under that directory"
        case .emptySegment(let pattern):
            "the pattern '\(pattern)' contains an empty segment ('//'); separate directories with a single '/'"
        case .dotSegment(let pattern, let segment):
            "the pattern '\(pattern)' contains a '\(segment)' segment, which never occurs in a virtual path"
        case .doubleStarInSegment(let pattern, let segment):
            "the segment '\(segment)' in pattern '\(pattern)' mixes '**' with other characters; "
                + "'**' must be a whole segment (as in 'a/**/b'), use '*' within a segment"
        case .unclosedBracket(let pattern, let segment):
            "the segment '\(segment)' in pattern '\(pattern)' has a '[' without a closing ']'; "
                + "write '\\[' for a literal bracket"
        case .emptyClass(let pattern, let segment):
            "the segment '\(segment)' in pattern '\(pattern)' has an empty character class; "
                + "list characters as in '[abc]', '[a-z]' or '[!a]'"
        case .reversedRange(let pattern, let range):
            "the range '\(range)' in pattern '\(pattern)' runs backwards; write the lower character first, as in 'a-z'"
        case .trailingBackslash(let pattern):
            "the pattern '\(pattern)' ends with '\\', which escapes nothing; remove it"
        }
    }
}
