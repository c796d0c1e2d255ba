import Crypto
import Foundation

/// The `x-amz-checksum-*` checksums S3 clients send with a body (in a header, or as a trailer
/// of an `aws-chunked` body): CRC32, CRC32C, SHA-1, SHA-256, each base64 of its big-endian
/// bytes. Checked on bodies whose SHA-256 was not signed, which nothing else would check.
struct S3Checksum {
    enum Algorithm: String, CaseIterable {
        case crc32, crc32c, sha1, sha256
        var header: String { "x-amz-checksum-" + rawValue }
    }

    let algorithm: Algorithm
    private var crc: UInt32 = 0xFFFF_FFFF
    private var sha1 = Insecure.SHA1()
    private var sha256 = SHA256()

    init(_ algorithm: Algorithm) {
        self.algorithm = algorithm
    }

    /// The algorithm of a header or trailer name (`x-amz-checksum-crc32`…), nil for another.
    static func algorithm(of name: String) -> Algorithm? {
        Algorithm.allCases.first { $0.header == name.lowercased() }
    }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        switch algorithm {
        case .crc32: crc = Self.update(crc, bytes, table: Self.crc32Table)
        case .crc32c: crc = Self.update(crc, bytes, table: Self.crc32cTable)
        case .sha1: sha1.update(bufferPointer: bytes)
        case .sha256: sha256.update(bufferPointer: bytes)
        }
    }

    /// Base64 of the checksum, as clients send it.
    func finalize() -> String {
        switch algorithm {
        case .crc32, .crc32c:
            let value = crc ^ 0xFFFF_FFFF
            return Data([UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)])
                .base64EncodedString()
        case .sha1: return Data(sha1.finalize()).base64EncodedString()
        case .sha256: return Data(sha256.finalize()).base64EncodedString()
        }
    }

    private static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer, table: [UInt32]) -> UInt32 {
        var crc = crc
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc
    }

    /// Reflected CRC tables: IEEE 802.3 (CRC32) and Castagnoli (CRC32C).
    static let crc32Table = table(0xEDB8_8320)
    static let crc32cTable = table(0x82F6_3B78)

    private static func table(_ polynomial: UInt32) -> [UInt32] {
        (0..<256).map { index in
            var value = UInt32(index)
            for _ in 0..<8 { value = value & 1 == 1 ? (value >> 1) ^ polynomial : value >> 1 }
            return value
        }
    }
}
