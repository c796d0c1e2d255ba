import Foundation
import ReplicaCore
import Testing
import TestSupport
import Transport

extension Cluster {
    /// `fsdfsd at-risk --json`, decoded.
    func atRisk(limit: Int? = nil) async throws -> AtRiskReply {
        let result = try await cli(arguments: ["at-risk", "--json"] + (limit.map { ["--limit", String($0)] } ?? []))
        guard result.status == 0 else { throw HarnessError("at-risk failed: \(result.stderr)") }
        return try JSONDecoder().decode(AtRiskReply.self, from: Data(result.stdout.utf8))
    }

    /// `fsdfsd status --json`, as the raw JSON object (to see which fields are null).
    func statusJSON() async throws -> [String: Any] {
        let result = try await cli("status", "--json")
        guard result.status == 0 else { throw HarnessError("status failed: \(result.stderr)") }
        guard let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] else {
            throw HarnessError("status --json is not an object: \(result.stdout)")
        }
        return object
    }
}

extension Integration {
    /// A health report that explains itself: `status` says why a backlog cannot progress and
    /// what would fix it, and `at-risk` says it for every file.
    @Suite("Health")
    struct HealthTests {
        @Test("Two nodes and N = 3: status says the backlog is stuck on too few nodes, with no ETA; at-risk lists the three files; a third node clears it")
        func tooFewNodesForN() async throws {
            try await withCluster { cluster in
                let policies = try Integration.ReplicationTests.policyDirectory(in: cluster, "[default]\nn = 3\n")
                try await cluster.start("master", asMaster: true, extra: ["--policies", policies])
                let one = try await cluster.start("one")
                try await cluster.waitForNodes(2)
                for (name, size) in [("a", 3000), ("b", 5000), ("c", 4000)] {
                    try await cluster.put(try cluster.localFile(name, size: size), "docs/\(name)")
                }
                // Each file reaches both nodes; then nothing more can happen.
                try await eventually("the backlog is stuck on too few nodes") {
                    let status = try await cluster.status()
                    return status.replication.stuck?.reason == "too-few-nodes" && status.replication.stuck?.files == 3
                }
                let status = try await cluster.status()
                #expect(status.underReplicated == 3 && status.minKn == -1)
                #expect(status.replication.copiesInFlight == 0)
                #expect(status.replication.etaSeconds == nil)
                #expect(status.knHistogram == [KnBucket(kn: -1, files: 3)])
                #expect(status.lostFiles == 0)
                let stuck = try #require(status.replication.stuck)
                #expect(stuck.message.contains("N = 3 but only 2 nodes are up"), "\(stuck.message)")
                #expect(stuck.message.contains("add 1 more node, or lower N for these paths"), "\(stuck.message)")

                // The JSON has the new fields, null where nothing applies, and keeps the old ones.
                let json = try await cluster.statusJSON()
                let replication = try #require(json["replication"] as? [String: Any])
                #expect(replication["etaSeconds"] is NSNull, "\(replication)")
                #expect((replication["stuck"] as? [String: Any])?["reason"] as? String == "too-few-nodes")
                #expect((json["knHistogram"] as? [[String: Any]])?.first?["kn"] as? Int == -1)
                for key in ["master", "minKn", "files", "bytes", "underReplicated", "nodes"] { #expect(json[key] != nil, "\(key)") }

                // The human status names the reason instead of an ETA.
                let text = try await cluster.cli("status")
                #expect(text.stdout.contains("STUCK (too-few-nodes, 3 files)"), "\(text.stdout)")
                #expect(text.stdout.contains("add 1 more node"), "\(text.stdout)")
                #expect(!text.stdout.contains("ETA"), "\(text.stdout)")
                #expect(text.stdout.contains("files by K−N: -1: 3"), "\(text.stdout)")

                // at-risk: the three files, each with its two holders and the reason.
                let atRisk = try await cluster.atRisk()
                #expect(atRisk.filesTotal == 3 && atRisk.lostTotal == 0 && atRisk.lost.isEmpty)
                #expect(Set(atRisk.files.map(\.path.rawValue)) == ["docs/a", "docs/b", "docs/c"])
                for file in atRisk.files {
                    #expect(file.reason == "too-few-nodes" && file.k == 2 && file.n == 3 && file.kn == -1)
                    #expect(file.holders == [cluster.master, one.address].sorted() && file.downHolders.isEmpty)
                    #expect(file.message.contains("lower N for this path"), "\(file.message)")
                }
                #expect(atRisk.files.map(\.size) == atRisk.files.map(\.size).sorted(by: >), "the biggest first at equal K−N")
                #expect(try await cluster.atRisk(limit: 1).files.count == 1)
                let table = try await cluster.cli("at-risk")
                #expect(table.status == 0)
                #expect(table.stdout.contains("AT RISK: 3 files"), "\(table.stdout)")
                #expect(table.stdout.contains("too-few-nodes: N = 3 but only 2 nodes are up"), "\(table.stdout)")

                // A third node: the backlog clears and nothing is at risk.
                try await cluster.start("two")
                try await eventually("every file reaches N = 3") {
                    let status = try await cluster.status()
                    return status.underReplicated == 0 && status.replication.stuck == nil
                }
                #expect(try await cluster.atRisk() == AtRiskReply(files: [], lost: [], filesTotal: 0, lostTotal: 0))
                let clear = try await cluster.cli("at-risk")
                #expect(clear.stdout.contains("no file at risk"), "\(clear.stdout)")
                #expect(try await cluster.status().knHistogram == [KnBucket(kn: 0, files: 3)])
                try await cluster.expectAuditClean()
            }
        }

        @Test("A file whose only holder is killed is listed apart as lost: every holder down, until the node returns")
        func onlyHolderDown() async throws {
            try await withCluster { cluster in
                let policies = try Integration.ReplicationTests.policyDirectory(in: cluster, "[default]\nn = 1\n")
                try await cluster.start("master", quota: "0", asMaster: true, extra: ["--policies", policies])
                let one = try await cluster.start("one")
                try await cluster.waitForNodes(2)
                try await cluster.put(try cluster.localFile("only", size: 2000), "only/copy")
                try await eventually("one copy") { try await cluster.whereIs("only/copy")?.k == 1 }

                await one.crash()
                try await eventually("the node is declared down") { try await cluster.node(one)?.alive == false }
                let atRisk = try await cluster.atRisk()
                #expect(atRisk.files.isEmpty && atRisk.filesTotal == 0)
                #expect(atRisk.lostTotal == 1)
                let lost = try #require(atRisk.lost.first)
                #expect(lost.path.rawValue == "only/copy" && lost.k == 0 && lost.kn == -1)
                #expect(lost.reason == "every-holder-down", "\(lost)")
                #expect(lost.holders.isEmpty && lost.downHolders == [one.address])
                let table = try await cluster.cli("at-risk")
                #expect(table.stdout.contains("LOST: 1 file has no copy on a node that is up"), "\(table.stdout)")
                #expect(table.stdout.contains("\(one.address) (down)"), "\(table.stdout)")

                let status = try await cluster.status()
                #expect(status.lostFiles == 1)
                #expect(status.replication.stuck?.reason == "every-holder-down")
                let text = try await cluster.cli("status")
                #expect(text.stdout.contains("LOST: 1 file has no copy"), "\(text.stdout)")

                try await cluster.restart(one)
                try await eventually("the copy counts again") { try await cluster.whereIs("only/copy")?.k == 1 }
                #expect(try await cluster.atRisk().lostTotal == 0)
                try await cluster.expectAuditClean()
            }
        }

        @Test("at-risk and events refuse a bad --limit with one line and change nothing; the routes answer 400")
        func badLimits() async throws {
            try await withCluster { cluster in
                try await cluster.start("master", asMaster: true)
                try await cluster.waitForNodes(1)
                for arguments in [["at-risk", "--limit", "0"], ["events", "--limit=-3"], ["events", "--limit", "many"], ["at-risk", "--limit", "20000"]] {
                    let result = try await cluster.cli(arguments: arguments)
                    #expect(result.status != 0, "\(arguments)")
                    #expect(result.stdout.isEmpty, "\(arguments): \(result.stdout)")
                    // argument-parser follows its one line with the option's help and the usage.
                    let lines = result.stderr.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
                        !$0.hasPrefix("Usage:") && !$0.hasPrefix("Help:") && !$0.contains("See 'fsdfsd") && !$0.isEmpty
                    }
                    #expect(lines.count == 1 && lines.first?.contains("--limit") == true, "\(arguments): \(result.stderr)")
                }
                for route in ["/v1/events?after=x", "/v1/events?limit=0", "/v1/at-risk?limit=-1"] {
                    do {
                        let _: [EventRecord] = try await cluster.client.call(.GET, cluster.master, route)
                        Issue.record("\(route) was answered")
                    } catch NodeCallError.rejected(_, let status, let reply) {
                        #expect(status == 400 && reply.code == "bad_request", "\(route): \(reply)")
                    }
                }
            }
        }
    }
}
