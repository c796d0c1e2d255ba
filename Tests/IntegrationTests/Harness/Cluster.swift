import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix
import ReplicaCore
import Transport
import Slave
import Synchronization
import TestSupport

/// Where a test cluster's master keeps its catalog.
enum CatalogKind: String, CustomStringConvertible, Sendable, CaseIterable {
    /// The embedded default: SQLite in the master's data directory.
    case sqlite
    /// MongoDB: a database of its own on the shared test server.
    case mongodb

    var description: String { rawValue }
}

/// A swarm of real `fsdfsd serve` processes on free loopback ports, with temporary data
/// directories and `--report-interval 1`. Tests drive it with the real command line and read
/// its state through the signed HTTP API.
final class Cluster: Sendable {
    static let secret = "integration-secret"
    /// The scrypt cost every process of a test cluster derives the key with
    /// (`FSDFS_DEBUG_SCRYPT_ROUNDS`, honoured by debug builds only): cheap, because the suite
    /// starts hundreds of processes. The real cost is covered by SwarmKey's own tests.
    /// (A release build ignores the variable: against one, the real cost.)
    #if DEBUG
    static let scryptRounds = 16
    #else
    static let scryptRounds = SwarmKey.scryptRounds
    #endif
    /// The swarm key of ``secret`` at ``scryptRounds``.
    static let key = try! SwarmKey(password: secret, scryptRounds: scryptRounds)
    let root: URL
    let reportInterval: Double
    private let nodes = Mutex<[NodeProcess]>([])
    private let masterAddress = Mutex<String?>(nil)
    let http: HTTPClient
    let client: SignedClient

    /// `--catalog` for the master, nil for the embedded default.
    let catalogURI: String?

    /// A TLS swarm's files (every node serves with them), or nil for plain HTTP.
    let tls: TestCertificates?

    init(reportInterval: Double = 1, catalogURI: String? = nil, root: URL? = nil, tls: TestCertificates? = nil) throws {
        self.catalogURI = catalogURI
        self.root = root ?? Self.makeRoot()
        try FileManager.default.createDirectory(at: self.root, withIntermediateDirectories: true)
        self.reportInterval = reportInterval
        self.tls = tls
        let swarmTLS = try tls.map { try SwarmTLS.load(certificate: nil, privateKey: nil, authority: $0.authority.path) }
        http = SignedClient.makeHTTPClient(tls: swarmTLS)
        client = SignedClient(http: http, key: Self.key, tls: swarmTLS)
    }

