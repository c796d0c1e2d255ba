import Foundation
import Testing
import ReplicaCore
import TestSupport

extension Integration {
    /// `fsdfsd node maintenance ADDRESS --for DURATION`: a planned restart.
    @Suite("Maintenance")
    struct MaintenanceTests {
        @Test("Maintenance for 30 s of a killed node schedules no copy; after the window it is declared down and its files are copied again")
        func windowHoldsBackReplication() async throws {
            try await withCluster { cluster in
                let policies = try Integration.ReplicationTests.policyDirectory(
                    in: cluster, "[[rule]]\nmatch = \"single/**\"\nn = 1\n\n[default]\nn = 2\n")
                let master = try await cluster.start("master", quota: "0", asMaster: true, extra: ["--policies", policies])
                try await cluster.start("a", quota: "2000")
                let one = try await cluster.start("one", quota: "1000")
                let two = try await cluster.start("two", quota: "1000")
                try await cluster.waitForNodes(4)
                // g (N = 1) first, on every node; then f (N = 2) lands on a and takes one of the
                // small nodes from g. Nothing else can move: g's other extra copy is worth less
                // than f's copy that would replace it.
                try await cluster.put(try cluster.localFile("g", size: 1000, seed: 1), "single/g.bin")
                try await eventually("g on every node") { try await cluster.whereIs("single/g.bin")?.k == 3 }
                try await cluster.put(try cluster.localFile("f", size: 1000, seed: 2), "f.bin")
                try await eventually("f at N, g with one extra copy, nothing in flight") {
                    let f = try await cluster.whereIs("f.bin"), g = try await cluster.whereIs("single/g.bin")
                    let inFlight = try await cluster.status().replication.copiesInFlight
                    return f?.k == 2 && g?.k == 2 && inFlight == 0
                }
                let f = try #require(try await cluster.whereIs("f.bin"))
                let (holder, other) = f.nodes.contains(one.address) ? (one, two) : (two, one)
                #expect(f.nodes.contains(holder.address))

                let maintenance = try await cluster.cli("node", "maintenance", holder.address, "--for", "30s")
                #expect(maintenance.status == 0, "\(maintenance.stderr)")
                #expect(maintenance.stdout.contains("in maintenance until"), "\(maintenance.stdout)")
                let until = try #require(try await cluster.node(holder)?.maintenanceUntil)
                let end = try Date(until, strategy: .iso8601)
                await holder.crash()

                // Without the window the holder would be down after 3 s and f copied to the
                // other small node in g's place. For the whole window nothing moves.
                var polls = 0
                while Date() < end.addingTimeInterval(-1) {
                    let status = try await cluster.status()
                    let node = try #require(status.nodes.first { $0.address == holder.address })
                    #expect(node.alive, "not declared down inside its window")
                    #expect(node.maintenanceUntil == until)
                    #expect(status.replication.copiesInFlight == 0, "no copy scheduled")
                    #expect(status.minKn == 0, "its copy of f keeps counting")
                    #expect(try await cluster.whereIs("f.bin")?.k == 2)
                    #expect(try await cluster.node(other)?.files == 1)
                    #expect(!FileManager.default.fileExists(atPath: other.file("f.bin").path), "no new replica on the other nodes")
                    polls += 1
                    try await Task.sleep(for: .milliseconds(500))  // poll interval, for the window's length
                }
                #expect(polls > 20)
                #expect(master.logText().contains("silent in its maintenance window"))
                #expect(try await cluster.cli("status").stdout.contains("MAINTENANCE \(holder.address)"))

                try await eventually("after the window the holder is down and f is copied again", timeout: .seconds(30)) {
                    let node = try await cluster.node(holder)
                    let f = try await cluster.whereIs("f.bin")
                    return node?.alive == false && node?.maintenanceUntil == nil && f?.k == 2 && f?.nodes.contains(other.address) == true
                }
                #expect(try await cluster.status().minKn == 0)
                #expect(try await cluster.cli("node", "forget", holder.address).status == 0)
                try await cluster.expectAuditClean()
            }
        }

