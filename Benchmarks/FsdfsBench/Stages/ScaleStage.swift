import Foundation

/// Figures 4 and 5: a node with many files (seeded through `--recover`), beside a 1k-file
/// cluster measured the same way in the same run.
struct ScaleStage {
    let context: BenchContext
    let report: Report
    /// Figure 4 (restart, RSS, status and where).
    let bigNode: Bool
    /// Figure 5 (the idle planning pass).
    let idle: Bool

    static let smallCount = 1000
    static let prefix = "scale"

    /// A running cluster whose node `big` holds `files` files, and what its seeding cost.
    struct Seeded {
        let cluster: BenchCluster
        let node: FsdfsNode
        let files: Int
        let writeSeconds: Double
        let joinSeconds: Double
    }

    func run() async throws {
        try await withCluster("scale-1k", context: context) { small in
            let reference = try await seed(small, files: Self.smallCount)
            try await withCluster("scale-big", context: context) { big in
                let seeded = try await seed(big, files: context.bigNodeFiles)
                reportSeeding(seeded)
                if bigNode { try await measureBigNode(seeded, reference: reference) }
                if idle { try await measureIdle(seeded, reference: reference) }
            }
        }
    }

    // MARK: Seeding

    /// Writes the files into node `big`'s data directory, starts a `--recover` master that
    /// stores nothing, lets the node join (its scan hashes every file; the master adopts them
    /// from its inventory), and ends safe mode.
    private func seed(_ cluster: BenchCluster, files: Int) async throws -> Seeded {
        progress("bignode: writing \(files) files of \(context.bigNodeFileSize) bytes into a node's data directory")
        let writeStart = ContinuousClock.now
        try await Seeding.write(count: files, size: context.bigNodeFileSize, under: cluster.dataDirectory("big"), prefix: Self.prefix)
        let writeSeconds = (ContinuousClock.now - writeStart).seconds
        progress("bignode: the node joins with \(files) files; a --recover master adopts them")
        let joinStart = ContinuousClock.now
        let node = try await cluster.recoverFromSeededNode("big", files: files)
        let joinSeconds = (ContinuousClock.now - joinStart).seconds
        try await cluster.cli("safe-mode", "leave")
        try await cluster.waitUntilComplete(files: files, timeout: context.timeout)
        return Seeded(cluster: cluster, node: node, files: files, writeSeconds: writeSeconds, joinSeconds: joinSeconds)
    }

    private func reportSeeding(_ seeded: Seeded) {
        let files = seeded.files
        report.add(Figure(
            key: "bignode.seed.write_files_per_second", title: "bignode: seeding, files written into the data directory",
            unit: "files/s", fsdfs: Double(files) / seeded.writeSeconds, higherIsBetter: true,
            note: "\(files) files in \(String(format: "%.1f", seeded.writeSeconds)) s"))
        report.add(Figure(
            key: "bignode.seed.first_join_seconds", title: "bignode: seeding, first join (scan hashes all, --recover adopts)",
            unit: "s", fsdfs: seeded.joinSeconds, higherIsBetter: false,
            note: String(format: "%.0f files/s", Double(files) / seeded.joinSeconds)))
    }

    // MARK: Figure 4

