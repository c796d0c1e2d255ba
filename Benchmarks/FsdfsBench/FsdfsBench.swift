import ArgumentParser
import Foundation
import ReplicaCore

/// `fsdfs-bench` (run it through `scripts/bench.sh`, which builds it and fsdfsd in release
/// mode and installs nginx): the issue #11 figures, each measured on real `fsdfsd` processes
/// beside its peer in the same run.
@main
struct FsdfsBench: AsyncParsableCommand {
    static let stages = ["small", "big", "many", "bignode", "idle", "swarm", "replay"]

    static let configuration = CommandConfiguration(
        commandName: "fsdfs-bench",
        abstract: "Measure fsdfs beside nginx, curl and openssl on loopback; print a table and write JSON.",
        discussion: """
            Every stage starts its own swarm of `fsdfsd serve` processes (release build, loopback \
            ports, temporary data directories, --report-interval 1, --max-load 1000) and, for \
            big and many, its own nginx (Debian's, WebDAV PUT). The ratio is oriented so that \
            ≥ 1.0 means fsdfs is at least as good as its peer: peer time / fsdfs time, or \
            fsdfs rate / peer rate.

            small: Node A holds M files of 4 KiB (N = 2, K = 1); the master stores none (--quota \
            0). Node B joins; files/s from B's start until every file has K = 2 (polling `fsdfsd \
            status --json`). On SQLite, then on MongoDB (SecantusDB, in memory) with its ratio \
            to SQLite. Goal 5,000 files/s.

            big: One file of --big-size random bytes. get: `fsdfsd get PATH FILE` vs `curl URL | \
            tee FILE | openssl dgst -sha256 && sync FILE`. put: `fsdfsd put` vs `tee >(openssl \
            dgst -sha256) < FILE | curl -T - URL && sync STORED` (nginx writes the body to a \
            temporary file and renames it, as a node does; the sync makes it durable, as a \
            node's fsync does). replication: the master holds the file (N = 3); two nodes join; \
            seconds from their start until K = 3, vs two get pipelines at once. Goal ratio ≥ \
            1.0.

            many: --many-files files of 4 KiB: `fsdfsd put -r DIR many` and `fsdfsd get -r many \
            DIR`, files/s, vs curl --parallel --parallel-max 16 with every URL in one config \
            file (-K), followed by `sync -f` (fsdfs's copies are durable). Then `put -r` again \
            with everything already stored (all skipped). Goal 2,000 files/s. n/a while put -r / \
            get -r do not exist.

            bignode: Seeding: --big-node-files files of --big-node-file-size are written \
            straight into a fresh node's data directory (with .fsdfs/swarm-id, as a node that \
            joined a swarm keeps it); the master starts with --recover on an \
            empty catalog and adopts them from the node's inventory (the node's start-up scan \
            hashes every file, as it would any file found on its disk); then `fsdfsd safe-mode \
            leave`. The same for a 1k-file cluster. Then the big node stops and starts again: \
            seconds from its start until the master counts all its files again (goal < 60 s); \
            how often it is declared down in the 15 s after (goal 0: a node declared down sends \
            its whole inventory again); the master's VmRSS (goal < 200 MiB); then the master \
            restarts: seconds until it has matched the node's inventory again, and its VmRSS; \
            `fsdfsd status --json` and `fsdfsd where PATH` wall time (median of 5) at F files vs \
            at 1k (goal: the same, ratio ≥ 0.8). The seeding figures say how long the first \
            join took and at what rate; --big-node-files 100000 gives a run of minutes.

            swarm: --swarm-nodes nodes of --swarm-node-files files each, seeded as for bignode; \
            the master restarts and every node sends its whole inventory at once: seconds until \
            all are matched (goal < 60 s), nodes declared down in the 20 s after (goal 0: no \
            storm), the master's VmRSS (goal < 200 MiB).

            idle: On the same two clusters once settled: fsdfs_planner_pass_seconds from the \
            master's /metrics (mean of passes that find nothing, woken by `fsdfsd node undrain` \
            of a node that is not draining), at F files vs 1k.
            """)

    @Option(help: "Stages to run, comma-separated: small,big,many,bignode,idle,swarm.")
    var only: String = FsdfsBench.stages.joined(separator: ",")

    @Option(help: "small: files node A holds when node B joins.")
    var smallFiles: Int = 20_000

    @Option(help: "small: files for the MongoDB run (default: --small-files, at most 500: SecantusDB, a Python server, records a few copies per second today).")
    var mongodbSmallFiles: Int?

