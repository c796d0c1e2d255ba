import Foundation
import ReplicaCore
import Testing
import TestSupport

extension Cluster {
    /// The master's event log, oldest first (up to the newest 10000).
    func events() async throws -> [EventRecord] {
        try await client.call(.GET, master, Route.events(after: nil, limit: 10_000), timeout: .seconds(10))
    }

    /// Waits for an event of `kind` matching `where`, and returns it.
    @discardableResult
    func awaitEvent(
        _ kind: EventKind, timeout: Duration = .seconds(30), where matches: @escaping @Sendable (EventRecord) -> Bool = { _ in true }
    ) async throws -> EventRecord {
        var found: EventRecord?
        try await eventually("a \(kind) event", timeout: timeout) {
            found = try await events().first { $0.kind == kind && matches($0) }
            return found != nil
        }
        return found!
    }
}

extension Integration {
    /// The master's event log: what happened, persisted, bounded, and followed live.
    @Suite("Events")
    struct EventsTests {
        @Test("Nodes joining, going down and coming back, and policy reloads good and bad are events that survive a master restart",
              arguments: CatalogKind.allCases)
        func nodeAndPolicyEvents(catalog: CatalogKind) async throws {
            try await withCluster(catalog: catalog) { cluster in
                let policies = try Integration.ReplicationTests.policyDirectory(in: cluster, "[default]\nn = 1\n")
                let master = try await cluster.start("master", asMaster: true, extra: ["--policies", policies])
                let one = try await cluster.start("one")
                try await cluster.waitForNodes(2)
                try await cluster.awaitEvent(.nodeJoined) { $0.address == one.address && $0.node != nil }
                try await cluster.awaitEvent(.nodeJoined) { $0.address == master.address }

                await one.crash()
                let down = try await cluster.awaitEvent(.nodeDown) { $0.address == one.address }
                #expect(down.message.contains("no report for"), "\(down.message)")
                try await cluster.restart(one)
                try await cluster.awaitEvent(.nodeBack) { $0.address == one.address }

                let file = URL(fileURLWithPath: policies).appendingPathComponent("policy.toml")
                try "[default]\nn = 2\n".write(to: file, atomically: true, encoding: .utf8)
                master.signal(SIGHUP)
                let reload = try await cluster.awaitEvent(.policyReload)
                #expect(reload.message.contains("N changed for"), "\(reload.message)")
                try "[default]\nn = two\n".write(to: file, atomically: true, encoding: .utf8)
                master.signal(SIGHUP)
                let failed = try await cluster.awaitEvent(.policyReloadFailed)
                #expect(failed.message.contains("policy.toml:2"), "\(failed.message)")
                #expect(failed.message.contains("the previous ones stay in force"), "\(failed.message)")

                let before = try await cluster.events()
                #expect(before.map(\.seq) == before.map(\.seq).sorted())
                #expect(Set(before.map(\.seq)).count == before.count)
                let order = before.map(\.kind).filter { [.nodeDown, .nodeBack, .policyReload, .policyReloadFailed].contains($0) }
                #expect(order == [.nodeDown, .nodeBack, .policyReload, .policyReloadFailed], "\(order)")

                // A master restart keeps them; new events number on after them. (A master does
                // not start on a broken policy file.)
                try "[default]\nn = 2\n".write(to: file, atomically: true, encoding: .utf8)
                await master.stop()
                try await cluster.restart(master)
                try await cluster.waitForNodes(2)
                let off = try await cluster.awaitEvent(.safeModeOff) { $0.seq > before.last!.seq }
                let after = try await cluster.events()
                #expect(Array(after.prefix(before.count)) == before, "the log survived the restart")
                #expect(after.contains { $0.kind == .safeModeOn && $0.seq > before.last!.seq && $0.seq < off.seq })

                let text = try await cluster.cli("events")
                #expect(text.status == 0, "\(text.stderr)")
                #expect(text.stdout.contains("node_down"), "\(text.stdout)")
                #expect(text.stdout.contains("node \(one.address) is down"), "\(text.stdout)")
                let lines = try await cluster.cli("events", "--json", "--limit", "3").stdout.split(separator: "\n")
                #expect(lines.count == 3)
                let decoded = try lines.map { try JSONDecoder().decode(EventRecord.self, from: Data($0.utf8)) }
                #expect(decoded == Array(try await cluster.events().suffix(3)), "the newest three, oldest first")
            }
        }