    private func measureBigNode(_ seeded: Seeded, reference: Seeded) async throws {
        let files = seeded.files
        let restart = try await restartSeconds(seeded)
        report.add(Figure(
            key: "bignode.rejoin.seconds", title: "bignode: a node with \(files) files restarts, until all counted",
            unit: "s", fsdfs: restart, higherIsBetter: false, goal: .atMost(60)))
        let downs = try await downEpisodes(seeded, seconds: 15)
        report.add(Figure(
            key: "bignode.down_after_rejoin", title: "bignode: times the master declared it down in the 15 s after", unit: "times",
            fsdfs: Double(downs), higherIsBetter: false, goal: .atMost(1),
            note: "a node declared down sends its whole inventory again: more than 0 is a storm"))
        report.add(try masterRSS(seeded, reference, key: "bignode.master_rss.mib", when: "after --recover took them in", peerWhen: nil))
        let masterRestart = try await masterRestartSeconds(seeded)
        report.add(Figure(
            key: "bignode.master_restart.seconds", title: "bignode: the master restarts, until it has matched the \(files) files again",
            unit: "s", fsdfs: masterRestart, higherIsBetter: false, goal: .atMost(60)))
        report.add(try masterRSS(seeded, reference, key: "bignode.master_rss_restarted.mib", when: "restarted", peerWhen: "after --recover"))
        let status = try await (medianSeconds(seeded.cluster, ["status", "--json"]), medianSeconds(reference.cluster, ["status", "--json"]))
        report.add(Figure(
            key: "bignode.status.seconds", title: "bignode: fsdfsd status --json at \(files) files", unit: "s",
            fsdfs: status.0, peer: status.1, peerName: "at \(reference.files)", higherIsBetter: false, goal: .ratioAtLeast(0.8),
            note: "median of 5, process start included"))
        let wherePath = { (count: Int) in Seeding.path(count / 2, prefix: Self.prefix) }
        let whereTimes = try await (
            medianSeconds(seeded.cluster, ["where", wherePath(files)]),
            medianSeconds(reference.cluster, ["where", wherePath(reference.files)]))
        report.add(Figure(
            key: "bignode.where.seconds", title: "bignode: fsdfsd where PATH at \(files) files", unit: "s",
            fsdfs: whereTimes.0, peer: whereTimes.1, peerName: "at \(reference.files)", higherIsBetter: false,
            goal: .ratioAtLeast(0.8), note: "median of 5, process start included"))
    }

    /// The master's RSS now (goal < 200 MiB), beside the 1k-file cluster's master.
    private func masterRSS(_ seeded: Seeded, _ reference: Seeded, key: String, when: String, peerWhen: String?) throws -> Figure {
        Figure(
            key: key, title: "bignode: master RSS at \(seeded.files) files, \(when)", unit: "MiB",
            fsdfs: try seeded.cluster.master.server.residentMiB(),
            peer: try reference.cluster.master.server.residentMiB(),
            peerName: "at \(reference.files)" + (peerWhen.map { ", \($0)" } ?? ""),
            higherIsBetter: false, goal: .atMost(200))
    }

    /// Stops the big node (it leaves: its copies stop counting), starts it again, and returns
    /// the seconds from its start until the master counts every file again.
    private func restartSeconds(_ seeded: Seeded) async throws -> Double {
        let cluster = seeded.cluster
        progress("bignode: stopping the big node")
        await seeded.node.server.stop(timeout: context.timeout)
        try await poll("bignode: the master seeing the big node down", timeout: .seconds(120)) {
            try await cluster.status().nodes.contains { $0.address == seeded.node.address && !$0.alive }
        }
        progress("bignode: starting it again; timing until the master counts all \(seeded.files) files")
        let start = ContinuousClock.now
        try cluster.restart(seeded.node)
        return try await poll("bignode: all \(seeded.files) files counted again", from: start, timeout: context.timeout, interval: .milliseconds(200)) {
            let status = try await cluster.status()
            let node = status.nodes.first { $0.address == seeded.node.address }
            return node?.alive == true && status.files == seeded.files && status.underReplicated == 0
        }
    }

    /// How many times, polling `status` for `seconds`, the big node went from alive to down
    /// (counted again, it must stay counted: a node declared down after its inventory sends it
    /// all again).
    private func downEpisodes(_ seeded: Seeded, seconds: Double) async throws -> Int {
        progress("bignode: watching the big node for \(Int(seconds)) s after it is counted again")
        let end = ContinuousClock.now + .seconds(seconds)
        var episodes = 0
        var wasAlive = true
        while ContinuousClock.now < end {
            let alive = try await seeded.cluster.status().nodes.first { $0.address == seeded.node.address }?.alive ?? false
            if wasAlive, !alive { episodes += 1 }
            wasAlive = alive
            try await Task.sleep(for: .milliseconds(250))
        }
        return episodes
    }

