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

private func systemRename(_ from: String, _ to: String) -> Int32 {
    #if canImport(Glibc)
    Glibc.rename(from, to)
    #else
    Darwin.rename(from, to)
    #endif
}

/// What is on disk where a blob would go: how many of its parent directories exist (all of
/// them real directories) and the regular file already at the path, if any.
struct Placement {
    var existingParents: Int
    var existing: FileInfo?
}

/// The layout of a node's data directory and the file operations the blob store builds on.
/// Everything goes through SwiftNIO's file system or its blocking-I/O thread pool, never a
/// blocking call on the cooperative pool.
struct DataDirectory: Sendable {
    static let fileMode = FilePermissions(rawValue: 0o644)
    static let directoryMode = FilePermissions(rawValue: 0o755)

    /// The data directory, absolute.
    let root: FilePath
    var fileSystem: FileSystem { .shared }
    var metadata: FilePath { root.appending(".fsdfs") }
    var temporary: FilePath { metadata.appending("tmp") }
    var quarantine: FilePath { metadata.appending("quarantine") }
    /// Versions an upload replaced, kept until the master has answered the upload's commit;
    /// never cleared at start (what is left there was not given back to the catalog).
    var kept: FilePath { metadata.appending("kept") }
    var indexFile: FilePath { metadata.appending("index.sqlite") }

    /// Where the blob at `path` lives.
    func location(of path: VirtualPath) -> FilePath { root.appending(path.rawValue) }

    /// The directory made of the first `level + 1` segments of `path`.
    func ancestor(of path: VirtualPath, level: Int) -> FilePath {
        root.appending(path.segments[0...level].joined(separator: "/"))
    }

    /// Checks every existing component of `path` without following symbolic links: parents
    /// must be directories and the last one, if present, a regular file.
    /// - Throws: ``BlobStoreError/pathConflict(_:)`` otherwise.
    func placement(of path: VirtualPath) async throws -> Placement {
        let segments = path.segments
        var current = root
        for (level, segment) in segments.enumerated() {
            current.append(segment)
            let here = current
            let info = try await mapErrors("stat", here.string) {
                try await fileSystem.info(forFileAt: here, infoAboutSymbolicLink: true)
            }
            guard let info else { return Placement(existingParents: level, existing: nil) }
            if level == segments.count - 1 {
                guard info.type == .regular else { throw BlobStoreError.pathConflict(path) }
                return Placement(existingParents: level, existing: info)
            }
            guard info.type == .directory else { throw BlobStoreError.pathConflict(path) }
        }
        return Placement(existingParents: segments.count - 1, existing: nil)
    }

    /// Creates the parent directories of `path` from level `existing` on (mode 0755).
    /// Returns how many it created before it stopped, and the error if it stopped early.
    func createParents(of path: VirtualPath, from existing: Int) async -> (created: Int, error: (any Error)?) {
        var created = 0
        for level in existing..<(path.segments.count - 1) {
            let directory = ancestor(of: path, level: level)
            do {
                try await mapErrors("mkdir", directory.string) {
                    try await fileSystem.createDirectory(
                        at: directory, withIntermediateDirectories: false, permissions: Self.directoryMode)
                }
            } catch {
                return (created, error)
            }
            created += 1
        }
        return (created, nil)
    }

    /// Removes the empty parent directories of `path`, deepest first, down to level
    /// `lowest` (0 = the top directory under the data root), stopping at the first one
    /// that is not an empty real directory. Missing ones are skipped.
    func pruneParents(of path: VirtualPath, downTo lowest: Int = 0) async {
        var level = path.segments.count - 2
        while level >= lowest {
            let directory = ancestor(of: path, level: level)
            let found = try? await fileSystem.info(forFileAt: directory, infoAboutSymbolicLink: true)
            guard let info = found ?? nil else {
                level -= 1  // not there (a failed mkdir): look further up
                continue
            }
            guard info.type == .directory else { return }
            do {
                try await fileSystem.removeItem(at: directory, strategy: .sequential, recursively: false)
            } catch {
                return
            }
            level -= 1
        }
    }

    /// `rename(2)`: atomically replaces any file at `destination`. Runs on NIO's blocking pool
    /// (NIO's own `replaceItem` removes then moves, which is not atomic).
    func rename(_ source: FilePath, to destination: FilePath) async throws {
        try await twoPathCall("rename", source, destination) { systemRename($0, $1) }
    }

    /// `link(2)`: a second name for the file at `source` (same inode, same mtime). Runs on
    /// NIO's blocking pool.
    func hardLink(_ source: FilePath, to destination: FilePath) async throws {
        try await twoPathCall("link", source, destination) { link($0, $1) }
    }

    /// Runs a system call on two paths on NIO's blocking pool; a failure names both.
    private func twoPathCall(
        _ operation: String, _ source: FilePath, _ destination: FilePath,
        _ call: @escaping @Sendable (String, String) -> Int32
    ) async throws {
        let from = source.string, to = destination.string
        try await mapErrors(operation, to) {
            try await NIOThreadPool.singleton.runIfActive {
                if call(from, to) != 0 {
                    throw BlobStoreError.io(
                        operation: operation, path: to, message: "from '\(from)': \(Errno(rawValue: errno))")
                }
            }
        }
    }

    /// The entries of a folder of the data directory, in name order, never following a
    /// symbolic link.
    func list(_ folder: FilePath) async throws -> [DirectoryEntry] {
        let entries = try await mapErrors("list", folder.string) {
            try await fileSystem.withDirectoryHandle(atPath: folder, options: .init(followSymbolicLinks: false)) {
                var entries: [DirectoryEntry] = []
                for try await batch in $0.listContents().batched() { entries += batch }
                return entries
            }
        }
        return entries.sorted { $0.path.string < $1.path.string }
    }

