import Foundation

/// Figure 3: many small files from the client (`put -r`, `get -r`) beside curl --parallel.
struct ManyFilesStage {
    let context: BenchContext
    let report: Report
    let nginx: Nginx

    static let parallel = 16

    /// `put -r` / `get -r --json`'s summary (issue #11's contract).
    struct Summary: Decodable {
        var files: Int
        var transferred: Int
        var skipped: Int
        var failed: Int
    }

    func run() async throws {
        let folder = try context.directory("many")
        let source = folder.appendingPathComponent("src")
        let files = context.manyFiles
        progress("many: writing \(files) local files of 4 KiB")
        try await Seeding.write(count: files, size: 4096, under: source, prefix: "m")
        let local = source.appendingPathComponent("m")
        let paths = (0..<files).map { Seeding.path($0, prefix: "m").dropFirst(2) }.map(String.init)

        let peerPut = try await curlUpload(paths, from: local, folder: folder)
        let peerGet = try await curlDownload(paths, to: folder.appendingPathComponent("peer-got"), folder: folder)
        try await withCluster("many", context: context) { cluster in
            try await cluster.startMaster()
            let put = try await transfer(cluster, ["put", "-r", "--json", local.path, "many"], files: files)
            add("put", "put -r", put, peer: peerPut, peerName: "curl -T --parallel")
            guard put.value != nil else {
                add("get", "get -r", Transfer(value: nil, seconds: nil, note: "put -r not available"), peer: peerGet, peerName: "curl --parallel")
                return
            }
            let again = try await transfer(cluster, ["put", "-r", "--json", local.path, "many"], files: files)
            report.add(Figure(
                key: "many.put_again.seconds", title: "many: put -r again, all \(files) already stored", unit: "s",
                fsdfs: again.seconds, higherIsBetter: false,
                note: again.note ?? again.summary.map { "\($0.skipped) skipped, \($0.transferred) transferred" }))
            let get = try await transfer(cluster, ["get", "-r", "--json", "many", folder.appendingPathComponent("got").path], files: files)
            add("get", "get -r", get, peer: peerGet, peerName: "curl --parallel")
        }
    }

    /// One `put -r` or `get -r`: files/s, or why there is no figure.
    private struct Transfer {
        /// Files per second.
        var value: Double?
        var seconds: Double?
        var note: String?
        var summary: Summary?
    }

    private func transfer(_ cluster: BenchCluster, _ arguments: [String], files: Int) async throws -> Transfer {
        progress("many: fsdfsd \(arguments.prefix(2).joined(separator: " "))")
        let result = try await cluster.run(arguments)
        guard result.succeeded else {
            let first = result.stderr.split(separator: "\n").first.map(String.init) ?? "exit \(result.status)"
            return Transfer(value: nil, seconds: nil, note: "\(arguments[0]) -r not available: \(first)")
        }
        let summary = result.stdout.split(separator: "\n").last.flatMap {
            try? JSONDecoder().decode(Summary.self, from: Data($0.utf8))
        }
        if let summary, summary.failed > 0 || summary.files != files {
            throw BenchError("fsdfsd \(arguments.joined(separator: " ")): \(summary.failed) failed, \(summary.files) files of \(files)")
        }
        return Transfer(value: Double(files) / result.seconds, seconds: result.seconds, note: nil, summary: summary)
    }

    private func add(_ key: String, _ command: String, _ transfer: Transfer, peer: Double, peerName: String) {
        report.add(Figure(
            key: "many.\(key).files_per_second", title: "many: \(command) of \(context.manyFiles) × 4 KiB", unit: "files/s",
            fsdfs: transfer.value, peer: peer, peerName: peerName, higherIsBetter: true, goal: .atLeast(2000),
            note: transfer.note))
    }

    /// curl uploads every file in one process, 16 at a time, then the stored tree is synced.
    private func curlUpload(_ paths: [String], from local: URL, folder: URL) async throws -> Double {
        progress("many: peer upload (curl --parallel)")
        let config = folder.appendingPathComponent("upload.curl")
        let lines = paths.map { "upload-file = \"\(local.path)/\($0)\"\nurl = \"\(nginx.url)/many/\($0)\"" }
        try lines.joined(separator: "\n").write(to: config, atomically: true, encoding: .utf8)
        let root = nginx.root.appendingPathComponent("many")
        let script = "curl -sS -f --parallel --parallel-max \(Self.parallel) -K \(Shell.quote(config.path)) >/dev/null "
            + "&& sync -f \(Shell.quote(nginx.root.path))"
        let seconds = try await Shell.bashChecked("the peer's parallel upload", script, scratch: context.work).seconds
        try checkCount(root, paths.count, "nginx's root after the peer's upload")
        return Double(paths.count) / seconds
    }

    /// curl downloads every file in one process, 16 at a time, then syncs what it wrote.
    private func curlDownload(_ paths: [String], to out: URL, folder: URL) async throws -> Double {
        progress("many: peer download (curl --parallel)")
        let config = folder.appendingPathComponent("download.curl")
        let lines = paths.map { "url = \"\(nginx.url)/many/\($0)\"\noutput = \"\(out.path)/\($0)\"" }
        try lines.joined(separator: "\n").write(to: config, atomically: true, encoding: .utf8)
        let script = "curl -sS -f --create-dirs --parallel --parallel-max \(Self.parallel) -K \(Shell.quote(config.path)) "
            + "&& sync -f \(Shell.quote(out.path))"
        let seconds = try await Shell.bashChecked("the peer's parallel download", script, scratch: context.work).seconds
        try checkCount(out, paths.count, "the peer's download folder")
        return Double(paths.count) / seconds
    }

    private func checkCount(_ folder: URL, _ expected: Int, _ what: String) throws {
        let enumerator = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey])
        var count = 0
        while let url = enumerator?.nextObject() as? URL {
            if (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true { count += 1 }
        }
        guard count == expected else { throw BenchError("\(what) holds \(count) files, not \(expected)") }
    }
}
