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
        let summary = try await clientCommand(options) { client, master -> TransferSummary in
            var held: [VirtualPath: ManifestEntry] = [:]
            for entry in try await storeManifest(client, master: master, prefix: prefix) { held[entry.path] = entry }
            let known = held
            await forEachConcurrently(local, jobs: jobs) { relative in
                do {
                    let path = try storePath(prefix: prefix, relative: relative)
                    let source = try await Self.open(root.appending(relative).string)
                    let sha256 = try await source.hash(progress: Progress("", total: 0))
                    if let entry = known[path], entry.sha256 == sha256, entry.size == source.size {
                        progress.skipped()
                        return
                    }
                    _ = try await Self.store(source, at: path, sha256: sha256, client: client, master: master, progress: false)
                    progress.transferred(bytes: source.size)
                } catch {
                    progress.failed(relative, Self.reason(error))
                }
            }
            return progress.finish()
        }
        try summary.conclude("put", json: json)
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
