import Crypto
import NIOCore
import ReplicaCore
import Synchronization
import _NIOFileSystem

/// A blob being written, from ``BlobStore/beginWrite(path:fileID:size:expectedSHA256:)``.
///
/// Feed it with ``write(_:)`` (one call at a time), then ``commit()`` or ``abort()``.
/// Until the commit nothing is visible at the blob's path. A write that is dropped without
/// either gives its reservation back and has its temp file deleted.
public final class BlobWrite: Sendable {
    /// Where the blob will go.
    public let path: VirtualPath
    /// The catalog version being written.
    public let fileID: FileID?
    /// The announced size, reserved against the quota.
    public let size: Int64
    /// The digest the content must have (lowercase hex), if the sender gave one.
    public let expectedSHA256: String?
    /// What the blob may take the place of.
    public let replacing: BlobReplacement
    /// Asked under the namespace lock just before the blob takes its place: true drops it.
    let cancelled: (@Sendable () -> Bool)?

    private enum Phase { case open, writing, committing, finished }

    /// Bytes are gathered into writes of at least this size (few system calls and thread
    /// hops however small the chunks the network delivers).
    static let flushSize = 2 << 20

    private struct State {
        var phase = Phase.open
        /// Bytes received (and hashed).
        var written: Int64 = 0
        /// Received bytes not yet handed to the file, which hold from offset `flushed` on.
        var pending: ByteBuffer?
        var flushed: Int64 = 0
        /// The file write under way while the next bytes arrive (at most one).
        var inFlight: Task<Void, any Error>?
        var hasher = SHA256()
        var handleOpen = true
        var holdsReservation = true
        /// Set by ``abort()`` while a chunk is being written; that write cleans up.
        var abortRequested = false
    }

    private let store: BlobStore
    private let temporary: FilePath
    private let handle: WriteFileHandle
    private let state = Mutex(State())

    init(
        store: BlobStore, path: VirtualPath, fileID: FileID?, size: Int64, expectedSHA256: String?,
        replacing: BlobReplacement, cancelled: (@Sendable () -> Bool)?, temporary: FilePath, handle: WriteFileHandle
    ) {
        self.cancelled = cancelled
        self.replacing = replacing
        self.store = store
        self.path = path
        self.fileID = fileID
        self.size = size
        self.expectedSHA256 = expectedSHA256
        self.temporary = temporary
        self.handle = handle
    }

    deinit {
        let (close, release) = state.withLock { state in
            state.phase == .finished ? (false, false) : (state.handleOpen, state.holdsReservation)
        }
        if release { store.release(size) }
        if close {
            Task { [handle, temporary] in
                try? await handle.close()
                _ = try? await FileSystem.shared.removeItem(at: temporary, strategy: .sequential, recursively: false)
            }
        }
    }

    /// Bytes received so far (for progress).
    public var bytesWritten: Int64 { state.withLock { $0.written } }

    /// Appends `buffer` to the temp file, hashing it. Throws
    /// ``BlobStoreError/sizeMismatch(expected:received:)`` as soon as more than ``size`` bytes
    /// arrive, and aborts the write then (as on any I/O error).
    ///
    /// Bytes are gathered into writes of ``flushSize``; each goes to the file while the next
    /// bytes arrive and are hashed (one write in flight at a time, awaited before the next
    /// and before the commit). An error of a write is thrown by the call that awaits it.
    public func write(_ buffer: ByteBuffer) async throws {
        let (flush, previous): ((ByteBuffer, Int64)?, Task<Void, any Error>?)
        do {
            (flush, previous) = try state.withLock { (state: inout State) throws(BlobStoreError) in
                guard state.phase == .open else {
                    throw .io(operation: "write", path: path.rawValue, message: state.phase == .finished
                        ? "the write was already committed or aborted"
                        : "another write or a commit is in progress")
                }
                let total = state.written + Int64(buffer.readableBytes)
                guard total <= size else { throw .sizeMismatch(expected: size, received: total) }
                state.hasher.update(buffer: buffer)
                state.written = total
                if state.pending == nil {
                    state.pending = buffer
                } else {
                    state.pending!.writeImmutableBuffer(buffer)
                }
                guard let pending = state.pending, pending.readableBytes >= Self.flushSize else { return (nil, nil) }
                state.pending = nil
                defer { state.flushed += Int64(pending.readableBytes) }
                state.phase = .writing
                defer { state.inFlight = nil }
                return ((pending, state.flushed), state.inFlight)
            }
        } catch {
            if case .sizeMismatch = error { await abort() }
            throw error
        }
        guard let flush else { return }
        let (bytes, offset) = flush
        var failure: (any Error)?
        do {
            try await previous?.value
        } catch {
            failure = error
        }
        let next: Task<Void, any Error>? = failure == nil ? Task { [handle, temporary] in
            do {
                try await handle.write(contentsOf: bytes, toAbsoluteOffset: offset)
            } catch {
                throw BlobStoreError.wrap(error, operation: "write", path: temporary.string)
            }
        } : nil
        let cleanup = state.withLock { state -> (close: Bool, release: Bool)? in
            state.inFlight = next
            guard failure != nil || state.abortRequested else {
                if state.phase == .writing { state.phase = .open }
                return nil
            }
            return Self.finish(&state)
        }
        if let cleanup { await cleanUp(close: cleanup.close, release: cleanup.release) }
        if let failure { throw failure }
    }

