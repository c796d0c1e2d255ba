import Crypto
import Foundation
import NIOCore
import NIOFileSystem
import NIOPosix
import ReplicaCore
import Transport

#if canImport(Glibc)
import Glibc
#endif

/// What one `get -r` fetcher does at a time.
enum GetTreeUnit: Sendable {
    case single(Get.TreeFile)
    /// Small files fetched from one holder in one request.
    case batch(node: String, [Get.TreeFile])
}

extension Get {
    /// Files up to this size are fetched in batches.
    static let batchedFileSize: Int64 = 1 << 20
    /// Files per batch at most.
    static let batchFiles = 256

    /// Small files go in batches, by the holder each is spread to, so that every fetcher has
    /// one; the others alone.
    static func treeUnits(_ files: [TreeFile], jobs: Int) -> [GetTreeUnit] {
        var byNode: [String: [TreeFile]] = [:]
        var singles: [GetTreeUnit] = []
        for file in files {
            guard file.entry.size <= batchedFileSize, !file.entry.nodes.isEmpty else {
                singles.append(.single(file))
                continue
            }
            byNode[file.entry.nodes[file.index % file.entry.nodes.count], default: []].append(file)
        }
        let small = byNode.values.reduce(0) { $0 + $1.count }
        let each = min(batchFiles, max(1, (small + jobs - 1) / jobs))
        var units: [GetTreeUnit] = []
        for (node, files) in byNode.sorted(by: { $0.key < $1.key }) {
            for start in stride(from: 0, to: files.count, by: each) {
                units.append(.batch(node: node, Array(files[start..<min(files.count, start + each)])))
            }
        }
        return units + singles
    }

    /// Fetches `files` from `node` in one request (`POST /v1/blobs`, the files as framed
    /// bytes, each verified by the node as it reads it), checks each against its size and
    /// SHA-256 and writes it as a single download does: a hidden partial file, fsynced, then
    /// renamed into place. Returns the files not received (the node no longer holds them,
    /// the stream broke), which go again one by one, from any holder.
    static func fetchBatch(
        _ files: [TreeFile], from node: String, root: FilePath, client: SignedClient, progress: TreeProgress
    ) async -> [TreeFile] {
        var parents: Set<FilePath> = []
        for file in files { parents.insert(file.destination.removingLastComponent()) }
        for parent in parents where parent != root {
            _ = try? await FileSystem.shared.createDirectory(at: parent, withIntermediateDirectories: true)
        }
        // A node that has not moved a renamed file yet holds it, and answers it, under the old path.
        let asked = files.map { $0.entry.heldAt?[node] ?? $0.entry.path }
        var decoder = BlobFrameDecoder(expecting: zip(asked, files).map { BlobFrameDecoder.Expected(path: $0, size: $1.entry.size) })
        var again: [TreeFile] = []
        var next = 0
        let request = BlobsRequest(files: zip(asked, files).map { WantedBlob(path: $0, fileID: $1.entry.fileID, sha256: $1.entry.sha256) })
        let total = files.reduce(Int64(0)) { $0 + $1.entry.size }
        do {
            try await client.stream(node, Route.blobs, body: request, timeout: SignedClient.transferTimeout(total)) { chunk in
                for (_, bytes) in try decoder.feed(chunk) {
                    let file = files[next]
                    next += 1
                    guard let bytes, bytes.readableBytes == Int(file.entry.size),
                          bytes.withUnsafeReadableBytes({ SHA256.hash(data: $0) }).hexString == file.entry.sha256
                    else {
                        again.append(file)
                        continue
                    }
                    do {
                        try await writeWhole(bytes, to: file.destination.string)
                        progress.transferred(bytes: file.entry.size)
                    } catch {
                        progress.failed(file.entry.path.rawValue, Put.reason(error))
                    }
                }
            }
            try decoder.finish()
        } catch {
            // What did not come goes again, one by one.
        }
        return again + files[min(next, files.count)...]
    }

    /// Writes `bytes` to `destination` through its hidden partial file (write, fsync, rename),
    /// in one call on NIO's blocking pool.
    static func writeWhole(_ bytes: ByteBuffer, to destination: String) async throws {
        let partial = partialPath(for: destination)
        let failure = try await NIOThreadPool.singleton.runIfActive { () -> String? in
            let fd = open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { return "cannot create \(partial): \(String(cString: strerror(errno)))" }
            var failure: String?
            // The bytes' memory handed to write(2), the C boundary, for the length of the call.
            bytes.withUnsafeReadableBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        failure = "cannot write \(partial): \(String(cString: strerror(errno)))"
                        return
                    }
                    offset += written
                }
            }
            if failure == nil, fsync(fd) != 0 { failure = "cannot fsync \(partial): \(String(cString: strerror(errno)))" }
            close(fd)
            if failure == nil, rename(partial, destination) != 0 {
                failure = "cannot write \(destination): \(String(cString: strerror(errno)))"
            }
            if failure != nil { unlink(partial) }
            return failure
        }
        if let failure { throw CommandFailure(failure) }
    }
}
