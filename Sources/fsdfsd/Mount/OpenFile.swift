import Foundation
import Synchronization

/// A file open through the mount, shared by every handle open on its path: its cache file,
/// whether it changed since it was last stored, and how much of a fetched copy has arrived.
/// Used from libfuse's threads (a read waits here for its bytes) and from the fetch task.
final class OpenFile: Sendable {
    /// The cache file.
    let local: String
    /// Reads and writes of the cache file, one at a time.
    private let io: Mutex<FileHandle>
    private let progress = NSCondition()
    private let fields: Mutex<Fields>
    /// Held while the file is being stored, so that writes wait for the store to end.
    private let flushing = Mutex(())

    struct Fields {
        var path: String
        var references = 1
        var writable = false
        var dirty = false
        var unlinked = false
        var expected: Int64?
        /// Bytes a reader may take: never the last one before the whole copy is verified.
        var arrived: Int64 = 0
        var done: Bool
        var failure: FuseError?
        /// A reader took bytes of the copy being fetched (another copy cannot replace them).
        var served = false
        var abandoned = false
    }

    /// - Parameter fetching: its content is on its way (``finished(_:)`` says when it is in).
    init(path: String, cache: String, fetching: Bool) throws {
        local = cache + "/" + UUID().uuidString.lowercased()
        guard FileManager.default.createFile(atPath: local, contents: nil, attributes: [.posixPermissions: 0o600]),
              let handle = FileHandle(forUpdatingAtPath: local)
        else { throw FuseError(EIO, "cannot create the cache file \(local)") }
        io = Mutex(handle)
        fields = Mutex(Fields(path: path, done: !fetching))
    }

    var path: String {
        get { fields.withLock { $0.path } }
        set { fields.withLock { $0.path = newValue } }
    }
    var dirty: Bool { fields.withLock { $0.dirty } }
    var writable: Bool { fields.withLock { $0.writable } }
    var unlinked: Bool { fields.withLock { $0.unlinked } }
    /// Set when the file is closed: a fetch under way stops at its next chunk.
    var abandoned: Bool { fields.withLock { $0.abandoned } }

    func markDirty() { fields.withLock { $0.dirty = true } }
    func markClean() { fields.withLock { $0.dirty = false } }
    func markWritable() { fields.withLock { $0.writable = true } }
    func markUnlinked() { fields.withLock { $0.unlinked = true } }
    func retain() { fields.withLock { $0.references += 1 } }
    /// One handle fewer; true when it was the last.
    func releaseOne() -> Bool { fields.withLock { $0.references -= 1; return $0.references == 0 } }

    // MARK: Fetching

    func expect(size: Int64) {
        fields.withLock { $0.expected = size }
    }

    /// Starts fetching a copy again from its start (another holder); false when a reader
    /// already took bytes of the previous one, which can no longer be replaced.
    func beginAttempt() -> Bool {
        progress.lock()
        defer { progress.unlock() }
        return fields.withLock { fields in
            guard !fields.served else { return false }
            fields.arrived = 0
            return true
        }
    }

    func arrived(upTo position: Int64) {
        progress.lock()
        fields.withLock { fields in
            // The last byte waits for the checksum: a reader never reads a whole bad copy.
            let limit = max((fields.expected ?? position) - 1, 0)
            fields.arrived = max(fields.arrived, min(position, limit))
        }
        progress.broadcast()
        progress.unlock()
    }

    func finished(_ failure: FuseError?) {
        progress.lock()
        fields.withLock { fields in
            fields.done = true
            fields.failure = failure
            if failure == nil, let expected = fields.expected { fields.arrived = expected }
        }
        progress.broadcast()
        progress.unlock()
    }

    /// Waits until the bytes before `end` may be read (or the fetch ended).
    private func wait(upTo end: Int64) throws {
        progress.lock()
        defer { progress.unlock() }
        while true {
            let fields = fields.withLock { $0 }
            if let failure = fields.failure { throw failure }
            if fields.done || fields.arrived >= min(end, fields.expected ?? end) { return }
            progress.wait()
        }
    }

    func waitComplete() throws {
        try wait(upTo: .max)
    }

    // MARK: Reading and writing

    func read(offset: Int64, count: Int) throws -> Data {
        try wait(upTo: offset + Int64(count))
        let data = try io.withLock { handle in
            do {
                try handle.seek(toOffset: UInt64(offset))
                return try handle.read(upToCount: count) ?? Data()
            } catch {
                throw FuseError(EIO, "cache file \(local): \(error)")
            }
        }
        if !data.isEmpty { fields.withLock { if !$0.done { $0.served = true } } }
        return data
    }

    /// Writes at `offset`, or at the end (O_APPEND); the bytes written.
    func write(offset: Int64, data: Data, append: Bool) throws {
        try waitComplete()
        try flushing.withLock { _ in
            try io.withLock { handle in
                do {
                    if append { try handle.seekToEnd() } else { try handle.seek(toOffset: UInt64(offset)) }
                    try handle.write(contentsOf: data)
                } catch {
                    throw FuseError(EIO, "cache file \(local): \(error)")
                }
            }
            markDirty()
        }
    }

    func truncate(_ size: Int64) throws {
        try waitComplete()
        try flushing.withLock { _ in
            try io.withLock { handle in
                do {
                    try handle.truncate(atOffset: UInt64(size))
                } catch {
                    throw FuseError(EIO, "cache file \(local): \(error)")
                }
            }
            markDirty()
        }
    }

    /// The cache file's size.
    func localSize() -> Int64 {
        io.withLock { handle in Int64((try? handle.seekToEnd()) ?? 0) }
    }

    /// Runs `body` (the store) while no write can change the file, after flushing it.
    func withFlushLock<T>(_ body: () throws -> T) throws -> T {
        try flushing.withLock { _ in
            if dirty {
                try io.withLock { handle in
                    do { try handle.synchronize() } catch { throw FuseError(EIO, "cache file \(local): \(error)") }
                }
            }
            return try body()
        }
    }

    /// Stops a fetch under way and closes the cache file; removes it unless `keep`.
    func close(keep: Bool = false) {
        fields.withLock { $0.abandoned = true }
        try? waitComplete()
        io.withLock { handle in try? handle.close() }
        if !keep { try? FileManager.default.removeItem(atPath: local) }
    }
}
