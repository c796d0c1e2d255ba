import Foundation
import ReplicaCore
import Transport

/// Copies of small files from one source to one target, carried out together: one
/// `POST /v1/copy-batch` to the target, which pulls them all from the source in one request
/// and answers per file; their landing is recorded in one catalog write. Each file keeps the
/// rules of a single copy (its own outcome, back-off, source check).
struct CopyBatch: Sendable {
    var orders: [CopyOrder]
    var source: String
    var target: String
    var targetNode: NodeID
}

extension CopyOrder {
    /// Splits a pass's orders into those that go alone (large files, and copies that need
    /// evictions first) and batches of small files by (source, target), each of at most
    /// ``PlannerLimits/batchFiles`` files and ``PlannerLimits/batchBytes`` bytes. A batch of one
    /// goes alone.
    static func batches(of orders: [CopyOrder], limits: PlannerLimits) -> (single: [CopyOrder], batches: [CopyBatch]) {
        var single: [CopyOrder] = []
        var groups: [Pair: [CopyOrder]] = [:]
        var order: [Pair] = []
        for copy in orders {
            guard limits.isBatched(copy.file.size), copy.evictions.isEmpty else {
                single.append(copy)
                continue
            }
            let key = Pair(source: copy.plan.source, target: copy.plan.target)
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(copy)
        }
        var batches: [CopyBatch] = []
        for key in order {
            var current: [CopyOrder] = []
            var bytes: Int64 = 0
            func close() {
                guard let first = current.first else { return }
                if current.count == 1 {
                    single.append(first)
                } else {
                    batches.append(CopyBatch(orders: current, source: first.source, target: first.target, targetNode: first.plan.target))
                }
                current = []
                bytes = 0
            }
            for copy in groups[key]! {
                if current.count >= limits.batchFiles || bytes + copy.file.size > limits.batchBytes { close() }
                current.append(copy)
                bytes += copy.file.size
            }
            close()
        }
        return (single, batches)
    }

    private struct Pair: Hashable {
        var source: NodeID
        var target: NodeID
    }
}

