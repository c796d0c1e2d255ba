import Foundation
import Synchronization

/// A file open through the mount: its cache file, whether it was changed since it was last
/// stored, and how much of a fetched copy has arrived. Used from libfuse's threads (a read
/// waits here for its bytes) and from the fetch task.
final class OpenFile: Sendable {
    let path: String
    /// The cache file.
    let local: String
    let writable: Bool
    /// Reads and writes of the cache file, one at a time.
    private let io: Mutex<FileHandle>
    private let progress = NSCondition()
    private let fields = Mutex(Fields())
    /// Held while the file is being stored, so that writes wait for the store to end.
    private let flushing = Mutex(())

    struct Fields {
        var dirty = false
        var unlinked = false
        var expected: Int64?
        var arrived: Int64 = 0
        var done = true
        var failure: FuseError?
        var fetch: Task<Void, Never>?
        var abandoned = false
    }

    init(path: String, cache: String, writable: Bool) throws {
        self.path = path
        self.writable = writable
        local = cache + "/" + UUID().uuidString.lowercased()
        guard FileManager.default.createFile(atPath: local, contents: nil),
              let handle = FileHandle(forUpdatingAtPath: local)
        else { throw FuseError(EIO, "cannot create the cache file \(local)") }
        io = Mutex(handle)
    }

    var dirty: Bool { fields.withLock { $0.dirty } }
    var unlinked: Bool {
        get { fields.withLock { $0.unlinked } }
        set { fields.withLock { $0.unlinked = newValue } }
    }
    var fetch: Task<Void, Never>? {
        get { fields.withLock { $0.fetch } }
        set { fields.withLock { $0.fetch = newValue } }
    }

    /// Set when the file is closed: a fetch under way stops at its next chunk.
    var abandoned: Bool { fields.withLock { $0.abandoned } }

    func markDirty() { fields.withLock { $0.dirty = true } }
    func markClean() { fields.withLock { $0.dirty = false } }

    // MARK: Fetching

    func expect(size: Int64) {
        fields.withLock { fields in
            fields.expected = size
            fields.done = false
        }
    }

    func arrived(upTo position: Int64) {
        progress.lock()
        fields.withLock { $0.arrived = max($0.arrived, position) }
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

    /// Waits until the bytes up to `end` have arrived (or the fetch ended).
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
        return try io.withLock { handle in
            do {
                try handle.seek(toOffset: UInt64(offset))
                return try handle.read(upToCount: count) ?? Data()
            } catch {
                throw FuseError(EIO, "cache file \(local): \(error)")
            }
        }
    }

    func write(offset: Int64, data: Data) throws {
        try waitComplete()
        try flushing.withLock { _ in
            try io.withLock { handle in
                do {
                    try handle.seek(toOffset: UInt64(offset))
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

    func withFlushLock<T>(_ body: () throws -> T) throws -> T {
        try flushing.withLock { _ in
            try io.withLock { handle in
                do { try handle.synchronize() } catch { throw FuseError(EIO, "cache file \(local): \(error)") }
            }
            return try body()
        }
    }

    /// Stops a fetch under way, and removes the cache file.
    func close() {
        fields.withLock { $0.abandoned = true }
        if fetch != nil { try? waitComplete() }
        io.withLock { handle in try? handle.close() }
        try? FileManager.default.removeItem(atPath: local)
    }
}
