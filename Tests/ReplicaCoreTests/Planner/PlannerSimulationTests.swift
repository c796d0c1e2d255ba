import Foundation
import Testing
import ReplicaCore
import TestSupport

/// Property tests over many seeded random clusters.
@Suite("Planner: simulated clusters")
struct PlannerSimulationTests {
    struct Scenario: CustomStringConvertible {
        var seed: UInt64
        var uniformSizes: Bool
        var failures: Bool
        var floor: Int
        var description: String { "seed \(seed)\(uniformSizes ? " uniform" : "")\(failures ? " failures" : "") floor \(floor)" }
    }

    /// Builds a random cluster and its history from a seed.
    static func simulator(for scenario: Scenario) async throws -> ClusterSimulator {
        var rng = SplitMix64(seed: scenario.seed)
        let limits = PlannerLimits(
            maxCopiesPerNode: 1 + Int(rng.next() % 3), evictionFloor: scenario.floor, batchSize: 4)
        let sim = try ClusterSimulator(seed: scenario.seed, limits: limits)
        let nodeCount = 3 + Int(rng.next() % 4)
        let unit: Int64 = 10
        for i in 0..<nodeCount {
            let units = Int64(1 + rng.next() % 4)
            let quota: Int64 = scenario.uniformSizes ? unit * units : Int64(5 + rng.next() % 60)
            try await sim.addNode(NodeID("node-\(i)"), quota: quota)
        }
        let fileCount = 3 + Int(rng.next() % 10)
        var paths: [String] = []
        for i in 0..<fileCount {
            let size: Int64 = scenario.uniformSizes ? unit : Int64(1 + rng.next() % 30)
            let path = "dir\(rng.next() % 3)/file-\(i)"
            paths.append(path)
            let n = 1 + Int(rng.next() % 3)
            let time = Double(rng.next() % 40)
            sim.schedule(.upload(path: path, size: size, n: n), at: time)
        }
        if scenario.failures {
            for _ in 0..<(1 + rng.next() % 3) {
                let node = NodeID("node-\(rng.next() % UInt64(nodeCount))")
                let down = Double(rng.next() % 50)
                let outage = 1 + Double(rng.next() % 30)
                // Silent for a while first, as a dead node is until it misses enough reports.
                sim.schedule(.nodeSilent(node), at: down - 3)
                sim.schedule(.nodeDown(node), at: down)
                sim.schedule(.nodeUp(node), at: down + outage)
            }
            if rng.next() % 2 == 0, let path = paths.randomElement(using: &rng) {
                sim.schedule(.delete(path: path), at: Double(rng.next() % 60))
            }
            if rng.next() % 2 == 0, let path = paths.randomElement(using: &rng) {
                // Upload the same path again, with another size.
                let size: Int64 = scenario.uniformSizes ? unit : Int64(1 + rng.next() % 30)
                let time = Double(rng.next() % 60)
                sim.schedule(.upload(path: path, size: size, n: 2), at: time)
            }
        }
        return sim
    }

    static let scenarios: [Scenario] = (0..<120).map(scenario)

    static func scenario(_ i: Int) -> Scenario {
        let floor = i % 5 == 4 ? 1 : 0
        return Scenario(seed: UInt64(i), uniformSizes: i % 3 == 0, failures: i % 2 == 1, floor: floor)
    }

    @Test("Random clusters converge without breaking a rule", arguments: scenarios)
    func randomClusterConverges(scenario: Scenario) async throws {
        let sim = try await Self.simulator(for: scenario)
        let finished = try await sim.run()
        #expect(finished)
        try await sim.checkCatalogMatchesDisks()
        #expect(sim.violations.isEmpty, "\(sim.violations.prefix(5))\n\(sim.trace.joined(separator: "\n"))")
        // Converged: no action left, and no independent check finds a legal improvement.
        #expect(try await sim.currentPlan().isEmpty)
        let left = try await sim.improvementsLeft()
        #expect(left.isEmpty, "\(left.prefix(5))")
    }

    @Test("With equal sizes and no floor, the lowest kn reaches the best any placement allows",
          arguments: Array(UInt64(1_000)..<UInt64(1_040)))
    func equalSizesReachOptimum(seed: UInt64) async throws {
        var rng = SplitMix64(seed: seed)
        let sim = try ClusterSimulator(seed: seed, limits: PlannerLimits(evictionFloor: -100))
        var slots: [Int] = []
        for i in 0..<(2 + Int(rng.next() % 3)) {
            let units = 1 + Int(rng.next() % 3)
            slots.append(units)
            try await sim.addNode(NodeID("node-\(i)"), quota: Int64(units) * 10)
        }
        var demands: [Int] = []
        for i in 0..<(1 + Int(rng.next() % 5)) {
            let n = 1 + Int(rng.next() % 3)
            sim.schedule(.upload(path: "f\(i)", size: 10, n: n), at: Double(rng.next() % 10))
            demands.append(n)
        }
        #expect(try await sim.run())
        #expect(sim.violations.isEmpty, "\(sim.violations.prefix(5))\n\(sim.trace.joined(separator: "\n"))")
        let truth = try await sim.groundTruth()
        let stored = truth.map(\.record.n)
        let best = OptimalPlacement.bestMinKn(demands: stored, slots: slots)
        let reached = truth.map { $0.k - $0.record.n }.min()
        #expect(reached == best, "slots \(slots), N \(stored)")
    }
}
