import Crypto
import Foundation
import NIOCore
import ReplicaCore
import Transport

/// One local file of `put -r`: where it goes, and its bytes and checksum once read (a big
/// file is read when it is sent: `sha256` nil, `source.size` unknown).
struct TreeItem: Sendable {
    var relative: String
    var path: VirtualPath
    var source: LocalSource
    var sha256: String?
}

/// What `put -r` does with a file once sized.
enum TreeProbe: Sendable {
    /// Skipped, or failed (already counted).
    case done
    case single(TreeItem)
    case batch(TreeItem)

    /// Bytes of the file held in memory.
    var bytesHeld: Int64 {
        switch self {
        case .done: 0
        case .single(let item), .batch(let item): Int64(item.source.content?.readableBytes ?? 0)
        }
    }
}

/// What one `put -r` sender does at a time.
enum TreeUnit: Sendable {
    case single(TreeItem)
    case batch([TreeItem])
}

/// Sends the files of `put -r`, one by one or in batches, counting each in the progress.
struct TreeSender: Sendable {
    let client: SignedClient
    let master: String
    let known: [VirtualPath: ManifestEntry]
    let progress: TreeProgress

    /// Sends a window of probed files: the small new ones in batches spread over the `jobs`
    /// senders, then the others one by one, `jobs` at a time.
    func send(_ probes: [TreeProbe], jobs: Int) async {
        var singles: [TreeItem] = []
        var batchable: [TreeItem] = []
        for probe in probes {
            switch probe {
            case .done: continue
            case .single(let item): singles.append(item)
            case .batch(let item): batchable.append(item)
            }
        }
        let units = Put.batches(of: batchable, jobs: jobs).map(TreeUnit.batch) + singles.map(TreeUnit.single)
        await forEachConcurrently(units, jobs: jobs) { unit in
            switch unit {
            case .single(let item): await putOne(item)
            case .batch(let items): await putBatch(items)
            }
        }
    }

    /// A single upload (``Put/store(_:at:sha256:client:master:progress:)``): grants, retries
    /// on unreachable nodes, replaces what the path holds.
    func putOne(_ item: TreeItem) async {
        do {
            var source = item.source
            let sha256: String
            if let known = item.sha256 {
                sha256 = known
            } else {
                source = try await Put.open(source.file)
                sha256 = try await source.hash(progress: Progress("", total: 0))
                if let entry = known[item.path], entry.sha256 == sha256, entry.size == source.size {
                    progress.skipped()
                    return
                }
            }
            _ = try await Put.store(source, at: item.path, sha256: sha256, client: client, master: master, progress: false)
            progress.transferred(bytes: source.size)
        } catch {
            progress.failed(item.relative, Put.reason(error))
        }
    }

    /// A batch upload of small files new to the store: one grant, the files framed in one
    /// request to the granted node, an answer per file. A file the node refuses because the
    /// path is taken meanwhile, and every file of a batch no node has room for (or whose node
    /// cannot be reached), goes again as a single upload, which may evict or replace.
    func putBatch(_ items: [TreeItem]) async {
        let files = items.map { UploadedFile(path: $0.path, size: $0.source.size, sha256: $0.sha256 ?? "") }
        let grant: UploadBatchGrant
        do {
            grant = try await client.call(.POST, master, Route.uploadBatch, body: UploadBatchRequest(files: files))
        } catch let error as NodeCallError where error.status == 507 || error.status == 400 {
            // No node has room for all of them (a batch never evicts), or the master takes no
            // batch like this one: each goes alone.
            for item in items { await putOne(item) }
            return
        } catch {
            for item in items { progress.failed(item.relative, Put.reason(error)) }
            return
        }
        let reply: UploadBatchReply
        do {
            var body = ByteBufferAllocator().buffer(capacity: files.reduce(0) { $0 + Int($1.size) + 256 })
            for (item, file) in zip(items, files) {
                var frame = try BlobFrame(path: file.path, fileID: nil, size: file.size, sha256: file.sha256)
                    .encoded(body: item.source.content ?? ByteBuffer())
                body.writeBuffer(&frame)
            }
            let sha256 = body.withUnsafeReadableBytes { SHA256.hash(data: $0) }.hexString
            reply = try await client.upload(
                grant.address, Route.blobBatch(upload: grant.upload), length: Int64(body.readableBytes), sha256: sha256,
                chunks: OneChunk(buffer: body), timeout: SignedClient.transferTimeout(Int64(body.readableBytes)))
        } catch let error as NodeCallError where error.neverConnected {
            // The node took nothing: the grant goes back and each file goes alone, to another node.
            let _: Empty? = try? await client.call(
                .POST, master, Route.uploadAbort, body: UploadAbort(upload: grant.upload), timeout: .seconds(5))
            for item in items { await putOne(item) }
            return
        } catch {
            for item in items { progress.failed(item.relative, Put.reason(error)) }
            return
        }
        guard reply.files.count == items.count else {
            for item in items {
                progress.failed(item.relative, "\(grant.address) answered \(reply.files.count) outcomes for a batch of \(items.count) files")
            }
            return
        }
        for (item, outcome) in zip(items, reply.files) {
            if outcome.stored != nil {
                progress.transferred(bytes: item.source.size)
            } else if outcome.code == "version_conflict" {
                await putOne(item)
            } else {
                progress.failed(item.relative, outcome.error ?? "not stored (\(outcome.code ?? "no reason given"))")
            }
        }
    }
}
