import Crypto
import Foundation
import NIOCore
import NIOPosix
import ReplicaCore
import _NIOFileSystem

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `read(2)`, named apart from ``BlobStore/read(path:chunkSize:into:)``.
private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(fd, buffer, count)
}

#if os(Linux)
/// `syncfs(2)` (glibc ≥ 2.14), which Glibc's Swift module leaves out: it is declared only
/// under `_GNU_SOURCE`. Same C signature, `int syncfs(int fd)`.
@_silgen_name("syncfs")
private func systemSyncfs(_ fd: Int32) -> Int32
#endif

/// A small file of a batch, whole in memory and already checked against the catalog's size
/// and sha256 by the caller; ``BlobStore/storeBatch(_:)`` stores it.
public struct BatchBlob: Sendable {
    public var path: VirtualPath
    public var fileID: FileID?
    public var sha256: String
    public var version: Int64?
    public var created: Date?
    public var replacing: BlobReplacement
    public var bytes: ByteBuffer
    /// Asked under the namespace lock just before the blob takes its place: true drops it.
    public var cancelled: (@Sendable () -> Bool)?
    /// Takes its place only where the path holds nothing, not even the same content (a batch
    /// upload: what it stored is taken back if the master refuses it, which must never take
    /// a version that landed meanwhile with it).
    public var overNothing = false

    public init(
        path: VirtualPath, fileID: FileID?, sha256: String, version: Int64?, created: Date?, replacing: BlobReplacement,
        bytes: ByteBuffer, cancelled: (@Sendable () -> Bool)? = nil
    ) {
        self.path = path
        self.fileID = fileID
        self.sha256 = sha256
        self.version = version
        self.created = created
        self.replacing = replacing
        self.bytes = bytes
        self.cancelled = cancelled
    }

    var size: Int64 { Int64(bytes.readableBytes) }
}

extension BlobStore {
    /// Stores many small files with one flush to the disk for all of them (group commit), each
    /// with the guarantees of a ``BlobWrite``: nothing partial is ever visible, a file takes
    /// its place only once its bytes are durable, and only over what `replacing` allows.
    ///
    /// 1. Each file's size is reserved against the quota and written to its own temp file.
    /// 2. One `syncfs(2)` makes every temp file durable (where there is none, each is fsync'ed).
    /// 3. Under the namespace lock: each path is checked as a single write checks it, missing
    ///    parents are created, the index records every file in one transaction, each temp file
    ///    is renamed into place, and every directory changed is fsync'ed once.
    ///
    /// A failure costs the file it happened to, not the others.
    /// - Returns: one result per blob, in order: the stored blob, or why it was not stored
    ///   (a ``BlobStoreError``).
    public func storeBatch(_ blobs: [BatchBlob]) async -> [Result<StoredBlob, BlobStoreError>] {
        var results = [Result<StoredBlob, BlobStoreError>?](repeating: nil, count: blobs.count)
        // 1. Reserve and write.
        var reserved: [Int] = []
        for (index, blob) in blobs.enumerated() {
            do {
                try reserve(blob.size)
                reserved.append(index)
            } catch {
                results[index] = .failure(error)
            }
        }
        let temporaryRoot = directory.temporary
        let jobs = reserved.map { (index: $0, bytes: blobs[$0].bytes, temporary: temporaryRoot.appending("\(UUID().uuidString.lowercased()).part")) }
        let written: [Result<(inode: UInt64, mtime: Int64), BlobStoreError>]
        do {
            written = try await NIOThreadPool.singleton.runIfActive {
                let written = jobs.map { Self.writeTemporary($0.temporary.string, $0.bytes) }
                // 2. Durable, all at once.
                if let failure = Self.synchronizeAll(jobs.indices.filter { written[$0].isSuccess }.map { jobs[$0].temporary.string },
                                                     on: temporaryRoot.string)
                {
                    return written.map { $0.flatMap { _ in .failure(failure) } }
                }
                return written
            }
        } catch {
            written = jobs.map { _ in .failure(BlobStoreError.wrap(error, operation: "write", path: temporaryRoot.string)) }
        }
        var ready: [(index: Int, temporary: FilePath, entry: IndexEntry)] = []
        for (job, outcome) in zip(jobs, written) {
            switch outcome {
            case .success(let stat):
                let blob = blobs[job.index]
                ready.append((job.index, job.temporary, IndexEntry(
                    path: blob.path, fileID: blob.fileID, size: blob.size, sha256: blob.sha256, mtimeNanoseconds: stat.mtime,
                    inode: stat.inode, version: blob.version, created: blob.created)))
            case .failure(let error):
                release(blobs[job.index].size)
                results[job.index] = .failure(error)
                unlink(job.temporary.string)
            }
        }
        // 3. Into place.
        if !ready.isEmpty {
            let installed = await namespace.withLock { await installBatchHoldingLock(ready.map { ($0.temporary, $0.entry, blobs[$0.index]) }) }
            for (item, outcome) in zip(ready, installed) {
                results[item.index] = outcome
            }
        }
        return results.map { $0 ?? .failure(.io(operation: "store", path: directory.root.string, message: "not attempted")) }
    }

