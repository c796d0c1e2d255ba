import Crypto
import Foundation
import Hummingbird
import NIOCore
import ReplicaCore
import Transport

extension StorageNode {
    /// `PUT /v1/blob-batch?upload=…`: the small new files of a batch upload granted by the
    /// master, as ``BlobFrame``s in the granted order (see `UploadBatchMessages.swift`). Each
    /// file is checked against its granted size and sha256 and stored over nothing; they take
    /// their place with one flush to the disk, and the master records them in one transaction.
    /// The answer names each file's outcome; a file that fails costs only itself.
    func receiveUploadBatch(_ request: Request, context: NodeRequestContext) async throws -> Response {
        guard let pending = context.pendingBodyCheck else {
            throw RouteError(.unauthorized, "upload without a verified signature", code: "missing_signature")
        }
        guard let query = request.uri.queryParameters.get("upload") else {
            throw RouteError(.badRequest, "missing query parameter 'upload': ask the master for an upload first", code: "bad_request")
        }
        let upload = String(query)
        guard let length = request.headers[.contentLength].flatMap(Int64.init), length >= 0 else {
            throw RouteError(.lengthRequired, "an upload needs a Content-Length", code: "length_required")
        }
        let granted: UploadBatchCheckReply
        do {
            granted = try await client.call(.POST, master, Route.uploadBatchCheck, body: UploadBatchCheck(upload: upload, node: id))
        } catch NodeCallError.rejected(_, let status, let reply) where status == 403 {
            throw RouteError(.forbidden, reply.error, code: reply.code)
        }
        let files = granted.files
        // A frame's header is a path of at most 1 KiB, its checksum and sizes: a body much
        // larger than the files granted is not this batch.
        let allowed = files.reduce(Int64(0)) { $0 + $1.size + 4 + Self.frameHeaderAllowance }
        guard length <= allowed else {
            await abortUpload(upload)
            throw RouteError(.contentTooLarge, "the body (\(length) B) is larger than the \(files.count) files granted", code: "too_large")
        }

        var outcomes = [UploadBatchOutcome?](repeating: nil, count: files.count)
        var blobs: [(place: Int, blob: BatchBlob)] = []
        do {
            try await transfer {
                var decoder = BlobFrameDecoder(expecting: files.map { BlobFrameDecoder.Expected(path: $0.path, size: $0.size) })
                var body = SHA256()
                var place = 0
                for try await chunk in request.body {
                    chunk.withUnsafeReadableBytes { body.update(bufferPointer: $0) }
                    for (_, bytes) in try decoder.feed(chunk) {
                        let file = files[place]
                        defer { place += 1 }
                        guard let bytes else {
                            outcomes[place] = UploadBatchOutcome(path: file.path, error: "not sent", code: "bad_request")
                            continue
                        }
                        let digest = bytes.withUnsafeReadableBytes { SHA256.hash(data: $0) }.hexString
                        guard bytes.readableBytes == Int(file.size), digest == file.sha256 else {
                            outcomes[place] = UploadBatchOutcome(
                                path: file.path, error: "\(file.path): the bytes sent do not match the size and sha256 granted", code: "checksum_mismatch")
                            continue
                        }
                        var blob = BatchBlob(
                            path: file.path, fileID: nil, sha256: file.sha256, version: nil, created: nil, replacing: .only([]), bytes: bytes)
                        blob.overNothing = true
                        blobs.append((place, blob))
                    }
                }
                try decoder.finish()
                // Records the nonce (a replay is refused here) once the whole body matched its signature.
                try verifier.complete(pending, actualBodySHA256: body.finalize().hexString, now: Date())
            }
        } catch {
            await abortUpload(upload)
            if let error = error as? AuthError { throw RouteError(.unauthorized, error.description, code: error.code) }
            if let error = error as? BlobFrameError { throw RouteError(.badRequest, "batch upload \(upload): \(error)", code: "bad_request") }
            throw error
        }

        // Over nothing: a path this node holds anything at is the single upload's business.
        var fresh: [(place: Int, blob: BatchBlob)] = []
        for item in blobs {
            if let held = await store.blob(at: item.blob.path) {
                outcomes[item.place] = UploadBatchOutcome(
                    path: item.blob.path, error: BlobStoreError.versionConflict(path: item.blob.path, held: held.fileID).description,
                    code: "version_conflict")
            } else {
                fresh.append(item)
            }
        }
        let results = await transfer { await store.storeBatch(fresh.map(\.blob)) }
        var stored: [(place: Int, blob: StoredBlob)] = []
        for (item, result) in zip(fresh, results) {
            switch result {
            case .success(let blob): stored.append((item.place, blob))
            case .failure(let error): outcomes[item.place] = UploadBatchOutcome(path: item.blob.path, error: error.description, code: error.code)
            }
        }
        if stored.isEmpty {
            await abortUpload(upload)
        } else {
            try await record(stored, files: files, upload: upload, into: &outcomes)
        }
        let reply = UploadBatchReply(files: outcomes.enumerated().map { place, outcome in
            outcome ?? UploadBatchOutcome(path: files[place].path, error: "not attempted", code: "internal")
        })
        logger.info("stored \(stored.count) of \(files.count) files of batch upload \(upload)")
        return ErrorResponse.json(reply, status: .created)
    }

