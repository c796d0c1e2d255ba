import Foundation
import NIOCore
import ReplicaCore
import Slave

/// A fresh directory under the system temp dir, removed when `body` returns.
/// `body` gets the test root; the data directory is `<root>/data`.
func withTestDirectory<T>(_ body: (_ root: String) async throws -> T) async throws -> T {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("fsdfs-blobstore-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try await body(url.path)
}

/// Deterministic pseudo-random bytes.
func payload(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    return (0..<count).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return UInt8(truncatingIfNeeded: state >> 33)
    }
}

func vp(_ string: String) throws -> VirtualPath { try VirtualPath(string) }

/// Writes `bytes` to `path` in chunks and commits.
@discardableResult
func put(
    _ store: BlobStore, _ path: String, _ bytes: [UInt8], fileID: Int64?, expected: String? = nil, chunk: Int = 1000
) async throws -> StoredBlob {
    let write = try await store.beginWrite(
        path: try vp(path), fileID: fileID.map(FileID.init), size: Int64(bytes.count), expectedSHA256: expected)
    for start in stride(from: 0, to: bytes.count, by: chunk) {
        try await write.write(ByteBuffer(bytes: bytes[start..<min(start + chunk, bytes.count)]))
    }
    return try await write.commit()
}

/// Reads the blob at `path` through the store; returns the bytes, the chunk count and the blob.
func readAll(_ store: BlobStore, _ path: String, chunkSize: Int = 4096) async throws -> ([UInt8], Int, StoredBlob) {
    var bytes: [UInt8] = []
    var chunks = 0
    let blob = try await store.read(path: try vp(path), chunkSize: chunkSize) { buffer in
        bytes += buffer.readableBytesView
        chunks += 1
    }
    return (bytes, chunks, blob)
}

/// Tries to begin a write, returning the error instead of throwing it.
func attempt(_ store: BlobStore, _ path: String, size: Int64) async -> Result<BlobWrite, BlobStoreError> {
    do {
        return .success(try await store.beginWrite(path: try vp(path), fileID: nil, size: size, expectedSHA256: nil))
    } catch let error as BlobStoreError {
        return .failure(error)
    } catch {
        return .failure(.io(operation: "test", path: path, message: "\(error)"))
    }
}

func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

func contents(_ directory: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
}

func fileBytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

/// Overwrites the start of the file in place (same inode, same size when `bytes` fits).
func overwriteInPlace(_ path: String, with bytes: [UInt8]) throws {
    let handle = try FileHandle(forUpdatingAtPath: path).unwrap()
    try handle.seek(toOffset: 0)
    try handle.write(contentsOf: Data(bytes))
    try handle.close()
}

func setModificationDate(_ path: String, _ date: Date) throws {
    try FileManager.default.setAttributes([.modificationDate: date], ofItemAtPath: path)
}

func attributes(_ path: String) throws -> [FileAttributeKey: Any] {
    try FileManager.default.attributesOfItem(atPath: path)
}

func inode(_ path: String) throws -> UInt64 {
    try ((attributes(path)[.systemFileNumber] as? NSNumber)?.uint64Value).unwrap()
}

func permissions(_ path: String) throws -> Int {
    try ((attributes(path)[.posixPermissions] as? NSNumber)?.intValue).unwrap()
}

/// Every regular file under `directory`, as paths relative to it.
func allFiles(under directory: String) -> [String] {
    guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return [] }
    var files: [String] = []
    while let relative = enumerator.nextObject() as? String {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory + "/" + relative, isDirectory: &isDirectory),
           !isDirectory.boolValue {
            files.append(relative)
        }
    }
    return files.sorted()
}

struct MissingValue: Error {}

extension Optional {
    func unwrap() throws -> Wrapped {
        guard let self else { throw MissingValue() }
        return self
    }
}

/// A plain SHA-256 (FIPS 180-4), independent of the store's, to check its digests.
enum ReferenceSHA256 {
    private static let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    private static func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }

    static func hex(_ message: [UInt8]) -> String {
        var h: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
        var data = message
        let bits = UInt64(message.count) * 8
        data.append(0x80)
        while data.count % 64 != 56 { data.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { data.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift))) }
        var w = [UInt32](repeating: 0, count: 64)
        for block in stride(from: 0, to: data.count, by: 64) {
            for i in 0..<16 {
                let j = block + 4 * i
                w[i] = UInt32(data[j]) << 24 | UInt32(data[j + 1]) << 16 | UInt32(data[j + 2]) << 8 | UInt32(data[j + 3])
            }
            for i in 16..<64 {
                let s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
                let s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
                w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
            }
            var (a, b, c, d, e, f, g, hh) = (h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7])
            for i in 0..<64 {
                let t1 = hh &+ (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) &+ ((e & f) ^ (~e & g)) &+ k[i] &+ w[i]
                let t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) &+ ((a & b) ^ (a & c) ^ (b & c))
                (hh, g, f, e, d, c, b, a) = (g, f, e, d &+ t1, c, b, a, t1 &+ t2)
            }
            for (i, value) in [a, b, c, d, e, f, g, hh].enumerated() { h[i] &+= value }
        }
        return h.map { String(format: "%08x", $0) }.joined()
    }
}
