import Foundation
import ReplicaCore
import Transport

extension Master {
    /// Chooses the node for an upload under the planner's rules (the new file has kn = −N,
    /// so it may evict over-replicated files), carries out those evictions, and reserves the
    /// space until the node commits or the reservation lapses. Only fresh nodes are chosen,
    /// and none the client lists in ``UploadRequest/exclude`` (it could not connect to them).
    public func grantUpload(_ request: UploadRequest) async throws -> UploadGrant {
        guard request.size >= 0 else { throw RouteError(.badRequest, "size must not be negative", code: "bad_request") }
        let n = policies.replicas(for: request.path, size: request.size)
        let grant = try await placement.withLock { () async throws -> UploadGrant in
            let records = try await catalog.nodes()
            let nodes = plannerNodes(records, now: Date(), unreachable: Set(request.exclude ?? []))
            let inFlight = state.withLock { $0.inFlight(now: Date()) }
            let planner = currentPlanner
            let size = request.size
            let placed = try await catalog.withPlannerView { queries -> (UploadPlacement, [FileRecord])? in
                guard let decision = try planner.placeUpload(size: size, n: n, queries: queries, nodes: nodes, inFlight: inFlight)
                else { return nil }
                return (decision, try queries.records(of: decision.evicting))
            }
            guard let (decision, victims) = placed else {
                let why = inSafeMode
                    ? "no node has \(ByteSize.format(request.size)) free, and the master is in safe mode (it evicts nothing until the nodes have reported; see fsdfsd status)"
                    : "no node can take \(ByteSize.format(request.size)) without dropping another file below its replica count; add a node or raise a quota"
                throw RouteError(.insufficientStorage, why, code: "no_space")
            }
            let placeholder = state.withLock { state in
                state.lastPlaceholder -= 1
                return FileID(state.lastPlaceholder)
            }
            guard let address = records.first(where: { $0.id == decision.target })?.address,
                  let evictions = EvictionOrder.resolve(
                    decision.evicting, on: decision.target, making: placeholder, records: victims, address: address)
            else { throw CatalogError.unknownNode(decision.target) }
            try await reserveEvictions(evictions)
            let upload = UUID().uuidString.lowercased()
            state.withLock { state in
                state.pruneUploads(now: Date())
                state.grantedBytes[decision.target, default: 0] += request.size
                state.uploads[upload] = MasterState.Reservation(
                    path: request.path, size: request.size, n: n, node: decision.target,
                    expires: Date().addingTimeInterval(Self.reservationLifetime(request.size)),
                    placeholder: placeholder, evictions: evictions)
            }
            return UploadGrant(upload: upload, path: request.path, size: request.size, n: n, node: decision.target, address: address)
        }
        let evictions = state.withLock { $0.uploads[grant.upload]?.evictions } ?? []
        do {
            try await evict(evictions, makingRoomFor: request.path)
        } catch {
            state.withLock { _ = $0.uploads.removeValue(forKey: grant.upload) }
            throw error
        }
        logger.info("upload \(request.path) (\(ByteSize.format(request.size)), N=\(n)) granted to \(grant.address) (upload \(grant.upload))")
        return grant
    }

    /// The receiving node asks whether an upload is really granted to it, and which versions
    /// of the path it may replace: the current one, and older ones it still has to remove.
    public func checkUpload(_ check: UploadCheck) async throws -> UploadCheckReply {
        let reservation = state.withLock { $0.uploads[check.upload] }
        guard let reservation, reservation.expires > Date() else {
            throw RouteError(.forbidden, "upload \(check.upload) is unknown or expired: ask the master for a new one", code: "unknown_upload")
        }
        guard reservation.batch == nil, reservation.path == check.path, reservation.size == check.size, reservation.node == check.node else {
            throw RouteError(.forbidden, "upload \(check.upload) was granted for another path, size or node", code: "upload_mismatch")
        }
        // In safe mode an upload replaces only the current version (the put itself asks for
        // that), never a deleted one the node has not removed yet.
        var replaces = inSafeMode ? [] : try await catalog.pendingDeletions(on: check.node).filter { $0.path == check.path }.map(VersionRef.init)
        if let current = try await catalog.file(at: check.path) { replaces.append(VersionRef(current)) }
        return UploadCheckReply(replaces: replaces)
    }

    /// The receiving node stored and verified the bytes: record the new version with K = 1.
    public func commitUpload(_ commit: UploadCommit) async throws -> StoredReply {
        let reservation = try state.withLock { state -> MasterState.Reservation? in
            guard let reservation = state.uploads[commit.upload], reservation.batch == nil, reservation.node == commit.node,
                reservation.size == commit.size
            else { return nil }
            // Kept until the version is recorded: a node asking again meanwhile hears "not yet",
            // never "unknown", which it would take for a refusal.
            guard !reservation.committing else {
                throw RouteError(.serviceUnavailable, "upload \(commit.upload) is being recorded; ask again", code: "commit_in_progress")
            }
            state.uploads[commit.upload]?.committing = true
            return reservation
        }
        guard let reservation else {
            // Asked again (the reply was lost, or this master restarted): the catalog knows
            // whether the upload was recorded, so the node gets a sure answer either way.
            if let file = try await catalog.file(upload: commit.upload), file.sha256 == commit.sha256, file.size == commit.size {
                if !file.deleted { try await catalog.setReplica(file.id, on: commit.node, state: .live) }
                state.withLock { $0.noteLanded(file.id, on: commit.node, at: Date()) }
                logger.info("upload \(commit.upload) of \(file.path) was already committed as version \(file.version)")
                return StoredReply(
                    path: file.path, fileID: file.id, size: file.size, sha256: file.sha256, k: max(file.k, 1), version: file.version,
                    created: file.created)
            }
            throw RouteError(.forbidden, "upload \(commit.upload) is unknown or expired: it was not recorded", code: "unknown_upload")
        }
        let file: FileRecord
        do {
            file = try await catalog.putFile(
                NewFile(path: reservation.path, size: commit.size, sha256: commit.sha256, n: reservation.n, upload: commit.upload))
            try await catalog.setReplica(file.id, on: commit.node, state: .live)
        } catch {
            state.withLock { $0.uploads[commit.upload]?.committing = false }
            throw error
        }
        state.withLock { state in
            _ = state.uploads.removeValue(forKey: commit.upload)
            state.noteLanded(file.id, on: commit.node, at: Date())
        }
        logger.info("stored \(file.path) version \(file.version) (\(ByteSize.format(file.size)), N=\(file.n)) on \(commit.node) as file \(file.id) (upload \(commit.upload), sha256 \(file.sha256.prefix(12)))")
        if file.version > 1 { deletions.signal() }
        schedule.signal()
        return StoredReply(
            path: file.path, fileID: file.id, size: file.size, sha256: file.sha256, k: 1, version: file.version, created: file.created)
    }

    /// A reservation being committed stays: the commit decides (a node asking again meanwhile
    /// would otherwise hear "not recorded" of what is being recorded).
    public func abortUpload(_ abort: UploadAbort) {
        let removed = state.withLock { state -> Bool in
            guard let reservation = state.uploads[abort.upload], !reservation.committing else { return false }
            state.uploads[abort.upload] = nil
            return true
        }
        if removed { schedule.signal() }
    }

    /// 2 minutes plus 1 s per MiB (about the slowest transfer worth waiting for).
    static func reservationLifetime(_ size: Int64) -> TimeInterval {
        120 + Double(size) / Double(1 << 20)
    }
}