        @Test("A byte flipped on disk and found by fsdfsd scrub --wait is a replica_corrupt event; the copy back is file_repaired")
        func corruptReplicaAndRepair() async throws {
            try await withCluster { cluster in
                try await cluster.start("master", asMaster: true)
                try await cluster.start("one")
                let two = try await cluster.start("two")
                try await cluster.waitForNodes(3)
                try await cluster.put(try cluster.localFile("rot", size: 20_000), "x/rot")
                try await eventually("three copies") { try await cluster.whereIs("x/rot")?.k == 3 }

                try Integration.ScrubTests.flipByteKeepingTimes(two.file("x/rot"))
                let scrub = try await cluster.cli("scrub", two.address, "--wait")
                #expect(scrub.status == 0, "\(scrub.stderr)")
                let corrupt = try await cluster.awaitEvent(.replicaCorrupt) { $0.path?.rawValue == "x/rot" }
                #expect(corrupt.address == two.address)
                #expect(corrupt.message.contains("corrupt"), "\(corrupt.message)")
                #expect(corrupt.message.contains("scrubber"), "\(corrupt.message)")
                let repaired = try await cluster.awaitEvent(.fileRepaired) { $0.path?.rawValue == "x/rot" }
                #expect(repaired.seq > corrupt.seq)
                #expect(try await cluster.whereIs("x/rot")?.k == 3)

                // A node that comes back without a copy it held: replica_missing, then repaired again.
                await two.crash()
                try FileManager.default.removeItem(at: two.file("x/rot"))
                try await cluster.restart(two)
                let missing = try await cluster.awaitEvent(.replicaMissing) { $0.path?.rawValue == "x/rot" && $0.seq > repaired.seq }
                #expect(missing.address == two.address && missing.message.contains("missing"), "\(missing.message)")
                try await cluster.awaitEvent(.fileRepaired) { $0.path?.rawValue == "x/rot" && $0.seq > missing.seq }
                // Routine copies of a healthy swarm are not events.
                try await cluster.put(try cluster.localFile("fine", size: 1000), "x/fine")
                try await eventually("three copies") { try await cluster.whereIs("x/fine")?.k == 3 }
                #expect(try await cluster.events().filter { $0.path?.rawValue == "x/fine" }.isEmpty)
                try await cluster.expectAuditClean()
            }
        }

        @Test("events --follow --json prints, one JSON object per line, an event that happens after it started")
        func followPrintsNewEvents() async throws {
            try await withCluster { cluster in
                let master = try await cluster.start("master", asMaster: true)
                try await cluster.waitForNodes(1)
                try await cluster.awaitEvent(.nodeJoined) { $0.address == master.address }
                let log = cluster.root.appendingPathComponent("follow.log")
                let follow = try Fsdfsd.start(["events", "--follow", "--json"], environment: cluster.environment, log: log)
                defer { if follow.isRunning { follow.terminate() } }
                let text = { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
                try await eventually("the newest events are printed") { text().contains("node_joined") }

                let one = try await cluster.start("one")
                try await eventually("the new node's event is printed as it happens") {
                    text().contains("\"address\":\"\(one.address)\"")
                }
                #expect(follow.isRunning, "it keeps following")
                let lines = text().split(separator: "\n")
                let events = try lines.map { try JSONDecoder().decode(EventRecord.self, from: Data($0.utf8)) }
                #expect(events.map(\.seq) == events.map(\.seq).sorted() && Set(events.map(\.seq)).count == events.count)
                #expect(events.contains { $0.kind == .nodeJoined && $0.address == one.address })
                follow.terminate()
            }
        }
    }
}
