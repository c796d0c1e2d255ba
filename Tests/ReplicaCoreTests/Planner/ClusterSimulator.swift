import Foundation
import ReplicaCore
import TestSupport

/// A deterministic cluster: seeded random nodes, files and failures; copies that take
/// simulated time; the real catalog and planner deciding. The simulator keeps its own
/// ground truth (which bytes are on which disk) and checks the planner against it.
final class ClusterSimulator {
    struct Node {
        var quota: Int64
        var alive = true
        /// Alive in the catalog but no longer reporting: the window between a node dying and
        /// the master declaring it down. It neither sends nor receives bytes.
        var silent = false
        var reachable: Bool { alive && !silent }
        /// Complete files on the disk.
        var disk: [FileID: Int64] = [:]
        /// Copies being written (temp files).
        var incoming: [FileID: Int64] = [:]
        var diskBytes: Int64 { disk.values.reduce(0, +) + incoming.values.reduce(0, +) }
    }

    enum Event {
        case upload(path: String, size: Int64, n: Int)
        case copyDone(InFlightCopy)
        /// The node stops answering; the catalog still counts it until `nodeDown`.
        case nodeSilent(NodeID)
        case nodeDown(NodeID)
        case nodeUp(NodeID)
        case delete(path: String)
        /// The operator drains the node (planner rule 8).
        case drain(NodeID)
    }

    struct Scheduled {
        var time: Double
        var sequence: Int
        var event: Event
    }

    let catalog: SQLiteCatalog
    let planner: Planner
    var nodes: [NodeID: Node] = [:]
    /// Nodes being drained: never a copy target, nothing evicted from them.
    private(set) var draining: Set<NodeID> = []
    var now = 0.0
    private var queue: [Scheduled] = []
    private var sequence = 0
    private(set) var copies: [InFlightCopy] = []
    /// Bumped by every outside change (upload, delete, failure, return).
    private var epoch = 0
    /// Bumped by every decision, outside change and finished copy (a landed copy frees its
    /// source to be evicted: new information for the planner).
    private var plannedChanges = 0
    /// `plannedChanges` right after each eviction. Copying the file back to the same node
    /// with it unchanged is an oscillation: nothing happened that could justify the undo.
    private var evictedAt: [Placement: Int] = [:]
    private(set) var violations: [String] = []
    /// What happened, for failure messages.
    private(set) var trace: [String] = []
    private(set) var refusedUploads = 0
    private(set) var actions = 0
    var bandwidth: Double = 10  // bytes per time unit
    var rng: SplitMix64

    init(seed: UInt64, limits: PlannerLimits) throws {
        catalog = try SQLiteCatalog()
        planner = Planner(limits: limits)
        rng = SplitMix64(seed: seed)
    }

    // MARK: Set-up

    func addNode(_ id: NodeID, quota: Int64) async throws {
        nodes[id] = Node(quota: quota)
        try await catalog.registerNode(NodeRecord(id: id, address: "sim:\(id)", quota: quota))
        epoch += 1
    }

    func schedule(_ event: Event, at time: Double) {
        sequence += 1
        queue.append(Scheduled(time: time, sequence: sequence, event: event))
    }

    // MARK: Running

    /// Runs events and planning until nothing is left; false if it had to stop early: at the
    /// first broken rule, or after `maxSteps` events (these clusters settle in a few hundred).
    func run(maxSteps: Int = 5_000) async throws -> Bool {
        var steps = 0
        while true {
            try await planAndStart()
            if !violations.isEmpty { return false }
            guard let next = popNext() else { return true }
            now = next.time
            try await handle(next.event)
            steps += 1
            if steps > maxSteps {
                violations.append("no convergence after \(maxSteps) events (\(actions) copies)")
                return false
            }
        }
    }

    private func popNext() -> Scheduled? {
        guard let index = queue.indices.min(by: { (queue[$0].time, queue[$0].sequence) < (queue[$1].time, queue[$1].sequence) })
        else { return nil }
        return queue.remove(at: index)
    }

