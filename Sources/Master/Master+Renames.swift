import Foundation
import ReplicaCore
import Transport

/// Renames (`fsdfsd mv`): the catalog changes the path of each version in place (its replicas,
/// and so K, stay), then every node that holds one under the old path is told to move it
/// (``pushMoves(to:)``), now if it is up, when it reports again otherwise. Nothing is copied.
extension Master {
    /// Files one recursive rename moves at most (one catalog transaction on SQLite).
    public static let maxRenamedFiles = 100_000

    public func rename(_ request: RenameRequest) async throws -> RenameReply {
        if state.withLock({ $0.recovering }) {
            throw RouteError(
                .serviceUnavailable, "the master is rebuilding its catalog from the nodes (--recover): rename once it is done",
                code: "recovering")
        }
        let (source, target) = (Self.trimmed(request.from), Self.trimmed(request.to))
        let renames: [FileRename]
        var replaced = 0
        if request.recursive {
            renames = try await prefixRenames(from: source, to: target)
        } else {
            let from = try Self.renamePath(source, "SRC")
            let to = try Self.renamePath(target, "DST")
            guard let file = try await catalog.file(at: from) else {
                let under = try await catalog.listFiles(prefix: from.rawValue + "/", after: nil, limit: 1)
                throw RouteError(
                    .notFound, under.isEmpty ? "\(from): no such file" : "\(from) is a directory of the store: use mv -r", code: "not_found")
            }
            guard from != to else { return RenameReply(renamed: 0, replaced: 0) }
            if try await !catalog.listFiles(prefix: to.rawValue + "/", after: nil, limit: 1).isEmpty {
                throw RouteError(.conflict, "\(to) is a directory of the store: name the new path of the file in it", code: "conflict")
            }
            try await checkParents(of: to)
            if try await catalog.file(at: to) != nil { replaced = 1 }
            renames = [FileRename(from: from, to: to, n: policies.replicas(for: to, size: file.size))]
        }
        guard !renames.isEmpty else { return RenameReply(renamed: 0, replaced: 0) }
        // Under the moves lock: no push of moves is between its orders and its reply. Then,
        // briefly, under the placement lock: no upload of these paths is granted meanwhile, and a
        // planning pass that read the old paths drops its plan (``MasterState/renames``). In
        // that order, so that uploads never wait for a push to a slow node.
        let renamed = try await moves.withLock {
            try await placement.withLock {
                let paths = Set(renames.flatMap { [$0.from, $0.to] })
                let uploading = state.withLock { state in
                    state.uploads.values.lazy.flatMap { $0.batch?.map(\.path) ?? [$0.path] }.first { paths.contains($0) }
                }
                if let uploading {
                    throw RouteError(.conflict, "an upload of \(uploading) is under way: rename once it is done", code: "upload_in_progress")
                }
                do {
                    let renamed = try await catalog.renameFiles(renames)
                    state.withLock { $0.renames += 1 }
                    return renamed
                } catch CatalogError.noFile(let path) {
                    // Deleted or renamed by another client since it was looked up.
                    throw RouteError(.notFound, "\(path): no such file (it changed meanwhile)", code: "not_found")
                }
            }
        }
        let what = request.recursive ? "\(renamed.count) files under \(source)/ to \(target)/" : "\(source) to \(target)"
        logger.info("renamed \(what)")
        record(.renamed, path: renamed.count == 1 ? renamed[0].path : nil, "renamed \(what)")
        schedule.signal()
        // The nodes up move their copies now (a version replaced is removed first, leaving its
        // path free); the others when they are back. The rename is done whatever happens here.
        do {
            for node in try await catalog.nodes() where node.alive {
                if replaced > 0 { try await pushRemovals(to: node.id) }
                try await pushMoves(to: node.id)
            }
        } catch {
            logger.notice("renamed \(what); the nodes move their copies later: \(error)")
        }
        deletions.signal()
        return RenameReply(renamed: renamed.count, replaced: replaced)
    }