    /// Bytes a frame's header may take in a batch upload's body.
    static let frameHeaderAllowance: Int64 = 4096

    /// Has the master record the files stored (asking again while it cannot be reached, as a
    /// single upload does), then gives each its version, or takes back those it refused.
    private func record(
        _ stored: [(place: Int, blob: StoredBlob)], files: [UploadedFile], upload: String, into outcomes: inout [UploadBatchOutcome?]
    ) async throws {
        let commit = UploadBatchCommit(
            upload: upload, node: id, files: stored.map { files[$0.place] }, places: stored.map(\.place))
        let answer: UploadBatchReply
        switch await askUntilAnswered({ () async throws -> UploadBatchReply in
            try await self.client.call(.POST, self.master, Route.uploadBatchCommit, body: commit)
        }, what: "commit of batch upload \(upload)") {
        case .answered(let reply):
            answer = reply
        case .refused(let error):
            // Not recorded, and never will be: what this batch stored goes (it replaced nothing).
            logger.notice("the master refused batch upload \(upload) (\(error)); its \(stored.count) files are taken back")
            for item in stored {
                _ = try? await store.remove(path: item.blob.path, fileID: nil, inode: item.blob.inode)
                outcomes[item.place] = UploadBatchOutcome(path: item.blob.path, error: "the master refused the upload: \(error)", code: "unknown_upload")
            }
            return
        case .unknown(let error):
            // The files stay (the master may have recorded them); the next whole inventory settles it.
            throw RouteError(
                .gatewayTimeout,
                "the master did not answer whether it recorded batch upload \(upload) (\(error)): run the put again to finish it",
                code: "outcome_unknown")
        }
        guard answer.files.count == stored.count, zip(stored, answer.files).allSatisfy({ $0.blob.path == $1.path }) else {
            // Not an answer about these files: nothing is sure, so everything stays.
            throw RouteError(
                .gatewayTimeout,
                "the master's answer about batch upload \(upload) does not name its \(stored.count) files: run the put again to finish it",
                code: "outcome_unknown")
        }
        var adopt: [AdoptedFile] = []
        for (item, outcome) in zip(stored, answer.files) {
            if let reply = outcome.stored {
                adopt.append(AdoptedFile(fileID: reply.fileID, path: reply.path, sha256: reply.sha256, version: reply.version, created: reply.created))
            } else {
                _ = try? await store.remove(path: item.blob.path, fileID: nil, inode: item.blob.inode)
            }
            outcomes[item.place] = outcome
        }
        let missed = try await store.adopt(adopt)
        for path in missed {
            // Replaced meanwhile (a later upload): this version is not here after all.
            guard let file = adopt.first(where: { $0.path == path }) else { continue }
            noteRemoved(FileRef(fileID: file.fileID, path: path))
        }
    }
}