    func plannerNodes() async throws -> [PlannerNode] {
        try await catalog.nodes().map { PlannerNode($0, fresh: nodes[$0.id]?.silent != true) }
    }

    func currentPlan() async throws -> [ReplicationAction] {
        let nodes = try await plannerNodes()
        let planner = self.planner
        let inFlight = InFlight(copies: copies)
        return try await catalog.withPlannerView { queries in
            try planner.plan(queries: queries, nodes: nodes, inFlight: inFlight)
        }
    }

    private func planAndStart() async throws {
        let plans = try await currentPlan()
        if plans.isEmpty { return }
        let before = try await plannedKnVector()
        for case .copy(let plan) in plans {
            actions += 1
            trace.append("t=\(now) e\(epoch) \(plan)")
            if evictedAt[Placement(file: plan.file, node: plan.target)] == plannedChanges {
                violations.append("oscillation: \(plan.file) copied back to \(plan.target) it was just evicted from")
            }
            try await evict(plan.evicting, from: plan.target, for: "copy of \(plan.file)")
            plannedChanges += 1
            if draining.contains(plan.target) {
                violations.append("planned a copy of \(plan.file) to \(plan.target), which is draining")
            }
            guard var target = nodes[plan.target], target.reachable, target.disk[plan.file] == nil,
                  target.incoming[plan.file] == nil
            else {
                violations.append("planned a copy to \(plan.target), which is down, silent or already holds or receives \(plan.file)")
                continue
            }
            target.incoming[plan.file] = plan.size
            nodes[plan.target] = target
            checkQuota(plan.target)
            let copy = InFlightCopy(file: plan.file, size: plan.size, source: plan.source, target: plan.target)
            copies.append(copy)
            let duration = Double(max(plan.size, 1)) / bandwidth * Double(1 + rng.next() % 3)
            schedule(.copyDone(copy), at: now + duration)
        }
        // Every pass must leave the planned state (copies in flight counted as landed)
        // strictly better, lowest kn first: then no sequence of passes can come back to a
        // state it has left, which is what oscillating would take.
        let after = try await plannedKnVector()
        if !before.lexicographicallyPrecedes(after) {
            violations.append("a pass did not improve the planned kn vector: \(before) → \(after)")
        }
    }

    /// kn of every file with its copies in flight counted, sorted ascending. While nodes drain,
    /// each file's kn is the one the planner goes by (rule 8): its copies elsewhere for a file a
    /// draining node holds that needs them, the catalog's less the draining copies otherwise.
    func plannedKnVector() async throws -> [Int] {
        var vector: [Int] = []
        for (record, _, holders) in try await groundTruth() {
            let inFlight = copies.filter { $0.file == record.id }.count
            let drainingCopies = holders.filter { draining.contains($0) && nodes[$0]!.alive }.count
            let elsewhere = holders.filter { !draining.contains($0) && nodes[$0]!.reachable }.count
            let kn = drainingCopies > 0 && elsewhere < record.n ? elsewhere - record.n : record.kn - drainingCopies
            vector.append(kn + inFlight)
        }
        return vector.sorted()
    }

    private func evict(_ files: [FileID], from node: NodeID, for reason: String) async throws {
        let floor = planner.limits.evictionFloor
        if draining.contains(node), !files.isEmpty {
            violations.append("evicted \(files) from \(node), which is draining: a drain never removes its copies")
        }
        for file in files {
            try await catalog.setReplica(file, on: node, state: .evicting)
            if let record = try await catalog.file(id: file), record.kn < floor {
                violations.append("evicted \(file) from \(node) for \(reason): kn \(record.kn) < floor \(floor)")
            }
            nodes[node]?.disk[file] = nil
            // Make before break: the copies that really answer must keep the file at the floor.
            if let record = try await catalog.file(id: file) {
                let reachable = nodes.values.filter { $0.reachable && $0.disk[file] != nil }.count
                if reachable - record.n < floor {
                    violations.append("evicted \(file) from \(node) for \(reason): \(reachable) reachable copies left for N = \(record.n)")
                }
            }
            try await catalog.removeReplica(file, from: node)
            evictedAt[Placement(file: file, node: node)] = plannedChanges + 1
        }
    }

