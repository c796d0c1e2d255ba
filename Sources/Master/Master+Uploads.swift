import Foundation
import ReplicaCore
import Slave

extension Master {
    /// Chooses the node for an upload under the planner's rules (the new file has kn = −N,
    /// so it may evict over-replicated files), carries out those evictions, and reserves the
    /// space until the node commits or the reservation lapses.
    public func grantUpload(_ request: UploadRequest) async throws -> UploadGrant {
        guard request.size >= 0 else { throw RouteError(.badRequest, "size must not be negative", code: "bad_request") }
        let n = policies.replicas(for: request.path, size: request.size)
        let (upload, decision) = try await placement.withLock { () async throws -> (String, UploadPlacement) in
            let nodes = try await plannerNodes()
            let inFlight = state.withLock { $0.inFlight(now: Date()) }
            let planner = self.planner
            let size = request.size
            guard let decision = try await catalog.withPlannerView({ queries in
                try planner.placeUpload(size: size, n: n, queries: queries, nodes: nodes, inFlight: inFlight)
            }) else {
                throw RouteError(
                    .insufficientStorage,
                    "no node can take \(ByteSize.format(request.size)) without dropping another file below its replica count; add a node or raise a quota",
                    code: "no_space")
            }
            let upload = UUID().uuidString.lowercased()
            let expires = Date().addingTimeInterval(Self.reservationLifetime(request.size))
            try await reserveEvictions(decision.evicting, on: decision.target)
            state.withLock { state in
                state.lastPlaceholder -= 1
                state.uploads[upload] = MasterState.Reservation(
                    path: request.path, size: request.size, n: n, node: decision.target, expires: expires,
                    placeholder: FileID(state.lastPlaceholder))
            }
            return (upload, decision)
        }
        do {
            try await evict(decision.evicting, from: decision.target)
        } catch {
            state.withLock { _ = $0.uploads.removeValue(forKey: upload) }
            throw error
        }
        let target = try await address(of: decision.target)
        logger.info("upload \(request.path) (\(ByteSize.format(request.size)), N=\(n)) granted to \(target)")
        return UploadGrant(upload: upload, path: request.path, size: request.size, n: n, node: decision.target, address: target)
    }

    /// The receiving node asks whether an upload is really granted to it.
    public func checkUpload(_ check: UploadCheck) throws {
        let reservation = state.withLock { $0.uploads[check.upload] }
        guard let reservation, reservation.expires > Date() else {
            throw RouteError(.forbidden, "upload \(check.upload) is unknown or expired: ask the master for a new one", code: "unknown_upload")
        }
        guard reservation.path == check.path, reservation.size == check.size, reservation.node == check.node else {
            throw RouteError(.forbidden, "upload \(check.upload) was granted for another path, size or node", code: "upload_mismatch")
        }
    }

    /// The receiving node stored and verified the bytes: record the new version with K = 1.
    public func commitUpload(_ commit: UploadCommit) async throws -> StoredReply {
        let reservation = state.withLock { state -> MasterState.Reservation? in
            guard let reservation = state.uploads[commit.upload], reservation.node == commit.node,
                reservation.size == commit.size
            else { return nil }
            state.uploads[commit.upload] = nil
            return reservation
        }
        guard let reservation else {
            throw RouteError(.forbidden, "upload \(commit.upload) is unknown, expired or already committed", code: "unknown_upload")
        }
        let file = try await catalog.putFile(
            NewFile(path: reservation.path, size: commit.size, sha256: commit.sha256, n: reservation.n))
        try await catalog.setReplica(file.id, on: commit.node, state: .live)
        logger.info("stored \(file.path) version \(file.version) (\(ByteSize.format(file.size)), N=\(file.n)) on \(commit.node)")
        if file.version > 1 { deletions.signal() }
        schedule.signal()
        return StoredReply(path: file.path, fileID: file.id, size: file.size, sha256: file.sha256, k: 1)
    }

    public func abortUpload(_ abort: UploadAbort) {
        if state.withLock({ $0.uploads.removeValue(forKey: abort.upload) }) != nil { schedule.signal() }
    }

    /// 2 minutes plus 1 s per MiB (about the slowest transfer worth waiting for).
    static func reservationLifetime(_ size: Int64) -> TimeInterval {
        120 + Double(size) / Double(1 << 20)
    }

    // MARK: Evictions

    /// Marks replicas as being evicted (they stop counting at once) and books their space.
    func reserveEvictions(_ files: [FileID], on node: NodeID) async throws {
        for file in files {
            guard let record = try await catalog.file(id: file) else { continue }
            try await catalog.setReplica(file, on: node, state: .evicting)
            state.withLock { $0.evictions[Placement(file: file, node: node)] = record.size }
        }
    }

    /// Has `node` remove the files; forgets the replicas it confirms. A node that cannot be
    /// reached keeps its replicas (restored to live).
    func evict(_ files: [FileID], from node: NodeID) async throws {
        guard !files.isEmpty else { return }
        defer {
            state.withLock { state in
                for file in files { state.evictions[Placement(file: file, node: node)] = nil }
            }
        }
        var refs: [FileRef] = []
        for file in files {
            if let record = try await catalog.file(id: file) { refs.append(FileRef(fileID: file, path: record.path)) }
        }
        do {
            let address = try await address(of: node)
            let reply: RemoveReply = try await client.call(.POST, address, Route.remove, body: RemoveCommand(files: refs))
            for ref in reply.gone {
                try await catalog.removeReplica(ref.fileID, from: node)
                logger.info("evicted \(ref.path) from \(node) to make room")
            }
        } catch {
            for ref in refs { try? await catalog.setReplica(ref.fileID, on: node, state: .live) }
            throw error
        }
    }
}
