import Foundation
import ReplicaCore
import Transport

/// Batch uploads of small new files (see `UploadBatchMessages.swift` for the exchange): one
/// grant, one check and one catalog transaction for up to ``UploadBatchRequest/maxFiles``
/// files, where single uploads cost three calls and two transactions each.
extension Master {
    /// Places the whole batch on one fresh node with room for all of it. A batch never evicts:
    /// when no node has the room, the client stores the files one by one, which may.
    public func grantUploadBatch(_ request: UploadBatchRequest) async throws -> UploadBatchGrant {
        try Self.validate(request)
        let files = request.files
        let total = files.reduce(Int64(0)) { $0 + $1.size }
        let n = files.map { policies.replicas(for: $0.path, size: $0.size) }.min() ?? 1
        let grant = try await placement.withLock { () async throws -> UploadBatchGrant in
            let records = try await catalog.nodes()
            let nodes = plannerNodes(records, now: Date(), unreachable: Set(request.exclude ?? []))
            let inFlight = state.withLock { $0.inFlight(now: Date()) }
            let planner = currentPlanner
            let decision = try await catalog.withPlannerView { queries in
                try planner.placeUpload(size: total, n: n, queries: queries, nodes: nodes, inFlight: inFlight)
            }
            guard let decision, decision.evicting.isEmpty,
                  let address = records.first(where: { $0.id == decision.target })?.address
            else {
                throw RouteError(
                    .insufficientStorage,
                    "no node has \(ByteSize.format(total)) free for a batch of \(files.count) files; store them one by one",
                    code: "no_space")
            }
            let upload = UUID().uuidString.lowercased()
            state.withLock { state in
                state.pruneUploads(now: Date())
                state.lastPlaceholder -= 1
                state.grantedBytes[decision.target, default: 0] += total
                state.uploads[upload] = MasterState.Reservation(
                    path: files[0].path, size: total, n: n, node: decision.target,
                    expires: Date().addingTimeInterval(Self.reservationLifetime(total)),
                    placeholder: FileID(state.lastPlaceholder), batch: files)
            }
            return UploadBatchGrant(upload: upload, node: decision.target, address: address, files: files)
        }
        logger.info("batch upload of \(files.count) files (\(ByteSize.format(total))) granted to \(grant.address) (upload \(grant.upload))")
        return grant
    }

    /// The receiving node asks which files a batch upload holds, before it keeps any byte.
    /// The grant is taken by the first request: a second one (a replay with a fresh signature)
    /// is refused, so one grant never has two bodies held in memory.
    public func checkUploadBatch(_ check: UploadBatchCheck) throws -> UploadBatchCheckReply {
        try state.withLock { state in
            guard let reservation = state.uploads[check.upload], reservation.expires > Date() else {
                throw RouteError(.forbidden, "upload \(check.upload) is unknown or expired: ask the master for a new one", code: "unknown_upload")
            }
            guard let files = reservation.batch, reservation.node == check.node else {
                throw RouteError(.forbidden, "upload \(check.upload) was granted for another node, or is not a batch", code: "upload_mismatch")
            }
            guard !reservation.receiving else {
                throw RouteError(.forbidden, "upload \(check.upload) is already being received: ask the master for a new one", code: "upload_in_progress")
            }
            state.uploads[check.upload]?.receiving = true
            return UploadBatchCheckReply(files: files)
        }
    }

