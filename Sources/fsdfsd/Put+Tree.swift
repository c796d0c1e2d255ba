import Foundation
import NIOCore
import NIOFileSystem
import ReplicaCore
import Transport

extension Put {
    /// `put -r LOCALDIR PREFIX`: stores every regular file under LOCALDIR at
    /// PREFIX/relative path, `--jobs` at a time over the client's pooled connections. A file
    /// whose checksum and size the store already holds at that path is skipped, so a run that
    /// was interrupted is finished by running it again. Every failure is printed with its
    /// file and reason; the others go on, and the command fails at the end.
    ///
    /// The tree goes a window of files at a time: each file is sized (and a small one read
    /// and hashed) `--jobs` at a time, then small files new to the store go in batches (one
    /// grant, one request to one node, one catalog transaction for up to
    /// ``UploadBatchRequest/maxFiles`` files) and the others one by one, `--jobs` at a time.
    func putTree() async throws {
        widenBlockingPool(to: jobs)
        let prefix = try parseStorePrefix(remotePath)
        let root = FilePath(localFile)
        guard let info = try? await FileSystem.shared.info(forFileAt: root), info.type == .directory else {
            throw CommandFailure("\(localFile) is not a directory")
        }
        let progress = TreeProgress("put")
        let local = try await Self.listTree(root, progress: progress)
        progress.discovered(local.count)
        let jobs = self.jobs
        let summary = try await clientCommand(options) { client, master -> TransferSummary in
            var held: [VirtualPath: ManifestEntry] = [:]
            for entry in try await storeManifest(client, master: master, prefix: prefix) { held[entry.path] = entry }
            let known = held
            let sender = TreeSender(client: client, master: master, known: known, progress: progress)
            var window: [TreeProbe] = []
            var windowBytes: Int64 = 0
            var next = 0
            while next < local.count {
                let chunk = Array(local[next..<min(local.count, next + jobs * 4)])
                next += chunk.count
                for probe in await mapConcurrently(chunk, jobs: jobs, { relative in
                    await Self.probe(relative, root: root, prefix: prefix, known: known, progress: progress)
                }) {
                    window.append(probe)
                    windowBytes += probe.bytesHeld
                }
                guard window.count >= jobs * Self.batchFiles || windowBytes >= Self.windowBytes || next == local.count else { continue }
                await sender.send(window, jobs: jobs)
                window = []
                windowBytes = 0
            }
            return progress.finish()
        }
        try summary.conclude("put", json: json)
    }

    /// Files per batch at most, and per window of the tree: jobs × this.
    static let batchFiles = 256
    /// Bytes of small files read ahead at most (a window is sent once it holds this much).
    static let windowBytes: Int64 = 64 << 20

    /// Splits `items` into batches for `jobs` senders: at most ``batchFiles`` files and
    /// ``UploadBatchRequest/maxBytes`` each, spread so that every sender has one.
    static func batches(of items: [TreeItem], jobs: Int) -> [[TreeItem]] {
        guard !items.isEmpty else { return [] }
        let each = min(batchFiles, UploadBatchRequest.maxFiles, max(1, (items.count + jobs - 1) / jobs))
        var batches: [[TreeItem]] = []
        var current: [TreeItem] = []
        var bytes: Int64 = 0
        for item in items {
            if current.count >= each || bytes + item.source.size > UploadBatchRequest.maxBytes {
                batches.append(current)
                current = []
                bytes = 0
            }
            current.append(item)
            bytes += item.source.size
        }
        if !current.isEmpty { batches.append(current) }
        return batches
    }

    /// Sizes one local file: a small one is read and hashed here, and skipped when the store
    /// holds it already; it goes in a batch when its path is new to the store.
    static func probe(
        _ relative: String, root: FilePath, prefix: String, known: [VirtualPath: ManifestEntry], progress: TreeProgress
    ) async -> TreeProbe {
        do {
            let path = try storePath(prefix: prefix, relative: relative)
            let file = root.appending(relative).string
            guard let info = try await FileSystem.shared.info(forFileAt: FilePath(file)), info.type == .regular,
                  info.size <= UploadBatchRequest.maxFileSize
            else {
                // Big (or gone, or not regular any more): read, hashed and checked when it is sent.
                return .single(TreeItem(relative: relative, path: path, source: LocalSource(file: file, size: -1, content: nil), sha256: nil))
            }
            let source = try await Self.open(file)
            guard source.size <= UploadBatchRequest.maxFileSize else {
                // Grew since it was sized: sent alone.
                return .single(TreeItem(relative: relative, path: path, source: LocalSource(file: file, size: -1, content: nil), sha256: nil))
            }
            let sha256 = try await source.hash(progress: Progress("", total: 0))
            if let entry = known[path] {
                if entry.sha256 == sha256, entry.size == source.size {
                    progress.skipped()
                    return .done
                }
                return .single(TreeItem(relative: relative, path: path, source: source, sha256: sha256))
            }
            return .batch(TreeItem(relative: relative, path: path, source: source, sha256: sha256))
        } catch {
            progress.failed(relative, Self.reason(error))
            return .done
        }
    }

    /// The regular files under `root`, as relative paths; anything else (a symbolic link, a
    /// device) is reported as a failure and left out. Empty directories are not stored (the
    /// store has no directories).
    static func listTree(_ root: FilePath, progress: TreeProgress) async throws -> [String] {
        var files: [String] = []
        let base = root.lexicallyNormalized().string
        do {
            try await FileSystem.shared.withDirectoryHandle(atPath: root) { directory in
                for try await batch in directory.listContents(recursive: true).batched() {
                    for entry in batch {
                        var relative = entry.path.lexicallyNormalized().string
                        if relative.hasPrefix(base + "/") { relative.removeFirst(base.count + 1) }
                        switch entry.type {
                        case .regular: files.append(relative)
                        case .directory: continue
                        default:
                            progress.discovered(1)
                            progress.failed(relative, "not a regular file (\(entry.type)); not stored")
                        }
                    }
                }
            }
        } catch {
            throw CommandFailure("cannot list \(root): \(error)")
        }
        return files.sorted()
    }

    /// Opens a local file: its size, and its bytes when small (read once, hashed and sent from
    /// memory).
    static func open(_ file: String) async throws -> LocalSource {
        do {
            return try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(file)) { handle in
                let info = try await handle.info()
                guard info.type == .regular else { throw CommandFailure("not a regular file") }
                guard info.size <= smallFile else { return LocalSource(file: file, size: info.size, content: nil) }
                let content = try await handle.readToEnd(maximumSizeAllowed: .bytes(smallFile))
                return LocalSource(file: file, size: Int64(content.readableBytes), content: content)
            }
        } catch let error as CommandFailure {
            throw error
        } catch let error as FileSystemError {
            throw CommandFailure("cannot read it: \(Self.describe(error))")
        }
    }

    /// One line for a file's failure.
    static func reason(_ error: any Error) -> String {
        if let error = error as? FileSystemError { return describe(error) }
        return "\(error)"
    }

    static func describe(_ error: FileSystemError) -> String {
        switch error.code {
        case .permissionDenied: "permission denied"
        case .notFound: "no such file (removed meanwhile?)"
        default: error.message
        }
    }
}
