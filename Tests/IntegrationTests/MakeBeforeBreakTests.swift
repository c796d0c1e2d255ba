import Foundation
import Testing
import ReplicaCore
import TestSupport

extension Integration.FailureTests {
    // Make before break: a node that stopped answering moments ago is still alive in the
    // catalog until it misses `--missed-reports` reports. Evictions must not count its copies,
    // and uploads must not be handed to it.

    @Test("Eviction while a holder is SIGSTOPped: G's last live copy stays, and the store converges after SIGCONT")
    func noEvictionAgainstAStoppedHolder() async throws {
        try await withCluster { cluster in
            let policies = try Integration.ReplicationTests.policyDirectory(
                in: cluster, "[[rule]]\nmatch = \"g/**\"\nn = 1\n\n[default]\nn = 2\n")
            // Down only after 30 missed reports: the whole stop happens while the catalog still
            // counts b's copy of G. The master stores nothing (quota 0).
            let master = try await cluster.start(
                "master", quota: "0", asMaster: true, extra: ["--policies", policies, "--missed-reports", "30"])
            // `where` lists G's holders by address and `get` tries them in that order: a gets the
            // lower one, so reads go to a rather than wait on the stopped b.
            let addresses = try await Cluster.freeAddresses(2)
            // a has 50 bytes more room than b: for F the planner tries a first.
            let a = try await cluster.start("a", quota: "1150", address: addresses[0])
            let b = try await cluster.start("b", quota: "1100", address: addresses[1])
            try await cluster.waitForNodes(3)
            let g = try cluster.localFile("g", size: 1100, seed: 1)
            try await cluster.put(g, "g/keep.bin")
            try await eventually("G (N = 1) on a and b: kn 1") { try await cluster.whereIs("g/keep.bin")?.k == 2 }
            // c has room for F (1000 bytes) but not for G (1100).
            let c = try await cluster.start("c", quota: "1000")
            try await cluster.waitForNodes(4)

            b.signal(SIGSTOP)
            try await eventually("the master sees b silent") { master.logText().contains("at \(b.address) missed a report") }
            #expect(try await cluster.node(b)?.alive == true, "not down yet: the catalog still counts b's copy")
            let f = try cluster.localFile("f", size: 1000, seed: 2)
            try await cluster.put(f, "f.bin")
            #expect(FileManager.default.fileExists(atPath: c.file("f.bin").path), "only c had room for the upload")
            // F (N = 2) wants a second copy. Only a can take it, by evicting G; counting b's copy
            // that looks safe, but b is silent and a's copy is the only one that answers.
            try await holds("G stays on a while b is stopped", for: .seconds(4)) {
                let keep = try await cluster.whereIs("g/keep.bin"), other = try await cluster.whereIs("f.bin")
                return keep?.k == 2 && other?.k == 1 && FileManager.default.fileExists(atPath: a.file("g/keep.bin").path)
            }
            let read = cluster.root.appendingPathComponent("g-while-stopped")
            let get = try await cluster.cli("get", "g/keep.bin", read.path)
            #expect(get.status == 0, "\(get.stderr)")
            #expect(try Data(contentsOf: read) == Data(contentsOf: g))

            b.signal(SIGCONT)
            // b reports again: its copy of G counts for evictions, so a may give G up for F.
            try await eventually("converged: F on c and a, G on b") {
                let keep = try await cluster.whereIs("g/keep.bin"), other = try await cluster.whereIs("f.bin")
                return other?.k == 2 && keep?.k == 1 && keep?.nodes == [b.address]
            }
            #expect(try Data(contentsOf: a.file("f.bin")) == Data(contentsOf: f))
            let again = cluster.root.appendingPathComponent("g-after")
            let getAgain = try await cluster.cli("get", "g/keep.bin", again.path)
            #expect(getAgain.status == 0, "\(getAgain.stderr)")
            #expect(try Data(contentsOf: again) == Data(contentsOf: g))
        }
    }

    @Test("put when the master's first choice was SIGKILLed moments ago: the upload goes to another node")
    func putSurvivesADeadTarget() async throws {
        // Reports every 5 s: a node is fresh for 7.5 s after its last report, down after 15 s.
        try await withCluster(reportInterval: 5) { cluster in
            let master = try await cluster.start("master", asMaster: true)
            try await cluster.start("other")
            // The most free space: where the master puts uploads.
            let big = try await cluster.start("big", quota: "1G")
            try await cluster.waitForNodes(3)

            await big.crash()
            // Killed within one interval of its last report, big is still fresh: the master
            // grants it the upload, the connection is refused, and put asks again without it.
            let first = try cluster.localFile("first", size: 30_000, seed: 1)
            let put = try await cluster.cli("put", first.path, "first.bin")
            #expect(put.status == 0, "\(put.stderr)")
            #expect(put.stderr.contains("cannot reach \(big.address)"), "the first grant went to the dead node: \(put.stderr)")
            #expect(try await cluster.node(big)?.alive == true, "still within the down-after window")
            try await expectStored(first, at: "first.bin", notOn: big, in: cluster)

            // Once big has missed a report the master no longer grants it anything.
            try await eventually("the master sees big silent") { master.logText().contains("at \(big.address) missed a report") }
            let second = try cluster.localFile("second", size: 30_000, seed: 2)
            let again = try await cluster.cli("put", second.path, "second.bin")
            #expect(again.status == 0, "\(again.stderr)")
            #expect(!again.stderr.contains("cannot reach"), "no grant to the silent node: \(again.stderr)")
            #expect(try await cluster.node(big)?.alive == true, "still within the down-after window")
            try await expectStored(second, at: "second.bin", notOn: big, in: cluster)
        }
    }

    private func expectStored(_ local: URL, at path: String, notOn dead: NodeProcess, in cluster: Cluster) async throws {
        let found = try #require(try await cluster.whereIs(path))
        #expect(found.k >= 1)
        #expect(!found.nodes.contains(dead.address))
        let read = cluster.root.appendingPathComponent("\(path).read")
        let get = try await cluster.cli("get", path, read.path)
        #expect(get.status == 0, "\(get.stderr)")
        #expect(try Data(contentsOf: read) == Data(contentsOf: local))
    }
}

/// Polls `condition` for the whole of `duration` and fails as soon as it does not hold: for
/// what must *not* happen while a state lasts.
private func holds(
    _ what: String, for duration: Duration, _ condition: () async throws -> Bool
) async throws {
    let end = ContinuousClock.now + duration
    while ContinuousClock.now < end {
        guard try await condition() else { throw HarnessError("no longer true: \(what)") }
        try await Task.sleep(for: .milliseconds(100))  // poll interval
    }
}
