import Dispatch
import Foundation
import Glibc
import TestSupport

/// `syncfs(2)`, which Glibc's Swift module leaves out (declared only under `_GNU_SOURCE`);
/// the same declaration as the node's (BlobStore+Batch.swift).
@_silgen_name("syncfs")
private func benchSyncfs(_ fd: Int32) -> Int32

/// Figure 1: small-file replication to a node that joins, on SQLite and on MongoDB.
struct SmallFilesStage {
    let context: BenchContext
    let report: Report

    static let fileSize = 4096

    func run() async throws {
        var sqlite: Double?
        if context.catalogs.contains("sqlite") {
            let (rate, disk) = try await measure(files: context.smallFiles, catalog: nil, label: "sqlite", withPeer: true)
            sqlite = rate
            report.add(Figure(
                key: "small.sqlite.files_per_second",
                title: "small: replication to a joining node, \(context.smallFiles) × 4 KiB, SQLite",
                unit: "files/s", fsdfs: sqlite, peer: disk, peerName: "durable local copy", higherIsBetter: true,
                goal: .atLeast(5000),
                note: "peer: the same files copied by one process on this disk, \(Self.peerBatch) per syncfs (write, syncfs, rename, fsync the folder): no network, checksum or catalog; the faster of a run just before and one just after"))
        }
        if context.catalogs.contains("mongodb") {
            let server = try await MongoTestServer.start(guarded: true)
            let uri = server.uri(database: "fsdfs_bench_small")
            let files = context.mongodbSmallFiles
            let mongodb: Double
            do {
                mongodb = try await measure(files: files, catalog: uri, label: "mongodb", withPeer: false).rate
            } catch {
                await server.stop()
                throw error
            }
            await server.stop()
            report.add(Figure(
                key: "small.mongodb.files_per_second",
                title: "small: the same on MongoDB (SecantusDB), \(files) × 4 KiB",
                unit: "files/s", fsdfs: mongodb, peer: sqlite, peerName: "SQLite", higherIsBetter: true,
                note: "ratio = MongoDB / SQLite"))
        }
    }

    /// Seeds node A, has the master adopt its files, lets node B join, and returns files/s;
    /// then, `withPeer`, the files/s of ``durableCopy(_:from:to:)`` of A's files on this disk.
    private func measure(files: Int, catalog: String?, label: String, withPeer: Bool) async throws -> (rate: Double, peer: Double?) {
        try await withCluster("small-\(label)", context: context) { cluster in
            progress("small (\(label)): writing \(files) files of 4 KiB into node A's data directory")
            try await Seeding.write(count: files, size: Self.fileSize, under: cluster.dataDirectory("a"), prefix: "small")
            progress("small (\(label)): node A joins a --recover master that stores nothing; it adopts A's files")
            _ = try await cluster.recoverFromSeededNode("a", files: files, catalog: catalog)
            try await cluster.cli("safe-mode", "leave")
            // What the seeding wrote is flushed first: the figure is the replication's, not the
            // tail of the seeding's write-back.
            try await Shell.bashChecked("sync", "sync", scratch: context.work)
            var peer: Double?
            if withPeer {
                peer = try await durablePeer(files: files, cluster: cluster, label: label, run: 1)
                try await Shell.bashChecked("sync", "sync", scratch: context.work)
            }
            progress("small (\(label)): node B joins; timing until every file has K = 2")
            let start = ContinuousClock.now
            try await cluster.startNode("b", wait: false)
            let seconds = try await poll("small (\(label)): every file at K = 2", from: start, timeout: context.timeout, interval: .milliseconds(100)) {
                let status = try await cluster.status()
                return status.files == files && status.underReplicated == 0
            }
            progress("small (\(label)): \(files) copies in \(String(format: "%.2f", seconds)) s")
            if withPeer {
                peer = max(peer ?? 0, try await durablePeer(files: files, cluster: cluster, label: label, run: 2))
            }
            return (Double(files) / seconds, peer)
        }
    }

