import Foundation
import ReplicaCore
import Synchronization

/// One `fsdfsd serve` of a bench cluster.
struct FsdfsNode: Sendable {
    let name: String
    let address: String
    let data: URL
    /// `--metrics-listen` (the master only).
    let metrics: String?
    let server: ServerProcess
}

/// Options of a node started by ``BenchCluster``.
struct NodeOptions: Sendable {
    /// `--quota`: "0" makes a node (a master) that stores nothing.
    var quota = "20G"
    /// `--recover`: rebuild the (empty) catalog from the inventories of the nodes that join.
    var recover = false
    /// `--catalog` (master only); nil for SQLite in the master's data directory.
    var catalog: String?
}

/// A swarm of real `fsdfsd serve` processes on free loopback ports, in a directory of the
/// bench's work directory, driven with the real command line (`fsdfsd status --json` …).
final class BenchCluster: Sendable {
    let name: String
    let root: URL
    let context: BenchContext
    private let started = Mutex<[FsdfsNode]>([])
    private let masterNode = Mutex<FsdfsNode?>(nil)

    init(_ name: String, context: BenchContext) throws {
        self.name = name
        self.context = context
        root = context.work.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    var master: FsdfsNode {
        get throws {
            guard let node = masterNode.withLock({ $0 }) else { throw BenchError("cluster \(name) has no master yet") }
            return node
        }
    }

    var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["FSDFS_SECRET"] = BenchContext.secret
        environment["FSDFS_MASTER"] = (try? master.address) ?? "127.0.0.1:1"
        environment["XDG_CACHE_HOME"] = root.appendingPathComponent("cache").path
        return environment
    }

    /// The data directory a node called `name` uses (to seed it before it starts).
    func dataDirectory(_ name: String) -> URL { root.appendingPathComponent(name) }

    /// The swarm of this cluster's seeded data directories (see ``joinSwarm(_:)``).
    let swarm = UUID().uuidString.lowercased()

    /// Makes the data directory of node `name` one that already joined this cluster's swarm,
    /// as a node's directory is after its first accepted report: `.fsdfs/swarm-id` holds the
    /// swarm's id. A `--recover` master adopts only the files of nodes of its swarm; giving
    /// its own directory the same id names the swarm of the catalog it rebuilds.
    func joinSwarm(_ name: String) throws {
        let state = dataDirectory(name).appendingPathComponent(".fsdfs")
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        do {
            try (swarm + "\n").write(to: state.appendingPathComponent("swarm-id"), atomically: true, encoding: .utf8)
        } catch {
            throw BenchError("cannot write \(state.path)/swarm-id: \(error)")
        }
    }

    /// Starts a `--recover` master that stores nothing (`--quota 0`) and the node `name`,
    /// whose data directory was seeded, and waits until the master counts `files` files.
    func recoverFromSeededNode(_ name: String, files: Int, catalog: String? = nil) async throws -> FsdfsNode {
        try joinSwarm("master")
        try joinSwarm(name)
        try await startMaster(NodeOptions(quota: "0", recover: true, catalog: catalog))
        let node = try await startNode(name, timeout: context.timeout)
        try await poll("\(self.name): the master counting \(files) files", timeout: context.timeout, interval: .milliseconds(200)) {
            try await status().files == files
        }
        return node
    }

    /// Starts the master, with the bench's policies and a Prometheus port, and waits until it answers.
    @discardableResult
    func startMaster(_ options: NodeOptions = NodeOptions()) async throws -> FsdfsNode {
        let metrics = "127.0.0.1:\(try freePort())"
        var extra = [
            "--policies", context.policies.path, "--metrics-listen", metrics,
            // Every node shares this machine's load: keep load-based target selection out of the figures.
            "--max-load", "1000",
        ]
        if let catalog = options.catalog { extra += ["--catalog", catalog] }
        if options.recover { extra.append("--recover") }
        let node = try launch("master", quota: options.quota, extra: extra, metrics: metrics)
        masterNode.withLock { $0 = node }
        try await poll("\(name)/master serving on \(node.address)", timeout: .seconds(60)) {
            try ensureRunning(node)
            return try await status().master == node.address
        }
        return node
    }

    /// Starts a node joining the master; with `wait` it returns once the master
    /// lists it alive (its inventory was taken).
    @discardableResult
    func startNode(_ name: String, quota: String = "20G", wait: Bool = true, timeout: Duration = .seconds(120)) async throws -> FsdfsNode {
        let node = try launch(name, quota: quota, extra: ["--master", try master.address], metrics: nil)
        if wait { try await waitUntilAlive(node, timeout: timeout) }
        return node
    }

