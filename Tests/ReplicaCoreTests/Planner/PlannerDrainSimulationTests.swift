import Foundation
import Testing
import ReplicaCore
import TestSupport

/// Drains (planner rule 8) in seeded random clusters.
@Suite("Planner: simulated drains")
struct PlannerDrainSimulationTests {
    @Test("A node drained in a random cluster: nothing lands on it or is evicted from it, the store converges, and every file it holds gets N copies elsewhere as far as room allows",
          arguments: 0..<60)
    func randomClusterDrains(index: Int) async throws {
        let scenario = PlannerSimulationTests.scenario(index)
        let sim = try await PlannerSimulationTests.simulator(for: scenario)
        var rng = SplitMix64(seed: scenario.seed &+ 7_919)
        let drained = NodeID("node-\(rng.next() % UInt64(sim.nodes.count))")
        sim.schedule(.drain(drained), at: Double(rng.next() % 60))
        try await expectConverged(sim, "\(scenario), draining \(drained)")
    }

    @Test("A node drained in a nearly full cluster: its files take the room of extra copies elsewhere",
          arguments: UInt64(2_000)..<UInt64(2_060))
    func nearlyFullClusterDrains(seed: UInt64) async throws {
        var rng = SplitMix64(seed: seed)
        let sim = try ClusterSimulator(seed: seed, limits: PlannerLimits(maxCopiesPerNode: 1 + Int(rng.next() % 2), batchSize: 4))
        let nodeCount = 4 + Int(rng.next() % 3)
        var units: [Int] = []
        for i in 0..<nodeCount {
            units.append(2 + Int(rng.next() % 3))
            try await sim.addNode(NodeID("node-\(i)"), quota: Int64(units[i]) * 10)
        }
        let drained = Int(rng.next() % UInt64(nodeCount))
        // Demands that just fit without the drained node: before the drain its room holds
        // extra copies, after it the copies it holds must take the room of others' extras.
        let room = units.enumerated().filter { $0.offset != drained }.map(\.element).reduce(0, +)
        let target = room - Int(rng.next() % 3)
        var demand = 0
        var i = 0
        while true {
            let n = 1 + Int(rng.next() % 2)
            guard demand + n <= target else { break }
            demand += n
            sim.schedule(.upload(path: "f\(i)", size: 10, n: n), at: Double(rng.next() % 20))
            i += 1
        }
        sim.schedule(.drain(NodeID("node-\(drained)")), at: 200)
        try await expectConverged(sim, "seed \(seed), draining node-\(drained)")
    }

    private func expectConverged(_ sim: ClusterSimulator, _ what: String) async throws {
        let finished = try await sim.run()
        #expect(finished, "\(what)")
        try await sim.checkCatalogMatchesDisks()
        #expect(sim.violations.isEmpty, "\(what): \(sim.violations.prefix(5))\n\(sim.trace.joined(separator: "\n"))")
        #expect(try await sim.currentPlan().isEmpty, "\(what)")
        let left = try await sim.drainImprovementsLeft() + sim.improvementsLeft()
        #expect(left.isEmpty, "\(what): \(left.prefix(5))")
    }
}