    /// Step 3 of ``storeBatch(_:)``. Consumes the reservation of every blob.
    private func installBatchHoldingLock(
        _ items: [(temporary: FilePath, entry: IndexEntry, blob: BatchBlob)]
    ) async -> [Result<StoredBlob, BlobStoreError>] {
        var results = [Result<StoredBlob, BlobStoreError>?](repeating: nil, count: items.count)
        var previous: [Int: IndexEntry] = [:]
        var candidates: [Int] = []
        for (index, item) in items.enumerated() {
            if item.blob.cancelled?() == true {
                results[index] = .failure(.cancelled(item.entry.path))
                continue
            }
            let held = ledger.withLock { $0.entries[item.entry.path] }
            if let held, item.blob.overNothing
                || (held.sha256 != item.entry.sha256 && !item.blob.replacing.allows(fileID: held.fileID, sha256: held.sha256))
            {
                results[index] = .failure(.versionConflict(path: item.entry.path, held: held.fileID))
                continue
            }
            if let held { previous[index] = held }
            candidates.append(index)
        }
        // Paths checked (no symbolic link, no file where a directory must be) and parents made.
        let root = directory.root.string
        let prepared: [Result<[String], BlobStoreError>]
        do {
            // A file on the disk is expected only where the index has one.
            let paths = candidates.map { (items[$0].entry.path, items[$0].blob.overNothing || previous[$0] == nil) }
            prepared = try await NIOThreadPool.singleton.runIfActive { paths.map { Self.prepare($0, root: root, overNothing: $1) } }
        } catch {
            prepared = candidates.map { _ in .failure(BlobStoreError.wrap(error, operation: "mkdir", path: root)) }
        }
        var placing: [(index: Int, created: [String])] = []
        for (index, outcome) in zip(candidates, prepared) {
            switch outcome {
            case .success(let created): placing.append((index, created))
            case .failure(let error): results[index] = .failure(error)
            }
        }
        // One transaction for the index; a crash before the renames leaves entries the next
        // scan finds without their files and drops.
        if !placing.isEmpty {
            do {
                try await mapErrors("update index", index.location) {
                    try await index.apply(changed: placing.map { items[$0.index].entry }, removed: [])
                }
            } catch {
                let failure = BlobStoreError.wrap(error, operation: "update index", path: index.location)
                for item in placing { results[item.index] = .failure(failure) }
                placing = []
            }
        }
        let moves = placing.map { (items[$0.index].temporary.string, directory.location(of: items[$0.index].entry.path).string) }
        let renamed: [BlobStoreError?]
        do {
            renamed = try await NIOThreadPool.singleton.runIfActive {
                moves.map { from, to in
                    rename(from, to) == 0 ? nil : BlobStoreError.io(operation: "rename", path: to, message: "from '\(from)': \(Errno(rawValue: errno))")
                }
            }
        } catch {
            renamed = moves.map { _ in BlobStoreError.wrap(error, operation: "rename", path: root) }
        }
        var directories: Set<String> = []
        var placed: Set<Int> = []
        for (item, failure) in zip(placing, renamed) {
            let entry = items[item.index].entry
            if let failure {
                try? await index.restore(previous[item.index], at: entry.path)
                results[item.index] = .failure(failure)
                if !item.created.isEmpty { await directory.pruneParents(of: entry.path) }
                continue
            }
            ledger.withLock { ledger in
                ledger.entries[entry.path] = entry
                ledger.committed += entry.size - (previous[item.index]?.size ?? 0)
                ledger.reserved -= entry.size
            }
            placed.insert(item.index)
            directories.insert(directory.location(of: entry.path).removingLastComponent().string)
            // A directory created is made durable by its parent.
            for created in item.created { directories.insert(FilePath(created).removingLastComponent().string) }
            results[item.index] = .success(entry.blob)
        }
        // Renames durable: every directory changed, once.
        let toSync = Array(directories)
        let syncFailures: [String: BlobStoreError]
        do {
            syncFailures = try await NIOThreadPool.singleton.runIfActive {
                var failures: [String: BlobStoreError] = [:]
                for path in toSync {
                    let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                    if fd < 0 || fsync(fd) != 0 {
                        failures[path] = .io(operation: "fsync", path: path, message: "\(Errno(rawValue: errno))")
                    }
                    if fd >= 0 { close(fd) }
                }
                return failures
            }
        } catch {
            syncFailures = Dictionary(uniqueKeysWithValues: toSync.map { ($0, BlobStoreError.wrap(error, operation: "fsync", path: $0)) })
        }
        if !syncFailures.isEmpty {
            // As with a single write: the blob is in place and indexed, but not known durable.
            for (index, outcome) in results.enumerated() {
                guard case .success(let blob) = outcome else { continue }
                let folder = directory.location(of: blob.path).removingLastComponent().string
                if let failure = syncFailures[folder] { results[index] = .failure(failure) }
            }
        }
        // Whatever did not take its place gives its reservation back and its temp file up.
        for (index, item) in items.enumerated() where !placed.contains(index) {
            release(item.entry.size)
            unlink(item.temporary.string)
        }
        return results.map { $0 ?? .failure(.io(operation: "store", path: root, message: "not attempted")) }
    }