    static func makeRoot() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("fsdfs-it-\(UUID().uuidString.prefix(8))")
    }

    var master: String { masterAddress.withLock { $0 ?? "127.0.0.1:1" } }

    var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["FSDFS_SECRET"] = Self.secret
        environment["FSDFS_DEBUG_SCRYPT_ROUNDS"] = String(Self.scryptRounds)
        environment["FSDFS_MASTER"] = master
        environment["XDG_CACHE_HOME"] = root.appendingPathComponent("cache").path
        environment["FSDFS_TLS_CA"] = tls?.authority.path
        return environment
    }

    /// Starts a node; the first one started without `master: false` semantics is the master.
    /// `address` is a free one from ``freeAddresses(_:)`` when a test needs to know the order
    /// of addresses beforehand, a new free one otherwise.
    @discardableResult
    func start(
        _ name: String, quota: String = "100M", asMaster: Bool = false, extra: [String] = [], address: String? = nil
    ) async throws -> NodeProcess {
        let address = if let address { address } else { "127.0.0.1:\(try await Self.freePort())" }
        let data = root.appendingPathComponent(name)
        var arguments = [
            "serve", "--data", data.path, "--listen", address, "--quota", quota,
            "--report-interval", String(reportInterval),
        ]
        if asMaster {
            masterAddress.withLock { $0 = address }
            // Every node of a test cluster shares this machine's load average, which a busy CI
            // host can push past the default limit and so stall replication for reasons no test
            // is about. Load-based target selection is covered by the planner tests.
            arguments += ["--max-load", "1000"]
            if let catalogURI { arguments += ["--catalog", catalogURI] }
        } else {
            arguments += ["--master", master]
        }
        if let tls {
            arguments += ["--tls-cert", tls.certificate.path, "--tls-key", tls.privateKey.path, "--tls-ca", tls.authority.path]
        }
        arguments += extra
        let node = NodeProcess(
            name: name, address: address, data: data, log: root.appendingPathComponent("\(name).log"), arguments: arguments)
        try node.start(environment: environment)
        nodes.withLock { $0.append(node) }
        try await waitUntilServing(node)
        return node
    }

    /// Restarts a stopped node with the same data directory and address.
    func restart(_ node: NodeProcess) async throws {
        try node.start(environment: environment)
        try await waitUntilServing(node)
    }

    /// Starts a process in `node`'s place (same address) with its arguments changed: another
    /// data directory, another `--catalog`, more options. With `wait` false it returns at once
    /// (for a process expected to refuse to start).
    @discardableResult
    func relaunch(
        _ node: NodeProcess, name: String? = nil, data: URL? = nil, catalog: String? = nil, extra: [String] = [],
        wait: Bool = true
    ) async throws -> NodeProcess {
        var arguments = node.arguments
        let name = name ?? node.name
        let data = data ?? node.data
        if let index = arguments.firstIndex(of: "--data") { arguments[index + 1] = data.path }
        if let catalog {
            if let index = arguments.firstIndex(of: "--catalog") {
                arguments[index + 1] = catalog
            } else {
                arguments += ["--catalog", catalog]
            }
        }
        arguments += extra
        let process = NodeProcess(
            name: name, address: node.address, data: data, log: root.appendingPathComponent("\(name).log"), arguments: arguments)
        try process.start(environment: environment)
        nodes.withLock { $0.append(process) }
        if wait { try await waitUntilServing(process) }
        return process
    }

    /// `put`s many files, a few at a time.
    func putMany(_ files: [(local: URL, remote: String)], width: Int = 4) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            var pending = files[...]
            for _ in 0..<width {
                guard let first = pending.popFirst() else { break }
                group.addTask { try await self.put(first.local, first.remote) }
            }
            while try await group.next() != nil {
                if let next = pending.popFirst() { group.addTask { try await self.put(next.local, next.remote) } }
            }
        }
    }

    /// `ls --json` of everything.
    func list() async throws -> [ListEntry] {
        let result = try await cli("ls", "--json")
        guard result.status == 0 else { throw HarnessError("ls failed: \(result.stderr)") }
        return try JSONDecoder().decode([ListEntry].self, from: Data(result.stdout.utf8))
    }

    func waitUntilServing(_ node: NodeProcess) async throws {
        try await eventually("\(node.name) serving on \(node.address)", timeout: .seconds(60)) {
            guard node.isRunning else {
                throw HarnessError("\(node.name) exited: \(node.logText().suffix(2000))")
            }
            let _: NodeHealth = try await client.call(.GET, node.address, Route.health, timeout: .seconds(2))
            return true
        }
    }

    // MARK: Reading the master

    func status() async throws -> StatusReply {
        try await client.call(.GET, master, Route.status, timeout: .seconds(10))
    }

    func whereIs(_ path: String) async throws -> WhereReply? {
        do {
            return try await client.call(.GET, master, Route.whereIs(try VirtualPath(path)), timeout: .seconds(10))
        } catch NodeCallError.rejected(_, 404, _) {
            return nil
        }
    }

    func node(_ node: NodeProcess) async throws -> NodeStatus? {
        try await status().nodes.first { $0.address == node.address }
    }

    /// Waits until every node started is reported alive.
    func waitForNodes(_ count: Int) async throws {
        try await eventually("\(count) nodes alive") {
            try await status().nodes.filter(\.alive).count == count
        }
    }

    // MARK: The command line

    func cli(_ arguments: String...) async throws -> Fsdfsd.Result {
        try await Fsdfsd.run(arguments, environment: environment)
    }

    func cli(arguments: [String], environment extra: [String: String] = [:]) async throws -> Fsdfsd.Result {
        try await Fsdfsd.run(arguments, environment: environment.merging(extra) { $1 })
    }

    /// Writes a local file of `size` pseudo-random bytes and returns its URL.
    func localFile(_ name: String, size: Int, seed: UInt8 = 1) throws -> URL {
        let url = root.appendingPathComponent("local").appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        var state = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(size)
        var bytes = [UInt8](repeating: 0, count: size)
        for i in 0..<size {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            bytes[i] = UInt8(truncatingIfNeeded: state >> 33)
        }
        try Data(bytes).write(to: url)
        return url
    }

    /// `put` that must succeed.
    func put(_ local: URL, _ remote: String) async throws {
        let result = try await cli("put", local.path, remote)
        guard result.status == 0 else { throw HarnessError("put \(remote) failed: \(result.stderr)") }
    }

    /// Every node's log so far, one after the other.
    func logs() -> String {
        nodes.withLock { $0 }.map { $0.logText() }.joined(separator: "\n")
    }

    // MARK: Teardown

    /// Stops every process and removes the directory; on failure the logs are printed first.
    /// With FSDFS_KEEP_LOGS=DIR in the environment, every node's whole log is copied to
    /// DIR/<this cluster's directory name>/ first (a failed `#expect` throws nothing, so a
    /// run investigated afterwards keeps them all).
    func shutdown(printLogs: Bool) async {
        let all = nodes.withLock { $0 }
        if let keep = ProcessInfo.processInfo.environment["FSDFS_KEEP_LOGS"], !keep.isEmpty {
            let directory = URL(fileURLWithPath: keep).appendingPathComponent(root.lastPathComponent)
            try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            for node in Set(all.map(\.log)) {
                try? FileManager.default.copyItem(at: node, to: directory.appendingPathComponent(node.lastPathComponent))
            }
        }
        if printLogs {
            for node in all {
                print("----- \(node.name) (\(node.address)) log, last 4000 characters -----")
                print(node.logText().suffix(4000))
            }
        }
        await withTaskGroup(of: Void.self) { group in
            for node in all { group.addTask { await node.crash() } }
        }
        try? await http.shutdown()
        try? FileManager.default.removeItem(at: root)
    }

    /// `count` distinct free loopback addresses, in the order the master sorts addresses
    /// (`where` lists holders in that order, and `get` tries them in turn).
    static func freeAddresses(_ count: Int) async throws -> [String] {
        var addresses: Set<String> = []
        while addresses.count < count { addresses.insert("127.0.0.1:\(try await freePort())") }
        return addresses.sorted()
    }

    /// A free TCP port on loopback, from the kernel.
    static func freePort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress!.port!
        try await channel.close()
        return port
    }
}

