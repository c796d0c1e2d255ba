import Foundation
import Testing
@testable import ReplicaCore

/// The planner and the health figures must stay fast at a million files: every query they
/// make is a range of an index, never a scan of a table or a sort of all matches.
@Suite("SQLite query plans")
struct SQLiteQueryPlanTests {
    @Test("Planner and health queries read index ranges, never whole tables")
    func plannerQueriesUseIndexes() async throws {
        let catalog = try SQLiteCatalog()
        // A few rows so the planner of SQLite has something to look at.
        try await catalog.registerNode(Fixture.node("n1"))
        for i in 0..<20 {
            let file = try await catalog.putFile(Fixture.newFile("p/\(i)"))
            try await catalog.setReplica(file.id, on: "n1", state: .live)
        }
        let plans = try await catalog.queryPlans()
        #expect(plans.count == 16)
        // Rule 11: the bounded pages of the planner filter in the scheduling index.
        for name in ["bounded files from start", "bounded files after cursor"] {
            #expect(plans[name]?.contains("INDEX files_schedule") == true, "\(name): \(plans[name] ?? "")")
        }
        for (name, plan) in plans.sorted(by: { $0.key < $1.key }) {
            for step in plan.split(separator: ";").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                // The counts by K and N are a row per value present: a handful, read whole.
                let bareScan = step.hasPrefix("SCAN") && !step.contains("USING") && step != "SCAN replication_counts"

                #expect(!bareScan, "\(name): \(step)")
                #expect(!step.contains("TEMP B-TREE"), "\(name) sorts all matches: \(step)")
            }
        }
    }
}
