/// Why a file with K < N is not at N yet, and what would fix it: the answer `fsdfsd at-risk`
/// gives per file and `status` gives for the backlog when nothing can progress.
///
/// Worked out by ``RepairDiagnosis`` from the same planning pass the planner uses, so the two
/// never disagree about room, evictions or targets.
public enum RepairReason: Sendable, Equatable {
    /// A copy of the file is under way.
    case copyInFlight
    /// The scheduler can copy the file and will; `wait` says what it waits for.
    case queued(QueueWait)
    /// The last copy to every node with room for it failed; each is tried again after a back-off.
    case retrying
    /// Fewer nodes are up than the file's N, and every one of them holds a replica.
    /// `downHolders` of the nodes that are down hold a copy too.
    case tooFewNodes(n: Int, up: Int, downHolders: Int)
    /// No node without a replica has room for the file, and no eviction the rules allow would
    /// make it; `mostFree` is the most free space among those nodes.
    case noRoom(size: Int64, mostFree: Int64)
    /// Room needs evictions the rules allow, but the master is in safe mode (no evictions).
    case safeMode(size: Int64)
    /// Every node with room for the file is at or above `--max-load`.
    case nodesBusy(maxLoad: Double)
    /// K = 0, but `holders` nodes that are down hold a copy: it counts again when they return.
    case everyHolderDown(holders: Int)
    /// K = 0 and no node holds a copy: the file is lost.
    case noSource
    /// The scheduler is paused, for the reason given (the catalog is unreachable).
    case schedulerPaused(String)

    /// What a file that the scheduler will copy is waiting for.
    public enum QueueWait: Sendable, Equatable {
        /// A copy slot on a target (`--max-copies`), or the next planning pass.
        case copySlot
        /// Over-replicated files to be evicted to make room.
        case eviction
        /// The nodes with room to report again (they missed a report, or the master just started).
        case nodesReporting
        /// Replicas of it being copied or evicted on every node that could take it.
        case settling
    }

    /// The short code of `at-risk --json` and `status --json` (`replication.stuck.reason`).
    public var code: String {
        switch self {
        case .copyInFlight: "copy-in-flight"
        case .queued: "queued"
        case .retrying: "retrying"
        case .tooFewNodes: "too-few-nodes"
        case .noRoom: "no-room"
        case .safeMode: "safe-mode"
        case .nodesBusy: "nodes-busy"
        case .everyHolderDown: "every-holder-down"
        case .noSource: "no-source"
        case .schedulerPaused: "scheduler-paused"
        }
    }

    /// Whether the scheduler fixes the file by itself, with nobody acting and no node
    /// returning: a copy is under way or can be planned.
    public var progressing: Bool {
        switch self {
        case .copyInFlight, .queued, .retrying: true
        default: false
        }
    }