/// Runs a test body against a fresh cluster, always tearing it down (with logs on failure).
func withCluster(
    reportInterval: Double = 1, catalog: CatalogKind = .sqlite, _ body: (Cluster) async throws -> Void
) async throws {
    var uri: String?
    if catalog == .mongodb {
        uri = try await MongoTestServer.shared().uri(database: "fsdfs_it_\(UUID().uuidString.prefix(8))")
    }
    try await withCluster(reportInterval: reportInterval, catalogURI: uri, body)
}

/// A cluster whose master uses the catalog at `catalogURI`.
func withCluster(
    reportInterval: Double = 1, catalogURI: String?, _ body: (Cluster) async throws -> Void
) async throws {
    let cluster = try Cluster(reportInterval: reportInterval, catalogURI: catalogURI)
    try await run(cluster, body)
}

/// A cluster whose nodes all serve TLS, with a CA and a certificate for 127.0.0.1 made by
/// openssl for it (``TestCertificates``); its commands and its own client trust that CA.
func withTLSCluster(_ body: (Cluster) async throws -> Void) async throws {
    let root = Cluster.makeRoot()
    let tls = try await TestCertificates.make(in: root.appendingPathComponent("tls"))
    try await run(try Cluster(root: root, tls: tls), body)
}

private func run(_ cluster: Cluster, _ body: (Cluster) async throws -> Void) async throws {
    do {
        try await body(cluster)
        await cluster.shutdown(printLogs: false)
    } catch {
        await cluster.shutdown(printLogs: true)
        throw error
    }
}
