import Foundation

/// A bucket of the S3 API: a top-level directory of the store that exists even while it holds
/// no file (`CreateBucket`), with the time it was made.
public struct S3BucketRecord: Sendable, Equatable {
    public var name: String
    public var created: Date

    public init(name: String, created: Date) {
        self.name = name
        self.created = created
    }
}

/// S3's rules for bucket names (the ones every client checks too): 3 to 63 characters of
/// lower-case letters, digits, `-` and `.`, starting and ending with a letter or digit, no
/// `..`, not shaped like an IP address. A bucket is also a directory of the store, so its
/// name is a valid first path segment.
public enum S3BucketName {
    /// Why `name` is not a bucket name S3 accepts, or nil when it is one.
    public static func problem(_ name: String) -> String? {
        let bytes = Array(name.utf8)
        guard (3...63).contains(bytes.count) else { return "a bucket name has 3 to 63 characters" }
        let allowed = { (byte: UInt8) in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
        }
        guard bytes.allSatisfy(allowed) else { return "a bucket name has only lower-case letters, digits, '-' and '.'" }
        let alphanumeric = { (byte: UInt8) in byte != UInt8(ascii: "-") && byte != UInt8(ascii: ".") }
        guard alphanumeric(bytes.first!), alphanumeric(bytes.last!) else { return "a bucket name starts and ends with a letter or digit" }
        guard !name.contains("..") else { return "a bucket name has no '..'" }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count == 4, parts.allSatisfy({ UInt8($0) != nil }) { return "a bucket name is not an IP address" }
        return nil
    }
}

public enum S3BucketError: Error, Equatable, CustomStringConvertible {
    case exists(String)

    public var description: String {
        switch self {
        case .exists(let name): "bucket \(name) exists already"
        }
    }
}
