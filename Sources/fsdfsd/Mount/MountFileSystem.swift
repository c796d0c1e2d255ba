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

    /// An open handle: the shared file of its path, and how it was opened.
    struct Handle {
        var file: OpenFile
        var writable: Bool
        var append: Bool
    }

    struct State {
        var handles: [UInt64: Handle] = [:]
        /// The open files, by path (every handle of a path shares one).
        var files: [String: OpenFile] = [:]
        /// Directories made with `mkdir`, or left empty by an unlink or a rename (paths
        /// without a leading `/`): they exist in this mount until a file is stored in them.
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
        if let open = state.withLock({ $0.files[path] }), open.writable {
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
            // A directory's name is followed by "/": the next page starts past its files.
            let next = last.name + (last.directory ? "/" : "")
            guard next != after else { break }
            after = next
        }
        let prefix = path.isEmpty ? "" : path + "/"
        let now = Date().timeIntervalSince1970
        let open = state.withLock { state in
            for made in state.madeDirectories where made.hasPrefix(prefix) && !made.dropFirst(prefix.count).contains("/") {
                let name = String(made.dropFirst(prefix.count))
                if entries[name] == nil { entries[name] = MountAttributes(directory: true, size: 0, modified: now) }
            }
            return state.files.filter { Self.parent($0.key) == path && $0.value.writable && !$0.value.unlinked }
        }
        for (openPath, file) in open {
            entries[String(openPath.dropFirst(prefix.count))] = MountAttributes(directory: false, size: file.localSize(), modified: now)
        }
        state.withLock { state in
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

    /// Opens `fusePath`; every handle of a path shares its file, so what one writes another
    /// reads, and one store on close carries it all.
    func open(_ fusePath: String, write: Bool, truncate: Bool, append: Bool) throws -> UInt64 {
        let path = Self.storePath(fusePath)
        if write, readOnly { throw FuseError(EROFS) }
        if let shared = claim(path, nil) { return try share(shared, write: write, truncate: truncate, append: append) }
        let attributes = try attributes(fusePath)
        guard !attributes.directory else { throw FuseError(EISDIR) }
        let fetch = !(write && truncate)
        let file = try OpenFile(path: path, cache: cache, fetching: fetch)
        // Another open of the same path may have made one meanwhile.
        if let shared = claim(path, file) {
            file.close()
            return try share(shared, write: write, truncate: truncate, append: append)
        }
        if write { file.markWritable() }
        do {
            if fetch {
                try startFetch(file)
                if write { try file.waitComplete() }
            } else {
                file.markDirty()
            }
        } catch let error as FuseError {
            file.finished(error)
            release(file: file)
            throw error
        }
        return register(Handle(file: file, writable: write, append: append))
    }

    func create(_ fusePath: String) throws -> UInt64 {
        if readOnly { throw FuseError(EROFS) }
        let path = Self.storePath(fusePath)
        _ = try Self.virtualPath(path)
        let parent = Self.parent(path)
        if !parent.isEmpty, try !attributes("/" + parent).directory { throw FuseError(ENOTDIR) }
        let made = try OpenFile(path: path, cache: cache, fetching: false)
        let id: UInt64
        if let shared = claim(path, made) {
            made.close()
            id = try share(shared, write: true, truncate: true, append: false)
        } else {
            made.markWritable()
            id = register(Handle(file: made, writable: true, append: false))
        }
        try handle(id).file.markDirty()
        invalidate()
        return id
    }

    /// The open file of `path`, one handle more; or nil after making `made` that file.
    private func claim(_ path: String, _ made: OpenFile?) -> OpenFile? {
        state.withLock { state in
            if let other = state.files[path] {
                other.retain()
                return other
            }
            if let made { state.files[path] = made }
            return nil
        }
    }

    /// A new handle on a file already open.
    private func share(_ file: OpenFile, write: Bool, truncate: Bool, append: Bool) throws -> UInt64 {
        do {
            if write {
                try file.waitComplete()
                file.markWritable()
                if truncate { try file.truncate(0) }
            }
        } catch {
            release(file: file)
            throw error
        }
        return register(Handle(file: file, writable: write, append: append))
    }

    private func register(_ handle: Handle) -> UInt64 {
        let id = nextHandle.add(1, ordering: .relaxed).oldValue
        state.withLock { $0.handles[id] = handle }
        return id
    }

    private func handle(_ id: UInt64) throws -> Handle {
        guard let handle = state.withLock({ $0.handles[id] }) else { throw FuseError(EBADF) }
        return handle
    }

    /// Fetches the current version into the file's cache file, from the first holder that
    /// serves it whole and matching its SHA-256.
    private func startFetch(_ file: OpenFile) throws {
        let vpath = try Self.virtualPath(file.path)
        var found: WhereReply = try call { client, master in
            try await client.call(.GET, master, Route.whereIs(vpath), timeout: .seconds(10))
        }
        guard !found.nodes.isEmpty else { throw FuseError(EIO, "\(file.path): no node holding a copy is up") }
        file.expect(size: found.size)
        // The nearest first: a holder on this machine, then the master's order.
        let local = Self.localHosts
        found.nodes = found.nodes.filter { local.contains(Self.host(of: $0)) } + found.nodes.filter { !local.contains(Self.host(of: $0)) }
        let client = client
        // Ends by itself (finished, failed, or abandoned when the file is closed, which waits
        // for it): the file's close is where it is awaited.
        Task { await Self.fetch(found, into: file, client: client) }
    }

    /// Names this machine goes by: loopback, its host name and its addresses as Foundation
    /// lists them.
    static let localHosts: Set<String> = {
        var names: Set<String> = ["127.0.0.1", "::1", "localhost", ProcessInfo.processInfo.hostName]
        names.formUnion(Host.current().addresses)
        names.formUnion(Host.current().names)
        return names
    }()

    /// The host of `HOST:PORT` (`[v6]:PORT` too).
    static func host(of address: String) -> String {
        guard let colon = address.lastIndex(of: ":") else { return address }
        return String(address[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
    }

    static func fetch(_ found: WhereReply, into file: OpenFile, client: SignedClient) async {
        var failures: [String] = []
        for node in found.nodes {
            guard file.beginAttempt() else {
                file.finished(FuseError(EIO, "\(found.path): the copy being read did not match its checksum (\(failures.joined(separator: "; ")))"))
                return
            }
            do {
                let handle = try await FileSystem.shared.openFile(
                    forWritingAt: FilePath(file.local), options: .modifyFile(createIfNecessary: true))
                var position: Int64 = 0
                var hasher = SHA256()
                do {
                    // A copy from an earlier holder may be longer: start from nothing.
                    try await handle.resize(to: .bytes(0))
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

    func read(_ id: UInt64, offset: Int64, count: Int) throws -> Data {
        try handle(id).file.read(offset: offset, count: count)
    }

    func write(_ id: UInt64, offset: Int64, data: Data) throws -> Int {
        let handle = try handle(id)
        guard handle.writable else { throw FuseError(EBADF) }
        try handle.file.write(offset: offset, data: data, append: handle.append)
        return data.count
    }

    /// Stores a changed file as a new version (on every `close`, and on `fsync`).
    func flush(_ id: UInt64) throws {
        try store(try handle(id).file)
    }

    private func store(_ file: OpenFile) throws {
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

    func release(_ id: UInt64) {
        guard let handle = state.withLock({ $0.handles.removeValue(forKey: id) }) else { return }
        release(file: handle.file)
    }

    /// One handle of `file` fewer; the last stores what is still unsaved (normally stored at
    /// close already) and closes it. A file that could not be stored keeps its cache file,
    /// named on stderr.
    private func release(file: OpenFile) {
        guard file.releaseOne() else { return }
        state.withLock { state in
            if state.files[file.path] === file { state.files[file.path] = nil }
        }
        var kept = false
        if file.dirty, !file.unlinked {
            do {
                try store(file)
            } catch {
                kept = true
                FileHandle.standardError.write(Data("mount: \(file.path) could not be stored (\(error)); its content is kept in \(file.local)\n".utf8))
            }
        }
        file.close(keep: kept)
        invalidate()
    }

    func truncate(_ fusePath: String, size: Int64, handle id: UInt64?) throws {
        if readOnly { throw FuseError(EROFS) }
        if let id {
            let handle = try handle(id)
            guard handle.writable else { throw FuseError(EBADF) }
            try handle.file.truncate(size)
            return
        }
        let opened = try open(fusePath, write: true, truncate: size == 0, append: false)
        defer { release(opened) }
        try self.handle(opened).file.truncate(size)
        try flush(opened)
    }

    // MARK: Names

    func unlink(_ fusePath: String) throws {
        if readOnly { throw FuseError(EROFS) }
        let path = Self.storePath(fusePath)
        let vpath = try Self.virtualPath(path)
        let open = state.withLock { state -> OpenFile? in
            // A new file of that name is a new file: this one goes on for its handles only.
            let file = state.files.removeValue(forKey: path)
            return file
        }
        do {
            let _: DeleteReply = try call { client, master in try await client.call(.DELETE, master, Route.file(vpath), timeout: .seconds(30)) }
        } catch let error as FuseError where error.errno == ENOENT && open?.writable == true {
            // Made here and never stored: nothing to delete in the store.
        } catch {
            if let open { state.withLock { state in if state.files[path] == nil { state.files[path] = open } } }
            throw error
        }
        open?.markUnlinked()
        keepParent(of: path)
        invalidate()
    }

    /// A directory emptied through the mount stays, as on a local file system.
    private func keepParent(of path: String) {
        let parent = Self.parent(path)
        if !parent.isEmpty { state.withLock { _ = $0.madeDirectories.insert(parent) } }
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
        keepParent(of: path)
        invalidate()
    }

    func rename(_ fromFuse: String, _ toFuse: String, noReplace: Bool) throws {
        if readOnly { throw FuseError(EROFS) }
        let from = Self.storePath(fromFuse), to = Self.storePath(toFuse)
        _ = try Self.virtualPath(from)
        _ = try Self.virtualPath(to)
        // Changed files still open at or under `from` are stored first: the rename moves what
        // was written.
        let moving = state.withLock { state in
            state.files.filter { $0.key == from || $0.key.hasPrefix(from + "/") }.map(\.value)
        }
        for file in moving where file.dirty { try store(file) }
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
        // Open files follow their name; one open at `to` before is a file no name reaches.
        state.withLock { state in
            state.files[to]?.markUnlinked()
            state.files[to] = nil
            for (path, file) in state.files where path == from || path.hasPrefix(from + "/") {
                let renamed = to + path.dropFirst(from.count)
                state.files[path] = nil
                state.files[renamed] = file
                file.path = renamed
            }
        }
        keepParent(of: from)
        invalidate()
    }

    private func renameInStore(_ from: String, _ to: String, recursive: Bool) throws {
        let _: RenameReply = try call { client, master in
            try await client.call(.POST, master, Route.rename, body: RenameRequest(from: from, to: to, recursive: recursive), timeout: .seconds(60))
        }
    }

    /// At unmount: files still open (their application never closed them) are not stored, as
    /// they may be half written; a changed one keeps its cache file, named on stderr.
    func shutdown() {
        let open = state.withLock { state in
            let files = Array(Set(state.handles.values.map { ObjectIdentifier($0.file) }))
                .compactMap { id in state.handles.values.first { ObjectIdentifier($0.file) == id }?.file }
            state.handles.removeAll()
            state.files.removeAll()
            return files
        }
        for file in open {
            let keep = file.dirty && !file.unlinked
            if keep {
                FileHandle.standardError.write(Data("mount: \(file.path) was still open and changed at unmount; not stored, its content is kept in \(file.local)\n".utf8))
            }
            file.close(keep: keep)
        }
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
            case .rejected(_, 409, let reply) where reply.code.contains("exist"): throw FuseError(EEXIST, reply.error)
            case .rejected(_, 409, let reply): throw FuseError(EBUSY, reply.error)
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
