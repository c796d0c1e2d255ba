import Crypto
import Foundation
import NIOCore
import NIOFileSystem
import ReplicaCore
import Synchronization
import Transport

/// An error a file-system operation answers with: an `errno` value.
struct FuseError: Error, CustomStringConvertible {
    let errno: Int32
    let why: String

    init(_ errno: Int32, _ why: String = "") {
        self.errno = errno
        self.why = why
    }

    var description: String { "errno \(errno)\(why.isEmpty ? "" : ": \(why)")" }
}

/// What `stat` shows of a file or directory.
struct MountAttributes: Sendable, Equatable {
    var directory: Bool
    var size: Int64
    /// Unix seconds: a file's version was stored then.
    var modified: Double
}

/// The store as a file system (`fsdfsd mount`), for the FUSE bridge (``FuseBridge``), which
/// calls it on libfuse's own threads: blocking here is allowed (never a cooperative-pool
/// thread), and the network calls run as tasks the calling thread waits for (``Blocking``).
///
/// - Directories are the prefixes of the store's paths; `mkdir` makes a directory that lives
///   in this mount only until a file is stored under it.
/// - Reads fetch the file from its first holder (then the others) into a cache file, and are
///   answered as soon as the bytes they ask for have arrived; the whole is checked against the
///   file's SHA-256, and a copy that does not match is fetched again from the next holder.
/// - Writes go to a local file; on `close` (flush) or `fsync` of a changed file it is stored
///   as a new version, as `fsdfsd put` stores one, and a failure is the `close`'s error.
/// - Metadata is cached for a second and dropped on every change made through the mount.
final class MountFileSystem: Sendable {
    let client: SignedClient
    let master: String
    /// Cache files: fetched copies and files being written.
    let cache: String
    let readOnly: Bool
    private let state = Mutex(State())
    private let nextHandle = Atomic<UInt64>(1)
    static let cacheLifetime: TimeInterval = 1

    struct State {
        var handles: [UInt64: OpenFile] = [:]
        /// Directories made with `mkdir` (paths without a leading `/`).
        var madeDirectories: Set<String> = []
        var attributes: [String: (expires: Date, value: MountAttributes?)] = [:]
        var statfs: (expires: Date, total: Int64, free: Int64)?
    }

    init(client: SignedClient, master: String, cache: String, readOnly: Bool) {
        self.client = client
        self.master = master
        self.cache = cache
        self.readOnly = readOnly
    }

    // MARK: Paths

    /// The store path of a FUSE path (`/a/b` → `a/b`; the root is "").
    static func storePath(_ fusePath: String) -> String {
        String(fusePath.drop { $0 == "/" })
    }

    static func virtualPath(_ path: String) throws -> VirtualPath {
        do {
            return try VirtualPath(path)
        } catch {
            throw FuseError(EINVAL, "\(path) is not a path of the store: \(error)")
        }
    }

