import Foundation
import Logging
import ReplicaCore
import Transport
import Synchronization

/// The storage role of a node: its blob store, who it is, where its master is, and what it
/// must tell the master at the next report.
public final class StorageNode: Sendable {
    public let id: NodeID
    /// This process's run of the node, in its reports (``NodeReport/instance``).
    let instance = UUID().uuidString.lowercased()
    /// The address other nodes and clients use to reach this node.
    public let address: String
    /// The master's address (this node's own for the master).
    public let master: String
    public let store: BlobStore
    public let client: SignedClient
    public let verifier: RequestVerifier
    public let logger: Logger
    /// Signalled when something the master should hear soon has happened.
    public let reportSoon = Wakeup()
    /// The background scrubber's status and requests for a pass (see ``Scrubber``).
    public let scrubbing = ScrubControl()
    /// Made with the node: a metrics backend bootstrapped before records into it.
    public let metrics = NodeMetrics()

    private struct Activity {
        var transfers = 0
        var added: [HeldFile] = []
        var removed: [FileRef] = []
        /// Why some of `removed` went, when they were damaged.
        var damaged: [ReplicaDamage] = []
    }

    private let activity = Mutex(Activity())
    /// Versions being copied here (how many copies of each), and whether the master removed
    /// them meanwhile (then the copies are dropped instead of kept).
    private let copiesUnderWay = Mutex<[FileID: (count: Int, cancelled: Bool)]>([:])
    private let membership: Mutex<SwarmID?>

    public init(
        id: NodeID, swarm: SwarmID?, address: String, master: String, store: BlobStore, client: SignedClient,
        verifier: RequestVerifier, logger: Logger
    ) {
        self.membership = Mutex(swarm)
        self.id = id
        self.address = address
        self.master = master
        self.store = store
        self.client = client
        self.verifier = verifier
        self.logger = logger
    }

    // MARK: Swarm

    /// The swarm this node's data directory belongs to; nil until it joins one.
    public var swarm: SwarmID? { membership.withLock { $0 } }

    /// Whether the node may act on what a master of swarm `theirs` says: joins that swarm
    /// first if the node belongs to none yet (recorded durably before anything is applied).
    /// A master of another swarm (or one that does not say) is refused.
    public func accept(swarm theirs: SwarmID?) async throws -> Bool {
        guard let theirs else { return false }
        if let mine = swarm { return mine == theirs }
        try await SwarmMembership.store(theirs, data: store.dataPath)
        membership.withLock { $0 = theirs }
        logger.info("joined swarm \(theirs) of the master \(master)")
        return true
    }

    /// The one line a node logs when a master of another swarm speaks to it.
    public func foreignSwarmMessage(master: String, theirs: SwarmID?) -> String {
        let mine = swarm.map { "\($0)" } ?? "none"
        let other = theirs.map { "swarm \($0)" } ?? "another swarm"
        return "refusing master \(master): its catalog belongs to \(other) but this node's data directory \(store.dataPath) belongs to swarm \(mine). "
            + "The node keeps serving reads and deletes nothing. If the catalog was replaced or lost, start the master with --recover on an empty catalog, "
            + "or point it at the right --catalog; to move this node to the other swarm, stop it and run `fsdfsd node leave-swarm --data \(store.dataPath)`"
    }

    // MARK: Load

    /// Transfers in progress (uploads received, copies pulled, files served).
    public var activeTransfers: Int { activity.withLock { $0.transfers } }

    /// Runs `body` counted as one active transfer.
    public func transfer<T>(_ body: () async throws -> T) async rethrows -> T {
        activity.withLock { $0.transfers += 1 }
        defer { activity.withLock { $0.transfers -= 1 } }
        return try await body()
    }

    /// 1-minute load average per core plus active transfers (ARCHITECTURE.md section 2).
    public func load() -> Double {
        var averages = [Double](repeating: 0, count: 3)
        let cores = Double(max(1, ProcessInfo.processInfo.activeProcessorCount))
        let perCore = getloadavg(&averages, 1) == 1 ? averages[0] / cores : 0
        return perCore + Double(activeTransfers)
    }

