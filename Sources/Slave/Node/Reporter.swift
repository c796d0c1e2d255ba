import Foundation
import Logging
import ReplicaCore
import Transport
import ServiceLifecycle

/// Reports this node to the master every report interval: load, quota, used, and holdings
/// (the full inventory on join and whenever the master asks, deltas otherwise). Carries out
/// the removals and adoptions the master answers with. On graceful shutdown it tells the master
/// the node is leaving, so its replicas stop counting at once.
public struct Reporter: Service {
    let node: StorageNode
    let interval: Duration
    let leavesOnShutdown: Bool
    /// Files per inventory batch (``InventoryBatch``).
    let batchSize: Int

    /// Files per inventory batch by default: a request of about 5 MiB, matched by the master
    /// in well under a second.
    public static let defaultBatchSize = 20_000
    /// Bytes of paths and checksums per batch, whatever `batchSize` says: long paths make
    /// smaller batches, so that a request stays far below the master's body limit.
    static let batchBytes = 8 << 20

    /// - Parameter leavesOnShutdown: tell the master on graceful shutdown (false for the
    ///   master's own storage role).
    /// - Parameter batchSize: files per inventory batch.
    public init(node: StorageNode, interval: Duration, leavesOnShutdown: Bool = true, batchSize: Int = Reporter.defaultBatchSize) {
        self.node = node
        self.interval = interval
        self.leavesOnShutdown = leavesOnShutdown
        self.batchSize = max(1, batchSize)
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var sendInventory = true
            var failures = 0
            var refused = false
            var retry = Duration.milliseconds(100)
            var keptSent: [KeptVersion]?
            while !Task.isCancelled {
                do {
                    let (reply, kept) = try await report(inventory: sendInventory, keptSent: keptSent)
                    keptSent = kept
                    guard try await node.accept(swarm: reply.swarm) else {
                        throw NodeCallError.rejected(
                            address: node.master, status: 409, reply: ErrorReply(error: "swarm \(reply.swarm.map { "\($0)" } ?? "unknown")", code: "foreign_swarm"))
                    }
                    if failures > 0 || refused { node.logger.notice("master \(node.master) reachable again") }
                    failures = 0
                    refused = false
                    retry = .milliseconds(100)
                    sendInventory = reply.sendInventory
                    await apply(reply)
                    if reply.sendInventory { continue }
                } catch let error as NodeCallError where error.code == "foreign_swarm" {
                    if Task.isCancelled { break }
                    // Said once, not at every report: the operator has to act.
                    if !refused { node.logger.error("\(node.foreignSwarmMessage(master: node.master, theirs: nil))") }
                    refused = true
                    sendInventory = true
                    await node.reportSoon.wait(timeout: interval)
                    continue
                } catch {
                    if Task.isCancelled { break }  // shutting down, not a failure
                    failures += 1
                    // First failure and then every tenth: the master may be down for a while.
                    if failures == 1 || failures % 10 == 0 {
                        node.logger.warning("report to master \(node.master) failed (\(failures)x): \(error)")
                    }
                    sendInventory = true
                    // Retry soon at first (the master may be starting), then every interval.
                    await node.reportSoon.wait(timeout: min(retry, interval))
                    retry = min(retry * 2, interval)
                    continue
                }
                await node.reportSoon.wait(timeout: interval)
            }
        }
        if leavesOnShutdown { await leave() }
    }

    /// Sends one report, or the whole inventory in batches. Returns the master's reply and the
    /// kept versions it now knows of.
    private func report(inventory: Bool, keptSent: [KeptVersion]?) async throws -> (NodeReportReply, [KeptVersion]?) {
        if inventory {
            do {
                return try await streamInventory()
            } catch let error as NodeCallError where error.status == 404 {
                // A master that predates batches: the whole inventory in one body.
                node.logger.notice("master \(node.master) takes no inventory batches: sending the whole inventory at once")
                return try await report(wholeInventory: true, keptSent: keptSent)
            }
        }
        return try await report(wholeInventory: false, keptSent: keptSent)
    }

    private func report(wholeInventory inventory: Bool, keptSent: [KeptVersion]?) async throws -> (NodeReportReply, [KeptVersion]?) {
        let changes = node.takeChanges()
        let held = inventory ? await node.store.inventory().map(HeldFile.init) : nil
        var kept: [KeptVersion]?
        do {
            kept = try await node.store.keptVersions()
        } catch {
            node.logger.error("cannot list the versions kept aside: \(error)")
        }
        let report = NodeReport(
            node: node.id, swarm: node.swarm, address: node.address, quota: node.store.quota, used: await node.store.used(),
            load: node.load(), inventory: held, added: inventory ? [] : changes.added, removed: changes.removed,
            scrub: node.scrubbing.status(), kept: inventory || kept != keptSent ? kept : nil,
            damaged: changes.damaged.isEmpty ? nil : changes.damaged, instance: node.instance)
        do {
            let reply: NodeReportReply = try await node.client.call(.POST, node.master, Route.report, body: report, timeout: .seconds(30))
            return (reply, kept ?? keptSent)
        } catch {
            if !inventory { node.restoreChanges(added: changes.added, removed: changes.removed, damaged: changes.damaged) }
            throw error
        }
    }

    /// Sends the whole inventory in batches (``InventoryBatch``), reading the store a page at a
    /// time, and applies each batch's adoptions as it goes. Waits its turn when the master is
    /// busy with other inventories; starts again when the master lost the stream (it restarted).
    /// Returns a reply with the removals the last batch answered.
    private func streamInventory() async throws -> (NodeReportReply, [KeptVersion]?) {
        var restarts = 0
        while true {
            do {
                return try await streamInventoryOnce()
            } catch let error as NodeCallError where error.code == "inventory_restart" && restarts < 3 {
                restarts += 1
                node.logger.notice("the master asks for the whole inventory again: \(error)")
            }
        }
    }

    private func streamInventoryOnce() async throws -> (NodeReportReply, [KeptVersion]?) {
        let changes = node.takeChanges()
        var kept: [KeptVersion]?
        do {
            kept = try await node.store.keptVersions()
        } catch {
            node.logger.error("cannot list the versions kept aside: \(error)")
        }
        let header = NodeReport(
            node: node.id, swarm: node.swarm, address: node.address, quota: node.store.quota, used: await node.store.used(),
            load: node.load(), inventory: nil, removed: changes.removed, scrub: node.scrubbing.status(), kept: kept,
            damaged: changes.damaged.isEmpty ? nil : changes.damaged, instance: node.instance)
        let session = UUID().uuidString.lowercased()
        var sequence = 0
        var total = 0
        var waits = 0
        let started = ContinuousClock.now
        var page = try await nextBatch(after: nil)
        while true {
            let files = page.files
            let done = page.next == nil
            let batch = InventoryBatch(
                node: node.id, session: session, sequence: sequence, report: sequence == 0 ? header : nil, files: files,
                done: done, total: done ? total + files.count : nil)
            // The next page is read while the master matches this one (pages are disjoint
            // ranges of paths: this batch's adoptions, applied below, never touch it).
            let cursor = page.next
            async let following: (files: [HeldFile], next: String?)? = done ? nil : nextBatch(after: cursor)
            let reply: InventoryBatchReply
            do {
                reply = try await node.client.call(.POST, node.master, Route.inventory, body: batch, timeout: .seconds(120))
            } catch let error as NodeCallError where error.code == "inventory_busy" {
                // Other nodes' inventories first: try again a little later, at a random moment
                // so that the nodes waiting do not all come back together. The page read
                // meanwhile is read again after this one.
                _ = try? await following
                if waits == 0 { node.logger.notice("\(error)") }
                waits += 1
                let ceiling = min(Double(waits), interval / .seconds(1))
                try await Task.sleep(for: .seconds(Double.random(in: (ceiling / 2)...max(ceiling, 0.1))))
                continue
            }
            guard try await node.accept(swarm: reply.swarm) else {
                throw NodeCallError.rejected(
                    address: node.master, status: 409, reply: ErrorReply(error: "swarm \(reply.swarm.map { "\($0)" } ?? "unknown")", code: "foreign_swarm"))
            }
            await apply(NodeReportReply(swarm: reply.swarm, sendInventory: false, adopt: reply.adopt))
            node.logger.debug("inventory batch \(sequence) matched: \(files.count) files, \(reply.matched) so far")
            total += files.count
            sequence += 1
            guard let next = try await following else {
                let seconds = (ContinuousClock.now - started) / .seconds(1)
                node.logger.info("sent the whole inventory to the master: \(total) files in \(sequence) batches, \(String(format: "%.1f", seconds)) s")
                return (NodeReportReply(swarm: reply.swarm, sendInventory: false, remove: reply.remove), kept)
            }
            page = next
        }
    }

    /// The next batch from the cursor `after`: up to ``batchSize`` files, fewer when their paths
    /// and checksums pass ``batchBytes``; the cursor of the one after (nil: this is the last).
    private func nextBatch(after: String?) async throws -> (files: [HeldFile], next: String?) {
        var files: [HeldFile] = []
        var bytes = 0
        var cursor = after
        repeat {
            let page = try await node.store.inventoryPage(after: cursor, limit: batchSize - files.count)
            for blob in page.blobs {
                files.append(HeldFile(blob))
                bytes += blob.path.rawValue.utf8.count + 160
                if bytes >= Self.batchBytes, files.count < batchSize {
                    // Cut here: the rest of the page comes with the next batch.
                    return (files, blob.path.rawValue)
                }
            }
            cursor = page.next
        } while cursor != nil && files.count < batchSize
        return (files, cursor)
    }

    private func apply(_ reply: NodeReportReply) async {
        if !reply.remove.isEmpty {
            let gone = await node.remove(reply.remove)
            for file in gone { node.noteRemoved(file) }
        }
        do {
            for path in try await node.store.adopt(reply.adopt) {
                node.logger.error("could not record the version the master named for \(path): \(BlobStoreError.notFound(path))")
            }
        } catch {
            node.logger.error("could not record the versions of \(reply.adopt.count) files the master named: \(error)")
        }
    }

    private func leave() async {
        do {
            let _: Empty = try await node.client.call(
                .POST, node.master, Route.leave, body: NodeLeave(node: node.id), timeout: .seconds(3))
            node.logger.info("told the master \(node.master) this node is leaving")
        } catch {
            node.logger.notice("could not tell the master this node is leaving: \(error)")
        }
    }
}
