import Foundation
import ReplicaCore
import Transport

/// Safe mode (ARCHITECTURE.md section 11, as HDFS does at start): a master that restarts, or
/// rebuilds its catalog, removes and evicts nothing until it has heard what the nodes hold.
/// Copies and uploads go on; deletes are recorded and carried out afterwards.
extension Master {
    /// Whether removals and evictions are held back.
    public var inSafeMode: Bool { state.withLock { $0.safeMode != nil } }

    /// Decides at start whether the master begins in safe mode, and takes the swarm identity.
    /// - Parameter dataSwarm: the swarm of the master's own data directory, if it joined one.
    func beginSafety(dataSwarm: SwarmID?, nodes: [NodeRecord], totals: CatalogTotals, now: Date) async throws {
        var swarm = try await catalog.swarmID()
        let resuming = try await catalog.isRecovering()
        if settings.recover || resuming {
            let empty = nodes.isEmpty && totals.files == 0
            guard empty || resuming else {
                throw MasterStartError(
                    "--recover rebuilds an empty catalog from the nodes, but \(settings.catalog) already holds \(totals.files) files and \(nodes.count) nodes; "
                        + "start without --recover, or give an empty --catalog")
            }
            let known: SwarmID?
            if empty {
                if let dataSwarm {
                    try await catalog.setSwarmID(dataSwarm)
                    swarm = dataSwarm
                }
                // Before any node is recorded: a master stopped from here on resumes.
                try await catalog.setRecovering(true)
                known = dataSwarm
            } else {
                // The catalog took its swarm from the first node it recorded.
                if let dataSwarm, dataSwarm != swarm {
                    throw MasterStartError(
                        "this node's data directory belongs to swarm \(dataSwarm), but the catalog \(settings.catalog) being rebuilt belongs to swarm \(swarm): "
                            + "point --catalog at the catalog being rebuilt, or start the recovery again on an empty catalog")
                }
                known = swarm
                let why = settings.recover ? "" : "; the catalog says a recovery was under way, so it goes on without --recover"
                logger.notice("recovery: resuming the rebuild of \(settings.catalog) (\(totals.files) files from \(nodes.count) nodes so far)\(why)")
            }
            state.withLock { state in
                state.swarm = known
                state.recovering = true
                state.safeMode = MasterState.SafeMode(
                    reason: "rebuilding the catalog from the inventories of the nodes that join (--recover)",
                    since: now, waitingFor: [], untilOperator: true)
            }
            logger.notice("recovery: rebuilding the catalog from the nodes that join; safe mode until `fsdfsd safe-mode leave`")
            record(.safeModeOn, "safe mode: rebuilding the catalog from the nodes that join (--recover); no removals or evictions until fsdfsd safe-mode leave")
            return
        }
        if let dataSwarm, dataSwarm != swarm {
            throw MasterStartError(
                "this node's data directory belongs to swarm \(dataSwarm), but the catalog \(settings.catalog) belongs to swarm \(swarm): "
                    + "the catalog was replaced, lost or mistyped. Point --catalog at the swarm's catalog, or rebuild it from the nodes "
                    + "with --recover on an empty catalog")
        }
        let waiting = Set(nodes.filter(\.alive).map(\.id))
        state.withLock { state in
            state.swarm = swarm
            if !waiting.isEmpty {
                state.safeMode = MasterState.SafeMode(
                    reason: "the master restarted: waiting for the nodes that were up to report what they hold",
                    since: now, waitingFor: waiting, untilOperator: false)
            }
        }
        if !waiting.isEmpty {
            logger.notice("safe mode: no removals or evictions until the \(waiting.count) nodes that were up have reported (or are declared down)")
            record(.safeModeOn, "safe mode: the master restarted; no removals or evictions until the \(waiting.count) nodes that were up have reported (or are declared down)")
        }
    }

    /// A node sent its inventory, or was declared down: safe mode stops waiting for it.
    func nodeReported(_ node: NodeID) {
        let ended = state.withLock { state -> Bool in
            guard var safe = state.safeMode, safe.waitingFor.remove(node) != nil else { return false }
            state.safeMode = safe
            guard safe.waitingFor.isEmpty, !safe.untilOperator else { return false }
            state.safeMode = nil
            return true
        }
        if ended { safeModeEnded("every node that was up has reported or is down") }
    }

    /// The operator ends safe mode (`fsdfsd safe-mode leave`), and with it a recovery (first
    /// in the catalog: a failure leaves both on). Returns whether it was on.
    public func leaveSafeMode() async throws -> Bool {
        if state.withLock({ $0.recovering }) { try await catalog.setRecovering(false) }
        let was = state.withLock { state -> Bool in
            defer {
                state.safeMode = nil
                state.recovering = false
                state.recovered = [:]
            }
            return state.safeMode != nil
        }
        if was {
            safeModeEnded("the operator ended it")
            // A recovery's map of every version taken is gone, and the catalog's caches are
            // full of the pages it wrote.
            await catalog.releaseMemory()
            await HeapRelease.trim()
        }
        return was
    }

    private func safeModeEnded(_ why: String) {
        state.withLock { state in
            state.recovering = false
            state.recovered = [:]
        }
        logger.notice("safe mode ended (\(why)): removals and evictions resume")
        record(.safeModeOff, "safe mode ended (\(why)): removals and evictions resume")
        schedule.signal()
        deletions.signal()
    }

    /// Safe mode as `status` shows it.
    func safeModeStatus() async throws -> SafeModeStatus? {
        guard let safe = state.withLock({ $0.safeMode }) else { return nil }
        let addresses = Dictionary(uniqueKeysWithValues: try await catalog.nodes().map { ($0.id, $0.address) })
        let recovering = state.withLock { $0.recovering }
        return SafeModeStatus(
            reason: safe.reason, since: safe.since.formatted(.iso8601),
            waitingFor: safe.waitingFor.map { addresses[$0] ?? $0.rawValue }.sorted(), recovering: recovering)
    }

    /// What the nodes hold that the catalog cannot account for.
    public func unaccounted() -> [UnaccountedFile] {
        state.withLock { state in state.strays().values.joined() }
            .sorted { ($0.path, $0.address) < ($1.path, $1.address) }
    }
}

/// Why a master refused to start, in one line.
public struct MasterStartError: Error, CustomStringConvertible {
    public var description: String

    init(_ description: String) { self.description = description }
}
