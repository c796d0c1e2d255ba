import Foundation
import ReplicaCore
import Transport

/// A health report that explains itself: why files at risk are not being fixed (`fsdfsd
/// at-risk`), and for `status` whether the backlog can progress at all, and if not why and
/// what would fix it (``RepairDiagnosis`` decides, with the planner's own rules).
extension Master {
    /// Files read for `status` and `at-risk`, most at risk first (the backlog's own cap).
    static let atRiskScan = 100_000
    /// Files `status` diagnoses at most, most at risk first, looking for one that progresses.
    static let statusDiagnoses = 1_000

    struct Diagnosed {
        var file: FileRecord
        var reason: RepairReason
        var replicas: [ReplicaRecord]
    }

    /// The reason each of `files` (K < N) is not at N, with its replicas, from one consistent
    /// view of the catalog. With `untilProgressing`, stops after the first file that progresses.
    func diagnose(_ files: [FileRecord], untilProgressing: Bool = false) async throws -> [Diagnosed] {
        guard !files.isEmpty else { return [] }
        let now = Date()
        let nodes = plannerNodes(try await catalog.nodes(), now: now)
        let inFlight = state.withLock { $0.inFlight(now: now) }
        let planner = currentPlanner
        let paused = pausedReason
        return try await catalog.withPlannerView { queries in
            var diagnosis = planner.diagnosis(queries: queries, nodes: nodes, inFlight: inFlight, paused: paused)
            var out: [Diagnosed] = []
            for file in files {
                let replicas = try queries.replicas(of: file.id)
                let reason = try diagnosis.reason(for: FileState(id: file.id, size: file.size, n: file.n, k: file.k), replicas: replicas)
                out.append(Diagnosed(file: file, reason: reason, replicas: replicas))
                if untilProgressing && reason.progressing { break }
            }
            return out
        }
    }

    /// Why the backlog cannot progress, or nil when it can (or there is none). A copy in flight
    /// for a file at risk is progress; otherwise the files most at risk are diagnosed until one
    /// is found that the scheduler can copy.
    func stuckBacklog(_ atRisk: [FileRecord]) async throws -> StuckReplication? {
        guard !atRisk.isEmpty else { return nil }
        // A copy under way for a file that was under-replicated when it was planned: progress.
        if state.withLock({ $0.copies.values.contains { $0.order.file.k < $0.order.file.n } }) { return nil }
        let diagnosed = try await diagnose(Array(atRisk.prefix(Self.statusDiagnoses)), untilProgressing: true)
        guard let stuck = RepairReason.stuck(diagnosed.map { ($0.reason, $0.file.k > 0) }) else { return nil }
        return StuckReplication(stuck.reason, files: stuck.files)
    }

    /// `GET /v1/at-risk?limit=N`: files with K < N, lowest K − N first, then the biggest, with
    /// lost files (K = 0) apart; at most `limit` of each, each with its holders and the reason
    /// it is not being fixed.
    public func atRisk(limit: Int) async throws -> AtRiskReply {
        let limit = min(max(limit, 1), 10_000)
        // The under-replicated files are one end of the kn index: files at K ≥ N are not read.
        let records = try await catalog.underReplicated(limit: Self.atRiskScan)
            .sorted { ($0.kn, -$0.size, $0.path.rawValue) < ($1.kn, -$1.size, $1.path.rawValue) }
        let lost = records.filter { $0.k == 0 }
        let risky = records.filter { $0.k > 0 }
        let total = records.count < Self.atRiskScan ? records.count : try await catalog.totals().underReplicated
        let diagnosed = try await diagnose(Array(risky.prefix(limit)) + Array(lost.prefix(limit)))
        let nodes = Dictionary(uniqueKeysWithValues: try await catalog.nodes().map { ($0.id, $0) })
        let entries = diagnosed.map { entry in
            let live = entry.replicas.filter { $0.state == .live }
            let holders = live.filter { nodes[$0.node]?.alive == true }.compactMap { nodes[$0.node]?.address }.sorted()
            let down = live.filter { nodes[$0.node]?.alive != true }.map { nodes[$0.node]?.address ?? $0.node.rawValue }.sorted()
            return AtRiskFile(
                path: entry.file.path, size: entry.file.size, n: entry.file.n, k: entry.file.k, holders: holders,
                downHolders: down, reason: entry.reason.code, message: entry.reason.message())
        }
        return AtRiskReply(
            files: entries.filter { $0.k > 0 }, lost: entries.filter { $0.k == 0 }, filesTotal: total - lost.count,
            lostTotal: lost.count)
    }
}