        @Test("A node in maintenance that stops cleanly stays up with its copies counted and gets no uploads; its return ends the window with no copy")
        func windowEndsWhenTheNodeReturns() async throws {
            try await withCluster { cluster in
                let policies = try Integration.ReplicationTests.policyDirectory(in: cluster, "[default]\nn = 2\n")
                let master = try await cluster.start("master", asMaster: true, extra: ["--policies", policies])
                let a = try await cluster.start("a", quota: "1G")
                try await cluster.waitForNodes(2)
                try await cluster.put(try cluster.localFile("f", size: 5000, seed: 1), "f.bin")
                try await eventually("two copies") { try await cluster.whereIs("f.bin")?.k == 2 }
                let inode = try FileManager.default.attributesOfItem(atPath: a.file("f.bin").path)[.systemFileNumber] as? Int

                let start = try await cluster.cli("node", "maintenance", a.address, "--for", "10m")
                #expect(start.status == 0, "\(start.stderr)")
                // SIGTERM: the node tells the master it leaves, which inside a window is not down.
                await a.stop()
                try await eventually("the master heard a leave") { master.logText().contains("left during its maintenance window") }
                let stopped = Date()
                while Date() < stopped.addingTimeInterval(5) {  // past --missed-reports (3 s)
                    let node = try #require(try await cluster.node(a))
                    #expect(node.alive && node.maintenanceUntil != nil)
                    #expect(try await cluster.whereIs("f.bin")?.k == 2)
                    try await Task.sleep(for: .milliseconds(500))  // poll interval
                }
                // a has the most room, but it is in maintenance: the upload goes elsewhere.
                try await cluster.put(try cluster.localFile("g", size: 5000, seed: 2), "g.bin")
                #expect(try await cluster.whereIs("g.bin")?.nodes == [master.address])
                let human = try await cluster.cli("status")
                #expect(human.stdout.contains("MAINTENANCE \(a.address)"), "\(human.stdout)")
                #expect(human.stdout.contains("MAINT "), "\(human.stdout)")

                try await cluster.restart(a)
                try await eventually("a is back and its window ended") {
                    let node = try await cluster.node(a)
                    return node?.alive == true && node?.maintenanceUntil == nil
                }
                #expect(master.logText().contains("is back: its maintenance window ends"))
                try await eventually("g reaches a too") { try await cluster.whereIs("g.bin")?.k == 2 }
                #expect(try await cluster.whereIs("f.bin")?.k == 2)
                #expect(
                    try FileManager.default.attributesOfItem(atPath: a.file("f.bin").path)[.systemFileNumber] as? Int == inode,
                    "f was never copied again")
                try await cluster.expectAuditClean()
            }
        }

        @Test("--for 0 ends a window early; a node that is down cannot start one", arguments: CatalogKind.allCases)
        func windowEndsOnCommand(catalog: CatalogKind) async throws {
            try await withCluster(catalog: catalog) { cluster in
                try await cluster.start("master", asMaster: true)
                let a = try await cluster.start("a")
                try await cluster.waitForNodes(2)
                #expect(try await cluster.cli("node", "maintenance", a.address, "--for", "2h").status == 0)
                let until = try #require(try await cluster.node(a)?.maintenanceUntil)
                let end = try Date(until, strategy: .iso8601)
                #expect(abs(end.timeIntervalSinceNow - 7200) < 60)
                let stop = try await cluster.cli("node", "maintenance", a.address, "--for", "0")
                #expect(stop.status == 0, "\(stop.stderr)")
                #expect(stop.stdout.contains("maintenance window ended"), "\(stop.stdout)")
                #expect(try await cluster.node(a)?.maintenanceUntil == nil)
                try await eventually("the window's start and end recorded as events") {
                    let events = try await cluster.cli("events", "--json").stdout
                    return events.contains("\"maintenance_started\"") && events.contains("\"maintenance_ended\"")
                }

                await a.crash()
                try await eventually("a is down") { try await cluster.node(a)?.alive == false }
                let late = try await cluster.cli("node", "maintenance", a.address, "--for", "10m")
                #expect(late.status != 0)
                #expect(late.stderr.contains("already down"), "\(late.stderr)")
                #expect(late.stderr.split(separator: "\n").count == 1, "\(late.stderr)")
                #expect(try await cluster.node(a)?.maintenanceUntil == nil)
            }
        }
    }
}