extension Scheduler {
    /// Runs a batch: the versions the target still has to remove read once, one command, then
    /// every file's outcome — the landed ones recorded live in one catalog write, the failed
    /// ones forgotten on the target and backed off as a single copy's failure would be.
    func execute(batch: CopyBatch) async {
        let target = batch.targetNode
        defer {
            master.state.withLock { state in
                for order in batch.orders { state.copies.removeValue(forKey: order.plan.placement) }
            }
            master.schedule.signal()
        }
        // Older versions of the paths the target still has to remove may be replaced by the copies.
        let pending: [VirtualPath: [VersionRef]]
        let held: [FileID: VirtualPath]
        do {
            // In safe mode nothing is removed, not even by a replacement.
            let deletions = master.inSafeMode ? [] : try await master.catalog.pendingDeletions(on: target)
            pending = Dictionary(grouping: deletions, by: \.path).mapValues { $0.map(VersionRef.init) }
            held = try await master.heldPaths(on: batch.orders[0].plan.source, of: batch.orders.map(\.file))
        } catch {
            // Not commanded: the copies the catalog records as under way are not.
            await forget(batch.orders, on: target)
            await failed(batch.orders.map(\.plan), error)
            return
        }
        let command = CopyBatchCommand(
            source: batch.source, swarm: master.swarm,
            files: batch.orders.map { order in
                let file = order.file
                return BatchedCopy(
                    fileID: file.id, path: file.path, size: file.size, sha256: file.sha256, version: file.version,
                    created: file.created, replaces: pending[file.path] ?? [], sourcePath: held[file.id])
            })
        let bytes = batch.orders.reduce(Int64(0)) { $0 + $1.file.size }
        let reply: CopyBatchReply
        do {
            reply = try await master.client.call(
                .POST, batch.target, Route.copyBatch, body: command, timeout: SignedClient.transferTimeout(bytes) + .seconds(30))
            guard reply.files.count == batch.orders.count,
                  zip(reply.files, batch.orders).allSatisfy({ $0.fileID == $1.file.id })
            else {
                throw NodeCallError.badReply(address: batch.target, message: "the answer to a batch of \(batch.orders.count) files does not list them in order")
            }
        } catch {
            if let error = error as? NodeCallError, case .rejected = error {
                // The node answered: it holds none of them.
                await forget(batch.orders, on: target)
            } else {
                // No answer: the node's next inventory says which copies landed.
                master.state.withLock { _ = $0.inventoryWanted.insert(target) }
            }
            await failed(batch.orders.map(\.plan), error)
            return
        }

        var landed: [CopyOrder] = []
        var refused: [(CopyOrder, CopyOutcome)] = []
        for (order, outcome) in zip(batch.orders, reply.files) {
            if outcome.stored { landed.append(order) } else { refused.append((order, outcome)) }
        }
        if !landed.isEmpty {
            do {
                // Versions deleted or replaced while they were copied: their tombstones list
                // the copies as pending deletion already (the catalog records them so).
                let notCounting = try await master.catalog.setReplicas(
                    landed.map { ReplicaRecord(file: $0.file.id, node: target, state: .live) })
                if !notCounting.isEmpty { master.deletions.signal() }
                let now = Date()
                master.state.withLock { state in
                    for order in landed {
                        state.backoff[Placement(file: order.file.id, node: target)] = nil
                        state.recordFinished(bytes: order.file.size, at: now)
                        state.noteLanded(order.file.id, on: target, at: now)
                    }
                }
                for order in landed { master.metrics.copySucceeded(bytes: order.file.size) }
                let landedBytes = landed.reduce(Int64(0)) { $0 + $1.file.size }
                master.logger.info(
                    "replicated \(landed.count) files to \(target) from \(batch.orders[0].plan.source) (\(ByteSize.format(landedBytes)))\(refused.isEmpty ? "" : "; \(refused.count) failed")")
                for order in landed where !notCounting.contains(order.file.id) { await master.noteCopied(order.file.id) }
            } catch {
                // Landed on the node but not recorded: its next inventory counts them.
                master.state.withLock { _ = $0.inventoryWanted.insert(target) }
                await failed(landed.map(\.plan), error)
            }
        }
        if !refused.isEmpty {
            // The node answered for each: it does not hold it.
            await forget(refused.map(\.0), on: target)
            // A corrupt source copy is checked file by file (each is quarantined there and
            // stops counting here); other failures are backed off together, by reason.
            var byCode: [String: [(CopyOrder, CopyOutcome)]] = [:]
            for item in refused { byCode[item.1.code ?? "copy_failed", default: []].append(item) }
            for (code, items) in byCode {
                let error = NodeCallError.rejected(
                    address: batch.target, status: 502, reply: ErrorReply(error: items[0].1.error ?? "copy failed", code: code))
                if code == "source_corrupt" || items.count == 1 {
                    for (order, _) in items { await failed(order.plan, error) }
                } else {
                    await failed(items.map(\.0.plan), error)
                }
            }
        }
    }

    /// Forgets the copies the catalog records as under way on `node` (they are not); what the
    /// catalog cannot be told now, the node's next inventory settles.
    private func forget(_ orders: [CopyOrder], on node: NodeID) async {
        for order in orders {
            if (try? await master.catalog.removeReplica(order.file.id, from: node)) == nil {
                master.state.withLock { _ = $0.inventoryWanted.insert(node) }
                return
            }
        }
    }

    /// A whole batch failed: each file is backed off as a failed single copy is, with one log line.
    private func failed(_ plans: [CopyPlan], _ error: any Error) async {
        guard let first = plans.first else { return }
        master.logger.warning("batch of \(plans.count) copies from \(first.source) to \(first.target) failed: \(error)")
        let now = Date()
        master.state.withLock { state in
            for plan in plans {
                let key = Placement(file: plan.file, node: plan.target)
                let failures = (state.backoff[key]?.failures ?? 0) + 1
                // 5 s, 10 s, 20 s … up to 5 minutes, as for a single copy.
                state.backoff[key] = (now.addingTimeInterval(min(300, 5 * pow(2, Double(failures - 1)))), failures)
            }
        }
        for _ in plans { master.metrics.copyFailed() }
        if let error = error as? NodeCallError, ["source_corrupt", "source_failed"].contains(error.code) {
            await checkSource(first)
        }
    }
}