    /// The peer's files/s, once: this disk's speed changes within minutes, so it runs just
    /// before the replication and just after, and the faster run counts.
    private func durablePeer(files: Int, cluster: BenchCluster, label: String, run: Int) async throws -> Double {
        progress("small (\(label)): peer \(run) of 2: the same files copied durably by one local process")
        let source = cluster.dataDirectory("a").appendingPathComponent("small")
        let target = context.work.appendingPathComponent("small-peer-\(label)-\(run)")
        let seconds = try await Self.durableCopy(files, from: source, to: target)
        try? FileManager.default.removeItem(at: target)
        progress("small (\(label)): peer \(run) copied \(files) files in \(String(format: "%.2f", seconds)) s")
        return Double(files) / seconds
    }

    /// Files per syncfs in the peer: as many as a node's copy batch.
    static let peerBatch = 512

    /// Copies the seeded files under `source` into `target` as a node stores a batch, minus
    /// the network, the checksums and the index: each batch of ``peerBatch`` files written to
    /// temp files, one syncfs, renamed into place, each folder fsync'ed. Returns the seconds,
    /// measured off the cooperative pool (blocking calls).
    static func durableCopy(_ count: Int, from source: URL, to target: URL) async throws -> Double {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                do {
                    let start = ContinuousClock.now
                    try durableCopyBlocking(count, from: source.path, to: target.path)
                    continuation.resume(returning: (ContinuousClock.now - start) / .seconds(1))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    private static func durableCopyBlocking(_ count: Int, from source: String, to target: String) throws {
        func fail(_ operation: String, _ path: String) -> BenchError {
            BenchError("peer copy: \(operation) \(path): \(String(cString: strerror(errno)))")
        }
        func fsyncPath(_ path: String) throws {
            let fd = open(path, O_RDONLY)
            guard fd >= 0 else { throw fail("open", path) }
            defer { close(fd) }
            guard fsync(fd) == 0 else { throw fail("fsync", path) }
        }
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var start = 0
        while start < count {
            let batch = start..<min(count, start + peerBatch)
            var folders = Set<String>()
            for index in batch {
                // Seeding's layout, without its prefix: dNNNN/fNNNNNNN.
                let relative = Seeding.path(index, prefix: ".").dropFirst(2)
                let folder = "\(target)/\(relative.split(separator: "/")[0])"
                if folders.insert(folder).inserted {
                    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                }
                let input = open("\(source)/\(relative)", O_RDONLY)
                guard input >= 0 else { throw fail("open", "\(source)/\(relative)") }
                let read = buffer.withUnsafeMutableBytes { Glibc.read(input, $0.baseAddress, $0.count) }
                if read < 0 { let error = fail("read", "\(source)/\(relative)"); close(input); throw error }
                close(input)
                guard read < buffer.count else { throw BenchError("peer copy: \(source)/\(relative) is larger than \(buffer.count) bytes") }
                let output = open("\(target)/\(relative).part", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
                guard output >= 0 else { throw fail("open", "\(target)/\(relative).part") }
                let written = buffer.withUnsafeBytes { Glibc.write(output, $0.baseAddress, read) }
                if written != read {
                    let error = written < 0 ? fail("write", "\(target)/\(relative).part")
                        : BenchError("peer copy: short write to \(target)/\(relative).part")
                    close(output)
                    throw error
                }
                close(output)
            }
            let root = open(target, O_RDONLY)
            guard root >= 0 else { throw fail("open", target) }
            let synced = benchSyncfs(root)
            close(root)
            guard synced == 0 else { throw fail("syncfs", target) }
            for index in batch {
                let relative = Seeding.path(index, prefix: ".").dropFirst(2)
                guard rename("\(target)/\(relative).part", "\(target)/\(relative)") == 0 else {
                    throw fail("rename", "\(target)/\(relative).part")
                }
            }
            for folder in folders { try fsyncPath(folder) }
            // The folders it created are entries of the target itself.
            try fsyncPath(target)
            start = batch.upperBound
        }
    }
}
