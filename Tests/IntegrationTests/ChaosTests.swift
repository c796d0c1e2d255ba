import Foundation
import ReplicaCore
import Synchronization
import Testing
import TestSupport

extension Integration {
    /// A bounded chaos run (issue #9, point 8): writers overwrite a fixed set of paths and
    /// readers read them back while slaves are killed or frozen one at a time and the master is
    /// killed twice. Afterwards every acknowledged write must read back and the catalog must
    /// match the disks. A put failing during chaos is expected and counted; an acknowledged
    /// file lost, or a read returning bytes that were never put to its path, is a failure.
    @Suite("Chaos")
    struct ChaosTests {
        /// Seconds of chaos per case (FSDFS_CHAOS_SECONDS overrides it for longer local runs).
        static let chaosSeconds: Int = {
            ProcessInfo.processInfo.environment["FSDFS_CHAOS_SECONDS"].flatMap(Int.init) ?? 45
        }()
        static let pathCount = 40
        static let writerCount = 2
        static let readerCount = 2

        @Test("Writers, readers, slaves killed or frozen and the master killed twice: nothing acknowledged is lost, every read is a version that was put, the audit is clean", arguments: CatalogKind.allCases)
        func chaos(catalog: CatalogKind) async throws {
            try await withCluster(catalog: catalog) { cluster in
                let master = try await cluster.start("master", asMaster: true)
                var started: [NodeProcess] = []
                for index in 1...4 { started.append(try await cluster.start("slave\(index)")) }
                let slaves = started
                try await cluster.waitForNodes(5)

                let ledger = Ledger()
                let paths = (0..<Self.pathCount).map { "chaos/d\($0 % 5)/f\($0).bin" }
                let clock = ContinuousClock()
                let end = clock.now + .seconds(Self.chaosSeconds)

                try await withThrowingTaskGroup(of: Void.self) { group in
                    // Writers. Each owns every writerCount-th path, so the puts to one path are
                    // sequential and "the last acknowledged version" is well defined.
                    for writer in 0..<Self.writerCount {
                        let owned = paths.enumerated().filter { $0.offset % Self.writerCount == writer }.map(\.element)
                        group.addTask {
                            var random = SplitMix64(seed: 0xC4A0_5000 + UInt64(writer))
                            var serial = 0
                            while clock.now < end {
                                // Each owned path once in order, then at random: every path is written.
                                let path = serial < owned.count ? owned[serial] : owned[Int(random.next() % UInt64(owned.count))]
                                let size = 2_000 + Int(random.next() % 198_000)
                                let seed = UInt8(truncatingIfNeeded: random.next())
                                serial += 1
                                let local = try cluster.localFile("w\(writer)-\(serial)", size: size, seed: seed)
                                let bytes = try Data(contentsOf: local)
                                let put = ledger.willPut(path, bytes)
                                let result = try? await cluster.cli("put", local.path, path)
                                ledger.didPut(path, put, acknowledged: result?.status == 0, error: result?.stderr ?? "did not finish")
                                try? FileManager.default.removeItem(at: local)
                                if result?.status != 0 {
                                    // Pacing: a failed put (master away) is not retried at once.
                                    try await Task.sleep(for: .milliseconds(200))  // pacing before the next put, not a retry
                                }
                            }
                        }
                    }
                    // Readers: a successful get must return exactly one version put to the path.
                    for reader in 0..<Self.readerCount {
                        group.addTask {
                            var random = SplitMix64(seed: 0xC4A0_6000 + UInt64(reader))
                            let local = cluster.root.appendingPathComponent("reader\(reader).bin")
                            while clock.now < end {
                                let acknowledged = ledger.acknowledgedPaths()
                                guard !acknowledged.isEmpty else {
                                    // Poll interval: wait for a first acknowledged put.
                                    try await Task.sleep(for: .milliseconds(100))  // poll interval
                                    continue
                                }
                                let path = acknowledged[Int(random.next() % UInt64(acknowledged.count))]
                                let toStdout = random.next() % 4 == 0
                                try? FileManager.default.removeItem(at: local)
                                let result = try? await cluster.cli("get", path, toStdout ? "-" : local.path)
                                guard let result, result.status == 0 else {
                                    ledger.readFailed()
                                    continue
                                }
                                let bytes = toStdout ? result.stdoutData : ((try? Data(contentsOf: local)) ?? Data())
                                ledger.read(path, bytes, how: toStdout ? "get -" : "get FILE")
                            }
                        }
                    }
                    // Chaos: one disturbance at a time, never more than one slave at once; the
                    // master is killed at one third and at two thirds of the run.
                    group.addTask {
                        var random = SplitMix64(seed: 0xC4A0_7000)
                        let start = clock.now
                        let total = Duration.seconds(Self.chaosSeconds)
                        var masterKills = 0
                        while clock.now < end {
                            if masterKills < 2, clock.now - start >= total * Double(masterKills + 1) / 3 {
                                masterKills += 1
                                ledger.event("kill master")
                                await master.crash()
                                // Pacing: the master stays away for a moment.
                                try await Task.sleep(for: .milliseconds(1_000 + Int(random.next() % 2_000)))  // chaos pacing within the run's deadline
                                try await cluster.restart(master)
                                ledger.event("master restarted")
                            } else {
                                let slave = slaves[Int(random.next() % UInt64(slaves.count))]
                                let away = Duration.milliseconds(2_000 + Int(random.next() % 3_000))
                                if random.next() % 2 == 0 {
                                    ledger.event("kill \(slave.name)")
                                    await slave.crash()
                                    // Pacing: the slave stays dead for `away`.
                                    try await Task.sleep(for: away)  // chaos pacing within the run's deadline
                                    try await cluster.restart(slave)
                                    ledger.event("\(slave.name) restarted")
                                } else {
                                    ledger.event("stop \(slave.name)")
                                    slave.signal(SIGSTOP)
                                    // Pacing: the slave stays frozen for `away`.
                                    try await Task.sleep(for: away)  // chaos pacing within the run's deadline
                                    slave.signal(SIGCONT)
                                    ledger.event("continue \(slave.name)")
                                }
                            }
                            // Pacing between disturbances.
                            try await Task.sleep(for: .milliseconds(1_000 + Int(random.next() % 2_000)))  // chaos pacing within the run's deadline
                        }
                    }
                    try await group.waitForAll()
                }

                // Convergence: every node running and alive, the master out of safe mode.
                for node in [master] + slaves {
                    node.signal(SIGCONT)
                    if !node.isRunning { try await cluster.restart(node) }
                }
                try await eventually("the cluster converges", timeout: .seconds(120)) {
                    let status = try await cluster.status()
                    return status.nodes.filter(\.alive).count == 5 && status.safeMode == nil
                }

                // Every acknowledged path reads back with its last acknowledged version (or a
                // version whose put came later and failed, whose outcome is unknown).
                var lost: [String] = []
                let check = cluster.root.appendingPathComponent("check.bin")
                for (path, allowed) in ledger.expected() {
                    var got: Data?
                    try? await eventually("get \(path)", timeout: .seconds(30)) {
                        try? FileManager.default.removeItem(at: check)
                        let result = try await cluster.cli("get", path, check.path)
                        guard result.status == 0 else { return false }
                        got = try Data(contentsOf: check)
                        return true
                    }
                    guard let got else {
                        lost.append("\(path): get never succeeded")
                        continue
                    }
                    if !allowed.contains(got) {
                        lost.append("\(path): read \(got.count) bytes that are not its last acknowledged version (\(allowed.map(\.count)) allowed)")
                    }
                }
                try await cluster.expectAuditClean(timeout: .seconds(60))
                let status = try await cluster.status()
                let counts = ledger.counts()
                print("chaos(\(catalog)): cluster directory \(cluster.root.lastPathComponent)")
                print("chaos(\(catalog)): events: \(counts.events.joined(separator: ", "))")
                print("chaos(\(catalog)): unaccounted files \(status.unaccountedFiles ?? 0) (\(status.unaccountedBytes ?? 0) bytes), catalog files \(status.files)")
                // Each one with its reason: kept on purpose (an upload whose node never learned
                // its outcome) or the trace of something the catalog lost track of.
                if let listed = try? await cluster.cli("unaccounted", "--json"),
                   let files = try? JSONDecoder().decode([UnaccountedFile].self, from: Data(listed.stdout.utf8))
                {
                    for file in files {
                        print("chaos(\(catalog)):   unaccounted \(file.path) on \(file.address), \(file.size) B, sha256 \(file.sha256.prefix(12))\(file.kept == nil ? "" : ", kept aside"): \(file.reason)")
                    }
                }
                for problem in lost {
                    print("chaos(\(catalog)): LOST \(problem)")
                    let path = String(problem.prefix { $0 != ":" })
                    for line in ledger.history(path) { print("chaos(\(catalog)):   \(line)") }
                }
                for problem in counts.badReads { print("chaos(\(catalog)): BAD READ \(problem)") }
                print("chaos(\(catalog)): puts \(counts.putsOK) ok / \(counts.putsFailed) failed, gets \(counts.getsOK) ok / \(counts.getsFailed) failed, files lost \(lost.count)")
                #expect(counts.putsOK > 0)
                #expect(counts.getsOK > 0)
                #expect(lost.isEmpty, "\(lost)")
                #expect(counts.badReads.isEmpty, "\(counts.badReads)")
            }
        }
    }
}


