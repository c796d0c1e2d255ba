import Crypto
import Foundation
import Hummingbird
import NIOCore
import ReplicaCore
import Transport

extension StorageNode {
    /// `POST /v1/copy-batch` (the target) and `POST /v1/blobs` (the source): many small files
    /// copied with one command, one pull and one flush to the disk.
    func addBatchRoutes(to router: Router<NodeRequestContext>) {
        router.post(.init(stringLiteral: Route.copyBatch)) { request, context in
            var command = try await request.decodeJSON(CopyBatchCommand.self, context: context)
            // As for a single copy: a node without a swarm yet takes copies but replaces nothing.
            if self.swarm == nil {
                for index in command.files.indices { command.files[index].replaces = [] }
            }
            guard self.swarm == nil || command.swarm == self.swarm else {
                let message = self.foreignSwarmMessage(master: self.master, theirs: command.swarm)
                self.logger.error("\(message)")
                throw RouteError(.conflict, message, code: "foreign_swarm")
            }
            guard command.files.count <= BlobsRequest.maxFiles else {
                throw RouteError(.badRequest, "a batch names \(command.files.count) files; at most \(BlobsRequest.maxFiles) are allowed", code: "bad_request")
            }
            if let big = command.files.first(where: { $0.size > BlobsRequest.maxFileSize || $0.size < 0 }) {
                throw RouteError(.badRequest, "\(big.path) (\(big.size) B) is too large for a batch; copy it alone", code: "bad_request")
            }
            return ErrorResponse.json(await self.copyBatch(command))
        }
        router.post(.init(stringLiteral: Route.blobs)) { request, context in
            let wanted = try await request.decodeJSON(BlobsRequest.self, context: context)
            guard wanted.files.count <= BlobsRequest.maxFiles else {
                throw RouteError(.badRequest, "a request names \(wanted.files.count) files; at most \(BlobsRequest.maxFiles) are allowed", code: "bad_request")
            }
            return self.serveBlobs(wanted.files)
        }
    }

    // MARK: Source

