import Dispatch
import Glibc
import Foundation
import Synchronization

/// Writes many small files fast: straight into a directory (a local tree for `put -r`, or a
/// node's data directory before it starts, where the node's start-up scan hashes and indexes
/// them and a `--recover` master adopts them from its inventory).
///
/// Files are `PREFIX/dNNNN/fNNNNNNN`, 1,000 per folder; each has its own content (a random
/// block with the file's number in its first 8 bytes), so no two share a hash.
enum Seeding {
    static let filesPerFolder = 1000

    /// The relative path of file `index` under `prefix`.
    static func path(_ index: Int, prefix: String) -> String {
        let folder = String(format: "d%04d", index / filesPerFolder)
        return "\(prefix)/\(folder)/" + String(format: "f%07d", index)
    }

    /// Writes `count` files of `size` bytes under `root/prefix`, folders in parallel, off the
    /// cooperative pool (blocking file-system calls).
    static func write(count: Int, size: Int, under root: URL, prefix: String) async throws {
        let folders = (count + filesPerFolder - 1) / filesPerFolder
        let failure = FirstFailure()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                DispatchQueue.concurrentPerform(iterations: folders) { folder in
                    let first = folder * filesPerFolder
                    let last = min(count, first + filesPerFolder)
                    do {
                        try writeFolder(first..<last, size: size, root: root, prefix: prefix)
                    } catch {
                        failure.record(error)
                    }
                }
                continuation.resume()
            }
        }
        if let error = failure.error { throw error }
    }

    private static func writeFolder(_ indexes: Range<Int>, size: Int, root: URL, prefix: String) throws {
        guard let first = indexes.first else { return }
        let folder = root.appendingPathComponent(path(first, prefix: prefix)).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var block = randomBlock(size: max(size, 8), seed: UInt64(first))
        for index in indexes {
            withUnsafeBytes(of: UInt64(index).littleEndian) { number in
                for (offset, byte) in number.enumerated() where offset < block.count { block[offset] = byte }
            }
            let file = root.appendingPathComponent(path(index, prefix: prefix)).path
            try writeFile(file, bytes: block[0..<size])
        }
    }

    private static func writeFile(_ path: String, bytes: ArraySlice<UInt8>) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw BenchError("seeding: open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw BenchError("seeding: write \(path): \(String(cString: strerror(errno)))") }
    }

    /// `size` pseudo-random bytes (SplitMix64): content that does not compress or repeat.
    static func randomBlock(size: Int, seed: UInt64) -> [UInt8] {
        var state = seed &+ 0x9E37_79B9_7F4A_7C15
        var bytes = [UInt8](repeating: 0, count: size)
        var index = 0
        while index < size {
            state &+= 0x9E37_79B9_7F4A_7C15
            var mixed = state
            mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
            mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
            mixed ^= mixed >> 31
            for shift in stride(from: 0, to: 64, by: 8) where index < size {
                bytes[index] = UInt8(truncatingIfNeeded: mixed >> UInt64(shift))
                index += 1
            }
        }
        return bytes
    }
}

/// The first error of parallel work.
final class FirstFailure: Sendable {
    private let first = Mutex<(any Error)?>(nil)
    func record(_ error: any Error) { first.withLock { if $0 == nil { $0 = error } } }
    var error: (any Error)? { first.withLock { $0 } }
}