/// Everything the chaos run did, shared by its tasks.
private final class Ledger: Sendable {
    private struct Put {
        var bytes: Data
        /// nil while the put runs; false when it failed or its outcome is unknown.
        var acknowledged: Bool?
        /// For the report of a lost path: when the put started and ended, and why it failed.
        var started: Duration
        var ended: Duration?
        var error: String?
    }

    private struct State {
        /// The puts to each path, in order (one writer per path).
        var puts: [String: [Put]] = [:]
        var putsOK = 0
        var putsFailed = 0
        var getsOK = 0
        var getsFailed = 0
        var badReads: [String] = []
        var events: [String] = []
        let started = ContinuousClock.now
    }

    private let state = Mutex(State())

    /// Records a put about to start (a reader may see its bytes from then on); returns its index.
    func willPut(_ path: String, _ bytes: Data) -> Int {
        state.withLock { state in
            state.puts[path, default: []].append(Put(bytes: bytes, acknowledged: nil, started: ContinuousClock.now - state.started))
            return state.puts[path]!.count - 1
        }
    }

    func didPut(_ path: String, _ index: Int, acknowledged: Bool, error: String) {
        state.withLock { state in
            state.puts[path]![index].acknowledged = acknowledged
            state.puts[path]![index].ended = ContinuousClock.now - state.started
            if !acknowledged { state.puts[path]![index].error = error.split(separator: "\n").last.map(String.init) ?? error }
            if acknowledged { state.putsOK += 1 } else { state.putsFailed += 1 }
        }
    }

