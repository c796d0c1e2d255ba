import Foundation
import ReplicaCore
import Testing
import TestSupport

extension Integration {
    /// A master on a MongoDB catalog when that catalog is not there, at start or later.
    @Suite("MongoDB catalog outages")
    struct MongoCatalogTests {
        @Test("serve with an unreachable MongoDB exits within 10 s with one line naming the host")
        func unreachableAtStart() async throws {
            let cluster = try Cluster()
            defer { try? FileManager.default.removeItem(at: cluster.root) }
            let started = ContinuousClock.now
            let result = try await cluster.cli(
                "serve", "--data", cluster.root.appendingPathComponent("master").path, "--listen", "127.0.0.1:\(try await Cluster.freePort())",
                "--quota", "10M", "--catalog", "mongodb://127.0.0.1:1/fsdfs")
            #expect(ContinuousClock.now - started < .seconds(10))
            #expect(result.status != 0)
            // The node's startup line, then the error: one line, naming the host.
            let errors = result.stderr.split(separator: "\n").filter { !$0.contains(" info ") }
            #expect(errors.count == 1, "\(result.stderr)")
            #expect(errors.first?.hasPrefix("Error: cannot open the catalog") == true, "\(result.stderr)")
            #expect(errors.first?.contains("127.0.0.1:1") == true, "\(result.stderr)")
            try? await cluster.http.shutdown()
        }

        @Test("A second master on the same MongoDB database is refused with one line naming the first")
        func secondMasterRefused() async throws {
            try await withCluster(catalog: .mongodb) { cluster in
                let master = try await cluster.start("master", asMaster: true)
                try await cluster.waitForNodes(1)
                let result = try await cluster.cli(
                    "serve", "--data", cluster.root.appendingPathComponent("intruder").path,
                    "--listen", "127.0.0.1:\(try await Cluster.freePort())", "--quota", "10M",
                    "--catalog", try #require(cluster.catalogURI))
                #expect(result.status != 0)
                let errors = result.stderr.split(separator: "\n").filter { !$0.contains(" info ") }
                #expect(errors.count == 1, "\(result.stderr)")
                #expect(errors.first?.contains("in use by the master at \(master.address)") == true, "\(result.stderr)")
                #expect(try await cluster.status().nodes.count == 1, "the first master carries on, alone")
            }
        }

        @Test("MongoDB lost at runtime: replication pauses and says so, nodes keep serving reads, and it all resumes with nothing lost")
        func lostAtRuntime() async throws {
            // A server of its own: this test silences it.
            let server = try await MongoTestServer.start()
            defer { server.signal(SIGCONT) }
            let uri = server.uri(database: "fsdfs_outage") + "&socketTimeoutMS=2000&serverSelectionTimeoutMS=2000&connectTimeoutMS=1000"
            do {
                try await withCluster(catalogURI: uri) { cluster in
                    try await cluster.start("master", asMaster: true)
                    let slave = try await cluster.start("slave")
                    try await cluster.waitForNodes(2)
                    let before = try cluster.localFile("before", size: 5000)
                    try await cluster.put(before, "kept/before.bin")
                    try await eventually("two copies") { try await cluster.whereIs("kept/before.bin")?.k == 2 }

                    server.signal(SIGSTOP)
                    try await eventually("status says replication is paused") {
                        try await cluster.status().replication.paused?.contains("catalog unreachable") == true
                    }
                    let status = try await cluster.cli("status")
                    #expect(status.stdout.contains("SCHEDULER PAUSED"), "\(status.stdout)")
                    let refused = try await cluster.cli("put", try cluster.localFile("during", size: 100).path, "during.bin")
                    #expect(refused.status != 0)
                    #expect(refused.stderr.contains("catalog"), "\(refused.stderr)")
                    let copy = cluster.root.appendingPathComponent("read-during-outage.bin")
                    let read = try await cluster.cli("get", "kept/before.bin", copy.path, "--node", slave.address)
                    #expect(read.status == 0, "\(read.stderr)")
                    #expect(try Data(contentsOf: copy) == Data(contentsOf: before))

                    server.signal(SIGCONT)
                    try await eventually("replication resumes") { try await cluster.status().replication.paused == nil }
                    #expect(try await cluster.whereIs("kept/before.bin")?.k == 2, "nothing lost, no node declared down")
                    try await cluster.put(try cluster.localFile("after", size: 3000), "after.bin")
                    try await eventually("a new file replicates again") { try await cluster.whereIs("after.bin")?.k == 2 }
                    #expect(try await cluster.status().nodes.allSatisfy(\.alive))
                    // The outage is in the event log: kept in memory while the catalog was away.
                    let paused = try await cluster.awaitEvent(.catalogPaused)
                    let resumed = try await cluster.awaitEvent(.catalogResumed) { $0.seq > paused.seq }
                    #expect(paused.message.contains("catalog unreachable"), "\(paused.message)")
                    #expect(resumed.time >= paused.time)
                }
            } catch {
                server.signal(SIGCONT)
                await server.stop()
                throw error
            }
            server.signal(SIGCONT)
            await server.stop()
        }
    }
}
