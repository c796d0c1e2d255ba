import Foundation
import TestSupport

/// Figure 1: small-file replication to a node that joins, on SQLite and on MongoDB.
struct SmallFilesStage {
    let context: BenchContext
    let report: Report

    static let fileSize = 4096

    func run() async throws {
        var sqlite: Double?
        if context.catalogs.contains("sqlite") {
            sqlite = try await measure(files: context.smallFiles, catalog: nil, label: "sqlite")
            report.add(Figure(
                key: "small.sqlite.files_per_second",
                title: "small: replication to a joining node, \(context.smallFiles) × 4 KiB, SQLite",
                unit: "files/s", fsdfs: sqlite, higherIsBetter: true, goal: .atLeast(5000)))
        }
        if context.catalogs.contains("mongodb") {
            let server = try await MongoTestServer.start(guarded: true)
            let uri = server.uri(database: "fsdfs_bench_small")
            let files = context.mongodbSmallFiles
            let mongodb: Double
            do {
                mongodb = try await measure(files: files, catalog: uri, label: "mongodb")
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

    /// Seeds node A, has the master adopt its files, lets node B join, and returns files/s.
    private func measure(files: Int, catalog: String?, label: String) async throws -> Double {
        try await withCluster("small-\(label)", context: context) { cluster in
            progress("small (\(label)): writing \(files) files of 4 KiB into node A's data directory")
            try await Seeding.write(count: files, size: Self.fileSize, under: cluster.dataDirectory("a"), prefix: "small")
            progress("small (\(label)): node A joins a --recover master that stores nothing; it adopts A's files")
            _ = try await cluster.recoverFromSeededNode("a", files: files, catalog: catalog)
            try await cluster.cli("safe-mode", "leave")
            // What the seeding wrote is flushed first: the figure is the replication's, not the
            // tail of the seeding's write-back.
            try await Shell.bashChecked("sync", "sync", scratch: context.work)
            progress("small (\(label)): node B joins; timing until every file has K = 2")
            let start = ContinuousClock.now
            try await cluster.startNode("b", wait: false)
            let seconds = try await poll("small (\(label)): every file at K = 2", from: start, timeout: context.timeout, interval: .milliseconds(100)) {
                let status = try await cluster.status()
                return status.files == files && status.underReplicated == 0
            }
            progress("small (\(label)): \(files) copies in \(String(format: "%.2f", seconds)) s")
            return Double(files) / seconds
        }
    }
}