    func acknowledgedPaths() -> [String] {
        state.withLock { state in
            state.puts.filter { $0.value.contains { $0.acknowledged == true } }.keys.sorted()
        }
    }

    func readFailed() { state.withLock { $0.getsFailed += 1 } }

    /// A successful read: its bytes must be exactly one version ever put (or being put) to `path`.
    func read(_ path: String, _ bytes: Data, how: String) {
        state.withLock { state in
            state.getsOK += 1
            let versions = state.puts[path] ?? []
            if !versions.contains(where: { $0.bytes == bytes }) {
                state.badReads.append(
                    "\(how) \(path) at \(ContinuousClock.now - state.started): \(bytes.count) bytes, none of the \(versions.count) versions put (sizes \(versions.map(\.bytes.count)))")
            }
        }
    }

    func event(_ what: String) {
        state.withLock { state in
            let elapsed = (ContinuousClock.now - state.started).components
            state.events.append(String(format: "%.1fs ", Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18) + what)
        }
    }

    /// For each path with an acknowledged put: the versions it may read back, its last
    /// acknowledged one and any put after it that failed (whose outcome is unknown).
    func expected() -> [(path: String, allowed: [Data])] {
        state.withLock { state in
            state.puts.keys.sorted().compactMap { path in
                let puts = state.puts[path]!
                guard let last = puts.lastIndex(where: { $0.acknowledged == true }) else { return nil }
                return (path, puts[last...].map(\.bytes))
            }
        }
    }

    /// The puts to `path`, one line each (for the report of a lost path).
    func history(_ path: String) -> [String] {
        state.withLock { state in
            (state.puts[path] ?? []).map { put in
                let outcome = switch put.acknowledged {
                case true?: "acknowledged"
                case false?: "failed: \(put.error ?? "")"
                case nil: "unfinished"
                }
                return "put \(put.bytes.count) B sha256 \(RequestSignature.sha256Hex(of: put.bytes).prefix(12)) "
                    + "from \(put.started) to \(put.ended.map { "\($0)" } ?? "?"): \(outcome)"
            }
        }
    }

    func counts() -> (putsOK: Int, putsFailed: Int, getsOK: Int, getsFailed: Int, badReads: [String], events: [String]) {
        state.withLock { ($0.putsOK, $0.putsFailed, $0.getsOK, $0.getsFailed, $0.badReads, $0.events) }
    }
}
