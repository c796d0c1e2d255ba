import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ReplicaCore
import Transport

extension StorageNode {
    /// The routes every node serves: files (read, upload), copy, remove, verify, disk audit, scrub, health.
    public func addRoutes(to router: Router<NodeRequestContext>) {
        router.get(.init(stringLiteral: Route.blobPath)) { request, _ in
            try await self.serveBlob(request)
        }
        router.put(.init(stringLiteral: Route.blobPath)) { request, context in
            try await self.receiveUpload(request, context: context)
        }
        router.put(.init(stringLiteral: Route.blobBatchPath)) { request, context in
            try await self.receiveUploadBatch(request, context: context)
        }
        router.post(.init(stringLiteral: Route.copy)) { request, context in
            var command = try await request.decodeJSON(CopyCommand.self, context: context)
            // A node that has not recorded its swarm yet (the answer to its first report is on
            // its way) may take a copy, but replaces nothing for it.
            if self.swarm == nil { command.replaces = [] }
            guard self.swarm == nil || command.swarm == self.swarm else {
                let message = self.foreignSwarmMessage(master: self.master, theirs: command.swarm)
                self.logger.error("\(message)")
                throw RouteError(.conflict, message, code: "foreign_swarm")
            }
            return ErrorResponse.json(try await self.copy(command))
        }
        addBatchRoutes(to: router)
        router.post(.init(stringLiteral: Route.remove)) { request, context in
            let command = try await request.decodeJSON(RemoveCommand.self, context: context)
            guard let swarm = self.swarm, command.swarm == swarm else {
                let message = self.foreignSwarmMessage(master: self.master, theirs: command.swarm)
                self.logger.error("\(message)")
                throw RouteError(.conflict, message, code: "foreign_swarm")
            }
            return ErrorResponse.json(RemoveReply(gone: await self.remove(command.files, reporting: true)))
        }
        router.post(.init(stringLiteral: Route.move)) { request, context in
            let command = try await request.decodeJSON(MoveCommand.self, context: context)
            guard let swarm = self.swarm, command.swarm == swarm else {
                let message = self.foreignSwarmMessage(master: self.master, theirs: command.swarm)
                self.logger.error("\(message)")
                throw RouteError(.conflict, message, code: "foreign_swarm")
            }
            return ErrorResponse.json(await self.move(command.moves))
        }
        router.post(.init(stringLiteral: Route.verify)) { request, context in
            let command = try await request.decodeJSON(VerifyCommand.self, context: context)
            return ErrorResponse.json(VerifyReply(intact: try await self.verify(command.path)))
        }
        router.post(.init(stringLiteral: Route.diskAudit)) { request, context in
            let command = try await request.decodeJSON(DiskAuditCommand.self, context: context)
            return ErrorResponse.json(try await self.diskAudit(command))
        }
        router.post(.init(stringLiteral: Route.scrub)) { _, _ in
            let started = self.scrubbing.requestPass()
            self.logger.info("scrub pass \(started.pass) requested\(started.restarted ? "; the pass under way is cut short" : "")")
            return ErrorResponse.json(started)
        }
        router.get(.init(stringLiteral: Route.scrub)) { _, _ in
            ErrorResponse.json(self.scrubbing.status())
        }
        router.get(.init(stringLiteral: Route.health)) { _, _ in
            ErrorResponse.json(NodeHealth(node: self.id, address: self.address, master: self.master,
                                          quota: self.store.quota, used: await self.store.used()))
        }
    }

    // MARK: Reads

