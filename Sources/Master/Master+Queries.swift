import Foundation
import ReplicaCore
import Transport

extension Master {
    /// `where PATH`: the file's figures and the alive nodes holding a verified copy.
    public func whereIs(_ path: VirtualPath) async throws -> WhereReply {
        guard let file = try await catalog.file(at: path) else {
            throw RouteError(.notFound, "\(path): no such file", code: "not_found")
        }
        let nodes = Dictionary(uniqueKeysWithValues: try await catalog.nodes().map { ($0.id, $0) })
        let live = try await catalog.replicas(of: file.id).filter { $0.state == .live && nodes[$0.node]?.alive == true }
        // A holder that has not moved the file since a rename has it under the old path:
        // named, and tried last.
        var heldAt: [String: VirtualPath] = [:]
        for replica in live {
            if let address = nodes[replica.node]?.address, let from = try await heldPaths(on: replica.node, of: [file])[file.id] {
                heldAt[address] = from
            }
        }
        let holders = live.compactMap { nodes[$0.node]?.address }.sorted { (heldAt[$0] == nil ? 0 : 1, $0) < (heldAt[$1] == nil ? 0 : 1, $1) }
        return WhereReply(
            path: file.path, size: file.size, sha256: file.sha256, n: file.n, k: file.k, kn: file.kn, nodes: holders,
            fileID: file.id, version: file.version, heldAt: heldAt.isEmpty ? nil : heldAt)
    }

    /// The entries of the directory `directory` (empty: the top) after `after`, up to
    /// `limit`: its files, and the subdirectories files lie under, in path order. `after` is
    /// the last name of the previous page, followed by `/` when it was a directory (whose
    /// files are then skipped). Each subdirectory costs one more range read of the path index.
    public func directory(_ directory: String, after: String?, limit: Int) async throws -> [DirEntry] {
        let base = directory.isEmpty ? "" : directory + "/"
        let limit = min(max(limit, 1), 10_000)
        var entries: [DirEntry] = []
        // The subdirectory whose files are being passed over.
        var skipping: String?
        var cursor: VirtualPath?
        if let after, !after.isEmpty {
            if after.hasSuffix("/") {
                let name = String(after.dropLast())
                skipping = name
                cursor = try Self.pastDirectory(base, name) ?? VirtualPath(base + name)
            } else {
                cursor = try VirtualPath(base + after)
            }
        }
        pages: while entries.count < limit {
            let page = try await catalog.listFiles(prefix: base, after: cursor, limit: 1000)
            guard !page.isEmpty else { break }
            for file in page {
                // Always forward: every page starts past the last path read.
                cursor = file.path
                let rest = file.path.rawValue.dropFirst(base.count)
                if let slash = rest.firstIndex(of: "/") {
                    let name = String(rest[..<slash])
                    if name == skipping { continue }
                    entries.append(DirEntry(name: name, directory: true, size: 0, modified: file.created.timeIntervalSince1970))
                    skipping = name
                    if entries.count == limit { break pages }
                    // Past its files in one step when that path is valid; else one by one.
                    if let past = Self.pastDirectory(base, name) {
                        cursor = past
                        continue pages
                    }
                    continue
                }
                entries.append(DirEntry(
                    name: String(rest), directory: false, size: file.size, modified: file.created.timeIntervalSince1970,
                    version: file.version, sha256: file.sha256))
                if entries.count == limit { break pages }
            }
            if page.count < 1000 { break }
        }
        return entries
    }

    /// A path after every file under `base + name + "/"` (U+10FFFF sorts after any other
    /// character), or nil when it would be too long to be a path.
    static func pastDirectory(_ base: String, _ name: String) -> VirtualPath? {
        try? VirtualPath(base + name + "/" + "\u{10FFFF}")
    }

    /// What `path` is: a file, a directory (some file lies under it), or nothing (empty).
    public func entry(_ path: VirtualPath) async throws -> [DirEntry] {
        if let file = try await catalog.file(at: path) {
            return [DirEntry(
                name: path.name, directory: false, size: file.size, modified: file.created.timeIntervalSince1970,
                version: file.version, sha256: file.sha256)]
        }
        if let inside = try await catalog.listFiles(prefix: path.rawValue + "/", after: nil, limit: 1).first {
            return [DirEntry(name: path.name, directory: true, size: 0, modified: inside.created.timeIntervalSince1970)]
        }
        return []
    }

    /// `ls [PREFIX]`, one page.
    public func list(prefix: String, after: VirtualPath?, limit: Int) async throws -> [ListEntry] {
        try await catalog.listFiles(prefix: prefix, after: after, limit: min(max(limit, 1), 10_000))
            .map { ListEntry(path: $0.path, size: $0.size, n: $0.n, k: $0.k) }
    }

