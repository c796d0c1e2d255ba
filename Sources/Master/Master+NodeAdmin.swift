import Foundation
import ReplicaCore
import Transport

/// The operator's node commands: drain (HDFS decommissioning), maintenance windows (MooseFS
/// maintenance mode) and forgetting a dead node. Each names the node by address or id;
/// an unknown name is refused (404 `unknown_node`) and changes nothing.
extension Master {
    /// `fsdfsd node drain|undrain ADDRESS`.
    public func drain(_ command: DrainCommand) async throws -> NodeAdminReply {
        let node = try await resolveNode(command.node, preferAlive: true)
        try await catalog.setDraining(node.id, command.drain)
        schedule.signal()
        let message: String
        if command.drain {
            message = node.draining
                ? "\(node.address) is already draining; fsdfsd status shows how far it is"
                : "\(node.address) is draining: it receives no new copies, and every file that needs its copy gets one elsewhere; fsdfsd status shows how far it is"
            if !node.draining {
                logger.notice("node \(node.id) at \(node.address) is draining (operator)")
                record(.nodeDraining, node: node.id, address: node.address, "node \(node.address) is draining (operator): its copies are being made elsewhere")
            }
        } else {
            message = node.draining
                ? "\(node.address) is no longer draining: it receives copies again"
                : "\(node.address) was not draining"
            if node.draining {
                logger.notice("node \(node.id) at \(node.address) is no longer draining (operator)")
                record(.nodeUndrained, node: node.id, address: node.address, "node \(node.address) is no longer draining (operator)")
            }
        }
        return NodeAdminReply(id: node.id, address: node.address, message: message)
    }

    /// `fsdfsd node maintenance ADDRESS --for DURATION`: until the window ends the node is
    /// not declared down for silence and its copies keep counting; `--for 0` ends it.
    public func maintenance(_ command: MaintenanceCommand) async throws -> NodeAdminReply {
        guard command.seconds.isFinite, command.seconds >= 0 else {
            throw RouteError(.badRequest, "a maintenance window lasts 0 seconds (to end one) or more", code: "bad_request")
        }
        let node = try await resolveNode(command.node, preferAlive: true)
        let now = Date()
        if command.seconds == 0 {
            try await catalog.setMaintenance(node.id, until: nil)
            state.withLock { _ = $0.away.remove(node.id) }
            schedule.signal()
            let message = node.inMaintenance(at: now)
                ? "\(node.address): maintenance window ended; if it does not report, it is declared down after --missed-reports reports"
                : "\(node.address) was not in a maintenance window"
            if node.inMaintenance(at: now) {
                logger.notice("node \(node.id) at \(node.address): maintenance window ended (operator)")
                record(.maintenanceEnded, node: node.id, address: node.address, "node \(node.address): maintenance window ended (operator)")
            }
            return NodeAdminReply(id: node.id, address: node.address, message: message)
        }
        guard node.alive else {
            throw RouteError(
                .conflict,
                "\(node.address) is already down: its copies no longer count and are being replaced; a maintenance window must start while the node is up (start it before the restart)",
                code: "node_down")
        }
        let until = now.addingTimeInterval(command.seconds)
        try await catalog.setMaintenance(node.id, until: until)
        schedule.signal()
        logger.notice("node \(node.id) at \(node.address) in maintenance until \(until.formatted(.iso8601)) (operator): it is not declared down for silence and its copies keep counting")
        record(
            .maintenanceStarted, node: node.id, address: node.address,
            "node \(node.address) in maintenance until \(until.formatted(.iso8601)) (operator): its copies keep counting while it is silent")
        return NodeAdminReply(
            id: node.id, address: node.address,
            message: "\(node.address) in maintenance until \(until.formatted(.iso8601)): it receives no copies, is not declared down if silent, and its copies keep counting; the window ends early when it comes back")
    }

    /// `fsdfsd node forget ADDRESS`: removes a node that is down, with its replicas (they no
    /// longer counted: K does not change; the catalog just stops remembering them). If it
    /// ever reports again it joins as a new node: what it holds is matched against the
    /// catalog like any inventory — current versions count again, anything else is kept and
    /// listed as unaccounted. Nothing on it is deleted because it was forgotten.
    public func forget(_ command: ForgetCommand) async throws -> NodeAdminReply {
        let node = try await resolveNode(command.node, preferAlive: false)
        guard !node.alive else {
            let why = node.inMaintenance(at: Date()) ? " (in a maintenance window: end it with --for 0 first)" : ""
            throw RouteError(
                .conflict,
                "\(node.address) is up\(why): only a node that is down can be forgotten (drain it, stop it, wait until status shows it DOWN)",
                code: "node_alive")
        }
        let held = try await catalog.nodeFigures()[node.id]
        try await catalog.removeNode(node.id)
        state.withLock { state in
            state.lastSeen[node.id] = nil
            state.inventoryKnown.remove(node.id)
            state.inventoryWanted.remove(node.id)
            state.unaccounted[node.id] = nil
            state.scrub[node.id] = nil
            state.away.remove(node.id)
            state.backoff = state.backoff.filter { $0.key.node != node.id }
        }
        nodeReported(node.id)
        schedule.signal()
        let files = held?.files ?? 0
        logger.notice("node \(node.id) at \(node.address) forgotten (operator), with its \(files) replicas")
        record(.nodeForgotten, node: node.id, address: node.address, "node \(node.address) forgotten (operator), with its \(files) replicas")
        return NodeAdminReply(
            id: node.id, address: node.address,
            message: "\(node.address) forgotten with its \(files) replicas; if it reports again it joins as a new node and only what matches the catalog counts")
    }

    /// The node an operator names: an exact id, else the address. Several nodes can share an
    /// address (a data directory replaced behind the same address): `preferAlive` picks the
    /// alive one for drain and maintenance; forget picks the one that is down. Any remaining
    /// ambiguity is refused with the ids to use instead.
    func resolveNode(_ name: String, preferAlive: Bool) async throws -> NodeRecord {
        let nodes = try await catalog.nodes()
        if let exact = nodes.first(where: { $0.id.rawValue == name }) { return exact }
        let matching = nodes.filter { $0.address == name }
        guard !matching.isEmpty else {
            throw RouteError(
                .notFound, "no node \(name) is known to the master; fsdfsd status lists the nodes", code: "unknown_node")
        }
        if matching.count == 1 { return matching[0] }
        let preferred = matching.filter { $0.alive == preferAlive }
        if preferred.count == 1 { return preferred[0] }
        throw RouteError(
            .conflict,
            "\(matching.count) nodes have the address \(name) (ids \(matching.map(\.id.rawValue).joined(separator: ", "))); name one by its id",
            code: "ambiguous_node")
    }
}