    /// Streams the files asked for as frames, in order. Each file is read whole and verified
    /// against the index before its frame is sent, exactly as `GET /v1/blob` verifies while it
    /// streams: a corrupt file is quarantined and reported, a missing one dropped and reported,
    /// and either is answered as an error frame while the others still go.
    func serveBlobs(_ files: [WantedBlob]) -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/octet-stream"],
            body: ResponseBody { writer in
                try await self.transfer {
                    // A window of files read (one call on the blocking pool), then their frames written.
                    var start = 0
                    while start < files.count {
                        let window = Array(files[start..<min(files.count, start + 64)])
                        start += window.count
                        for frame in await self.frames(for: window) { try await writer.write(frame) }
                    }
                }
                try await writer.finish(nil)
            })
    }

    /// The frames of `files`, in order: each file's verified bytes, or why it is not sent.
    private func frames(for files: [WantedBlob]) async -> [ByteBuffer] {
        func refusal(_ path: VirtualPath, _ message: String, _ code: String) -> ByteBuffer {
            (try? BlobFrame(path: path, error: message, code: code).encoded()) ?? ByteBuffer()
        }
        var frames = [ByteBuffer?](repeating: nil, count: files.count)
        var reading: [(index: Int, blob: StoredBlob)] = []
        for (index, wanted) in files.enumerated() {
            guard let blob = await store.blob(at: wanted.path), blob.sha256 == wanted.sha256.lowercased() else {
                frames[index] = refusal(wanted.path, "\(wanted.path) is not held by this node in that version", "not_found")
                continue
            }
            guard blob.size <= BlobsRequest.maxFileSize else {
                frames[index] = refusal(wanted.path, "\(wanted.path) is too large for a batch", "too_large")
                continue
            }
            reading.append((index, blob))
        }
        let read = await store.readWhole(reading.map(\.blob.path))
        for ((index, blob), outcome) in zip(reading, read) {
            let path = blob.path
            switch outcome {
            case .success(let (stored, bytes)):
                frames[index] = (try? BlobFrame(path: path, fileID: stored.fileID, size: Int64(bytes.readableBytes), sha256: stored.sha256)
                    .encoded(body: bytes)) ?? refusal(path, "could not frame \(path)", "source_failed")
            case .failure(.checksumMismatch):
                logger.error("corrupt replica quarantined while serving it: \(path)")
                if let fileID = blob.fileID {
                    noteDamaged(FileRef(fileID: fileID, path: path), kind: ReplicaDamage.corrupt, detail: "checksum mismatch found while it was read")
                }
                frames[index] = refusal(path, "\(path) is corrupt on this node; quarantined", "source_corrupt")
            case .failure(.notFound):
                if let fileID = blob.fileID, await store.blob(at: path) == nil {
                    logger.error("\(path) is missing from the disk; it no longer counts")
                    noteDamaged(FileRef(fileID: fileID, path: path), kind: ReplicaDamage.missing, detail: "found missing when it was read")
                }
                frames[index] = refusal(path, "\(path) is missing from this node's disk", "not_found")
            case .failure(let error):
                frames[index] = refusal(path, "could not read \(path): \(error)", "source_failed")
            }
        }
        return frames.map { $0 ?? ByteBuffer() }
    }

    // MARK: Target

    /// Pulls the files of a batch from the source in one request, checks each against the
    /// catalog's size and sha256, stores the good ones with one flush (``BlobStore/storeBatch(_:)``)
    /// every few hundred files, and answers per file. What a single copy refuses, this refuses
    /// per file with the same code.
    func copyBatch(_ command: CopyBatchCommand) async -> CopyBatchReply {
        var outcomes = [CopyOutcome?](repeating: nil, count: command.files.count)
        var pulls: [Int] = []
        for (index, file) in command.files.enumerated() {
            do {
                if let held = await store.blob(at: file.path), held.sha256 == file.sha256, held.size == file.size {
                    if held.fileID != file.fileID || held.version != file.version {
                        try await store.adopt(
                            path: file.path, fileID: file.fileID, version: file.version, created: file.created, expecting: file.sha256)
                    }
                    outcomes[index] = .stored(file.fileID, file.path)
                    continue
                }
                let replacing = BlobReplacement.only(Set(file.replaces ?? []))
                if let held = await store.blob(at: file.path), !replacing.allows(fileID: held.fileID, sha256: held.sha256) {
                    throw BlobStoreError.versionConflict(path: file.path, held: held.fileID)
                }
                pulls.append(index)
            } catch {
                outcomes[index] = Self.outcome(file, error)
            }
        }
        if !pulls.isEmpty {
            let results = await copying(all: pulls.map { command.files[$0].fileID }) { cancelled in
                await pull(pulls.map { command.files[$0] }, from: command.source, cancelled: cancelled)
            }
            for (index, outcome) in zip(pulls, results) { outcomes[index] = outcome }
        }
        let stored = outcomes.filter { $0?.stored == true }.count
        logger.info("copied \(stored) of \(command.files.count) files from \(command.source)")
        return CopyBatchReply(files: outcomes.enumerated().map { index, outcome in
            outcome ?? .failed(command.files[index].fileID, command.files[index].path, "not attempted", code: "source_failed")
        })
    }

    /// Files stored per flush to the disk, and bytes.
    static let flushFiles = 1024
    static let flushBytes = 32 << 20

    private func pull(
        _ files: [BatchedCopy], from source: String, cancelled: @escaping @Sendable (FileID) -> Bool
    ) async -> [CopyOutcome] {
        var outcomes = [CopyOutcome?](repeating: nil, count: files.count)
        // The source answers each file under the path asked for: where it holds it.
        var decoder = BlobFrameDecoder(expecting: files.map { BlobFrameDecoder.Expected(path: $0.sourcePath ?? $0.path, size: $0.size) })
        var waiting: [(index: Int, blob: BatchBlob)] = []
        var waitingBytes = 0
        func flush() async {
            guard !waiting.isEmpty else { return }
            let batch = waiting
            waiting = []
            waitingBytes = 0
            let results = await transfer { await store.storeBatch(batch.map(\.blob)) }
            for (item, result) in zip(batch, results) {
                let file = files[item.index]
                switch result {
                case .success(let blob):
                    // Also told in the next report: a copy the master stopped waiting for is
                    // then counted, or removed if its version went meanwhile.
                    noteAdded(HeldFile(path: blob.path, fileID: file.fileID, size: blob.size, sha256: blob.sha256,
                                       version: file.version, created: file.created))
                    outcomes[item.index] = .stored(file.fileID, file.path)
                case .failure(let error):
                    outcomes[item.index] = Self.outcome(file, error)
                }
            }
        }
        let request = BlobsRequest(files: files.map { WantedBlob(path: $0.sourcePath ?? $0.path, fileID: $0.fileID, sha256: $0.sha256) })
        let total = files.reduce(Int64(0)) { $0 + $1.size }
        var failure: (message: String, code: String)?
        do {
            var next = 0
            try await client.stream(source, Route.blobs, body: request, timeout: SignedClient.transferTimeout(total)) { chunk in
                for (frame, bytes) in try decoder.feed(chunk) {
                    let index = next
                    next += 1
                    let file = files[index]
                    guard let bytes else {
                        let code = frame.code == "source_corrupt" ? "source_corrupt" : "source_failed"
                        outcomes[index] = .failed(file.fileID, file.path, "source \(source): \(frame.error ?? "failed")", code: code)
                        continue
                    }
                    let digest = bytes.withUnsafeReadableBytes { SHA256.hash(data: $0) }.hexString
                    guard bytes.readableBytes == Int(file.size), digest == file.sha256 else {
                        logger.error("copy of \(file.path) from \(source) is corrupt (sha256 \(digest)); discarded")
                        outcomes[index] = .failed(
                            file.fileID, file.path, "the copy from \(source) does not match the catalog checksum", code: "source_corrupt")
                        continue
                    }
                    waiting.append((index, BatchBlob(
                        path: file.path, fileID: file.fileID, sha256: file.sha256, version: file.version, created: file.created,
                        replacing: .only(Set(file.replaces ?? [])), bytes: bytes, cancelled: { cancelled(file.fileID) })))
                    waitingBytes += bytes.readableBytes
                    if waiting.count >= Self.flushFiles || waitingBytes >= Self.flushBytes { await flush() }
                }
            }
            try decoder.finish()
        } catch let error as NodeCallError {
            failure = ("source \(source) failed: \(error)", "source_failed")
        } catch {
            failure = ("source \(source) failed: \(error)", "source_failed")
        }
        await flush()
        if let failure {
            logger.warning("batch pull from \(source) stopped after \(decoder.count) of \(files.count) files: \(failure.message)")
        }
        return files.enumerated().map { index, file in
            outcomes[index] ?? .failed(file.fileID, file.path, failure?.message ?? "not received", code: failure?.code ?? "source_failed")
        }
    }

    /// A file's failure as the code a single copy would answer.
    private static func outcome(_ file: BatchedCopy, _ error: any Error) -> CopyOutcome {
        if let error = error as? BlobStoreError {
            return .failed(file.fileID, file.path, error.description, code: error.code)
        }
        return .failed(file.fileID, file.path, "\(error)", code: "internal")
    }
}
