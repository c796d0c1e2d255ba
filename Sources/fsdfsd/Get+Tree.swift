import Foundation
import NIOCore
import NIOFileSystem
import ReplicaCore
import Transport

extension Get {
    /// `get -r PREFIX LOCALDIR`: downloads every file under the store directory PREFIX to
    /// LOCALDIR/relative path, `--jobs` at a time over the client's pooled connections. A
    /// local file that already has the file's checksum and size is skipped. Each download
    /// goes to a hidden partial file beside its destination, is fsynced and verified, and only
    /// then renamed into place: an interrupted run leaves no partial file under a final name,
    /// and running it again finishes it.
    func getTree() async throws {
        widenBlockingPool(to: jobs)
        let prefix = try parseStorePrefix(remotePath)
        let root = FilePath(localFile ?? ".")
        let progress = TreeProgress("get")
        let summary = try await clientCommand(options) { client, master -> TransferSummary in
            let files = try await storeManifest(client, master: master, prefix: prefix)
            progress.discovered(files.count)
            do {
                try await FileSystem.shared.createDirectory(at: root, withIntermediateDirectories: true)
            } catch {
                throw CommandFailure("cannot create \(root): \(Put.reason(error))")
            }
            // Which files to fetch: those the local tree does not hold already.
            let wanted = await mapConcurrently(Array(files.enumerated()), jobs: jobs) { index, file -> TreeFile? in
                var relative = file.path.rawValue
                if !prefix.isEmpty { relative.removeFirst(prefix.count + 1) }
                let item = TreeFile(index: index, entry: file, destination: root.appending(relative))
                do {
                    if try await Self.holds(item.destination, file) {
                        progress.skipped()
                        return nil
                    }
                    return item
                } catch {
                    progress.failed(file.path.rawValue, Put.reason(error))
                    return nil
                }
            }.compactMap { $0 }
            let units = Self.treeUnits(wanted, jobs: jobs)
            await forEachConcurrently(units, jobs: jobs) { unit in
                switch unit {
                case .single(let item):
                    await Self.fetchOne(item, root: root, client: client, progress: progress)
                case .batch(let node, let items):
                    for item in await Self.fetchBatch(items, from: node, root: root, client: client, progress: progress) {
                        await Self.fetchOne(item, root: root, client: client, progress: progress)
                    }
                }
            }
            return progress.finish()
        }
        try summary.conclude("get", json: json)
    }

    /// One file of the store to fetch with `get -r`, and where it goes.
    struct TreeFile: Sendable {
        var index: Int
        var entry: ManifestEntry
        var destination: FilePath
    }

    /// Fetches one file from its holders, the first that serves it (``download(_:from:path:to:expected:showProgress:)``).
    static func fetchOne(_ item: TreeFile, root: FilePath, client: SignedClient, progress: TreeProgress) async {
        let file = item.entry
        do {
            let parent = item.destination.removingLastComponent()
            if parent != root {
                try await FileSystem.shared.createDirectory(at: parent, withIntermediateDirectories: true)
            }
            guard !file.nodes.isEmpty else { throw CommandFailure("no node holding a copy is up") }
            // Spread the files over their holders; try the others when one fails.
            let start = item.index % file.nodes.count
            let nodes = Array(file.nodes[start...] + file.nodes[..<start])
            let (received, _) = try await Self.fromFirstServing(nodes) { node in
                try await Self.download(
                    client, from: node, path: file.heldAt?[node] ?? file.path, to: item.destination.string,
                    expected: (sha256: file.sha256, size: file.size, file: Optional(file.fileID)), showProgress: false)
            }
            progress.transferred(bytes: received)
        } catch {
            progress.failed(file.path.rawValue, Put.reason(error))
        }
    }

    /// Whether `destination` already is a regular file with the content of `file`.
    static func holds(_ destination: FilePath, _ file: ManifestEntry) async throws -> Bool {
        guard let info = try await FileSystem.shared.info(forFileAt: destination, infoAboutSymbolicLink: true) else { return false }
        guard info.type == .regular else { throw CommandFailure("\(destination) exists and is not a regular file; left alone") }
        guard info.size == file.size else { return false }
        let source = try await Put.open(destination.string)
        return try await source.hash(progress: Progress("", total: 0)) == file.sha256
    }
}
