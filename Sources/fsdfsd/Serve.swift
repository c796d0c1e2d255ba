import ArgumentParser
import Dashboard
import Foundation
import Hummingbird
import NIOCore
import Logging
import Master
import ReplicaCore
import S3Gateway
import Transport
import ServiceLifecycle
import Slave

/// `fsdfsd serve`: runs a node; without `--master` (or with its own address) it is the master.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a storage node; without --master it is the master of a new swarm.")

    @Option(help: "Data directory: files are stored under their virtual paths, fsdfs's own state in DIR/.fsdfs.")
    var data: String

    @Option(help: "Address to listen on (HOST:PORT).")
    var listen: String = "127.0.0.1:4242"

    @Option(help: "Address other nodes and clients use to reach this node (default: --listen).")
    var advertise: String?

    @Option(help: "Another HOST:PORT clients or nodes reach this node by (a DNS name, a proxy); repeatable. Signed requests name the node they are for, and a node refuses those for a name it does not know as its own.")
    var alias: [String] = []

    @Option(help: "The master to join (HOST:PORT). Without it this node is the master.")
    var master: String?

    @Option(help: "Disk space this node may fill with replicas (bytes or K/M/G/T, powers of 1024). Default: 90% of the free space of the data directory's file system at start.")
    var quota: String?

    @Option(help: "Catalog of the master: sqlite:PATH or mongodb://… (default: sqlite in DIR/.fsdfs).")
    var catalog: String?

    @Option(help: "Directory of *.toml replica policies (master only). Re-read on SIGHUP.")
    var policies: String?

    @Option(help: "Seconds between reports to the master.")
    var reportInterval: Double = 10

    @Option(help: "Reports a node may miss before the master declares it down.")
    var missedReports: Int = 3

    @Option(help: "Evictions never take a file below N + this many copies.")
    var evictionFloor: Int = 0

    @Option(help: "Concurrent incoming copies per node.")
    var maxCopies: Int = 2

    @Option(help: "Master only: copies of files up to 1 MiB to one node go in batches of up to this many files (one command, one pull, one catalog write); two batches share one of the node's --max-copies slots. 1 copies every file alone.")
    var copyBatch: Int = 512

    @Option(help: "Nodes at or above this load (1-minute load per core + active transfers) receive no copies.")
    var maxLoad: Double = 4.0

    @Flag(help: "Rebuild an empty catalog from the inventories of the nodes that join (master only). The master stays in safe mode (no removals, no evictions) until `fsdfsd safe-mode leave`.")
    var recover = false
    @Option(help: "Bytes per second the background scrubber may read (bytes or K/M/G/T, powers of 1024); each file also counts as 64 KiB read, so small files go at most rate ÷ 64 KiB a second.")
    var scrubRate: String = "64M"

    @Option(help: "Seconds from the end of one full scrub pass to the start of the next.")
    var scrubInterval: Double = 604_800

    @Option(help: "Serve Prometheus metrics at http://HOST:PORT/metrics (https with --tls-cert). Plain HTTP without a signature (a Prometheus server cannot sign); the metrics name no file and carry no secret. Off unless given.")
    var metricsListen: String?

    @Option(help: "Master only: serve the S3-compatible API at http://HOST:PORT (path-style: http://HOST:PORT/BUCKET/KEY; https with --tls-cert), for the keys of `fsdfsd s3-key create`. Off unless given.")
    var s3Listen: String?

    @Option(help: "Master only: bytes per second the replication copies across the swarm may add up to (bytes or K/M/G/T, powers of 1024). Client uploads and reads are not limited. Default: no limit.")
    var maxReplicationRate: String?

    @Option(help: "Swarm password (prefer --secret-file, FSDFS_SECRET_FILE or FSDFS_SECRET: arguments are visible to other users).")
    var secret: String?

    @Option(help: "A file holding the swarm password, readable by its owner only (or FSDFS_SECRET_FILE).")
    var secretFile: String?

    @Option(help: "Master only: a file holding the --catalog location (a mongodb:// URI with its password), readable by its owner only (or FSDFS_CATALOG_FILE).")
    var catalogFile: String?

    @Option(help: "Serve TLS only (node port, S3 API, metrics) with this PEM certificate chain, leaf first; its subject alternative names must include the host or IP address of --advertise. With --tls-key; every node of the swarm then needs one.")
    var tlsCert: String?

    @Option(help: "The PEM private key of --tls-cert (not readable by other users).")
    var tlsKey: String?

    @Option(help: "With --tls-cert: the PEM CA certificates other nodes' certificates must lead to (default: the system's roots).")
    var tlsCa: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String = "info"

    /// Files per batch of the whole inventory a node sends its master; for tests (small
    /// batches make many of a small inventory).
    @Option(help: .hidden)
    var inventoryBatch: Int = Reporter.defaultBatchSize

    /// Connection caps (in all, per peer address) instead of those from the descriptor limit;
    /// for tests.
    @Option(help: .hidden)
    var maxConnections: Int?
    @Option(help: .hidden)
    var maxConnectionsPerPeer: Int?

    /// Seconds a connection may stay silent (between requests, or within a request's head or
    /// body) before it is closed; for tests (a slow body cut off without waiting two minutes).
    @Option(help: .hidden)
    var idleTimeout: Double = 120

    /// Master only: whole inventories matched at once; for tests.
    @Option(help: .hidden)
    var inventorySlots: Int = 2

    func validate() throws {
        guard reportInterval > 0 else { throw ValidationError("--report-interval must be above 0 seconds") }
        guard missedReports >= 1 else { throw ValidationError("--missed-reports must be at least 1") }
        guard inventoryBatch >= 1 else { throw ValidationError("--inventory-batch must be at least 1") }
        guard idleTimeout > 0 else { throw ValidationError("--idle-timeout must be above 0 seconds") }
        guard inventorySlots >= 1 else { throw ValidationError("--inventory-slots must be at least 1") }
        guard evictionFloor >= 0 else { throw ValidationError("--eviction-floor must be 0 or more") }
        guard maxCopies >= 1 else { throw ValidationError("--max-copies must be at least 1") }
        guard (1...BlobsRequest.maxFiles).contains(copyBatch) else {
            throw ValidationError("--copy-batch must be between 1 and \(BlobsRequest.maxFiles) files")
        }
        if catalog != nil, catalogFile != nil { throw ValidationError("give the catalog with --catalog or --catalog-file, not both") }
        if recover, let master, master != listen, master != (advertise ?? listen) {
            throw ValidationError("--recover rebuilds the master's catalog: give it to the master, not to a node joining --master \(master)")
        }
        _ = try Endpoint(listen, option: "--listen")
        if let advertise { _ = try Endpoint(advertise, option: "--advertise") }
        for name in alias { _ = try Endpoint(name, option: "--alias") }
        if let master { _ = try Endpoint(master, option: "--master") }
        if let metricsListen {
            let metrics = try Endpoint(metricsListen, option: "--metrics-listen", reachedBy: "a Prometheus server")
            guard metrics != (try Endpoint(listen, option: "--listen")) else {
                throw ValidationError("--metrics-listen \(metricsListen) is the address of --listen: give the metrics another port, e.g. 9242")
            }
        }
        if let s3Listen {
            let s3 = try Endpoint(s3Listen, option: "--s3-listen", reachedBy: "S3 clients")
            guard s3 != (try Endpoint(listen, option: "--listen")) else {
                throw ValidationError("--s3-listen \(s3Listen) is the address of --listen: give the S3 API another port, e.g. 9000")
            }
            if let metricsListen, s3 == (try Endpoint(metricsListen, option: "--metrics-listen")) {
                throw ValidationError("--s3-listen and --metrics-listen are the same address: give each its own port")
            }
            if let master, master != listen, master != (advertise ?? listen) {
                throw ValidationError("--s3-listen is served by the master: give it to the master, not to a node joining --master \(master)")
            }
        }
        guard let rate = try? ByteSize.parse(scrubRate), rate > 0 else {
            throw ValidationError("--scrub-rate \(scrubRate) is not a size above 0: use bytes per second or a K/M/G/T suffix, e.g. 64M")
        }
        guard scrubInterval > 0 else { throw ValidationError("--scrub-interval must be above 0 seconds, e.g. 604800 (a week)") }
        if let maxReplicationRate {
            guard let rate = try? ByteSize.parse(maxReplicationRate), rate > 0 else {
                throw ValidationError("--max-replication-rate \(maxReplicationRate) is not a size above 0: use bytes per second or a K/M/G/T suffix, e.g. 100M")
            }
        }
        if let quota, (try? ByteSize.parse(quota)) == nil {
            throw ValidationError("--quota \(quota) is not a size: use bytes or a K/M/G/T suffix, e.g. 500G")
        }
    }

    func run() async throws {
        let startedAt = Date()
        HeapRelease.limitArenas()
        // Uploads and copies at once each fsync their file: let the disk see them together.
        widenBlockingPool(to: 16)
        let tls: SwarmTLS?
        do {
            guard tlsCert != nil || tlsKey != nil || tlsCa == nil else {
                throw CommandFailure("--tls-ca needs --tls-cert and --tls-key: in a TLS swarm every node serves TLS")
            }
            tls = tlsCert == nil && tlsKey == nil ? nil : try SwarmTLS.load(certificate: tlsCert, privateKey: tlsKey, authority: tlsCa)
        } catch let error as TLSFileError {
            throw CommandFailure("\(error)")
        }
        let key = try await SwarmSecret.key(from: secret, file: secretFile)
        var logger = Logger(label: "fsdfsd")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let listenAt = try Endpoint(listen, option: "--listen")
        let metricsAt = try metricsListen.map { try Endpoint($0, option: "--metrics-listen", reachedBy: "a Prometheus server") }
        // Before any metric is made: those made earlier would record nothing.
        let export = metricsAt.map { _ in
            PrometheusExport.bootstrap(HTTPMetricsMiddleware.metrics + MasterMetrics.Metric.all + NodeMetrics.Metric.all)
        }
        let address = advertise ?? listen
        let isMaster = master == nil || master == listen || master == address
        let masterAddress = isMaster ? address : master!

        let nodeID: NodeID
        let dataSwarm: SwarmID?
        let store: BlobStore
        let lock: DataDirectoryLock
        do {
            try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
            lock = try DataDirectoryLock(data: data)
            nodeID = try NodeIdentity.loadOrCreate(data: data)
            dataSwarm = try SwarmMembership.load(data: data)
            store = try BlobStore(data: data, quota: try quota.map { try ByteSize.parse($0) } ?? Self.defaultQuota(data))
        } catch {
            throw CommandFailure("cannot use data directory \(data): \(error)")
        }
        logger[metadataKey: "node"] = "\(nodeID.rawValue.prefix(8))"
        let kept = (try? FileManager.default.contentsOfDirectory(atPath: data + "/.fsdfs/kept")) ?? []
        if !kept.isEmpty {
            logger.notice("\(kept.count) earlier versions are kept in \(data)/.fsdfs/kept: an upload replaced them and the master never answered whether it recorded that upload; fsdfs never deletes them (fsdfsd unaccounted lists them)")
        }
        let scan = try await store.scan()
        logger.info("node \(nodeID) on \(address), data \(data), quota \(ByteSize.format(store.quota)): \(scan.blobs.count) files (\(scan.trusted) unchanged, \(scan.rehashed) re-hashed, \(scan.quarantined) quarantined)")

        // Everything that can fail on bad input or an unreachable catalog comes before the
        // HTTP client, which must be shut down once made.
        let catalogAt = try catalogLocation()
        let policySet = isMaster ? try loadPolicies() : .builtin
        let catalog: (any Catalog)? = isMaster
            ? try await Self.openCatalog(catalogAt, master: (nodeID, address), logger: logger) : nil
        // Claimed for this master when opened; dropped at a clean stop.
        let claimed = catalog as? MongoCatalog

        let http = SignedClient.makeHTTPClient(tls: tls)
        let client = SignedClient(http: http, key: key, tls: tls)
        // What was signed before this start is refused: the replay cache starts empty.
        let verifier = RequestVerifier(
            key: key, names: Self.names(listen: listenAt, advertise: address, aliases: alias), notBefore: startedAt)
        let node = StorageNode(
            id: nodeID, swarm: dataSwarm, address: address, master: masterAddress, store: store, client: client,
            verifier: verifier, logger: logger)

        let router = makeNodeRouter()
        // First, so that it times whole requests and sees the status the client gets.
        router.middlewares.add(HTTPMetricsMiddleware())
        router.middlewares.add(ErrorMiddleware())
        router.middlewares.add(SigningMiddleware(verifier: verifier))
        node.addRoutes(to: router)

        var services: [any Service] = []
        var masterRole: Master?
        var dashboard: Dashboard?
        if let catalog {
            var settings = MasterSettings(
                catalog: catalogAt, policies: policies, reportInterval: reportInterval,
                missedReports: missedReports,
                planner: {
                    var limits = PlannerLimits(maxCopiesPerNode: maxCopies, maxLoad: maxLoad, evictionFloor: evictionFloor)
                    limits.batchFiles = copyBatch
                    return limits
                }(),
                recover: recover, maxReplicationRate: try maxReplicationRate.map { try ByteSize.parse($0) })
            settings.inventorySlots = inventorySlots
            settings.s3SealKey = key.derivedKey(for: S3SecretSeal.purpose)
            let role = Master(
                catalog: catalog, settings: settings,
                policies: policySet, address: address, client: client, logger: logger)
            role.addRoutes(to: router)
            masterRole = role
            dashboard = Dashboard(master: role, key: key, client: client, logger: logger)
        }

        // `/ui/` is the dashboard's (with its own login); every other path stays signed.
        // Connections: at most half the descriptors the process may open in all (the rest is
        // for files and the node's own calls), and a share of that per peer address, so one
        // peer's idle sockets cannot crowd out the others.
        let descriptors = FileDescriptorLimit.raise()
        let limits = ConnectionLimits(
            total: maxConnections ?? max(64, min(16_384, descriptors / 2)),
            perPeer: maxConnectionsPerPeer ?? max(32, min(1024, descriptors / 8)), logger: logger)
        let app = Application(
            responder: DashboardDispatch(signed: router.buildResponder(), dashboard: dashboard?.makeRouter().buildResponder()),
            // A connection that sends nothing for two minutes (between requests, or a request's
            // head or body that stalls) is closed: idle sockets do not pile up. Twice the
            // signed clients' own idle time, so a pooled connection is never reused as it closes.
            server: try tls.server(.init(additionalChannelHandlers: [limits.handler()], idleTimeout: .milliseconds(Int64(idleTimeout * 1000)))),
            configuration: .init(address: .hostname(listenAt.host, port: listenAt.port), serverName: nil),
            logger: logger)
        services.append(app)
        if let metricsAt, let export {
            let sources: [any MetricsSource] = [node] + (masterRole.map { [$0] } ?? [])
            services.append(try MetricsServer(host: metricsAt.host, port: metricsAt.port, tls: tls, export: export, sources: sources, logger: logger))
        }
        if let masterRole {
            do {
                try await masterRole.start(dataSwarm: dataSwarm)
            } catch {
                await claimed?.release()
                try? await http.shutdown()
                throw CommandFailure("cannot start the master: \(error)")
            }
            // Before the services that record events: stopped after them, it writes their last ones.
            services.append(EventWriter(master: masterRole))
            services.append(Scheduler(master: masterRole))
            services.append(LivenessMonitor(master: masterRole))
            services.append(DeletionPusher(master: masterRole))
            if let dashboard { services.append(HealthSampler(dashboard: dashboard)) }
            if let policies { services.append(PolicyReloader(master: masterRole, directory: policies)) }
            if let s3Listen {
                let s3At = try Endpoint(s3Listen, option: "--s3-listen", reachedBy: "S3 clients")
                let gateway = S3Gateway(master: masterRole, client: client, spool: data + "/.fsdfs/s3-spool", logger: logger)
                services.append(S3Server(gateway: gateway, host: s3At.host, port: s3At.port, tls: tls, limits: limits, logger: logger))
            }
        }
        services.append(Scrubber(node: node, configuration: .init(
            bytesPerSecond: try ByteSize.parse(scrubRate), interval: .milliseconds(Int64(scrubInterval * 1000)))))
        // Last, so it stops first: a leaving node tells its master while its server still runs.
        services.append(Reporter(
            node: node, interval: .milliseconds(Int64(reportInterval * 1000)), leavesOnShutdown: !isMaster,
            batchSize: inventoryBatch))

        let group = ServiceGroup(
            configuration: .init(services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            await claimed?.release()
            try? await http.shutdown()
            throw CommandFailure("node stopped: \(error)")
        }
        await claimed?.release()
        try? await http.shutdown()
        withExtendedLifetime(lock) {}
    }

    /// What this node answers to (see ``NodeNames``): its listening and advertised addresses,
    /// its aliases, and, listening on every interface, each interface's address, the host's
    /// name and localhost at the listening port; listening on loopback, localhost and 127.0.0.1.
    static func names(listen: Endpoint, advertise: String, aliases: [String]) -> NodeNames {
        var names = [listen.description, advertise] + aliases
        let host = listen.host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).lowercased()
        func at(_ host: String) -> String { host.contains(":") ? "[\(host)]:\(listen.port)" : "\(host):\(listen.port)" }
        if ["0.0.0.0", "::", ""].contains(host) {
            names += ["localhost", "127.0.0.1", "::1"].map(at)
            // The machine's own name, whole and short, as `hostname` gives it.
            let hostName = ProcessInfo.processInfo.hostName
            names += [hostName, String(hostName.prefix { $0 != "." })].filter { !$0.isEmpty }.map(at)
            for device in (try? System.enumerateDevices()) ?? [] {
                if let ip = device.address?.ipAddress { names.append(at(ip)) }
            }
        } else if ["localhost", "127.0.0.1", "::1"].contains(host) {
            names += ["localhost", "127.0.0.1"].map(at)
        }
        return NodeNames(names)
    }

    private func catalogLocation() throws -> CatalogLocation {
        var catalog = self.catalog
        if catalog == nil, let file = catalogFile ?? ProcessInfo.processInfo.environment["FSDFS_CATALOG_FILE"] {
            catalog = try SecretFile.read(file, what: "catalog")
        }
        guard let catalog else { return .embedded(data: data) }
        do {
            return try CatalogLocation(parsing: catalog)
        } catch {
            throw CommandFailure("--catalog \(catalog): \(error)")
        }
    }

    private func loadPolicies() throws -> PolicySet {
        guard let policies else { return .builtin }
        do {
            return try PolicySet.load(directory: policies)
        } catch {
            throw CommandFailure(error.description)
        }
    }

    /// Opens the catalog. SQLite opens on a thread of its own (opening runs migrations
    /// synchronously); MongoDB runs its blocking calls on its connection's own queue, and is
    /// claimed for `master` first: one master per database.
    static func openCatalog(
        _ location: CatalogLocation, master: (node: NodeID, address: String), logger: Logger
    ) async throws -> any Catalog {
        switch location {
        case .sqlite(let path):
            return try await withCheckedThrowingContinuation { continuation in
                Thread.detachNewThread {
                    do {
                        continuation.resume(returning: try SQLiteCatalog(path: path))
                    } catch {
                        continuation.resume(throwing: CommandFailure("cannot open the catalog \(path): \(error)"))
                    }
                }
            }
        case .mongodb(let uri):
            do {
                let catalog = try await MongoCatalog(uri: uri, master: master)
                logger.info("catalog: \(catalog.summary)")
                return catalog
            } catch {
                throw CommandFailure("cannot open the catalog \(location): \(error)")
            }
        }
    }

    /// 90% of the free space of the file system holding `data`.
    static func defaultQuota(_ data: String) throws -> Int64 {
        let attributes = try FileManager.default.attributesOfFileSystem(forPath: data)
        let free = (attributes[.systemFreeSize] as? NSNumber)?.int64Value ?? 0
        return free / 10 * 9
    }
}

/// The process's limit on open file descriptors.
enum FileDescriptorLimit {
    /// Raises the soft limit to the hard one (a server needs descriptors for its connections
    /// and its files); the limit now in force.
    static func raise() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return Int(clamping: limit.rlim_cur)
    }
}