    @Option(help: "small: catalogs to run on, comma-separated: sqlite,mongodb.")
    var catalogs: String = "sqlite,mongodb"

    @Option(help: "big: the size of the big file (bytes or K/M/G).")
    var bigSize: String = "512M"

    @Option(help: "many: files of 4 KiB for put -r / get -r.")
    var manyFiles: Int = 5_000

    @Option(help: "bignode/idle: files on the big node (e.g. 100000 for a quicker run).")
    var bigNodeFiles: Int = 1_000_000

    @Option(help: "swarm: nodes whose inventories a restarted master matches at once.")
    var swarmNodes: Int = 5

    @Option(help: "swarm: files on each of those nodes.")
    var swarmNodeFiles: Int = 200_000

    @Option(help: "bignode/idle/swarm: size of each of its files (bytes or K/M).")
    var bigNodeFileSize: String = "4K"

    @Option(help: "replay: seconds of sustained signed requests (issue #13 asks for 600).")
    var replaySeconds: Int = 600

    @Option(help: "replay: signed requests a second.")
    var replayRate: Int = 20_000

    @Option(help: "Seconds any one wait may take before the stage fails.")
    var timeout: Double = 3600

    @Option(help: "Where to write every figure as JSON.")
    var jsonOut: String = "bench-results.json"

    @Option(help: "Also write the table as reStructuredText (for README.rst's Performance section).")
    var rstOut: String?

    @Option(help: "The fsdfsd binary (default: the one beside this executable).")
    var fsdfsd: String?

    @Option(help: "Directory for the work directory (default: the system's temporary directory).")
    var workDir: String?

    @Flag(help: "Keep the work directory (data directories, logs, nginx root) at the end.")
    var keep = false

    func validate() throws {
        let unknown = selectedStages.filter { !Self.stages.contains($0) }
        guard unknown.isEmpty else {
            throw ValidationError("--only: unknown stage(s) \(unknown.joined(separator: ", ")); the stages are \(Self.stages.joined(separator: ","))")
        }
        for catalog in selectedCatalogs where !["sqlite", "mongodb"].contains(catalog) {
            throw ValidationError("--catalogs: unknown catalog \(catalog); use sqlite, mongodb or both")
        }
        for (option, value) in [("--small-files", smallFiles), ("--many-files", manyFiles), ("--big-node-files", bigNodeFiles), ("--swarm-nodes", swarmNodes), ("--swarm-node-files", swarmNodeFiles)] {
            guard value >= 1 else { throw ValidationError("\(option) must be at least 1") }
        }
        guard (try? ByteSize.parse(bigSize)).map({ $0 > 0 }) == true else {
            throw ValidationError("--big-size \(bigSize) is not a size above 0, e.g. 512M")
        }
        guard (try? ByteSize.parse(bigNodeFileSize)).map({ $0 > 8 }) == true else {
            throw ValidationError("--big-node-file-size \(bigNodeFileSize) is not a size above 8 bytes, e.g. 4K")
        }
        guard timeout > 0 else { throw ValidationError("--timeout must be above 0 seconds") }
    }