    // MARK: Copies under way

    /// Runs a copy of `file` that a removal of the same version cancels.
    func copying<T>(_ file: FileID, _ body: (_ cancelled: @escaping @Sendable () -> Bool) async throws -> T) async rethrows -> T {
        copiesUnderWay.withLock { copies in
            let known = copies[file] ?? (0, false)
            copies[file] = (known.count + 1, known.cancelled)
        }
        defer {
            copiesUnderWay.withLock { copies in
                guard let known = copies[file] else { return }
                copies[file] = known.count > 1 ? (known.count - 1, known.cancelled) : nil
            }
        }
        return try await body { self.copiesUnderWay.withLock { $0[file]?.cancelled ?? false } }
    }

    /// Runs the copies of `files` (a batch) as ``copying(_:_:)`` runs one: `cancelled(file)`
    /// says whether the master removed that version meanwhile.
    func copying<T>(
        all files: [FileID], _ body: (_ cancelled: @escaping @Sendable (FileID) -> Bool) async throws -> T
    ) async rethrows -> T {
        copiesUnderWay.withLock { copies in
            for file in files {
                let known = copies[file] ?? (0, false)
                copies[file] = (known.count + 1, known.cancelled)
            }
        }
        defer {
            copiesUnderWay.withLock { copies in
                for file in files {
                    guard let known = copies[file] else { continue }
                    copies[file] = known.count > 1 ? (known.count - 1, known.cancelled) : nil
                }
            }
        }
        return try await body { file in self.copiesUnderWay.withLock { $0[file]?.cancelled ?? false } }
    }

    /// The master removed `file`: a copy of it under way is dropped when it ends.
    func cancelCopy(of file: FileID) {
        copiesUnderWay.withLock { copies in
            if let known = copies[file] { copies[file] = (known.count, true) }
        }
    }

    // MARK: Changes for the next report

    /// A file appeared that the master did not record itself (a copy finished while the master
    /// was unreachable, for instance).
    public func noteAdded(_ file: HeldFile) {
        activity.withLock { activity in
            // The latest of an add and a removal of the same version is what holds.
            if let id = file.fileID { activity.removed.removeAll { $0.names(FileRef(fileID: id, path: file.path)) } }
            activity.added.append(file)
        }
        reportSoon.signal()
    }

    /// A file is gone (quarantined, removed by the operator); the master must stop counting it.
    public func noteRemoved(_ file: FileRef) {
        activity.withLock { activity in
            activity.added.removeAll { $0.path == file.path && $0.fileID == file.fileID }
            activity.removed.append(file)
        }
        reportSoon.signal()
    }

    /// A replica was found damaged — corrupt (quarantined) or missing from the disk — and
    /// dropped: the master stops counting it and records which it was.
    public func noteDamaged(_ file: FileRef, kind: String, detail: String? = nil) {
        activity.withLock { activity in
            activity.damaged.removeAll { $0.file == file }
            activity.damaged.append(ReplicaDamage(file: file, kind: kind, detail: detail))
        }
        noteRemoved(file)
    }

    /// Takes the changes accumulated since the last report.
    func takeChanges() -> (added: [HeldFile], removed: [FileRef], damaged: [ReplicaDamage]) {
        activity.withLock { activity in
            defer {
                activity.added = []
                activity.removed = []
                activity.damaged = []
            }
            return (activity.added, activity.removed, activity.damaged)
        }
    }

    /// Puts back changes whose report did not reach the master.
    func restoreChanges(added: [HeldFile], removed: [FileRef], damaged: [ReplicaDamage] = []) {
        activity.withLock { activity in
            activity.added = added + activity.added
            activity.removed = removed + activity.removed
            activity.damaged = damaged + activity.damaged
        }
    }
}

extension HeldFile {
    public init(_ blob: StoredBlob) {
        self.init(
            path: blob.path, fileID: blob.fileID, size: blob.size, sha256: blob.sha256, version: blob.version,
            created: blob.created)
    }
}