    /// Hands the bytes still gathered to the file and waits for every write to end.
    private func drain() async throws {
        let (last, previous) = state.withLock { state in
            defer {
                state.pending = nil
                state.inFlight = nil
            }
            return (state.pending.map { ($0, state.flushed) }, state.inFlight)
        }
        try await previous?.value
        if let last, last.0.readableBytes > 0 {
            try await handle.write(contentsOf: last.0, toAbsoluteOffset: last.1)
        }
    }

    /// Makes the blob visible: fsyncs the temp file, checks the size and (if given) the
    /// sha256, creates missing parent directories, renames over any old file at the path,
    /// fsyncs the parent directory, updates the index and releases the reservation.
    /// On any failure the temp file is deleted, the reservation released, nothing changes,
    /// and the error is thrown (one exception: if only the final fsync of the directory
    /// fails, the new blob is already in place and indexed, and that error is thrown).
    public func commit() async throws -> StoredBlob {
        try await commit(keepingPrevious: false).blob
    }

    /// ``commit()``, keeping the blob it replaces aside (``ReplacedBlob``) until the caller
    /// drops it or puts it back.
    public func commit(keepingPrevious: Bool) async throws -> (blob: StoredBlob, replaced: ReplacedBlob?) {
        let (written, digest) = try state.withLock { (state: inout State) throws(BlobStoreError) in
            guard state.phase == .open else {
                throw .io(operation: "commit", path: path.rawValue, message: state.phase == .finished
                    ? "the write was already committed or aborted"
                    : "a write is still in progress")
            }
            state.phase = .committing
            return (state.written, state.hasher.finalize().hexString)
        }
        do {
            guard written == size else { throw BlobStoreError.sizeMismatch(expected: size, received: written) }
            if let expectedSHA256, expectedSHA256 != digest {
                throw BlobStoreError.checksumMismatch(path: path, expected: expectedSHA256, actual: digest)
            }
            try await mapErrors("write", temporary.string) { try await drain() }
            let info = try await mapErrors("fsync", temporary.string) {
                try await handle.synchronize()
                return try await handle.info()
            }
            state.withLock { $0.handleOpen = false }
            try await mapErrors("close", temporary.string) { try await handle.close() }
            // From here on the store consumes the reservation, whatever happens.
            state.withLock { $0.holdsReservation = false }
            let (blob, replaced) = try await store.install(
                temporary: temporary, path: path, fileID: fileID, size: size, sha256: digest, info: info,
                replacing: replacing, keepingPrevious: keepingPrevious, cancelled: cancelled)
            state.withLock { $0.phase = .finished }
            return (blob, replaced)
        } catch {
            let cleanup = state.withLock { Self.finish(&$0) }
            await cleanUp(close: cleanup.close, release: cleanup.release)
            // The temp file is gone after a successful rename; otherwise delete it.
            _ = try? await FileSystem.shared.removeItem(at: temporary, strategy: .sequential, recursively: false)
            throw error
        }
    }

    /// Deletes the temp file and releases the reservation. Idempotent; does nothing once
    /// committed. Called while a chunk is being written, it releases the reservation at once
    /// and leaves closing and deleting the temp file to that write; during ``commit()`` it
    /// does nothing (the commit finishes or cleans up itself).
    public func abort() async {
        let cleanup = state.withLock { state -> (close: Bool, release: Bool)? in
            switch state.phase {
            case .open:
                return Self.finish(&state)
            case .writing:
                state.abortRequested = true
                defer { state.holdsReservation = false }
                return (false, state.holdsReservation)
            case .committing, .finished:
                return nil
            }
        }
        if let cleanup { await cleanUp(close: cleanup.close, release: cleanup.release) }
    }

    /// Marks the write finished; returns whether the handle must still be closed and the
    /// reservation released (each exactly once).
    private static func finish(_ state: inout State) -> (close: Bool, release: Bool) {
        state.phase = .finished
        defer {
            state.handleOpen = false
            state.holdsReservation = false
        }
        return (state.handleOpen, state.holdsReservation)
    }

    /// Closes the handle and releases the reservation as told, and deletes the temp file.
    private func cleanUp(close: Bool, release: Bool) async {
        if release { store.release(size) }
        // A write still under way ends before the handle closes.
        if close, let inFlight = state.withLock({ state in defer { state.inFlight = nil }; return state.inFlight }) {
            _ = try? await inFlight.value
        }
        if close { try? await handle.close() }
        guard close || release else { return }
        _ = try? await FileSystem.shared.removeItem(at: temporary, strategy: .sequential, recursively: false)
    }
}

/// What a new blob may take the place of at its path: the rule that keeps versions from
/// mixing (an older copy never overwrites a newer version, a copy never destroys a file the
/// catalog cannot account for).
public enum BlobReplacement: Sendable, Equatable {
    /// Whatever the path holds: a client's upload the master granted for that path.
    case any
    /// Nothing, a blob with the same content, or one of these versions (which the master says
    /// are deleted or replaced), named by id and checksum.
    case only(Set<VersionRef>)

    /// Whether a blob recorded as version `fileID` with checksum `sha256` may be replaced.
    public func allows(fileID: FileID?, sha256: String) -> Bool {
        switch self {
        case .any: true
        case .only(let allowed): fileID.map { allowed.contains(VersionRef(fileID: $0, sha256: sha256)) } ?? false
        }
    }
}