    /// One page of the manifest under `prefix` (``ManifestEntry``): checksums, versions and
    /// the alive holders of up to `limit` files (at most 5,000), for `put -r` and `get -r`.
    public func manifest(prefix: String, after: VirtualPath?, limit: Int) async throws -> [ManifestEntry] {
        let files = try await catalog.listFiles(prefix: prefix, after: after, limit: min(max(limit, 1), 5_000))
        guard !files.isEmpty else { return [] }
        let nodes = Dictionary(uniqueKeysWithValues: try await catalog.nodes().map { ($0.id, $0) })
        // Where each node up that has not moved a renamed file holds it: one read per node.
        var held: [NodeID: [FileID: VirtualPath]] = [:]
        for node in nodes.values where node.alive {
            let paths = try await heldPaths(on: node.id, of: files)
            if !paths.isEmpty { held[node.id] = paths }
        }
        var entries: [ManifestEntry] = []
        entries.reserveCapacity(files.count)
        for file in files {
            let live = try await catalog.replicas(of: file.id).filter { $0.state == .live && nodes[$0.node]?.alive == true }
            var heldAt: [String: VirtualPath] = [:]
            for replica in live {
                if let path = held[replica.node]?[file.id], let address = nodes[replica.node]?.address { heldAt[address] = path }
            }
            let holders = live.compactMap { nodes[$0.node]?.address }
                .sorted { (heldAt[$0] == nil ? 0 : 1, $0) < (heldAt[$1] == nil ? 0 : 1, $1) }
            entries.append(ManifestEntry(
                path: file.path, size: file.size, sha256: file.sha256, fileID: file.id, version: file.version, nodes: holders,
                heldAt: heldAt.isEmpty ? nil : heldAt))
        }
        return entries
    }

    /// `status`: the health figure, totals, each node, and the replication backlog. While the
    /// catalog is unreachable it answers with the last figures it had, marked paused.
    public func status() async throws -> StatusReply {
        do {
            let reply = try await freshStatus()
            noteCatalogReachable()
            state.withLock { $0.lastStatus = reply }
            return reply
        } catch {
            guard noteCatalogFailure(error) else { throw error }
            var reply = state.withLock { $0.lastStatus } ?? StatusReply(
                master: address, minKn: nil, files: 0, bytes: 0, underReplicated: 0, nodes: [],
                replication: ReplicationStatus(copiesInFlight: 0, backlogBytes: 0, bytesPerSecond: 0, etaSeconds: nil, paused: nil))
            reply.replication.copiesInFlight = state.withLock { $0.copies.count }
            reply.replication.etaSeconds = nil
            reply.replication.paused = pausedReason
            if reply.underReplicated > 0, let paused = pausedReason {
                reply.replication.stuck = StuckReplication(.schedulerPaused(paused), files: reply.underReplicated)
            }
            return reply
        }
    }

    private func freshStatus() async throws -> StatusReply {
        let now = Date()
        let totals = try await catalog.totals()
        let figures = try await catalog.nodeFigures()
        let unaccounted = state.withLock { $0.strays() }
        let scrubs = state.withLock { $0.scrub }
        let records = try await catalog.nodes()
        let drains = try await drainStatus(of: records, now: now)
        let nodes = records.map { node in
            let figure = figures[node.id]
            let extra = unaccounted[node.id]
            return NodeStatus(
                id: node.id, address: node.address, alive: node.alive, quota: node.quota,
                used: figure?.used ?? node.used, free: node.free, files: figure?.files ?? 0,
                load: (node.load * 100).rounded() / 100, maxKn: figure?.maxKn,
                unaccountedFiles: extra?.count ?? 0, unaccountedBytes: extra?.reduce(0) { $0 + $1.size } ?? 0,
                scrub: scrubs[node.id], draining: node.draining, drain: drains[node.id],
                maintenanceUntil: node.inMaintenance(at: now) ? node.maintenanceUntil?.formatted(.iso8601) : nil)
        }
        let strays = unaccounted.values.joined()
        let refused = state.withLock { $0.refused.values.sorted { $0.address < $1.address } }
        // The counts by K and N are a handful of rows, whatever the number of files; only the
        // files most at risk are read, to say why the backlog does not move if it does not.
        let counts = try await catalog.replicationCounts()
        let backlog = counts.reduce(Int64(0)) { $0 + $1.missingBytes }
        let lost = counts.filter { $0.k == 0 }.reduce(0) { $0 + $1.files }
        let atRisk = try await catalog.underReplicated(limit: Self.statusDiagnoses)
        let (copies, rate) = state.withLock { ($0.copies.count, $0.rate(now: now)) }
        // No estimate for a backlog that cannot progress: the rate is that of copies past.
        let stuck = try await stuckBacklog(atRisk)
        let eta: Double? = backlog > 0 && rate > 0 && stuck == nil ? (Double(backlog) / rate).rounded() : nil
        return StatusReply(
            master: address, minKn: totals.minKn, files: totals.files, bytes: totals.bytes,
            underReplicated: totals.underReplicated, nodes: nodes,
            replication: ReplicationStatus(
                copiesInFlight: copies, backlogBytes: backlog, bytesPerSecond: rate.rounded(), etaSeconds: eta, paused: nil,
                stuck: stuck, maxBytesPerSecond: settings.maxReplicationRate),
            swarm: swarm, safeMode: try await safeModeStatus(), refused: refused,
            unaccountedFiles: strays.count, unaccountedBytes: strays.reduce(0) { $0 + $1.size },
            knHistogram: Self.histogram(counts), lostFiles: lost)
    }