    /// Writes `bytes` to a new temp file (mode 0644 whatever the umask); answers its inode and
    /// mtime. Blocking: run on a thread of the blocking pool.
    private static func writeTemporary(_ path: String, _ bytes: ByteBuffer) -> Result<(inode: UInt64, mtime: Int64), BlobStoreError> {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { return .failure(.io(operation: "create", path: path, message: "\(Errno(rawValue: errno))")) }
        defer { close(fd) }
        if fchmod(fd, 0o644) != 0 {
            unlink(path)
            return .failure(.io(operation: "chmod", path: path, message: "\(Errno(rawValue: errno))"))
        }
        let failure: Int32? = bytes.withUnsafeReadableBytes { raw in
            var offset = 0
            while offset < raw.count {
                let count = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if count < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += count
            }
            return nil
        }
        var info = stat()
        if let failure {
            unlink(path)
            return .failure(.io(operation: "write", path: path, message: "\(Errno(rawValue: failure))"))
        }
        guard fstat(fd, &info) == 0 else {
            unlink(path)
            return .failure(.io(operation: "stat", path: path, message: "\(Errno(rawValue: errno))"))
        }
        #if canImport(Darwin)
        let mtime = Int64(info.st_mtimespec.tv_sec) * 1_000_000_000 + Int64(info.st_mtimespec.tv_nsec)
        #else
        let mtime = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        #endif
        return .success((UInt64(info.st_ino), mtime))
    }

    /// Makes the files at `paths` durable: one `syncfs(2)` of the file system holding `folder`
    /// on Linux, an fsync of each elsewhere. Blocking. Returns the failure, if any.
    private static func synchronizeAll(_ paths: [String], on folder: String) -> BlobStoreError? {
        guard !paths.isEmpty else { return nil }
        #if os(Linux)
        let fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return .io(operation: "open", path: folder, message: "\(Errno(rawValue: errno))") }
        defer { close(fd) }
        // Since Linux 5.8 syncfs reports write-back errors of the file system since the file was opened.
        return systemSyncfs(fd) == 0 ? nil : .io(operation: "syncfs", path: folder, message: "\(Errno(rawValue: errno))")
        #else
        for path in paths {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            defer { if fd >= 0 { close(fd) } }
            if fd < 0 || fsync(fd) != 0 { return .io(operation: "fsync", path: path, message: "\(Errno(rawValue: errno))") }
        }
        return nil
        #endif
    }

    /// Checks every existing component of `path` under `root` without following symbolic
    /// links, as ``DataDirectory/placement(of:)`` does, and creates the missing parents (0755).
    /// Blocking. Returns the directories it created, outermost first.
    /// With `overNothing` (a batch upload, or a path the index holds nothing at), a file on
    /// the disk at the path is refused: one the index does not know was put there behind the
    /// store's back, and is kept, never written over.
    private static func prepare(_ path: VirtualPath, root: String, overNothing: Bool) -> Result<[String], BlobStoreError> {
        let segments = path.segments
        var current = root
        var created: [String] = []
        for (level, segment) in segments.enumerated() {
            current += "/" + segment
            var info = stat()
            let last = level == segments.count - 1
            if lstat(current, &info) == 0 {
                let type = info.st_mode & S_IFMT
                if last ? type != S_IFREG : type != S_IFDIR { return .failure(.pathConflict(path)) }
                if last, overNothing { return .failure(.versionConflict(path: path, held: nil)) }
                continue
            }
            guard errno == ENOENT else { return .failure(.io(operation: "stat", path: current, message: "\(Errno(rawValue: errno))")) }
            if last { break }
            if mkdir(current, 0o755) != 0, errno != EEXIST {
                return .failure(.io(operation: "mkdir", path: current, message: "\(Errno(rawValue: errno))"))
            }
            // Exactly 0755 whatever the umask.
            chmod(current, 0o755)
            created.append(current)
        }
        return .success(created)
    }
}

