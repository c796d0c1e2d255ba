import Foundation
import ReplicaCore
import Transport

/// What the web dashboard shows, gathered from the master's figures. Every function here is
/// thin on purpose: the dashboard (`Sources/Dashboard`) serves them as JSON, and the place to
/// plug in a richer source (an event log, a stuck reason, more node states) is this file.
extension Master {
    /// The overview page: the health figure and what it means, totals, replication, and the
    /// K − N histogram when it is given.
    public func dashboardOverview(histogram: [KnBucket]?) async throws -> DashboardOverview {
        let status = try await status()
        let up = status.nodes.filter(\.alive)
        let (health, meaning) = Self.describeHealth(minKn: status.minKn, underReplicated: status.underReplicated)
        return DashboardOverview(
            master: status.master, swarm: status.swarm, minKn: status.minKn, health: health, meaning: meaning,
            files: status.files, bytes: status.bytes, underReplicated: status.underReplicated,
            nodesAlive: up.count, nodesTotal: status.nodes.count,
            used: up.reduce(0) { $0 + $1.used }, quota: up.reduce(0) { $0 + $1.quota },
            replication: status.replication, stuck: status.replication.stuck?.message ?? status.replication.paused,
            safeMode: status.safeMode,
            histogram: histogram, unaccountedFiles: status.unaccountedFiles, refusedNodes: status.refused?.count)
    }

    /// The health level and the sentence `status` prints for min(K − N).
    public static func describeHealth(minKn: Int?, underReplicated: Int) -> (HealthLevel, String) {
        switch minKn {
        case nil:
            (.empty, "The store is empty.")
        case let kn? where kn < 0:
            (.risk, "\(underReplicated) file\(underReplicated == 1 ? " has" : "s have") fewer copies than \(underReplicated == 1 ? "its" : "their") policy asks for.")
        case 0:
            (.exact, "Every file has exactly the copies its policy asks for, with no spare.")
        case let kn?:
            (.spare, "Every file has at least \(kn) cop\(kn == 1 ? "y" : "ies") more than its policy asks for.")
        }
    }

    /// The nodes page: each node's state, space, load, last report and scrubber.
    public func dashboardNodes() async throws -> [DashboardNode] {
        let now = Date()
        let status = try await status()
        let records = Dictionary(uniqueKeysWithValues: try await catalog.nodes().map { ($0.id, $0) })
        let fresh = state.withLock { $0.freshNodes(now: now, within: settings.freshFor) }
        return status.nodes.map { node in
            let state = if !node.alive { "down" } else if node.maintenanceUntil != nil { "maintenance" } else if node.draining == true {
                node.drain?.done == true ? "drained" : "draining"
            } else { fresh.contains(node.id) ? "up" : "silent" }
            return DashboardNode(
                id: node.id, address: node.address, state: state, alive: node.alive, quota: node.quota, used: node.used,
                free: node.free, files: node.files, load: node.load,
                lastReport: records[node.id].map { $0.lastReport.timeIntervalSince1970 }, maxKn: node.maxKn,
                unaccountedFiles: node.unaccountedFiles, scrub: node.scrub, drain: node.drain,
                maintenanceUntil: node.maintenanceUntil)
        }
        .sorted { $0.address < $1.address }
    }

    /// One page of the file browser: files whose path starts with `prefix`, after `after`.
    public func dashboardFiles(prefix: String, after: VirtualPath?, limit: Int) async throws -> DashboardFilePage {
        let limit = min(max(limit, 1), 500)
        let records = try await catalog.listFiles(prefix: prefix, after: after, limit: limit + 1)
        let page = Array(records.prefix(limit))
        let files = try await withHolders(page)
        return DashboardFilePage(prefix: prefix, files: files, next: records.count > limit ? page.last?.path.rawValue : nil)
    }

    /// Files below their replica count, most at risk first (lost files first of all), each
    /// with the reason it is not at N yet (as `fsdfsd at-risk`).
    public func dashboardAtRisk(limit: Int) async throws -> [DashboardFile] {
        let reply = try await atRisk(limit: min(max(limit, 1), 1000))
        return (reply.lost + reply.files).map { file in
            DashboardFile(
                path: file.path, size: file.size, n: file.n, k: file.k, kn: file.kn, holders: file.holders, version: nil,
                reason: file.reason, message: file.message)
        }
    }

    /// Events after `after` (the newest ones without it), oldest first: the master's event log.
    public func dashboardEvents(after: Int64?, limit: Int) async throws -> [DashboardEvent] {
        try await eventLog(after: after, limit: limit).map { event in
            var message = event.message
            if let address = event.address, !message.contains(address) { message = "\(address): \(message)" }
            return DashboardEvent(
                id: event.seq, at: event.time.timeIntervalSince1970, level: Self.eventLevel(event.kind), message: message,
                kind: event.kind.rawValue)
        }
    }

    /// How loud the page shows an event.
    static func eventLevel(_ kind: EventKind) -> String {
        switch kind {
        case .nodeRefused, .policyReloadFailed, .eventsDropped: "error"
        case .nodeDown, .replicaCorrupt, .replicaMissing, .catalogPaused, .safeModeOn: "warning"
        default: "info"
        }
    }

    /// One point of the health chart.
    public func dashboardSample() async throws -> HealthSample {
        let status = try await status()
        return HealthSample(
            t: Date().timeIntervalSince1970, minKn: status.minKn, backlogBytes: status.replication.backlogBytes,
            bytesPerSecond: status.replication.bytesPerSecond, underReplicated: status.underReplicated)
    }

    /// Files per K − N value, lowest first (the catalog keeps the counts).
    public func dashboardHistogram() async throws -> [KnBucket] {
        try await catalog.knHistogram()
    }

    /// Adds the alive nodes holding a live copy of each file.
    private func withHolders(_ records: [FileRecord]) async throws -> [DashboardFile] {
        let nodes = Dictionary(uniqueKeysWithValues: try await catalog.nodes().map { ($0.id, $0) })
        var files: [DashboardFile] = []
        for file in records {
            let holders = try await catalog.replicas(of: file.id)
                .filter { $0.state == .live && nodes[$0.node]?.alive == true }
                .compactMap { nodes[$0.node]?.address }
                .sorted()
            files.append(DashboardFile(
                path: file.path, size: file.size, n: file.n, k: file.k, kn: file.kn, holders: holders, version: file.version))
        }
        return files
    }
}