    static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return String(path[..<slash])
    }

    // MARK: Metadata

    func attributes(_ fusePath: String) throws -> MountAttributes {
        let path = Self.storePath(fusePath)
        if path.isEmpty { return MountAttributes(directory: true, size: 0, modified: Date().timeIntervalSince1970) }
        if let open = state.withLock({ $0.handles.values.first { $0.path == path && $0.writable && !$0.unlinked } }) {
            return MountAttributes(directory: false, size: open.localSize(), modified: Date().timeIntervalSince1970)
        }
        if let cached = state.withLock({ $0.attributes[path] }), cached.expires > Date() {
            guard let value = cached.value else { throw FuseError(ENOENT) }
            return value
        }
        let found: [DirEntry] = try call { client, master in
            try await client.call(.GET, master, "\(Route.dirPath)?entry=\(Route.encode(path))", timeout: .seconds(10))
        }
        var value = found.first.map { MountAttributes(directory: $0.directory, size: $0.size, modified: $0.modified) }
        if value == nil, state.withLock({ $0.madeDirectories.contains(path) }) {
            value = MountAttributes(directory: true, size: 0, modified: Date().timeIntervalSince1970)
        }
        state.withLock { $0.attributes[path] = (Date().addingTimeInterval(Self.cacheLifetime), value) }
        guard let value else { throw FuseError(ENOENT) }
        return value
    }

    /// The entries of a directory, by name.
    func list(_ fusePath: String) throws -> [(name: String, attributes: MountAttributes)] {
        let path = Self.storePath(fusePath)
        guard try attributes(fusePath).directory else { throw FuseError(ENOTDIR) }
        var entries: [String: MountAttributes] = [:]
        var after: String?
        while true {
            var query = "\(Route.dirPath)?path=\(Route.encode(path))&limit=1000"
            if let after { query += "&after=\(Route.encode(after))" }
            let request = query
            let page: [DirEntry] = try call { client, master in try await client.call(.GET, master, request, timeout: .seconds(30)) }
            for entry in page {
                entries[entry.name] = MountAttributes(directory: entry.directory, size: entry.size, modified: entry.modified)
            }
            guard page.count == 1000, let last = page.last else { break }
            after = last.name
        }
        let prefix = path.isEmpty ? "" : path + "/"
        let now = Date().timeIntervalSince1970
        state.withLock { state in
            for made in state.madeDirectories where made.hasPrefix(prefix) && !made.dropFirst(prefix.count).contains("/") {
                entries[String(made.dropFirst(prefix.count)), default: MountAttributes(directory: true, size: 0, modified: now)] =
                    entries[String(made.dropFirst(prefix.count))] ?? MountAttributes(directory: true, size: 0, modified: now)
            }
            for open in state.handles.values where open.writable && !open.unlinked && Self.parent(open.path) == path {
                entries[String(open.path.dropFirst(prefix.count))] = MountAttributes(directory: false, size: open.localSize(), modified: now)
            }
            let expires = Date().addingTimeInterval(Self.cacheLifetime)
            for (name, value) in entries { state.attributes[prefix + name] = (expires, value) }
        }
        return entries.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// Forgets cached metadata after a change.
    func invalidate() {
        state.withLock { $0.attributes.removeAll() }
    }

    /// The swarm's room: the quotas of the nodes up, and what is free in them.
    func capacity() -> (total: Int64, free: Int64) {
        if let cached = state.withLock({ $0.statfs }), cached.expires > Date() { return (cached.total, cached.free) }
        guard let status: StatusReply = try? call({ client, master in
            try await client.call(.GET, master, Route.status, timeout: .seconds(10))
        }) else { return (0, 0) }
        let alive = status.nodes.filter(\.alive)
        let total = alive.reduce(Int64(0)) { $0 + $1.quota }, free = alive.reduce(Int64(0)) { $0 + max($1.free, 0) }
        state.withLock { $0.statfs = (Date().addingTimeInterval(5), total, free) }
        return (total, free)
    }

    // MARK: Open, read, write

    func open(_ fusePath: String, write: Bool, truncate: Bool) throws -> UInt64 {
        let path = Self.storePath(fusePath)
        if write, readOnly { throw FuseError(EROFS) }
        let attributes = try attributes(fusePath)
        guard !attributes.directory else { throw FuseError(EISDIR) }
        let file = try OpenFile(path: path, cache: cache, writable: write)
        if write && truncate {
            file.markDirty()
        } else {
            try startFetch(file)
            if write { try file.waitComplete() }
        }
        return register(file)
    }

    func create(_ fusePath: String) throws -> UInt64 {
        if readOnly { throw FuseError(EROFS) }
        let path = Self.storePath(fusePath)
        _ = try Self.virtualPath(path)
        let parent = Self.parent(path)
        if !parent.isEmpty, try !attributes("/" + parent).directory { throw FuseError(ENOTDIR) }
        let file = try OpenFile(path: path, cache: cache, writable: true)
        file.markDirty()
        let handle = register(file)
        invalidate()
        return handle
    }

    private func register(_ file: OpenFile) -> UInt64 {
        let handle = nextHandle.add(1, ordering: .relaxed).oldValue
        state.withLock { $0.handles[handle] = file }
        return handle
    }

    private func handle(_ handle: UInt64) throws -> OpenFile {
        guard let file = state.withLock({ $0.handles[handle] }) else { throw FuseError(EBADF) }
        return file
    }

    /// Fetches the current version into the handle's cache file, from the first holder that
    /// serves it whole and matching its SHA-256.
    private func startFetch(_ file: OpenFile) throws {
        let vpath = try Self.virtualPath(file.path)
        let found: WhereReply
        do {
            found = try call { client, master in try await client.call(.GET, master, Route.whereIs(vpath), timeout: .seconds(10)) }
        } catch let error as FuseError where error.errno == ENOENT {
            throw error
        }
        guard !found.nodes.isEmpty else { throw FuseError(EIO, "\(file.path): no node holding a copy is up") }
        file.expect(size: found.size)
        let client = client
        file.fetch = Task {
            await Self.fetch(found, into: file, client: client)
        }
    }

    static func fetch(_ found: WhereReply, into file: OpenFile, client: SignedClient) async {
        var failures: [String] = []
        for node in found.nodes {
            do {
                let handle = try await FileSystem.shared.openFile(
                    forWritingAt: FilePath(file.local), options: .modifyFile(createIfNecessary: true))
                var position: Int64 = 0
                var hasher = SHA256()
                do {
                    _ = try await client.download(
                        node, path: found.heldAt?[node] ?? found.path, version: found.fileID.map { BlobVersion(file: $0, sha256: found.sha256) },
                        timeout: SignedClient.transferTimeout(found.size)
                    ) { chunk in
                        // Not task cancellation: the cache file's handle must still close.
                        if file.abandoned { throw FuseError(EINTR, "closed") }
                        try await handle.write(contentsOf: chunk.readableBytesView, toAbsoluteOffset: position)
                        chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                        position += Int64(chunk.readableBytes)
                        file.arrived(upTo: position)
                    }
                    try await handle.close()
                } catch {
                    try? await handle.close()
                    throw error
                }
                guard position == found.size, hasher.finalize().hexString == found.sha256 else {
                    failures.append("\(node): its copy does not match the checksum")
                    continue
                }
                file.finished(nil)
                return
            } catch {
                if file.abandoned {
                    file.finished(FuseError(EINTR, "closed"))
                    return
                }
                failures.append("\(node): \(error)")
            }
        }
        file.finished(FuseError(EIO, "\(found.path): no node could serve it (\(failures.joined(separator: "; ")))"))
    }

    func read(_ handle: UInt64, offset: Int64, count: Int) throws -> Data {
        try self.handle(handle).read(offset: offset, count: count)
    }

    func write(_ handle: UInt64, offset: Int64, data: Data) throws -> Int {
        let file = try self.handle(handle)
        guard file.writable else { throw FuseError(EBADF) }
        try file.write(offset: offset, data: data)
        return data.count
    }

    /// Stores a changed file as a new version (on every `close`, and on `fsync`).
    func flush(_ handle: UInt64) throws {
        let file = try self.handle(handle)
        try file.withFlushLock {
            guard file.dirty, !file.unlinked else { return }
            let vpath = try Self.virtualPath(file.path)
            let source = LocalSource(file: file.local, size: file.localSize(), content: nil)
            _ = try call { client, master in
                let sha256 = try await source.hash(progress: Progress("", total: 0))
                return try await Put.store(source, at: vpath, sha256: sha256, client: client, master: master, progress: false)
            }
            file.markClean()
        }
        invalidate()
    }

    func release(_ handle: UInt64) {
        guard let file = state.withLock({ $0.handles.removeValue(forKey: handle) }) else { return }
        // Normally flushed at close already; a last chance for a changed file.
        if file.dirty, !file.unlinked {
            state.withLock { $0.handles[handle] = file }
            try? flush(handle)
            _ = state.withLock { $0.handles.removeValue(forKey: handle) }
        }
        file.close()
        invalidate()
    }

    func truncate(_ fusePath: String, size: Int64, handle: UInt64?) throws {
        if readOnly { throw FuseError(EROFS) }
        if let handle {
            let file = try self.handle(handle)
            guard file.writable else { throw FuseError(EBADF) }
            try file.truncate(size)
            return
        }
        let opened = try open(fusePath, write: true, truncate: size == 0)
        defer { release(opened) }
        try self.handle(opened).truncate(size)
        try flush(opened)
    }

    // MARK: Names

    func unlink(_ fusePath: String) throws {
        if readOnly { throw FuseError(EROFS) }
        let path = Self.storePath(fusePath)
        let vpath = try Self.virtualPath(path)
        let pending = state.withLock { state in
            state.handles.values.filter { $0.path == path && $0.writable && !$0.unlinked }
        }
        do {
            let _: DeleteReply = try call { client, master in try await client.call(.DELETE, master, Route.file(vpath), timeout: .seconds(30)) }
        } catch let error as FuseError where error.errno == ENOENT && !pending.isEmpty {
            // Made here and never stored: nothing to delete in the store.
        }
        for file in pending { file.unlinked = true }
        invalidate()
    }

    func mkdir(_ fusePath: String) throws {
        if readOnly { throw FuseError(EROFS) }
        let path = Self.storePath(fusePath)
        _ = try Self.virtualPath(path)
        if (try? attributes(fusePath)) != nil { throw FuseError(EEXIST) }
        let parent = Self.parent(path)
        if !parent.isEmpty, try !attributes("/" + parent).directory { throw FuseError(ENOTDIR) }
        state.withLock { _ = $0.madeDirectories.insert(path) }
        invalidate()
    }

    func rmdir(_ fusePath: String) throws {
        if readOnly { throw FuseError(EROFS) }
        let path = Self.storePath(fusePath)
        guard !path.isEmpty else { throw FuseError(EBUSY) }
        invalidate()
        guard try attributes(fusePath).directory else { throw FuseError(ENOTDIR) }
        if try !list(fusePath).isEmpty { throw FuseError(ENOTEMPTY) }
        state.withLock { _ = $0.madeDirectories.remove(path) }
        invalidate()
    }

    func rename(_ fromFuse: String, _ toFuse: String, noReplace: Bool) throws {
        if readOnly { throw FuseError(EROFS) }
        let from = Self.storePath(fromFuse), to = Self.storePath(toFuse)
        _ = try Self.virtualPath(from)
        _ = try Self.virtualPath(to)
        // A changed file still open is stored first: the rename moves what was written.
        for (handle, file) in state.withLock({ $0.handles.filter { $0.value.path == from && $0.value.dirty } }) {
            _ = file
            try flush(handle)
        }
        invalidate()
        let source = try attributes(fromFuse)
        let target = try? attributes(toFuse)
        if target != nil, noReplace { throw FuseError(EEXIST) }
        if source.directory {
            if let target {
                guard target.directory else { throw FuseError(ENOTDIR) }
                if try !list(toFuse).isEmpty { throw FuseError(ENOTEMPTY) }
                state.withLock { _ = $0.madeDirectories.remove(to) }
            }
            let hasFiles = try call { client, master -> Bool in
                let found: [DirEntry] = try await client.call(.GET, master, "\(Route.dirPath)?entry=\(Route.encode(from))", timeout: .seconds(10))
                return found.first?.directory == true
            }
            if hasFiles { try renameInStore(from, to, recursive: true) }
            state.withLock { state in
                let moved = state.madeDirectories.filter { $0 == from || $0.hasPrefix(from + "/") }
                for path in moved {
                    state.madeDirectories.remove(path)
                    state.madeDirectories.insert(to + path.dropFirst(from.count))
                }
            }
        } else {
            if target?.directory == true { throw FuseError(EISDIR) }
            try renameInStore(from, to, recursive: false)
        }
        invalidate()
    }

    private func renameInStore(_ from: String, _ to: String, recursive: Bool) throws {
        let _: RenameReply = try call { client, master in
            try await client.call(.POST, master, Route.rename, body: RenameRequest(from: from, to: to, recursive: recursive), timeout: .seconds(60))
        }
    }

    /// Stores what is still unsaved and removes the cache files (at unmount).
    func shutdown() {
        let open = state.withLock { state in
            let handles = Array(state.handles.keys)
            return handles
        }
        for handle in open { release(handle) }
        try? FileManager.default.removeItem(atPath: cache)
    }

    // MARK: Calls

    /// Runs a call to the master or a node and waits for it; failures become `errno`s.
    func call<T: Sendable>(_ body: @escaping @Sendable (SignedClient, String) async throws -> T) throws -> T {
        let client = client, master = master
        do {
            return try Blocking.run { try await body(client, master) }
        } catch let error as FuseError {
            throw error
        } catch let error as NodeCallError {
            switch error {
            case .rejected(_, 404, _): throw FuseError(ENOENT)
            case .rejected(_, 507, let reply): throw FuseError(ENOSPC, reply.error)
            case .rejected(_, 409, let reply): throw FuseError(EEXIST, reply.error)
            case .rejected(_, 400, let reply): throw FuseError(EINVAL, reply.error)
            default: throw FuseError(EIO, error.description)
            }
        } catch let error as CommandFailure {
            throw FuseError(error.description.contains("no node can take") ? ENOSPC : EIO, error.description)
        } catch {
            throw FuseError(EIO, "\(error)")
        }
    }
}

/// Waits on a FUSE thread (never a cooperative-pool thread) for async work.
enum Blocking {
    static func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<Result<T, any Error>?>(nil)
        // Waited for right below: the calling thread blocks until it ends.
        Task {
            let outcome: Result<T, any Error>
            do { outcome = .success(try await body()) } catch { outcome = .failure(error) }
            result.withLock { $0 = outcome }
            done.signal()
        }
        done.wait()
        return try result.withLock { $0! }.get()
    }
}