    func waitUntilAlive(_ node: FsdfsNode, timeout: Duration) async throws {
        try await poll("\(name)/\(node.name) alive at the master", timeout: timeout, interval: .milliseconds(100)) {
            try ensureRunning(node)
            return try await status().nodes.contains { $0.address == node.address && $0.alive }
        }
    }

    /// Starts `node` again with the same arguments (same data directory and address).
    func restart(_ node: FsdfsNode) throws {
        try node.server.start()
    }

    /// Stops the master (SIGTERM) and starts it again on the same data, address and catalog,
    /// as an operator restarts one: without `--recover`. Returns once it answers; its nodes
    /// then send their inventories again.
    @discardableResult
    func restartMaster() async throws -> FsdfsNode {
        let old = try master
        await old.server.stop(timeout: context.timeout)
        let server = ServerProcess(
            name: old.server.name, executable: old.server.executable,
            arguments: old.server.arguments.filter { $0 != "--recover" }, environment: old.server.environment, log: old.server.log)
        try server.start()
        let node = FsdfsNode(name: old.name, address: old.address, data: old.data, metrics: old.metrics, server: server)
        masterNode.withLock { $0 = node }
        started.withLock { $0.append(node) }
        try await poll("\(name)/master serving again on \(node.address)", timeout: .seconds(60)) {
            try ensureRunning(node)
            return try await status().master == node.address
        }
        return node
    }

    private func launch(_ name: String, quota: String, extra: [String], metrics: String?) throws -> FsdfsNode {
        let address = "127.0.0.1:\(try freePort())"
        let data = dataDirectory(name)
        let arguments = [
            "serve", "--data", data.path, "--listen", address, "--quota", quota, "--report-interval", "1",
        ] + extra
        let server = ServerProcess(
            name: "\(self.name)/\(name)", executable: context.fsdfsd, arguments: arguments, environment: environment,
            log: root.appendingPathComponent("\(name).log"))
        try server.start()
        let node = FsdfsNode(name: name, address: address, data: data, metrics: metrics, server: server)
        started.withLock { $0.append(node) }
        return node
    }

    private func ensureRunning(_ node: FsdfsNode) throws {
        guard node.server.isRunning else {
            throw ProcessExited(description: "\(name)/\(node.name) exited; its log ends with: \(node.server.logTail())")
        }
    }

    // MARK: The command line

    /// `fsdfsd ARGUMENTS` against this cluster's master, whatever its exit status.
    func run(_ arguments: [String]) async throws -> CommandResult {
        try await Shell.run(context.fsdfsd, arguments, environment: environment, scratch: context.work)
    }

    /// `fsdfsd ARGUMENTS` that must succeed.
    @discardableResult
    func cli(_ arguments: String...) async throws -> CommandResult {
        let result = try await run(arguments)
        guard result.succeeded else { throw CommandError("fsdfsd \(arguments.joined(separator: " ")) (cluster \(name))", result) }
        return result
    }

    func status() async throws -> StatusReply {
        let result = try await cli("status", "--json")
        return try decode(StatusReply.self, from: result, what: "fsdfsd status --json")
    }

    func whereIs(_ path: String) async throws -> WhereReply {
        let result = try await cli("where", path, "--json")
        return try decode(WhereReply.self, from: result, what: "fsdfsd where \(path) --json")
    }

    /// Waits until the catalog holds `files` files, every one with K ≥ N.
    func waitUntilComplete(files: Int, timeout: Duration) async throws {
        try await poll("\(name): \(files) files, all at K ≥ N", timeout: timeout, interval: .milliseconds(200)) {
            let status = try await status()
            return status.files == files && status.underReplicated == 0
        }
    }

    /// Stops every process of the cluster (clean stops, SIGKILL after a deadline).
    func stop() async {
        let nodes = started.withLock { $0 }
        await withTaskGroup(of: Void.self) { group in
            for node in nodes { group.addTask { await node.server.stop() } }
        }
    }
}

func decode<T: Decodable>(_ type: T.Type, from result: CommandResult, what: String) throws -> T {
    do {
        return try JSONDecoder().decode(type, from: Data(result.stdout.utf8))
    } catch {
        throw BenchError("\(what) printed what is not the expected JSON (\(error)): \(result.stdout.prefix(300))")
    }
}

/// Runs `body` with a new cluster, stopping it on every path.
func withCluster<T: Sendable>(
    _ name: String, context: BenchContext, _ body: (BenchCluster) async throws -> T
) async throws -> T {
    let cluster = try BenchCluster(name, context: context)
    do {
        let value = try await body(cluster)
        await cluster.stop()
        return value
    } catch {
        await cluster.stop()
        throw error
    }
}