    /// The receiving node stored and verified `commit.files`: each becomes a new version with
    /// K = 1, all in one catalog transaction. Asked again (the reply was lost, the master
    /// restarted), the catalog says which were recorded, by their upload keys.
    public func commitUploadBatch(_ commit: UploadBatchCommit) async throws -> UploadBatchReply {
        let reservation = try state.withLock { state -> MasterState.Reservation? in
            guard let reservation = state.uploads[commit.upload], reservation.batch != nil, reservation.node == commit.node
            else { return nil }
            guard !reservation.committing else {
                throw RouteError(.serviceUnavailable, "upload \(commit.upload) is being recorded; ask again", code: "commit_in_progress")
            }
            state.uploads[commit.upload]?.committing = true
            return reservation
        }
        guard commit.places.count == commit.files.count else {
            if reservation != nil { state.withLock { $0.uploads[commit.upload]?.committing = false } }
            throw RouteError(.badRequest, "a batch commit names \(commit.files.count) files and \(commit.places.count) places", code: "bad_request")
        }
        guard let reservation, let granted = reservation.batch else {
            return try await recordedBefore(commit)
        }
        var newFiles: [NewFile] = []
        for (file, at) in zip(commit.files, commit.places) {
            guard granted.indices.contains(at), granted[at] == file else {
                state.withLock { $0.uploads[commit.upload]?.committing = false }
                throw RouteError(
                    .forbidden, "\(file.path) was not granted in upload \(commit.upload) with that size and checksum", code: "upload_mismatch")
            }
            newFiles.append(NewFile(
                path: file.path, size: file.size, sha256: file.sha256, n: policies.replicas(for: file.path, size: file.size),
                upload: Self.uploadKey(commit.upload, at)))
        }
        let records: [FileRecord]
        do {
            records = try await catalog.putFiles(newFiles, holder: commit.node)
        } catch {
            state.withLock { $0.uploads[commit.upload]?.committing = false }
            throw error
        }
        let now = Date()
        state.withLock { state in
            _ = state.uploads.removeValue(forKey: commit.upload)
            for record in records { state.noteLanded(record.id, on: commit.node, at: now) }
        }
        let bytes = records.reduce(Int64(0)) { $0 + $1.size }
        logger.info("stored \(records.count) files (\(ByteSize.format(bytes))) on \(commit.node) (batch upload \(commit.upload))")
        if records.contains(where: { $0.version > 1 }) { deletions.signal() }
        schedule.signal()
        return UploadBatchReply(files: records.map { UploadBatchOutcome(path: $0.path, stored: StoredReply($0)) })
    }

    /// A commit asked again once its reservation is gone: the files the catalog recorded under
    /// the batch's upload keys are answered as stored (and counted on the node again), the
    /// others as not recorded, which they will never be.
    private func recordedBefore(_ commit: UploadBatchCommit) async throws -> UploadBatchReply {
        var outcomes: [UploadBatchOutcome] = []
        var replicas: [ReplicaRecord] = []
        for (file, at) in zip(commit.files, commit.places) {
            guard let found = try await catalog.file(upload: Self.uploadKey(commit.upload, at)),
                  found.path == file.path, found.sha256 == file.sha256, found.size == file.size
            else {
                outcomes.append(UploadBatchOutcome(
                    path: file.path, error: "upload \(commit.upload) is unknown or expired: \(file.path) was not recorded", code: "unknown_upload"))
                continue
            }
            if !found.deleted { replicas.append(ReplicaRecord(file: found.id, node: commit.node, state: .live)) }
            outcomes.append(UploadBatchOutcome(path: file.path, stored: StoredReply(found)))
        }
        _ = try await catalog.setReplicas(replicas)
        state.withLock { state in
            for replica in replicas { state.noteLanded(replica.file, on: commit.node, at: Date()) }
        }
        return UploadBatchReply(files: outcomes)
    }

    /// The upload key of the file at `index` of a batch: what makes its commit idempotent.
    static func uploadKey(_ upload: String, _ index: Int) -> String { "\(upload)/\(index)" }

    static func validate(_ request: UploadBatchRequest) throws {
        let files = request.files
        guard !files.isEmpty, files.count <= UploadBatchRequest.maxFiles else {
            throw RouteError(.badRequest, "a batch holds 1 to \(UploadBatchRequest.maxFiles) files, not \(files.count)", code: "bad_request")
        }
        if let big = files.first(where: { $0.size < 0 || $0.size > UploadBatchRequest.maxFileSize }) {
            throw RouteError(
                .badRequest, "\(big.path) (\(big.size) B) does not fit a batch (at most \(UploadBatchRequest.maxFileSize) B): put it alone",
                code: "bad_request")
        }
        let total = files.reduce(Int64(0)) { $0 + $1.size }
        guard total <= UploadBatchRequest.maxBytes else {
            throw RouteError(.badRequest, "a batch holds at most \(UploadBatchRequest.maxBytes) bytes, not \(total)", code: "bad_request")
        }
        guard Set(files.map(\.path)).count == files.count else {
            throw RouteError(.badRequest, "a batch names a path twice", code: "bad_request")
        }
        if let bad = files.first(where: { !Self.isSHA256($0.sha256) }) {
            throw RouteError(.badRequest, "the sha256 of \(bad.path) is not 64 lowercase hex digits", code: "bad_request")
        }
    }

    static func isSHA256(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}

extension StoredReply {
    init(_ file: FileRecord) {
        self.init(
            path: file.path, fileID: file.id, size: file.size, sha256: file.sha256, k: max(file.k, file.deleted ? 0 : 1),
            version: file.version, created: file.created)
    }
}
