import Foundation
import ReplicaCore
import ServiceLifecycle
import Transport
import Synchronization

/// The replication loop (ARCHITECTURE.md section 3). It sleeps until something happens —
/// an upload, a report that changes a node, a finished or failed copy, a node going down or
/// coming back, a back-off lapsing, a maintenance window ending, the rate limit affording the
/// next copy — then asks the planner for copies and runs them, each in a child task, at most
/// ``PlannerLimits/maxCopiesPerNode`` per target. Copies of small files from one source to
/// one target go together as a batch (``CopyBatch``): one command, one pull, one catalog
/// write; batches share slots (``PlannerLimits/batchesPerSlot``), so the next pass plans the
/// next batch while others are under way. With `--max-replication-rate` it starts
/// only what the budget allows (``ReplicationRateLimiter``, planner rule 10).
public struct Scheduler: Service {
    let master: Master

    /// How often a paused scheduler tries the catalog again.
    static let probeInterval = Duration.seconds(2)
    /// Longest sleep between passes when nothing signals.
    static let recheckInterval = Duration.seconds(2)

    public init(master: Master) {
        self.master = master
    }

    public func run() async throws {
        let stopping = StopFlag()
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                while !Task.isCancelled && !stopping.isSet {
                    // Expiries are looked for from here: one that lapses while the pass runs
                    // (seen by it as not yet lapsed) still wakes the next pass.
                    let passStarted = Date()
                    do {
                        let orders = try await planPass()
                        master.noteCatalogReachable()
                        let (single, batches) = CopyOrder.batches(of: orders, limits: master.currentPlanner.limits)
                        for order in single {
                            group.addTask { await execute(order) }
                        }
                        for batch in batches {
                            group.addTask { await execute(batch: batch) }
                        }
                    } catch {
                        if !master.noteCatalogFailure(error) {
                            master.logger.error("scheduler pass failed: \(error)")
                        }
                    }
                    let next = master.state.withLock { $0.nextExpiry(now: passStarted) }
                    var timeout = next.map { Duration.milliseconds(Int64(max(10, $0.timeIntervalSinceNow * 1000))) }
                    // While the catalog is away, the next pass doubles as a probe.
                    if master.pausedReason != nil { timeout = min(timeout ?? Self.probeInterval, Self.probeInterval) }
                    // Never asleep for long: every change of the planner's inputs signals, and
                    // a pass whose inputs did not change is skipped (rule 11) for the cost of
                    // reading the nodes, so a wake-up missed by mistake costs seconds, not
                    // files left short of copies until something else happens.
                    // (Not while the rate limit holds copies back: that pass was not idle, and
                    // the budget's own wake-up is in `next`.)
                    if master.state.withLock({ $0.budgetWake == nil }) {
                        timeout = min(timeout ?? Self.recheckInterval, Self.recheckInterval)
                    }
                    await master.schedule.wait(timeout: timeout)
                }
                // Copies under way are abandoned: the catalog records them as copying, and the
                // nodes' next inventories say which landed.
                group.cancelAll()
            }
        } onGracefulShutdown: {
            stopping.set()
            master.schedule.signal()
        }
    }

    /// One planning pass: read without the placement lock (an upload never waits for a pass
    /// to read the catalog), then checked against the uploads granted meanwhile and booked in
    /// memory under the lock. A pass whose inputs have not changed since a pass that found
    /// nothing is skipped (``Planner`` rule 11).
    func planPass() async throws -> [CopyOrder] {
        let clock = ContinuousClock.now
        let now = Date()
        // Read first: a write that lands while the pass reads makes the next pass look again.
        let writes = master.timedCatalog.writes
        let records = try await master.catalog.nodes()
        let nodes = master.plannerNodes(records, now: now)
        let addresses = Dictionary(uniqueKeysWithValues: records.map { ($0.id, $0.address) })
        let planner = master.currentPlanner
        let (inFlight, budget, granted, skip, renames) = master.state.withLock { state in
            let inFlight = state.inFlight(now: now)
            let inputs = PlanningInputs(nodes: nodes, inFlight: inFlight, limits: planner.limits, catalogWrites: writes)
            return (inFlight, state.rateLimiter?.budget(at: now), state.grantedBytes, state.idleInputs == inputs, state.renames)
        }
        if skip {
            master.metrics.planned(.skipped, took: ContinuousClock.now - clock)
            return []
        }
        let (plan, files) = try await master.catalog.withPlannerView { queries in
            let plan = try planner.plan(queries: queries, nodes: nodes, inFlight: inFlight, budget: budget)
            return (plan, try queries.records(of: CopyOrder.files(of: plan.actions)))
        }
        master.metrics.planned(plan.isIdle ? .idle : .work, took: ContinuousClock.now - clock)
        // A node's maintenance window that ends may receive copies again: look then.
        let windowEnds = records.compactMap(\.maintenanceUntil).filter { $0 > now }.min()
        if plan.isIdle {
            master.state.withLock { state in
                state.idleInputs = PlanningInputs(nodes: nodes, inFlight: inFlight, limits: planner.limits, catalogWrites: writes)
                state.lastPassIdle = true
                state.budgetWake = nil
                state.maintenanceWake = windowEnds
            }
            return []
        }
        return try await master.placement.withLock {
            let orders = master.state.withLock { state -> [CopyOrder] in
                state.idleInputs = nil
                // A rename since the read: the paths planned may be old ones. The next pass
                // (woken by the rename) plans again.
                guard state.renames == renames else { return [] }
                let orders = Self.stillFitting(
                    CopyOrder.resolve(plan.actions, records: files, addresses: addresses), plan: plan,
                    grantedBefore: granted, grantedNow: state.grantedBytes,
                    evicting: Set(state.evictions.keys))
                let started = orders.reduce(Int64(0)) { $0 + $1.plan.size }
                if started > 0 { state.rateLimiter?.spend(started, at: now) }
                state.budgetWake = plan.heldBack.flatMap { state.rateLimiter?.whenAffordable($0, at: now) }
                state.maintenanceWake = windowEnds
                state.lastPassIdle = false
                return orders
            }
            do {
                for order in orders {
                    master.state.withLock { $0.copies[order.plan.placement] = MasterState.ActiveCopy(order: order, started: Date()) }
                    try await master.reserveEvictions(order.evictions)
                }
                // Recorded before the command goes out, so that a master restart finds the copy
                // and the node's next inventory settles it (counted, or forgotten). One write
                // for the whole pass.
                if !orders.isEmpty {
                    _ = try await master.catalog.setReplicas(
                        orders.map { ReplicaRecord(file: $0.plan.file, node: $0.plan.target, state: .copying) })
                    master.state.withLock { state in
                        for order in orders { state.copies[order.plan.placement]?.recorded = true }
                    }
                }
            } catch {
                await rollBack(orders)
                throw error
            }
            // Copies dropped for an upload granted meanwhile: plan again at once.
            let planned = plan.actions.filter { if case .copy = $0 { true } else { false } }.count
            if orders.count < planned { master.schedule.signal() }
            return orders
        }
    }

    /// The orders of a pass that still hold once the uploads granted while it read the
    /// catalog are counted: a node granted more than the room the pass left there
    /// (``Plan/slack``) gets none of the pass's copies, and neither does a copy whose
    /// eviction an upload took meanwhile. What is dropped, the next pass plans again.
    static func stillFitting(
        _ orders: [CopyOrder], plan: Plan, grantedBefore: [NodeID: Int64], grantedNow: [NodeID: Int64],
        evicting: Set<Placement>
    ) -> [CopyOrder] {
        orders.filter { order in
            let target = order.plan.target
            let granted = (grantedNow[target] ?? 0) - (grantedBefore[target] ?? 0)
            if granted > 0, granted > plan.slack[target] ?? 0 { return false }
            return !order.evictions.contains { evicting.contains(Placement(file: $0.plan.file, node: $0.plan.node)) }
        }
    }

    /// Undoes the bookings of a pass that failed half-way (the catalog went away): nothing was
    /// commanded, so the victims still hold their copies and the targets have none. What the
    /// catalog cannot be told now, the nodes' next inventories settle.
    private func rollBack(_ orders: [CopyOrder]) async {
        for order in orders {
            let (copy, evicting) = master.state.withLock { state in
                let copy = state.copies.removeValue(forKey: order.plan.placement)
                let evicting = order.evictions.filter { state.evictions.removeValue(forKey: Placement(file: $0.plan.file, node: $0.plan.node)) != nil }
                return (copy, evicting)
            }
            do {
                for eviction in evicting {
                    try await master.catalog.setReplica(eviction.plan.file, on: eviction.plan.node, state: .live)
                }
                if copy?.recorded == true { try await master.catalog.removeReplica(order.plan.file, from: order.plan.target) }
            } catch {
                master.state.withLock { state in
                    state.inventoryWanted.insert(order.plan.target)
                }
            }
        }
    }

    /// Runs one copy: evictions on the target first, then the target pulls from the source and
    /// verifies; K goes up only when the target confirms.
    func execute(_ order: CopyOrder) async {
        let plan = order.plan, file = order.file
        defer {
            master.state.withLock { _ = $0.copies.removeValue(forKey: plan.placement) }
            master.schedule.signal()
        }
        do {
            try await master.evict(order.evictions, makingRoomFor: file.path)
            // Older versions of the path the target still has to remove may be replaced by the copy.
            let replaces: [VersionRef]
            let sourcePath: VirtualPath?
            do {
                // In safe mode nothing is removed, not even by a replacement.
                replaces = master.inSafeMode
                    ? [] : try await master.catalog.pendingDeletions(on: plan.target).filter { $0.path == file.path }.map(VersionRef.init)
                sourcePath = try await master.heldPaths(on: plan.source, of: [file])[file.id]
            } catch {
                // Not commanded: the copy the catalog records as under way is not.
                if (try? await master.catalog.removeReplica(file.id, from: plan.target)) == nil {
                    master.state.withLock { _ = $0.inventoryWanted.insert(plan.target) }
                }
                throw error
            }
            let command = CopyCommand(
                fileID: file.id, path: file.path, size: file.size, sha256: file.sha256, source: order.source,
                version: file.version, created: file.created, replaces: replaces, swarm: master.swarm, sourcePath: sourcePath)
            do {
                let _: StoredReply = try await master.client.call(
                    .POST, order.target, Route.copy, body: command, timeout: SignedClient.transferTimeout(file.size) + .seconds(30))
            } catch let error as NodeCallError {
                if case .rejected = error {
                    // The node answered: it does not hold the copy.
                    try? await master.catalog.removeReplica(file.id, from: plan.target)
                } else {
                    // No answer: the node's next inventory says whether the copy landed.
                    master.state.withLock { _ = $0.inventoryWanted.insert(plan.target) }
                }
                throw error
            }
            // The file may have been deleted or replaced while it was copied: its tombstone
            // then lists the copy as pending deletion already.
            if let now = try await master.catalog.file(id: file.id), !now.deleted {
                try await master.catalog.setReplica(file.id, on: plan.target, state: .live)
            } else {
                master.deletions.signal()
            }
            master.state.withLock { state in
                state.backoff[Placement(file: file.id, node: plan.target)] = nil
                state.recordFinished(bytes: file.size, at: Date())
                state.noteLanded(file.id, on: plan.target, at: Date())
            }
            master.metrics.copySucceeded(bytes: file.size)
            master.logger.info("replicated \(file.path) to \(plan.target) (\(ByteSize.format(file.size)))")
            await master.noteCopied(file.id)
        } catch {
            await failed(plan, error)
        }
    }

    func failed(_ plan: CopyPlan, _ error: any Error) async {
        master.metrics.copyFailed()
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

    func checkSource(_ plan: CopyPlan) async {
        do {
            guard let file = try await master.catalog.file(id: plan.file) else { return }
            let source = try await master.address(of: plan.source)
            // A source that has not moved a renamed file yet holds it under the old path: the
            // copy asked for the new one. Checked where it is.
            let held = try await master.catalog.pendingMoves(on: plan.source).first { $0.file.id == file.id }?.from ?? file.path
            let reply: VerifyReply = try await master.client.call(
                .POST, source, Route.verify, body: VerifyCommand(path: held), timeout: SignedClient.transferTimeout(file.size))
            if !reply.intact {
                let counted = try await master.catalog.replicas(of: file.id).contains { $0.node == plan.source && $0.state == .live }
                try await master.catalog.removeReplica(file.id, from: plan.source)
                master.logger.error("replica of \(file.path) on \(plan.source) is corrupt or missing; it no longer counts")
                // Its own report may have said so first; then that recorded the event.
                if counted, !file.deleted {
                    master.noteDamaged(
                        file, on: plan.source, address: source,
                        damage: ReplicaDamage(
                            file: FileRef(fileID: file.id, path: file.path), kind: ReplicaDamage.corrupt,
                            detail: "it did not verify when a copy from it failed"))
                }
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