    /// Every file under `from/`, to the same place under `to/`: refused when `to` is under
    /// `from` or already holds a file (nothing is merged or replaced).
    private func prefixRenames(from source: String, to target: String) async throws -> [FileRename] {
        let from = try Self.renamePath(source, "SRC")
        let to = try Self.renamePath(target, "DST")
        if from == to { return [] }
        if to.rawValue.hasPrefix(from.rawValue + "/") {
            throw RouteError(.badRequest, "cannot move \(from) into itself (\(to))", code: "bad_request")
        }
        if try await catalog.file(at: to) != nil {
            throw RouteError(.conflict, "\(to) is a file of the store: mv -r does not replace it", code: "conflict")
        }
        if try await !catalog.listFiles(prefix: to.rawValue + "/", after: nil, limit: 1).isEmpty {
            throw RouteError(.conflict, "\(to)/ already holds files: mv -r moves a directory only to a new name", code: "conflict")
        }
        try await checkParents(of: to)
        var files: [FileRecord] = []
        var after: VirtualPath?
        while true {
            let page = try await catalog.listFiles(prefix: from.rawValue + "/", after: after, limit: 1000)
            files += page
            guard let last = page.last, page.count == 1000 else { break }
            after = last.path
            if files.count > Self.maxRenamedFiles {
                throw RouteError(
                    .contentTooLarge, "\(from)/ holds more than \(Self.maxRenamedFiles) files: move its subdirectories one by one",
                    code: "too_many_files")
            }
        }
        guard !files.isEmpty else {
            if try await catalog.file(at: from) != nil {
                throw RouteError(.badRequest, "\(from) is a file, not a directory of the store: use mv without -r", code: "bad_request")
            }
            throw RouteError(.notFound, "\(from)/: no files under it", code: "not_found")
        }
        let policies = self.policies
        return try files.map { file in
            let rest = file.path.rawValue.dropFirst(from.rawValue.count)
            let path = try Self.renamePath(to.rawValue + rest, "DST")
            return FileRename(from: file.path, to: path, n: policies.replicas(for: path, size: file.size))
        }
    }

    /// A file of the store at a parent of `path` would stand where the nodes need a directory.
    private func checkParents(of path: VirtualPath) async throws {
        let segments = path.segments
        for level in 1..<max(1, segments.count) {
            let parent = try VirtualPath(segments[0..<level].joined(separator: "/"))
            if try await catalog.file(at: parent) != nil {
                throw RouteError(.conflict, "\(parent) is a file of the store, not a directory: \(path) cannot be under it", code: "conflict")
            }
        }
    }

    private static func trimmed(_ text: String) -> String {
        var text = text
        while text.hasSuffix("/") { text.removeLast() }
        return text
    }

    private static func renamePath(_ text: String, _ name: String) throws -> VirtualPath {
        do {
            return try VirtualPath(text)
        } catch {
            throw RouteError(.badRequest, "\(name) \(text.isEmpty ? "is empty" : "'\(text)' is not a valid path"): \(error)", code: "bad_path")
        }
    }

    /// Tells `node` to move the versions it holds under a path they had before a rename, and
    /// records what it did: moved (no longer moving), held at neither path (its replica is
    /// forgotten: K counts what exists), blocked (another file at the new path, kept: it is
    /// asked again later). Returns how many it moved; an unreachable node moves none.
    @discardableResult
    func pushMoves(to node: NodeID) async throws -> Int {
        try await moves.withLock { try await pushMovesHoldingLock(to: node) }
    }

    /// Where `node` holds those of `files` it has not moved since a rename (the old path), for
    /// a copy that takes one from it. One read of the node's moves, none at all when no rename
    /// is waiting for a node.
    func heldPaths(on node: NodeID, of files: [FileRecord]) async throws -> [FileID: VirtualPath] {
        let moving = try await catalog.pendingMoves(on: node)
        guard !moving.isEmpty else { return [:] }
        let wanted = Set(files.map(\.id))
        return Dictionary(moving.filter { wanted.contains($0.file.id) }.map { ($0.file.id, $0.from) }, uniquingKeysWith: { first, _ in first })
    }

    /// Whether some node up still holds a renamed version under its old path (the deletion
    /// pusher then looks again after a while: a move that failed is not signalled again).
    func movesPending() async throws -> Bool {
        for node in try await catalog.nodes() where node.alive {
            if try await catalog.pendingMoves(on: node.id).contains(where: { $0.state == .live }) { return true }
        }
        return false
    }

    private func pushMovesHoldingLock(to node: NodeID) async throws -> Int {
        guard let record = try await catalog.node(node), record.alive else { return 0 }
        // A copy under way lands under the old path: it is moved once it has.
        let pending = try await catalog.pendingMoves(on: node).filter { $0.state == .live }
        guard !pending.isEmpty else { return 0 }
        var moved = 0
        var start = 0
        while start < pending.count {
            let chunk = pending[start..<min(pending.count, start + 1000)]
            start += chunk.count
            let orders = chunk.map {
                MoveOrder(fileID: $0.file.id, from: $0.from, to: $0.file.path, sha256: $0.file.sha256, version: $0.file.version)
            }
            let reply: MoveReply
            do {
                reply = try await client.call(
                    .POST, record.address, Route.move, body: MoveCommand(swarm: swarm, moves: orders), timeout: .seconds(10))
            } catch {
                logger.notice("node \(node) could not move \(pending.count - moved) renamed files now (\(error)); it is asked again later")
                return moved
            }
            try await catalog.confirmMoves(reply.moved, on: node)
            for file in reply.absent { try await catalog.removeReplica(file, from: node) }
            if !reply.absent.isEmpty {
                logger.notice("node \(node) holds \(reply.absent.count) renamed files at neither path: their copies there no longer count")
                schedule.signal()
            }
            for blocked in reply.blocked {
                logger.warning("node \(node) cannot move version \(blocked.fileID) to its new path: \(blocked.reason)")
            }
            moved += reply.moved.count
        }
        return moved
    }
}