    private func checkQuota(_ id: NodeID) {
        let node = nodes[id]!
        if node.diskBytes > node.quota {
            violations.append("\(id) holds \(node.diskBytes) bytes over its quota of \(node.quota)")
        }
    }

    private func handle(_ event: Event) async throws {
        trace.append("t=\(now) e\(epoch) event \(event)")
        switch event {
        case .upload(let path, let size, let n):
            epoch += 1
            plannedChanges += 1
            let nodes = try await plannerNodes()
            let planner = self.planner
            let inFlight = InFlight(copies: copies)
            let placement = try await catalog.withPlannerView { queries in
                try planner.placeUpload(size: size, n: n, queries: queries, nodes: nodes, inFlight: inFlight)
            }
            guard let placement else {
                refusedUploads += 1
                trace.append("  refused")
                return
            }
            trace.append("  placed on \(placement.target) evicting \(placement.evicting)")
            if self.nodes[placement.target]?.reachable != true {
                violations.append("upload of \(path) placed on \(placement.target), which is down or silent")
            }
            try await evict(placement.evicting, from: placement.target, for: "upload of \(path)")
            plannedChanges += 1
            // A new version retires the old one; alive holders remove it at once.
            let file = try await catalog.putFile(
                NewFile(path: try VirtualPath(path), size: size, sha256: String(repeating: "b", count: 64), n: n))
            trace.append("  is \(file.id)")
            try await removePendingDeletions()
            self.nodes[placement.target]!.disk[file.id] = size
            checkQuota(placement.target)
            try await catalog.setReplica(file.id, on: placement.target, state: .live)

        case .copyDone(let copy):
            plannedChanges += 1
            copies.removeAll { $0 == copy }
            nodes[copy.target]?.incoming[copy.file] = nil
            let sourceOK = copy.source.map { nodes[$0]?.reachable == true && nodes[$0]?.disk[copy.file] != nil } ?? false
            let current = try await catalog.file(id: copy.file)
            guard nodes[copy.target]?.reachable == true, sourceOK, current?.deleted == false else {
                trace.append("  failed")
                return
            }
            nodes[copy.target]!.disk[copy.file] = copy.size
            try await catalog.setReplica(copy.file, on: copy.target, state: .live)

        case .nodeSilent(let id):
            epoch += 1
            plannedChanges += 1
            nodes[id]?.silent = true

        case .nodeDown(let id):
            epoch += 1
            plannedChanges += 1
            nodes[id]?.silent = false
            nodes[id]?.alive = false
            try await catalog.setNodeAlive(id, alive: false)

        case .nodeUp(let id):
            epoch += 1
            plannedChanges += 1
            nodes[id]?.alive = true
            try await catalog.setNodeAlive(id, alive: true)
            try await removePendingDeletions()

        case .delete(let path):
            epoch += 1
            plannedChanges += 1
            guard try await catalog.deleteFile(at: try VirtualPath(path)) != nil else { return }
            try await removePendingDeletions()

        case .drain(let id):
            epoch += 1
            plannedChanges += 1
            draining.insert(id)
            try await catalog.setDraining(id, true)
        }
    }

    /// Alive holders remove the bytes of deleted files; down ones do it when they return.
    private func removePendingDeletions() async throws {
        for (id, node) in nodes where node.alive {
            for victim in try await catalog.pendingDeletions(on: id).map(\.id) {
                nodes[id]!.disk[victim] = nil
                try await catalog.removeReplica(victim, from: id)
            }
        }
    }

    // MARK: Checks against the ground truth

