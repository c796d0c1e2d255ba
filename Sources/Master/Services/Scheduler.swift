import Foundation
import ReplicaCore
import ServiceLifecycle
import Slave
import Synchronization

/// The replication loop (ARCHITECTURE.md section 3). It sleeps until something happens —
/// an upload, a report that changes a node, a finished or failed copy, a node going down or
/// coming back, a back-off lapsing — then asks the planner for copies and runs them, each in
/// a child task, at most ``PlannerLimits/maxCopiesPerNode`` per target.
public struct Scheduler: Service {
    let master: Master

    /// How often a paused scheduler tries the catalog again.
    static let probeInterval = Duration.seconds(2)

    public init(master: Master) {
        self.master = master
    }

    public func run() async throws {
        let stopping = StopFlag()
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                while !Task.isCancelled && !stopping.isSet {
                    do {
                        let plans = try await planPass()
                        master.noteCatalogReachable()
                        for plan in plans {
                            group.addTask { await execute(plan) }
                        }
                    } catch {
                        if !master.noteCatalogFailure(error) {
                            master.logger.error("scheduler pass failed: \(error)")
                        }
                    }
                    let next = master.state.withLock { $0.nextExpiry(now: Date()) }
                    var timeout = next.map { Duration.milliseconds(Int64(max(10, $0.timeIntervalSinceNow * 1000))) }
                    // While the catalog is away, the next pass doubles as a probe.
                    if master.pausedReason != nil { timeout = min(timeout ?? Self.probeInterval, Self.probeInterval) }
                    await master.schedule.wait(timeout: timeout)
                }
                // Copies under way are abandoned; the catalog only ever recorded finished ones.
                group.cancelAll()
            }
        } onGracefulShutdown: {
            stopping.set()
            master.schedule.signal()
        }
    }

    /// One planning decision, booked in memory before the gate opens again.
    func planPass() async throws -> [CopyPlan] {
        try await master.placement.withLock {
            let nodes = try await master.plannerNodes()
            let inFlight = master.state.withLock { $0.inFlight(now: Date()) }
            let planner = master.planner
            let actions = try await master.catalog.withPlannerView { queries in
                try planner.plan(queries: queries, nodes: nodes, inFlight: inFlight)
            }
            let plans = actions.map { action in
                switch action {
                case .copy(let plan): plan
                }
            }
            for plan in plans {
                try await master.reserveEvictions(plan.evicting, on: plan.target)
                master.state.withLock { $0.copies[plan.file] = MasterState.ActiveCopy(plan: plan, started: Date()) }
            }
            return plans
        }
    }

    /// Runs one copy: evictions on the target first, then the target pulls from the source and
    /// verifies; K goes up only when the target confirms.
    func execute(_ plan: CopyPlan) async {
        defer {
            master.state.withLock { _ = $0.copies.removeValue(forKey: plan.file) }
            master.schedule.signal()
        }
        do {
            try await master.evict(plan.evicting, from: plan.target)
            guard let file = try await master.catalog.file(id: plan.file), !file.deleted else { return }
            let source = try await master.address(of: plan.source)
            let target = try await master.address(of: plan.target)
            let command = CopyCommand(fileID: file.id, path: file.path, size: file.size, sha256: file.sha256, source: source)
            let _: StoredReply = try await master.client.call(
                .POST, target, Route.copy, body: command, timeout: StorageNode.transferTimeout(file.size) + .seconds(30))
            // The file may have been deleted or replaced while it was copied.
            if let now = try await master.catalog.file(id: file.id), !now.deleted {
                try await master.catalog.setReplica(file.id, on: plan.target, state: .live)
            } else {
                try await master.catalog.setReplica(file.id, on: plan.target, state: .evicting)
                master.deletions.signal()
            }
            master.state.withLock { state in
                state.backoff[Placement(file: file.id, node: plan.target)] = nil
                state.recordFinished(bytes: file.size, at: Date())
            }
            master.logger.info("replicated \(file.path) to \(plan.target) (\(ByteSize.format(file.size)))")
        } catch {
            await failed(plan, error)
        }
    }

    private func failed(_ plan: CopyPlan, _ error: any Error) async {
        let failures = master.state.withLock { state -> Int in
            let key = Placement(file: plan.file, node: plan.target)
            let failures = (state.backoff[key]?.failures ?? 0) + 1
            // 5 s, 10 s, 20 s … up to 5 minutes.
            let wait = min(300, 5 * pow(2, Double(failures - 1)))
            state.backoff[key] = (Date().addingTimeInterval(wait), failures)
            return failures
        }
        master.logger.warning("copy of file \(plan.file) from \(plan.source) to \(plan.target) failed (\(failures)x): \(error)")
        // A source that sent bad bytes, or could not send, checks its copy; a corrupt one is
        // quarantined there and stops counting here, so the next try uses another source.
        if let error = error as? NodeCallError, ["source_corrupt", "source_failed"].contains(error.code) {
            await checkSource(plan)
        }
    }

    private func checkSource(_ plan: CopyPlan) async {
        do {
            guard let file = try await master.catalog.file(id: plan.file) else { return }
            let source = try await master.address(of: plan.source)
            let reply: VerifyReply = try await master.client.call(
                .POST, source, Route.verify, body: VerifyCommand(path: file.path), timeout: StorageNode.transferTimeout(file.size))
            if !reply.intact {
                try await master.catalog.removeReplica(file.id, from: plan.source)
                master.logger.error("replica of \(file.path) on \(plan.source) is corrupt or missing; it no longer counts")
            }
        } catch {
            master.logger.notice("could not check the source \(plan.source) of file \(plan.file): \(error)")
        }
    }
}

/// Set once, read from any task.
final class StopFlag: Sendable {
    private let flag = Mutex(false)
    var isSet: Bool { flag.withLock { $0 } }
    func set() { flag.withLock { $0 = true } }
}