    /// What is wrong and what would fix it, in one sentence, about one file or (`files` > 1)
    /// about that many.
    public func message(files: Int = 1) -> String {
        let these = files == 1 ? "this path" : "these paths"
        switch self {
        case .copyInFlight:
            return "a copy is under way"
        case .queued(.copySlot):
            return "the scheduler copies it as soon as a copy slot is free"
        case .queued(.eviction):
            return "the scheduler copies it once over-replicated files are evicted to make room"
        case .queued(.nodesReporting):
            return "the nodes with room for it missed a report; copies go there once they report again"
        case .queued(.settling):
            return "copies or evictions of it are under way on the other nodes; it settles by itself"
        case .retrying:
            return "the last copies to the nodes with room failed; they are retried after a back-off (the master's log says why)"
        case .tooFewNodes(let n, let up, let downHolders):
            let missing = n - up
            let nodes = "\(missing) more node\(missing == 1 ? "" : "s")"
            let holding = up == 1 ? "only 1 node is up and it holds a copy" : "only \(up) nodes are up and each holds a copy"
            var text = "N = \(n) but \(holding): add \(nodes), or lower N for \(these)"
            if downHolders > 0 { text += " (or bring back the \(downHolders) down node\(downHolders == 1 ? "" : "s") holding a copy)" }
            return text
        case .noRoom(let size, let mostFree):
            return "no node without a copy has \(ByteSize.format(size)) free (the most is \(ByteSize.format(mostFree))) "
                + "and no eviction is allowed: add a node or quota, remove files, or lower N for \(these)"
        case .safeMode(let size):
            return "no node without a copy has \(ByteSize.format(size)) free without evictions, and the master evicts nothing in safe mode: "
                + "it ends once the nodes that were up have reported, or with fsdfsd safe-mode leave"
        case .nodesBusy(let maxLoad):
            return "every node with room is at or above --max-load \(maxLoad): copies resume when their load drops (or raise --max-load)"
        case .everyHolderDown(let holders):
            let nodes = holders == 1 ? "the node holding a copy is" : "all \(holders) nodes holding a copy are"
            return "\(nodes) down: it counts again when \(holders == 1 ? "it returns" : "they return"); restart \(holders == 1 ? "it" : "them")"
        case .noSource:
            return "no node holds a copy: lost; upload it again (fsdfsd put) or remove it (fsdfsd rm)"
        case .schedulerPaused(let why):
            return "replication is paused (\(why)); it resumes by itself when the catalog answers again"
        }
    }
}

extension RepairReason {
    /// Why the backlog as a whole cannot progress, from the reasons of its files (most at risk
    /// first); nil when any of them progresses, or there are none.
    ///
    /// Files that still have a copy on a node that is up decide it when there are any: a lost
    /// file cannot be fixed by replication, and `status` counts lost files apart. Among the
    /// reasons, the one most files share wins (ties: the one of the file most at risk). For
    /// ``tooFewNodes(n:up:downHolders:)`` and ``noRoom(size:mostFree:)`` the largest need is
    /// given: adding that many nodes, or that much room, fixes every file it stands for.
    ///
    /// - Parameter reasons: each file's reason with whether it still has K > 0.
    /// - Returns: the reason and how many files it stands for.
    public static func stuck(_ reasons: [(reason: RepairReason, hasCopy: Bool)]) -> (reason: RepairReason, files: Int)? {
        guard !reasons.isEmpty, !reasons.contains(where: \.reason.progressing) else { return nil }
        let deciding = reasons.contains(where: \.hasCopy) ? reasons.filter(\.hasCopy) : reasons
        var counts: [String: Int] = [:]
        var firstIndex: [String: Int] = [:]
        var widest: [String: RepairReason] = [:]
        for (index, entry) in deciding.enumerated() {
            let code = entry.reason.code
            counts[code, default: 0] += 1
            if firstIndex[code] == nil { firstIndex[code] = index }
            widest[code] = widest[code].map { $0.widened(by: entry.reason) } ?? entry.reason
        }
        let code = counts.keys.min { a, b in (-counts[a]!, firstIndex[a]!) < (-counts[b]!, firstIndex[b]!) }!
        return (widest[code]!, counts[code]!)
    }

    /// The larger need of two reasons of the same kind.
    func widened(by other: RepairReason) -> RepairReason {
        switch (self, other) {
        case (.tooFewNodes(let n, let up, let down), .tooFewNodes(let n2, let up2, let down2)):
            let (wider, up3) = n - up >= n2 - up2 ? (n, up) : (n2, up2)
            return .tooFewNodes(n: wider, up: up3, downHolders: max(down, down2))
        case (.noRoom(let size, _), .noRoom(let size2, _)):
            return size >= size2 ? self : other
        case (.safeMode(let size), .safeMode(let size2)):
            return .safeMode(size: max(size, size2))
        case (.everyHolderDown(let holders), .everyHolderDown(let holders2)):
            return .everyHolderDown(holders: max(holders, holders2))
        default:
            return self
        }
    }
}
