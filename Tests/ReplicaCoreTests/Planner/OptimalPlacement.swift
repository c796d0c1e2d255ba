/// Brute-force reference for equal-size files: the best lowest kn any placement can reach,
/// found with a max-flow check per candidate kn (files → nodes, one copy per node).
enum OptimalPlacement {
    /// The highest min(K−N) any placement of files with these N on nodes with these slots
    /// reaches, every file keeping at least one copy (the planner never evicts a last copy).
    static func bestMinKn(demands: [Int], slots: [Int]) -> Int? {
        guard !demands.isEmpty else { return nil }
        var best = -(demands.max() ?? 0)
        for t in stride(from: slots.count, through: -(demands.max() ?? 0), by: -1) {
            if feasible(wants: demands.map { max(1, $0 + t) }, slots: slots) {
                best = t
                break
            }
        }
        return best
    }

    /// Can every file i get `wants[i]` copies on distinct nodes within their slots?
    static func feasible(wants: [Int], slots: [Int]) -> Bool {
        if wants.contains(where: { $0 > slots.count }) { return false }
        // Bipartite max flow by augmenting paths; the graphs here are tiny.
        var remaining = slots
        var assigned = Array(repeating: Set<Int>(), count: wants.count)
        func augment(_ file: Int, _ seen: inout Set<Int>) -> Bool {
            for node in slots.indices where !assigned[file].contains(node) && !seen.contains(node) {
                seen.insert(node)
                if remaining[node] > 0 {
                    remaining[node] -= 1
                    assigned[file].insert(node)
                    return true
                }
                // Move a copy of another file away from this node.
                for other in wants.indices where other != file && assigned[other].contains(node) {
                    assigned[other].remove(node)
                    if augment(other, &seen) {
                        assigned[file].insert(node)
                        return true
                    }
                    assigned[other].insert(node)
                }
            }
            return false
        }
        for file in wants.indices {
            for _ in 0..<wants[file] {
                var seen = Set<Int>()
                if !augment(file, &seen) { return false }
            }
        }
        return true
    }
}
