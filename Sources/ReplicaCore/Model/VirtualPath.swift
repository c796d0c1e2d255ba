/// A validated path inside the virtual file store, such as `videos/2024/trip.mp4`.
///
/// Virtual paths are relative and `/`-separated. They become real paths under every node's
/// data directory, so validation is what stops a client or a peer from writing outside it:
///
/// - not empty, at most ``maxBytes`` bytes of UTF-8;
/// - no leading `/` (absolute) and no trailing `/`;
/// - no empty segment (`a//b`), no `.` or `..` segment;
/// - no NUL or other control character (U+0000–U+001F, U+007F), no backslash;
/// - no segment named `.fsdfs` at the top: that directory holds the node's own state;
/// - no segment longer than ``maxSegmentBytes`` (what file systems accept as a name).
///
/// Validation, splitting, equality and ordering all work on the UTF-8 bytes, as the file
/// system does: `"../\u{301}x"` is a `..` segment on disk, so it is rejected, and the composed
/// and decomposed spellings of "é" are two different paths, as they are two different files.
public struct VirtualPath: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    /// Longest accepted path, in bytes of UTF-8.
    public static let maxBytes = 1024
    /// Longest accepted segment (file or directory name), in bytes of UTF-8.
    public static let maxSegmentBytes = 255

    /// The path as given, for example `a/b.txt`.
    public let rawValue: String

    /// Validates `string` and throws ``VirtualPathError`` when it is not a safe virtual path.
    public init(_ string: String) throws(VirtualPathError) {
        try Self.validate(string)
        self.rawValue = string
    }

    /// Validates raw bytes (for example from a URL or a file name on disk) as UTF-8 first.
    public init(bytes: some Collection<UInt8>) throws(VirtualPathError) {
        guard let string = String(validating: bytes, as: UTF8.self) else {
            throw .invalidUTF8
        }
        try self.init(string)
    }

    /// The `/`-separated segments, e.g. `["a", "b.txt"]`.
    public var segments: [String] {
        rawValue.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
            .map { String(decoding: $0, as: UTF8.self) }
    }

    /// The last segment.
    public var name: String { segments.last ?? rawValue }

    public var description: String { rawValue }

    public static func == (lhs: VirtualPath, rhs: VirtualPath) -> Bool { lhs.rawValue.utf8.elementsEqual(rhs.rawValue.utf8) }

    public func hash(into hasher: inout Hasher) {
        for byte in rawValue.utf8 { hasher.combine(byte) }
    }

    /// Byte-wise order, the order of the catalog's path index.
    public static func < (lhs: VirtualPath, rhs: VirtualPath) -> Bool {
        lhs.rawValue.utf8.lexicographicallyPrecedes(rhs.rawValue.utf8)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let string = try container.decode(String.self)
        do {
            try self.init(string)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    private static func validate(_ string: String) throws(VirtualPathError) {
        if string.isEmpty { throw .empty }
        let byteCount = string.utf8.count
        if byteCount > maxBytes { throw .tooLong(bytes: byteCount) }
        if string.hasPrefix("/") { throw .absolute }
        for scalar in string.unicodeScalars {
            if scalar.value == 0 { throw .nulCharacter }
            if scalar.value < 0x20 || scalar.value == 0x7F { throw .controlCharacter(scalar.value) }
            if scalar == "\\" { throw .backslash }
        }
        let segments = string.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        for (index, segment) in segments.enumerated() {
            switch Array(segment) {
            case []: throw index == segments.count - 1 ? .trailingSlash : .emptySegment
            case Array(".".utf8): throw .dotSegment
            case Array("..".utf8): throw .parentSegment
            case Array(".fsdfs".utf8) where index == 0: throw .reserved
            default:
                if segment.count > maxSegmentBytes { throw .segmentTooLong(bytes: segment.count) }
            }
        }
    }
}

/// Why a string is not a valid ``VirtualPath``. Descriptions are one line a user can act on.
public enum VirtualPathError: Error, Equatable, Sendable, CustomStringConvertible {
    case empty
    case tooLong(bytes: Int)
    case segmentTooLong(bytes: Int)
    case absolute
    case invalidUTF8
    case nulCharacter
    case controlCharacter(UInt32)
    case backslash
    case emptySegment
    case trailingSlash
    case dotSegment
    case parentSegment
    case reserved

    public var description: String {
        switch self {
        case .empty: "the path is empty"
        case .tooLong(let bytes): "the path is \(bytes) bytes long; the limit is \(VirtualPath.maxBytes)"
        case .segmentTooLong(let bytes):
            "a file or directory name in the path is \(bytes) bytes long; the limit is \(VirtualPath.maxSegmentBytes)"
        case .absolute: "the path must be relative (no leading '/')"
        case .invalidUTF8: "the path is not valid UTF-8"
        case .nulCharacter: "the path contains a NUL character"
        case .controlCharacter(let value): "the path contains the control character U+\(String(value, radix: 16, uppercase: true))"
        case .backslash: "the path contains a backslash; use '/' to separate directories"
        case .emptySegment: "the path contains an empty segment ('//')"
        case .trailingSlash: "the path ends with '/'; name a file, not a directory"
        case .dotSegment: "the path contains a '.' segment"
        case .parentSegment: "the path contains a '..' segment"
        case .reserved: "paths under '.fsdfs/' are reserved for the node's own state"
        }
    }
}