    /// Files not deleted, with their ground-truth K (alive nodes with the bytes on disk).
    func groundTruth() async throws -> [(record: FileRecord, k: Int, holders: Set<NodeID>)] {
        var result: [(FileRecord, Int, Set<NodeID>)] = []
        var after: VirtualPath?
        while true {
            let page = try await catalog.listFiles(prefix: "", after: after, limit: 500)
            guard let last = page.last else { break }
            after = last.path
            for record in page {
                let holders = Set(nodes.filter { $0.value.disk[record.id] != nil }.map(\.key))
                let k = holders.filter { nodes[$0]!.alive }.count
                result.append((record, k, holders))
            }
        }
        return result
    }

    /// The catalog agrees with the disks: K counted once per alive holder, node usage.
    func checkCatalogMatchesDisks() async throws {
        for (record, k, _) in try await groundTruth() where record.k != k {
            violations.append("\(record.path): catalog K = \(record.k), disks say \(k)")
        }
        for node in try await catalog.nodes() {
            let disk = nodes[node.id]!.disk.values.reduce(0, +)
            if node.used != disk { violations.append("\(node.id): catalog used \(node.used), disk \(disk)") }
        }
    }

    /// Independent of the planner: no copy into free space and no allowed eviction could
    /// still raise the lowest kn. Returns the reasons it could.
    func improvementsLeft() async throws -> [String] {
        let floor = planner.limits.evictionFloor
        let truth = try await groundTruth()
        // A victim is judged without its copies on draining nodes (rule 8).
        let knByFile = Dictionary(uniqueKeysWithValues: truth.map { entry in
            (entry.record.id, entry.k - entry.holders.filter { draining.contains($0) && nodes[$0]!.alive }.count - entry.record.n)
        })
        var left: [String] = []
        for (record, k, holders) in truth where k > 0 {
            let kn = k - record.n
            for (id, node) in nodes where node.alive && !draining.contains(id) && !holders.contains(id) {
                let free = node.quota - node.diskBytes
                if free >= record.size {
                    left.append("\(record.path) (kn \(kn)) fits in \(id) (free \(free))")
                    continue
                }
                let evictable = node.disk.filter { file, _ in
                    guard let other = knByFile[file] else { return false }
                    return other - 1 >= floor && other >= kn + 2
                }.values.reduce(0, +)
                if free + evictable >= record.size {
                    left.append("\(record.path) (kn \(kn)) could evict over-replicated files on \(id)")
                }
            }
        }
        return left
    }
}

extension ClusterSimulator {
    /// Independent of the planner, for files a draining node holds with fewer than N copies
    /// elsewhere: no node that may receive has room for one, and no eviction the rules allow
    /// would make room (victims judged without their draining copies, as rule 8 says).
    func drainImprovementsLeft() async throws -> [String] {
        let floor = planner.limits.evictionFloor
        let truth = try await groundTruth()
        let records = Dictionary(uniqueKeysWithValues: truth.map { ($0.record.id, $0) })
        var left: [String] = []
        for (record, _, holders) in truth where holders.contains(where: { draining.contains($0) && nodes[$0]!.alive }) {
            let elsewhere = holders.filter { !draining.contains($0) && nodes[$0]!.reachable }.count
            guard elsewhere < record.n else { continue }
            let kn = elsewhere - record.n
            for (id, node) in nodes where node.reachable && !draining.contains(id) && !holders.contains(id) {
                let free = node.quota - node.diskBytes
                if free >= record.size {
                    left.append("\(record.path) (\(elsewhere) copies elsewhere, N = \(record.n)) fits in \(id) (free \(free))")
                    continue
                }
                let evictable = node.disk.filter { file, _ in
                    guard let other = records[file] else { return false }
                    let drainingCopies = other.holders.filter { draining.contains($0) && nodes[$0]!.alive }.count
                    let fresh = other.holders.filter { !draining.contains($0) && nodes[$0]!.reachable }.count
                    return fresh - other.record.n - 1 >= floor && other.record.kn - drainingCopies >= kn + 2
                }.values.reduce(0, +)
                if free + evictable >= record.size {
                    left.append("\(record.path) (\(elsewhere) copies elsewhere, N = \(record.n)) could evict on \(id)")
                }
            }
        }
        return left
    }
}
