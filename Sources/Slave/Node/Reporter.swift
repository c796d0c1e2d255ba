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

    /// - Parameter leavesOnShutdown: tell the master on graceful shutdown (false for the
    ///   master's own storage role).
    public init(node: StorageNode, interval: Duration, leavesOnShutdown: Bool = true) {
        self.node = node
        self.interval = interval
        self.leavesOnShutdown = leavesOnShutdown
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

    /// Sends one report. Returns the master's reply and the kept versions it now knows of.
    private func report(inventory: Bool, keptSent: [KeptVersion]?) async throws -> (NodeReportReply, [KeptVersion]?) {
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

    private func apply(_ reply: NodeReportReply) async {
        if !reply.remove.isEmpty {
            let gone = await node.remove(reply.remove)
            for file in gone { node.noteRemoved(file) }
        }
        for file in reply.adopt {
            do {
                try await node.store.adopt(
                    path: file.path, fileID: file.fileID, version: file.version, created: file.created, expecting: file.sha256)
            } catch {
                node.logger.error("could not record version \(file.fileID) of \(file.path): \(error)")
            }
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