    var selectedStages: [String] { only.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
    var selectedCatalogs: [String] { catalogs.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }

    func run() async throws {
        Reaper.shared.installSignalHandlers()
        let context = try await makeContext()
        let report = Report()
        progress("work directory \(context.work.path); fsdfsd \(context.fsdfsd)")
        let stages = selectedStages
        var nginx: Nginx?
        if stages.contains("big") || stages.contains("many") {
            do {
                nginx = try await Nginx.start(context: context)
                progress("nginx serving on \(nginx!.url)")
            } catch {
                report.stageFailed("nginx", error)
            }
        }
        if stages.contains("small") {
            await runStage("small", report) { try await SmallFilesStage(context: context, report: report).run() }
        }
        if stages.contains("big") {
            await runStage("big", report) { try await BigFilesStage(context: context, report: report, nginx: try need(nginx)).run() }
        }
        if stages.contains("many") {
            await runStage("many", report) { try await ManyFilesStage(context: context, report: report, nginx: try need(nginx)).run() }
        }
        if stages.contains("bignode") || stages.contains("idle") {
            let scale = ScaleStage(context: context, report: report, bigNode: stages.contains("bignode"), idle: stages.contains("idle"))
            await runStage(stages.contains("bignode") ? "bignode" : "idle", report) { try await scale.run() }
        }
        if stages.contains("swarm") {
            await runStage("swarm", report) { try await SwarmStage(context: context, report: report).run() }
        }
        if stages.contains("replay") {
            await runStage("replay", report) { try await ReplayStage(report: report, seconds: replaySeconds, rate: replayRate).run() }
        }
        await nginx?.stop()
        print(report.table(), terminator: "")
        let out = URL(fileURLWithPath: jsonOut)
        do {
            try report.write(to: out, run: await runInfo(context))
            progress("figures written to \(out.path)")
        } catch {
            progress("\(error)")
        }
        if let rstOut {
            do {
                try report.restructuredText().write(toFile: rstOut, atomically: true, encoding: .utf8)
            } catch {
                progress("cannot write the table to \(rstOut): \(error)")
            }
        }
        Reaper.shared.reapAll()
        if !report.failed.isEmpty { throw ExitCode(1) }
    }

    private func need(_ nginx: Nginx?) throws -> Nginx {
        guard let nginx else { throw BenchError("nginx did not start (see above): no peer to measure against") }
        return nginx
    }

    private func runStage(_ name: String, _ report: Report, _ body: () async throws -> Void) async {
        progress("stage \(name)")
        let start = ContinuousClock.now
        do {
            try await body()
            progress("stage \(name) done in \(Int((ContinuousClock.now - start).seconds)) s")
        } catch {
            report.stageFailed(name, error)
        }
    }

    private func makeContext() async throws -> BenchContext {
        let binary = fsdfsd ?? Bundle.main.executableURL!.deletingLastPathComponent().appendingPathComponent("fsdfsd").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw BenchError("no fsdfsd at \(binary): build it (swift build -c release --product fsdfsd) or pass --fsdfsd PATH")
        }
        let parent = URL(fileURLWithPath: workDir ?? NSTemporaryDirectory())
        let work = parent.appendingPathComponent("fsdfs-bench-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        Reaper.shared.own(directory: work, keep: keep)
        let context = BenchContext(
            fsdfsd: binary, work: work, smallFiles: smallFiles, mongodbSmallFiles: mongodbSmallFiles ?? min(smallFiles, 500),
            catalogs: selectedCatalogs, bigSize: try ByteSize.parse(bigSize), manyFiles: manyFiles,
            bigNodeFiles: bigNodeFiles, bigNodeFileSize: Int(try ByteSize.parse(bigNodeFileSize)),
            swarmNodes: swarmNodes, swarmNodeFiles: swarmNodeFiles,
            timeout: .milliseconds(Int64(timeout * 1000)))
        try context.writePolicies()
        return context
    }

    private func runInfo(_ context: BenchContext) async -> RunInfo {
        let commit = (try? await Shell.run("/usr/bin/git", ["rev-parse", "--short", "HEAD"], scratch: context.work))
            .flatMap { $0.succeeded ? $0.stdout.trimmingCharacters(in: .whitespacesAndNewlines) : nil } ?? "unknown"
        return RunInfo(
            date: Date().formatted(.iso8601), commit: commit, host: ProcessInfo.processInfo.hostName,
            cores: ProcessInfo.processInfo.activeProcessorCount, stages: selectedStages,
            smallFiles: smallFiles, bigSizeMiB: Int(context.bigSize >> 20), manyFiles: manyFiles,
            bigNodeFiles: bigNodeFiles, bigNodeFileSize: context.bigNodeFileSize)
    }
}

/// What every stage shares: the binary, the work directory, the sizes, the policies.
struct BenchContext: Sendable {
    static let secret = "fsdfs-bench-secret"

    let fsdfsd: String
    let work: URL
    let smallFiles: Int
    let mongodbSmallFiles: Int
    let catalogs: [String]
    let bigSize: Int64
    let manyFiles: Int
    let bigNodeFiles: Int
    let bigNodeFileSize: Int
    let swarmNodes: Int
    let swarmNodeFiles: Int
    /// The deadline of any one wait.
    let timeout: Duration

    var policies: URL { work.appendingPathComponent("policies") }

    /// small/** has N = 2 (node B brings it to K = 2), bigrepl/** N = 3 (two joining nodes),
    /// everything else N = 1 (nothing replicates behind the client's back).
    func writePolicies() throws {
        try FileManager.default.createDirectory(at: policies, withIntermediateDirectories: true)
        let text = """
            [[rule]]
            match = "small/**"
            n = 2

            [[rule]]
            match = "bigrepl/**"
            n = 3

            [default]
            n = 1

            """
        try text.write(to: policies.appendingPathComponent("bench.toml"), atomically: true, encoding: .utf8)
    }

    /// A directory of the work directory, created.
    func directory(_ name: String) throws -> URL {
        let url = work.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