    /// What `lstat` says of one entry of a folder (``statEntries(of:)``).
    struct EntryStatus: Sendable {
        enum Kind: Sendable { case directory, regular, other }
        var name: String
        var kind: Kind
        var size: Int64
        var mtimeNanoseconds: Int64
        var inode: UInt64
    }

    /// Every entry of `folder` with its `lstat`, in name order, in ONE job on NIO's blocking
    /// pool: a start-up scan of a million files makes one hop per folder, not two per file.
    /// The folder is opened without following a symbolic link (`O_NOFOLLOW`), and entries are
    /// looked at with `fstatat(AT_SYMLINK_NOFOLLOW)` relative to it. Names that are not valid
    /// UTF-8 are left out; an entry gone between the listing and its stat is left out too.
    func statEntries(of folder: FilePath) async throws -> [EntryStatus] {
        let path = folder.string
        return try await mapErrors("list", path) {
            try await NIOThreadPool.singleton.runIfActive {
                let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard descriptor >= 0 else {
                    throw BlobStoreError.io(operation: "list", path: path, message: "\(Errno(rawValue: errno))")
                }
                guard let stream = fdopendir(descriptor) else {
                    let error = errno
                    close(descriptor)
                    throw BlobStoreError.io(operation: "list", path: path, message: "\(Errno(rawValue: error))")
                }
                defer { closedir(stream) }
                var entries: [EntryStatus] = []
                while true {
                    errno = 0
                    guard let entry = readdir(stream) else {
                        if errno != 0 {
                            throw BlobStoreError.io(operation: "list", path: path, message: "\(Errno(rawValue: errno))")
                        }
                        break
                    }
                    let name = withUnsafePointer(to: entry.pointee.d_name) {
                        $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(validatingCString: $0) }
                    }
                    guard let name, name != ".", name != ".." else { continue }
                    var info = stat()
                    guard fstatat(descriptor, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
                    let type = info.st_mode & S_IFMT
                    #if canImport(Glibc)
                    let mtime = info.st_mtim
                    #else
                    let mtime = info.st_mtimespec
                    #endif
                    entries.append(EntryStatus(
                        name: name,
                        kind: type == S_IFDIR ? .directory : type == S_IFREG ? .regular : .other,
                        size: Int64(info.st_size),
                        mtimeNanoseconds: Int64(mtime.tv_sec) * 1_000_000_000 + Int64(mtime.tv_nsec),
                        inode: UInt64(info.st_ino)))
                }
                return entries.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
            }
        }
    }

    /// `fsync(2)` of a directory, so that a rename or mkdir in it is durable.
    func synchronize(directory: FilePath) async throws {
        try await mapErrors("fsync", directory.string) {
            try await fileSystem.withDirectoryHandle(atPath: directory) { try await $0.synchronize() }
        }
    }

    /// Moves the file at `path` to `.fsdfs/quarantine/<time>-<random>/<path>` and prunes the
    /// parents it leaves empty. A file that is already gone is not an error.
    func moveToQuarantine(_ path: VirtualPath) async throws {
        let stamp = Int64(Date().timeIntervalSince1970)
        let batch = "\(stamp)-\(UUID().uuidString.prefix(8).lowercased())"
        let destination = quarantine.appending(batch).appending(path.rawValue)
        let parent = destination.removingLastComponent()
        try await mapErrors("mkdir", parent.string) {
            try await fileSystem.createDirectory(
                at: parent, withIntermediateDirectories: true, permissions: Self.directoryMode)
        }
        let source = location(of: path)
        let exists = try await mapErrors("stat", source.string) {
            try await fileSystem.info(forFileAt: source, infoAboutSymbolicLink: true) != nil
        }
        if exists { try await rename(source, to: destination) }
        await pruneParents(of: path)
    }

    /// Streams an open file in chunks through SHA-256 (unless not `hashing`: the digest is then
    /// meaningless), handing every chunk to `sink`.
    static func digest(
        of handle: ReadFileHandle, chunkSize: Int, hashing: Bool = true, sink: (ByteBuffer) async throws -> Void = { _ in }
    ) async throws -> (size: Int64, sha256: String) {
        var hasher = SHA256()
        var size: Int64 = 0
        for try await chunk in handle.readChunks(chunkLength: .bytes(Int64(max(chunkSize, 4096)))) {
            if hashing { hasher.update(buffer: chunk) }
            size += Int64(chunk.readableBytes)
            try await sink(chunk)
        }
        return (size, hasher.finalize().hexString)
    }

    /// Hashes the regular file at `file` without following a symbolic link.
    func digest(of file: FilePath) async throws -> (size: Int64, sha256: String, info: FileInfo) {
        try await mapErrors("read", file.string) {
            try await fileSystem.withFileHandle(forReadingAt: file, options: .init(followSymbolicLinks: false)) {
                let info = try await $0.info()
                let (size, sha256) = try await Self.digest(of: $0, chunkSize: 262_144)
                return (size, sha256, info)
            }
        }
    }
}

extension FileInfo {
    /// Modification time in nanoseconds since 1970.
    var mtimeNanoseconds: Int64 {
        Int64(lastDataModificationTime.seconds) * 1_000_000_000 + Int64(lastDataModificationTime.nanoseconds)
    }

    /// The inode number (0 where the platform does not report one).
    var inode: UInt64 { platformSpecificStatus.map { UInt64($0.st_ino) } ?? 0 }
}

extension SHA256 {
    /// Feeds the readable bytes of `buffer` (in place: no copy).
    mutating func update(buffer: ByteBuffer) {
        buffer.withUnsafeReadableBytes { update(bufferPointer: $0) }
    }
}

extension SHA256Digest {
    /// Lowercase hex, as indexed and as sent on the wire.
    var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