    /// Restarts the master (its catalog kept, no `--recover`) and returns the seconds from its
    /// start until it has matched the big node's whole inventory again: the restarted master
    /// stays in safe mode until every node that was up has sent its inventory (the node's
    /// copies count meanwhile, as the catalog left them). Its log is no use here: the line of
    /// the node's own restart can land after it is read.
    private func masterRestartSeconds(_ seeded: Seeded) async throws -> Double {
        let cluster = seeded.cluster
        progress("bignode: restarting the master; timing until it has matched all \(seeded.files) files of the big node again")
        let start = ContinuousClock.now
        try await cluster.restartMaster()
        var sawSafeMode = false
        let seconds = try await poll(
            "bignode: the big node's inventory matched after the master's restart", from: start, timeout: context.timeout,
            interval: .milliseconds(200)
        ) {
            guard let status = try? await cluster.status() else { return false }
            if status.safeMode != nil { sawSafeMode = true }
            return status.safeMode == nil && status.files == seeded.files && status.underReplicated == 0
        }
        if !sawSafeMode { progress("bignode: the restarted master was never seen in safe mode (its nodes matched within one poll)") }
        return seconds
    }

    private func medianSeconds(_ cluster: BenchCluster, _ arguments: [String], runs: Int = 5) async throws -> Double {
        var times: [Double] = []
        for _ in 0..<runs {
            let result = try await cluster.run(arguments)
            guard result.succeeded else { throw CommandError("fsdfsd \(arguments.joined(separator: " ")) (cluster \(cluster.name))", result) }
            times.append(result.seconds)
        }
        return times.sorted()[runs / 2]
    }

    // MARK: Figure 5

    private func measureIdle(_ seeded: Seeded, reference: Seeded) async throws {
        let big = try await idlePassSeconds(seeded)
        let small = try await idlePassSeconds(reference)
        let missing = big == nil || small == nil
        report.add(Figure(
            key: "idle.planner_pass.seconds", title: "idle: planning pass that finds nothing, \(seeded.files) files", unit: "s",
            fsdfs: big, peer: small, peerName: "at \(reference.files)", higherIsBetter: false, goal: .ratioAtLeast(0.8),
            note: missing ? "the master exports no fsdfs_planner_pass_seconds yet" : "mean of the passes woken by 5 no-op undrains"))
    }

    /// The mean duration of the planning passes woken by a no-op `node undrain` (nothing to
    /// plan), from the master's fsdfs_planner_pass_seconds; nil when the metric is absent.
    private func idlePassSeconds(_ seeded: Seeded, wakes: Int = 5) async throws -> Double? {
        let cluster = seeded.cluster
        guard let metrics = try cluster.master.metrics else { throw BenchError("the master has no --metrics-listen") }
        guard let before = try await PlannerPassMetric.read(metrics, context: context) else { return nil }
        var last = before
        for wake in 1...wakes {
            try await cluster.cli("node", "undrain", seeded.node.address)
            try await poll("idle: planning pass \(wake) after a no-op undrain", timeout: .seconds(60)) {
                guard let now = try await PlannerPassMetric.read(metrics, context: context) else { return false }
                defer { last = now }
                return now.count > last.count
            }
        }
        let passes = last.count - before.count
        guard passes > 0 else { return nil }
        return (last.sum - before.sum) / passes
    }
}

/// The master's `fsdfs_planner_pass_seconds` (a histogram or summary): its `_sum` and
/// `_count` over every label set.
struct PlannerPassMetric {
    static let name = "fsdfs_planner_pass_seconds"
    var sum: Double
    var count: Double

    /// Scrapes `http://ADDRESS/metrics`; nil when the metric is not exported.
    static func read(_ address: String, context: BenchContext) async throws -> PlannerPassMetric? {
        let result = try await Shell.run("/usr/bin/curl", ["-sS", "-f", "http://\(address)/metrics"], scratch: context.work)
        guard result.succeeded else { throw CommandError("GET http://\(address)/metrics", result) }
        var sum: Double?
        var count: Double?
        for line in result.stdout.split(separator: "\n") where line.hasPrefix(name) {
            // NAME{LABELS} VALUE: the value is the last field (no timestamp in this export).
            guard let field = line.split(separator: " ").last, let value = Double(field) else { continue }
            let sample = String(line.prefix { $0 != "{" && $0 != " " })
            if sample == name + "_sum" { sum = (sum ?? 0) + value }
            if sample == name + "_count" { count = (count ?? 0) + value }
        }
        guard let sum, let count else { return nil }
        return PlannerPassMetric(sum: sum, count: count)
    }
}