extension Result {
    fileprivate var isSuccess: Bool {
        if case .success = self { return true }
        return false
    }
}

extension BlobStore {
    /// Reads small blobs whole, each checked as ``read(path:chunkSize:into:)`` checks it: the
    /// path walked without following a symbolic link, the bytes hashed and compared with the
    /// index. A corrupt one is quarantined and dropped (``BlobStoreError/checksumMismatch(path:expected:actual:)``),
    /// one whose file is gone is dropped (``BlobStoreError/notFound(_:)``). The disk work for
    /// all of them is one call on the blocking pool.
    /// - Returns: per path, the blob as indexed and its bytes, or why not.
    public func readWhole(_ paths: [VirtualPath]) async -> [Result<(StoredBlob, ByteBuffer), BlobStoreError>] {
        let entries = ledger.withLock { ledger in paths.map { ledger.entries[$0] } }
        let root = directory.root.string
        let jobs = zip(paths, entries).map { path, entry in (path, entry?.size ?? -1) }
        let read: [Result<(bytes: [UInt8], inode: UInt64), BlobStoreError>]
        do {
            read = try await NIOThreadPool.singleton.runIfActive {
                jobs.map { path, size in size < 0 ? .failure(.notFound(path)) : Self.readFile(path, root: root, expected: size) }
            }
        } catch {
            read = jobs.map { _ in .failure(BlobStoreError.wrap(error, operation: "read", path: root)) }
        }
        var results: [Result<(StoredBlob, ByteBuffer), BlobStoreError>] = []
        for ((path, found), outcome) in zip(zip(paths, entries), read) {
            guard var entry = found else {
                results.append(.failure(.notFound(path)))
                continue
            }
            switch outcome {
            case .failure(.notFound):
                _ = try? await drop(entry)
                results.append(.failure(.notFound(path)))
            case .failure(let error):
                results.append(.failure(error))
            case .success(let file):
                // A commit may have replaced the file since the lookup: compare with the version read.
                if entry.inode != file.inode, let current = ledger.withLock({ $0.entries[path] }), current.inode == file.inode {
                    entry = current
                }
                let digest = SHA256.hash(data: file.bytes).hexString
                guard digest == entry.sha256, Int64(file.bytes.count) == entry.size else {
                    _ = try? await quarantine(entry)
                    results.append(.failure(.checksumMismatch(path: path, expected: entry.sha256, actual: digest)))
                    continue
                }
                results.append(.success((entry.blob, ByteBuffer(bytes: file.bytes))))
            }
        }
        return results
    }

    /// The whole file at `path` (at most one byte more than `expected`, so that growth shows),
    /// refusing a symbolic link or a non-directory anywhere along the path. Blocking.
    private static func readFile(_ path: VirtualPath, root: String, expected: Int64) -> Result<(bytes: [UInt8], inode: UInt64), BlobStoreError> {
        let segments = path.segments
        var current = root
        for (level, segment) in segments.enumerated() {
            current += "/" + segment
            var info = stat()
            guard lstat(current, &info) == 0 else {
                return errno == ENOENT || errno == ENOTDIR
                    ? .failure(.notFound(path)) : .failure(.io(operation: "stat", path: current, message: "\(Errno(rawValue: errno))"))
            }
            let type = info.st_mode & S_IFMT
            if level == segments.count - 1 ? type != S_IFREG : type != S_IFDIR { return .failure(.pathConflict(path)) }
        }
        let fd = open(current, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            return errno == ENOENT ? .failure(.notFound(path)) : .failure(.io(operation: "open", path: current, message: "\(Errno(rawValue: errno))"))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return .failure(.io(operation: "stat", path: current, message: "\(Errno(rawValue: errno))")) }
        let capacity = Int(max(0, expected)) + 1
        var bytes = [UInt8](repeating: 0, count: capacity)
        var filled = 0
        while filled < capacity {
            let count = bytes.withUnsafeMutableBytes { raw in systemRead(fd, raw.baseAddress! + filled, capacity - filled) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(.io(operation: "read", path: current, message: "\(Errno(rawValue: errno))"))
            }
            if count == 0 { break }
            filled += count
        }
        bytes.removeLast(capacity - filled)
        return .success((bytes, UInt64(info.st_ino)))
    }
}