    /// Files per value of K − N, from the counts by K and N.
    static func histogram(_ counts: [ReplicationCount]) -> [KnBucket] {
        Dictionary(counts.map { ($0.kn, $0.files) }, uniquingKeysWith: +).filter { $0.value > 0 }
            .map { KnBucket(kn: $0.key, files: $0.value) }.sorted { $0.kn < $1.kn }
    }

    /// The progress of every draining node (``DrainSurvey``, the planner's own measure), and
    /// why a drain cannot go on when it cannot.
    private func drainStatus(of records: [NodeRecord], now: Date) async throws -> [NodeID: DrainStatus] {
        let draining = records.filter(\.draining).map(\.id)
        guard !draining.isEmpty else { return [:] }
        let progress: [(NodeID, DrainProgress)]
        // Measuring reads every file a drain still needs: `status --watch` on a big drain must
        // not do it every second. Reused for 2 s, or five times as long as it took.
        if let cached = state.withLock({ $0.drainProgress }), cached.nodes == draining,
            now.timeIntervalSince(cached.at) < max(2, cached.took * 5)
        {
            progress = cached.progress
        } else {
            let survey = DrainSurvey(nodes: plannerNodes(records, now: now))
            let batch = settings.planner.batchSize
            progress = try await catalog.withPlannerView { queries in
                try draining.map { ($0, try survey.progress(of: $0, queries: queries, batchSize: batch)) }
            }
            let took = Date().timeIntervalSince(now)
            state.withLock { $0.drainProgress = (now, took, draining, progress) }
        }
        let (idle, copies) = state.withLock { ($0.lastPassIdle, $0.copies.count) }
        var result: [NodeID: DrainStatus] = [:]
        for (node, left) in progress {
            var blocked: String?
            if left.beyondSwarm > 0 {
                blocked = "\(left.beyondSwarm) file(s) need more copies than the other nodes can hold (too few nodes that are up, answering and not draining): add a node, or they keep fewer than N copies once this one stops"
            } else if left.filesLeft > 0, idle, copies == 0 {
                blocked = "no other node can take the copies now (no room under its quota, load at --max-load, or backing off after failures): add space or a node"
            }
            result[node] = DrainStatus(filesLeft: left.filesLeft, bytesLeft: left.bytesLeft, done: left.filesLeft == 0, blocked: blocked)
        }
        return result
    }

    /// `rm PATH`: writes the tombstone (the file stops counting and is never served again),
    /// then has every reachable holder remove its copy; the others do when they report.
    public func delete(_ path: VirtualPath) async throws -> DeleteReply {
        guard let file = try await catalog.deleteFile(at: path) else {
            throw RouteError(.notFound, "\(path): no such file", code: "not_found")
        }
        logger.info("deleted \(path) (version \(file.version))")
        var removed = 0
        var pending = 0
        for replica in try await catalog.replicas(of: file.id) {
            if try await pushRemovals(to: replica.node, only: [file.id]) > 0 { removed += 1 } else { pending += 1 }
        }
        _ = try await catalog.purgeTombstones()
        schedule.signal()
        return DeleteReply(path: path, removedFrom: removed, pending: pending)
    }

    /// Sends a node the removals it owes (all, or only those of `files`); forgets the replicas
    /// it confirms. Returns how many were confirmed; an unreachable node confirms none.
    @discardableResult
    func pushRemovals(to node: NodeID, only files: Set<FileID>? = nil) async throws -> Int {
        // Not while a move of these versions is on its way to the node (``moves``).
        try await moves.withLock { try await pushRemovalsHoldingLock(to: node, only: files) }
    }

    private func pushRemovalsHoldingLock(to node: NodeID, only files: Set<FileID>?) async throws -> Int {
        guard !inSafeMode, let record = try await catalog.node(node), record.alive else { return 0 }
        var owed = try await owedRemovals(node)
        if let files { owed = owed.filter { files.contains($0.fileID) } }
        guard !owed.isEmpty else { return 0 }
        do {
            let reply: RemoveReply = try await client.call(
                .POST, record.address, Route.remove, body: RemoveCommand(swarm: swarm, files: owed), timeout: .seconds(10))
            for ref in reply.gone { try await catalog.removeReplica(ref.fileID, from: node) }
            return reply.gone.count
        } catch {
            logger.notice("node \(node) could not remove \(owed.count) deleted files now (\(error)); it will when it reports")
            return 0
        }
    }
}
