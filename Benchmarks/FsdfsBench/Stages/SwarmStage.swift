import Foundation

/// Figure 4, its last point: a master restart with several big nodes recovers without a
/// storm. Each of --swarm-nodes nodes holds --swarm-node-files files of its own (seeded into
/// its data directory and adopted by a `--recover` master, as in bignode); the master then
/// restarts, and every node sends its whole inventory at once.
struct SwarmStage {
    let context: BenchContext
    let report: Report

    static let prefix = "swarm"

    func run() async throws {
        let nodes = context.swarmNodes
        let perNode = context.swarmNodeFiles
        let total = nodes * perNode
        try await withCluster("swarm", context: context) { cluster in
            let names = (1...nodes).map { "n\($0)" }
            for name in names {
                progress("swarm: writing \(perNode) files into node \(name)'s data directory")
                try await Seeding.write(
                    count: perNode, size: context.bigNodeFileSize, under: cluster.dataDirectory(name), prefix: "\(Self.prefix)/\(name)")
                try cluster.joinSwarm(name)
            }
            try cluster.joinSwarm("master")
            progress("swarm: \(nodes) nodes join a --recover master; it adopts their \(total) files")
            let seedStart = ContinuousClock.now
            try await cluster.startMaster(NodeOptions(quota: "0", recover: true))
            var addresses: Set<String> = []
            for name in names { addresses.insert(try await cluster.startNode(name, wait: false).address) }
            try await poll("swarm: the master counting \(total) files", timeout: context.timeout, interval: .milliseconds(500)) {
                try await cluster.status().files == total
            }
            try await cluster.cli("safe-mode", "leave")
            try await cluster.waitUntilComplete(files: total, timeout: context.timeout)
            progress("swarm: seeded in \(String(format: "%.0f", (ContinuousClock.now - seedStart).seconds)) s")

            progress("swarm: restarting the master; timing until it has matched all \(nodes) inventories again")
            let start = ContinuousClock.now
            try await cluster.restartMaster()
            let seconds = try await poll(
                "swarm: every inventory matched after the master's restart", from: start, timeout: context.timeout,
                interval: .milliseconds(250)
            ) {
                guard let status = try? await cluster.status() else { return false }
                return status.safeMode == nil && status.files == total && status.underReplicated == 0
                    && status.nodes.filter(\.alive).count == nodes + 1
            }
            report.add(Figure(
                key: "swarm.master_restart.seconds",
                title: "swarm: the master restarts with \(nodes) nodes × \(perNode) files, until all matched", unit: "s",
                fsdfs: seconds, higherIsBetter: false, goal: .atMost(60)))

            progress("swarm: watching the nodes for 20 s")
            let end = ContinuousClock.now + .seconds(20)
            var downs = 0
            var alive = addresses
            while ContinuousClock.now < end {
                let now = Set(try await cluster.status().nodes.filter(\.alive).map(\.address)).intersection(addresses)
                downs += alive.subtracting(now).count
                alive = now
                try await Task.sleep(for: .milliseconds(250))
            }
            report.add(Figure(
                key: "swarm.down_after_restart", title: "swarm: nodes declared down in the 20 s after", unit: "times",
                fsdfs: Double(downs), higherIsBetter: false, goal: .atMost(1),
                note: "a node declared down sends its whole inventory again: more than 0 is a storm"))
            report.add(Figure(
                key: "swarm.master_rss.mib", title: "swarm: master RSS at \(total) files, restarted", unit: "MiB",
                fsdfs: try cluster.master.server.residentMiB(), higherIsBetter: false, goal: .atMost(200)))
        }
    }
}