    /// `GET /v1/blob?path=…`: streams a file this node holds, verifying its checksum on the way;
    /// a corrupt file is quarantined and the transfer aborted, so a peer never stores it. A file
    /// found missing from the disk is dropped and answered 404. Either is reported to the
    /// master at once, so the replica stops counting. With `check=receiver` (a peer's copy,
    /// which checks the bytes itself and has a mismatch verified here) only the size is checked.
    func serveBlob(_ request: Request) async throws -> Response {
        let path = try request.pathParameter()
        guard let blob = await store.blob(at: path) else {
            throw RouteError(.notFound, "\(path) is not held by this node", code: "not_found")
        }
        // A read that names a version gets those bytes or nothing (the id may differ where a
        // node adopted the same content under another one).
        if let wanted = request.uri.queryParameters.get("sha256"), blob.sha256 != wanted.lowercased() {
            throw RouteError(.notFound, "this node holds another version of \(path)", code: "not_found")
        }
        if try await store.dropIfMissing(blob) {
            logger.error("\(path) is missing from the disk; it no longer counts")
            if let fileID = blob.fileID {
                noteDamaged(FileRef(fileID: fileID, path: path), kind: ReplicaDamage.missing, detail: "found missing when it was read")
            }
            throw RouteError(.notFound, "\(path) is missing from this node's disk", code: "not_found")
        }
        let hashing = request.uri.queryParameters.get(Route.receiverVerifiesQuery.name).map { String($0) } != Route.receiverVerifiesQuery.value
        var headers: HTTPFields = [.contentType: "application/octet-stream"]
        if let text = request.uri.queryParameters.get("range") {
            let bounds = text.split(separator: "-").compactMap { Int64($0) }
            guard bounds.count == 2, bounds[0] >= 0, bounds[0] <= bounds[1], bounds[1] < blob.size else {
                throw RouteError(.rangeNotSatisfiable, "range \(text) is not within the \(blob.size) bytes of \(path)", code: "bad_range")
            }
            headers[HTTPField.Name(BlobHeaders.sha256)!] = blob.sha256
            // Signed with the file's SHA-256 (ReplySignature): the range itself is not hashed.
            headers[.replyBodySHA256] = blob.sha256
            return Response(
                status: .ok, headers: headers,
                body: ResponseBody(contentLength: Int(bounds[1] - bounds[0] + 1)) { writer in
                    _ = try await self.transfer {
                        try await self.store.read(path: path, range: bounds[0]...bounds[1]) { chunk in try await writer.write(chunk) }
                    }
                    try await writer.finish(nil)
                })
        }
        headers[HTTPField.Name(BlobHeaders.sha256)!] = blob.sha256
        if let fileID = blob.fileID { headers[HTTPField.Name(BlobHeaders.fileID)!] = String(fileID.rawValue) }
        // The reply is signed with the SHA-256 the bytes must have (ReplySignature), which the
        // reader checks as they arrive: the signature covers them without the node hashing twice.
        headers[.replyBodySHA256] = blob.sha256
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody(contentLength: Int(blob.size)) { writer in
                do {
                    _ = try await self.transfer {
                        try await self.store.read(path: path, chunkSize: 1 << 20, hashing: hashing) { chunk in try await writer.write(chunk) }
                    }
                } catch let error as BlobStoreError {
                    if case .checksumMismatch = error, let fileID = blob.fileID {
                        self.logger.error("corrupt replica quarantined while serving it: \(path)")
                        self.noteDamaged(
                            FileRef(fileID: fileID, path: path), kind: ReplicaDamage.corrupt,
                            detail: "checksum mismatch found while it was read")
                    }
                    // Vanished since the check above (the store dropped it), or removed on purpose.
                    if case .notFound = error, let fileID = blob.fileID, await self.store.blob(at: path) == nil {
                        self.logger.error("\(path) vanished from the disk while serving it")
                        self.noteDamaged(
                            FileRef(fileID: fileID, path: path), kind: ReplicaDamage.missing, detail: "vanished while it was read")
                    }
                    throw error
                }
                try await writer.finish(nil)
            })
    }

    // MARK: Uploads

    /// `PUT /v1/blob?path=…&upload=…`: a client's upload granted by the master. The bytes go to
    /// a temporary file; only when they are complete, match the signed checksum, and the master
    /// has recorded the new version does the file take its place.
    func receiveUpload(_ request: Request, context: NodeRequestContext) async throws -> Response {
        guard let pending = context.pendingBodyCheck else {
            throw RouteError(.unauthorized, "upload without a verified signature", code: "missing_signature")
        }
        let path = try request.pathParameter()
        guard let upload = request.uri.queryParameters.get("upload") else {
            throw RouteError(.badRequest, "missing query parameter 'upload': ask the master for an upload first", code: "bad_request")
        }
        guard let size = request.headers[.contentLength].flatMap(Int64.init), size >= 0 else {
            throw RouteError(.lengthRequired, "an upload needs a Content-Length", code: "length_required")
        }
        // The master must have granted this upload to this node, for this path and size; it
        // says which versions of the path the upload may replace.
        let check = UploadCheck(upload: upload, path: path, size: size, node: id)
        let granted: UploadCheckReply
        do {
            granted = try await client.call(.POST, master, Route.uploadCheck, body: check)
        } catch NodeCallError.rejected(_, let status, let reply) where status == 403 {
            throw RouteError(.forbidden, reply.error, code: reply.code)
        }
        let replacing = BlobReplacement.only(Set(granted.replaces ?? []))

        let write: BlobWrite
        do {
            if let held = await store.blob(at: path), !replacing.allows(fileID: held.fileID, sha256: held.sha256) {
                throw BlobStoreError.versionConflict(path: path, held: held.fileID)
            }
            write = try await store.beginWrite(
                path: path, fileID: nil, size: size, expectedSHA256: pending.declaredBodySHA256, replacing: replacing)
        } catch {
            await abortUpload(upload)
            throw error
        }
        let blob: StoredBlob
        let replaced: ReplacedBlob?
        do {
            (blob, replaced) = try await transfer {
                for try await chunk in request.body { try await write.write(chunk) }
                // Records the nonce (a replay is refused here); commit checks the bytes match.
                try verifier.complete(pending, actualBodySHA256: pending.declaredBodySHA256, now: Date())
                // The version it replaces is kept aside until the master has recorded the upload.
                return try await write.commit(keepingPrevious: true)
            }
        } catch {
            await write.abort()
            await abortUpload(upload)
            if case BlobStoreError.checksumMismatch = error {
                throw RouteError(.unauthorized, AuthError.bodyMismatch.description, code: AuthError.bodyMismatch.code)
            }
            if let error = error as? AuthError {
                throw RouteError(.unauthorized, error.description, code: error.code)
            }
            throw error
        }
        let commit = UploadCommit(upload: upload, node: id, sha256: blob.sha256, size: blob.size)
        switch await commitUpload(commit) {
        case .recorded(let stored):
            if let replaced { await store.discard(replaced) }
            do {
                try await store.adopt(
                    path: path, fileID: stored.fileID, version: stored.version, created: stored.created, expecting: blob.sha256)
            } catch {
                // Replaced meanwhile (a later upload): this version is not here after all.
                noteRemoved(FileRef(fileID: stored.fileID, path: path))
                throw error
            }
            logger.info("stored upload \(upload) of \(path) (\(blob.size) B) as version \(stored.fileID)")
            return ErrorResponse.json(stored, status: .created)
        case .unknown(let error):
            // No sure answer: the new version stays where it is (the master may have recorded
            // it) and the one it replaced stays kept aside; the master hears that this node no
            // longer holds it at its path. Neither is deleted.
            if let replaced, let fileID = replaced.blob.fileID {
                noteRemoved(FileRef(fileID: fileID, path: path))
                logger.warning("the master did not answer whether it recorded the upload of \(path); version \(fileID) it replaced is kept in \(replaced.location)")
            }
            throw RouteError(
                .gatewayTimeout,
                "the master did not answer whether it recorded the upload of \(path) (\(error)): it may or may not have replaced the file. Check with `fsdfsd where \(path)` and put again if needed",
                code: "outcome_unknown")
        case .refused(let error):
            // Not recorded: what the path held before is put back, so a put that fails has
            // replaced nothing.
            logger.notice("the master refused upload \(upload) of \(path) (\(error)); what the path held before is put back")
            do {
                if let replaced {
                    if try await store.restore(replaced) {
                        // The master may have matched the node's inventory meanwhile (a
                        // restart): it hears that the old version is back.
                        noteAdded(HeldFile(replaced.blob))
                    } else if let fileID = replaced.blob.fileID {
                        // Another write took the path meanwhile: the old version stays kept.
                        noteRemoved(FileRef(fileID: fileID, path: path))
                        logger.warning("\(path) changed meanwhile; version \(fileID) stays kept in \(replaced.location)")
                    }
                } else {
                    _ = try await store.remove(path: path, fileID: nil, inode: blob.inode)
                }
            } catch {
                logger.error("could not put back what \(path) held before a failed upload: \(error)")
            }
            throw error
        }
    }

    private enum CommitOutcome {
        case recorded(StoredReply)
        case refused(any Error)
        case unknown(any Error)
    }

    /// Asks the master to record the upload, asking again (the same upload, so at most one
    /// version is recorded) while it cannot be reached or answers 5xx, for up to 30 s.
    private func commitUpload(_ commit: UploadCommit) async -> CommitOutcome {
        switch await askUntilAnswered({ () async throws -> StoredReply in
            try await self.client.call(.POST, self.master, Route.uploadCommit, body: commit)
        }, what: "commit of upload \(commit.upload)") {
        case .answered(let stored): .recorded(stored)
        case .refused(let error): .refused(error)
        case .unknown(let error): .unknown(error)
        }
    }

    /// What the master answered a call it must answer for sure (an upload's commit).
    enum MasterAnswer<Reply: Sendable>: Sendable {
        case answered(Reply)
        /// A 4xx: the master did not (and will not) do it.
        case refused(any Error)
        /// No sure answer within 30 s.
        case unknown(any Error)
    }

    /// Makes `call`, again while the master cannot be reached or answers 5xx (the call must be
    /// idempotent), for up to 30 s.
    func askUntilAnswered<Reply: Sendable>(
        _ call: @Sendable () async throws -> Reply, what: String
    ) async -> MasterAnswer<Reply> {
        let deadline = ContinuousClock.now + .seconds(30)
        var wait = Duration.milliseconds(250)
        while true {
            do {
                return .answered(try await call())
            } catch {
                if let error = error as? NodeCallError, let status = error.status, (400..<500).contains(status) {
                    return .refused(error)
                }
                guard ContinuousClock.now + wait < deadline, !Task.isCancelled else { return .unknown(error) }
                logger.notice("\(what) not answered (\(error)); asking again in \(wait)")
                try? await Task.sleep(for: wait)
                wait = min(wait * 2, .seconds(4))
            }
        }
    }

    func abortUpload(_ upload: String) async {
        let _: Empty? = try? await client.call(.POST, master, Route.uploadAbort, body: UploadAbort(upload: upload), timeout: .seconds(5))
    }

    // MARK: Replication

    /// `POST /v1/copy`: pulls a file from a peer, verifies it against the catalog's checksum
    /// and stores it. A corrupt or failed transfer leaves nothing behind.
    func copy(_ command: CopyCommand) async throws -> StoredReply {
        if let held = await store.blob(at: command.path), held.sha256 == command.sha256, held.size == command.size {
            if held.fileID != command.fileID || held.version != command.version {
                try await store.adopt(
                    path: command.path, fileID: command.fileID, version: command.version, created: command.created,
                    expecting: command.sha256)
            }
            return StoredReply(path: command.path, fileID: command.fileID, size: held.size, sha256: held.sha256, k: 0)
        }
        let replacing = BlobReplacement.only(Set(command.replaces ?? []))
        if let held = await store.blob(at: command.path), !replacing.allows(fileID: held.fileID, sha256: held.sha256) {
            throw BlobStoreError.versionConflict(path: command.path, held: held.fileID)
        }
        return try await copying(command.fileID) { cancelled in
            try await pull(command, replacing: replacing, cancelled: cancelled)
        }
    }

    private func pull(
        _ command: CopyCommand, replacing: BlobReplacement, cancelled: @escaping @Sendable () -> Bool
    ) async throws -> StoredReply {
        let write = try await store.beginWrite(
            path: command.path, fileID: command.fileID, size: command.size, expectedSHA256: command.sha256,
            replacing: replacing, cancelled: cancelled)
        do {
            let blob = try await transfer {
                // This node checks the bytes (the write's expected sha256), and the master has the
                // source verify its copy when they do not match (Scheduler.checkSource): the
                // source need not hash them too (as HDFS's receiving DataNode checks a block).
                _ = try await client.download(
                    command.source, path: command.sourcePath ?? command.path, version: BlobVersion(file: command.fileID, sha256: command.sha256),
                    receiverVerifies: true, timeout: SignedClient.transferTimeout(command.size)
                ) { chunk in try await write.write(chunk) }
                return try await write.commit()
            }
            if command.version != nil {
                try await store.adopt(
                    path: command.path, fileID: command.fileID, version: command.version, created: command.created,
                    expecting: command.sha256)
            }
            // Also told in the next report: a copy the master stopped waiting for (a timeout, a
            // master restart) is then counted, or removed if its version went meanwhile.
            noteAdded(HeldFile(path: blob.path, fileID: command.fileID, size: blob.size, sha256: blob.sha256,
                               version: command.version, created: command.created))
            logger.info("copied \(command.path) (\(blob.size) B) from \(command.source)")
            return StoredReply(path: blob.path, fileID: command.fileID, size: blob.size, sha256: blob.sha256, k: 0)
        } catch {
            await write.abort()
            switch error {
            case BlobStoreError.checksumMismatch(_, _, let actual):
                logger.error("copy of \(command.path) from \(command.source) is corrupt (sha256 \(actual)); discarded")
                throw RouteError(.badGateway, "the copy from \(command.source) does not match the catalog checksum", code: "source_corrupt")
            case BlobStoreError.sizeMismatch:
                throw RouteError(.badGateway, "the copy from \(command.source) has the wrong size", code: "source_corrupt")
            case let error as NodeCallError:
                throw RouteError(.badGateway, "source \(command.source) failed: \(error)", code: "source_failed")
            default:
                throw error
            }
        }
    }

    // MARK: Removal and verification

    /// - Parameter reporting: also tell the next report (the master's call may not see the
    ///   reply, and would then keep counting what is gone).
    func remove(_ files: [FileRef], reporting: Bool = false) async -> [FileRef] {
        var gone: [FileRef] = []
        for file in files {
            // First: a copy of this version ending meanwhile must not keep it.
            cancelCopy(of: file.fileID)
            do {
                if try await store.remove(path: file.path, fileID: file.fileID, sha256: file.sha256) {
                    logger.info("removed \(file.path) (version \(file.fileID))")
                    if reporting { noteRemoved(file) }
                }
                gone.append(file)
            } catch {
                logger.error("could not remove \(file.path): \(error)")
            }
        }
        return gone
    }

    /// Moves versions renamed in the catalog to their new path (``BlobStore/move(fileID:from:to:sha256:version:)``).
    /// A version that could not be moved for a reason of the disk is in neither list of the
    /// reply: the master asks again.
    func move(_ orders: [MoveOrder]) async -> MoveReply {
        var reply = MoveReply(moved: [], absent: [], blocked: [])
        for order in orders {
            do {
                switch try await store.move(fileID: order.fileID, from: order.from, to: order.to, sha256: order.sha256, version: order.version) {
                case .moved:
                    logger.info("moved \(order.from) to \(order.to) (version \(order.fileID))")
                    reply.moved.append(order.fileID)
                case .absent:
                    reply.absent.append(order.fileID)
                case .blocked(let reason):
                    logger.error("could not move \(order.from) to \(order.to): \(reason)")
                    reply.blocked.append(MoveBlocked(fileID: order.fileID, reason: reason))
                }
            } catch {
                logger.error("could not move \(order.from) to \(order.to): \(error)")
            }
        }
        return reply
    }

    func verify(_ path: VirtualPath) async throws -> Bool {
        guard let blob = await store.blob(at: path) else { return false }
        if try await store.verify(path: path) { return true }
        logger.error("corrupt replica quarantined: \(path)")
        if let fileID = blob.fileID {
            noteDamaged(FileRef(fileID: fileID, path: path), kind: ReplicaDamage.corrupt, detail: "checksum mismatch found by a check")
        }
        return false
    }
}

/// `GET /v1/health`.
public struct NodeHealth: Codable, Sendable, Equatable {
    public var node: NodeID
    public var address: String
    public var master: String
    public var quota: Int64
    public var used: Int64
}
