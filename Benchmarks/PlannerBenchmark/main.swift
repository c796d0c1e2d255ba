// Planner + catalog placement decisions per second, on SQLite and on MongoDB.
//
//   swift run -c release PlannerBenchmark [--files 10000,100000,1000000] [--nodes 5,50]
//       [--catalogs sqlite,mongodb] [--mongodb URI] [--passes 20] [--apply N]
//
// For each catalog and (files, nodes) pair it imports a store into a fresh catalog — a SQLite
// file (WAL, as a master runs it), or a fresh database on the MongoDB server at --mongodb
// (default: a SecantusDB server from .venv, started for the run, in memory) — and measures
// two workloads:
//   backlog   every file at K = 1 of N = 3; nodes have room. Each pass plans up to 1,024
//             copies; the copies are then recorded as done, so the next pass reads further
//             down the queue with a changed catalog.
//   eviction  nodes are full of over-replicated files (K = 4, N = 3) and 10% of the files are
//             at K = 1: every decision has to find a file to evict on some node.
//   decommission  every file at K = N = 3 and the first node draining (`fsdfsd node drain`):
//             every file it holds needs a copy elsewhere, found through the node's own index
//             (planner rule 8); nodes have room. (--workloads decommission; not run by default.)
//   settled   idle: every node holds every file (K = nodes ≥ N = 3). The pass finds nothing.
//   full      idle: every node full to the byte of files at K = N = 1, no eviction a strict
//             improvement. The pass finds nothing. (--workloads settled,full: planner rule 11;
//             "drain pass s" is then the idle pass, to compare across store sizes.)
// "decisions/s" counts planner decisions over the time spent inside Planner.plan (catalog
// reads included), over the passes that returned a full batch of 1,024 decisions; "drain
// pass s" is the pass that found less (it reads the rest of the store: the cost of planning
// when little is left to do); "apply/s" is the rate of recording finished copies (and their
// evictions) in the catalog, one transaction each (MongoDB: a few single-document updates);
// --apply records only the first N copies of each pass (SecantusDB takes ~0.1 s per update).
// When both catalogs run, the last table says how many times slower MongoDB was than SQLite.
// "scrape s" is what the master's metrics read from the catalog at each Prometheus scrape
// (totals and the counts by K and N), timed once on the imported store; "status s" what
// `fsdfsd status` reads (the same, the nodes and their figures, the 1,000 files most at risk).
import Foundation
import ReplicaCore
import TestSupport

struct Options {
    var files = [10_000, 100_000, 1_000_000]
    var nodes = [5, 50]
    var passes = 20
    var workloads = ["backlog", "eviction"]
    var catalogs = ["sqlite"]
    /// Finished copies recorded per pass (all by default); fewer keeps slow servers' runs short.
    var apply = Int.max
    var mongodb: String?

    init(arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            let list = { (iterator.next() ?? "").split(separator: ",").compactMap { Int($0) } }
            switch argument {
            case "--files": files = list()
            case "--nodes": nodes = list()
            case "--passes": passes = list().first ?? passes
            case "--workloads": workloads = (iterator.next() ?? "").split(separator: ",").map(String.init)
            case "--catalogs": catalogs = (iterator.next() ?? "").split(separator: ",").map(String.init)
            case "--mongodb": mongodb = iterator.next()
            case "--apply": apply = list().first ?? apply
            default:
                FileHandle.standardError.write("unknown option \(argument)\n".data(using: .utf8)!)
                exit(2)
            }
        }
    }
}

struct Result {
    var catalog: String
    var workload: String
    var files: Int
    var nodes: Int
    var importSeconds: Double
    var decisions: Int
    var planSeconds: Double
    var applied: Int
    var applySeconds: Double
    var rssMiB: Double
    var drainSeconds: Double
    var catalogMiB: Double
    var scrapeSeconds: Double
    var statusSeconds: Double

    var decisionsPerSecond: Double { Double(decisions) / planSeconds }
    var microsPerDecision: Double { planSeconds / Double(decisions) * 1e6 }
}

func residentMiB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        let kib = line.split(separator: " ").compactMap { Double($0) }.first ?? 0
        return kib / 1024
    }
    return 0
}

func directorySize(_ path: String) -> Double {
    let files = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
    let bytes = files.compactMap { try? FileManager.default.attributesOfItem(atPath: path + "/" + $0)[.size] as? Int64 }
    return Double(bytes.reduce(0, +)) / 1_048_576
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

func run(catalogName: String, mongodb: MongoTestServer?, workload: String, files: Int, nodeCount: Int, passes: Int, apply: Int) async throws -> Result {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fsdfs-bench-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let catalog: any Catalog
    if let mongodb {
        catalog = try await MongoCatalog(uri: mongodb.uri(database: "fsdfs_bench_\(UUID().uuidString.prefix(8))"))
    } else {
        catalog = try SQLiteCatalog(path: directory + "/catalog.sqlite")
    }
    var rng = SystemRandomNumberGenerator()
    let nodes = (0..<nodeCount).map { NodeID(String(format: "node-%03d", $0)) }
    let eviction = workload == "eviction"
    let decommission = workload == "decommission"
    let settled = workload == "settled", full = workload == "full"
    let meanSize: Int64 = 512 * 1024

    // Import.
    var imported: [ImportedFile] = []
    imported.reserveCapacity(files)
    var perNode = [Int64](repeating: 0, count: nodeCount)
    for i in 0..<files {
        let size = Int64.random(in: 1024...(2 * meanSize), using: &rng)
        let copies = eviction ? (i % 10 == 0 ? 1 : min(4, nodeCount)) : decommission ? min(3, nodeCount) : settled ? nodeCount : 1
        let first = Int.random(in: 0..<nodeCount, using: &rng)
        let holders = (0..<copies).map { (first + $0) % nodeCount }
        for holder in holders { perNode[holder] += size }
        imported.append(ImportedFile(
            file: NewFile(path: try VirtualPath("data/\(i % 1000)/file-\(i).bin"), size: size,
                          sha256: String(repeating: "e", count: 64), n: full ? 1 : 3),
            holders: holders.map { nodes[$0] }))
    }
    for (index, node) in nodes.enumerated() {
        // Backlog: plenty of room. Eviction: full to the byte.
        let quota = eviction || full ? perNode[index] : Int64(files) * meanSize * 4 / Int64(nodeCount) + 1 << 30
        try await catalog.registerNode(NodeRecord(id: node, address: "10.0.0.\(index):4242", quota: quota))
    }
    if decommission { try await catalog.setDraining(nodes[0], true) }
    let importStart = now()
    for chunk in stride(from: 0, to: imported.count, by: 50_000) {
        try await catalog.importFiles(Array(imported[chunk..<min(chunk + 50_000, imported.count)]))
    }
    let importSeconds = now() - importStart
    imported = []
    let scrapeStart = now()
    _ = try await catalog.totals()
    _ = try await catalog.replicationCounts()
    let scrapeSeconds = now() - scrapeStart
    let statusStart = now()
    _ = try await catalog.totals()
    _ = try await catalog.replicationCounts()
    _ = try await catalog.nodes()
    _ = try await catalog.nodeFigures()
    _ = try await catalog.underReplicated(limit: 1_000)
    let statusSeconds = now() - statusStart

    if decommission {
        // What `status` reads to show the drain's progress: every file the node still has to give away.
        let survey = DrainSurvey(nodes: try await catalog.nodes().map(PlannerNode.init))
        let start = now()
        let progress = try await catalog.withPlannerView { try survey.progress(of: nodes[0], queries: $0) }
        print(String(format: "  (%@, %d files: status's drain measure of %@ read %d files to give away in %.2f s)",
                     catalogName as NSString, files, nodes[0].rawValue as NSString, progress.filesLeft, now() - start))
    }
    let planner = Planner(limits: PlannerLimits(maxCopiesPerNode: 1_000_000, maxLoad: 100, maxActions: 1_024))
    var decisions = 0
    var planSeconds = 0.0
    var drainSeconds = 0.0
    var applied = 0
    var applySeconds = 0.0
    for _ in 0..<passes {
        let plannerNodes = try await catalog.nodes().map(PlannerNode.init)
        let start = now()
        let actions = try await catalog.withPlannerView { queries in
            try planner.plan(queries: queries, nodes: plannerNodes, inFlight: .none)
        }
        // Only full passes count: a pass that finds less than a full batch has drained the
        // backlog, and its time is that of reading the whole store for what is left.
        if actions.count < planner.limits.maxActions {
            drainSeconds = now() - start
            break
        }
        planSeconds += now() - start
        decisions += actions.count
        let applyStart = now()
        for case .copy(let copy) in actions.prefix(apply) {
            for victim in copy.evicting {
                try await catalog.setReplica(victim, on: copy.target, state: .evicting)
                try await catalog.removeReplica(victim, from: copy.target)
            }
            try await catalog.setReplica(copy.file, on: copy.target, state: .live)
            applied += 1
        }
        applySeconds += now() - applyStart
    }
    return Result(
        catalog: catalogName, workload: workload, files: files, nodes: nodeCount, importSeconds: importSeconds, decisions: decisions,
        planSeconds: planSeconds, applied: applied, applySeconds: applySeconds, rssMiB: residentMiB(), drainSeconds: drainSeconds,
        catalogMiB: directorySize(directory), scrapeSeconds: scrapeSeconds, statusSeconds: statusSeconds)
}

let options = Options(arguments: CommandLine.arguments)
var server: MongoTestServer?
var serverName = ""
if options.catalogs.contains("mongodb") {
    if let uri = options.mongodb {
        server = MongoTestServer(uri: uri)
        serverName = "the server at --mongodb"
    } else {
        // Guarded: a benchmark stopped with ^C does not leave the server running.
        server = try await MongoTestServer.start(guarded: true)
        serverName = "SecantusDB 0.7.0b3 (in memory, started for this run)"
    }
}
print("fsdfs planner benchmark — \(ProcessInfo.processInfo.activeProcessorCount) cores; sqlite: WAL file; mongodb: \(server == nil ? "not run" : serverName)")
print("catalog  workload  files    nodes  import s  decisions  decisions/s  µs/decision  drain pass s  apply/s  RSS MiB  catalog MiB  scrape s  status s")
var results: [Result] = []
for catalogName in options.catalogs {
    for workload in options.workloads {
        for nodes in options.nodes {
            for files in options.files {
                let result = try await run(
                    catalogName: catalogName, mongodb: catalogName == "mongodb" ? server : nil, workload: workload,
                    files: files, nodeCount: nodes, passes: options.passes, apply: options.apply)
                results.append(result)
                print(String(
                    format: "%-7@  %-8@  %-7d  %5d  %8.1f  %9d  %11.0f  %11.1f  %12.3f  %7.0f  %7.0f  %11.0f  %8.3f  %8.3f",
                    result.catalog as NSString, result.workload as NSString, result.files, result.nodes, result.importSeconds,
                    result.decisions, result.decisionsPerSecond, result.microsPerDecision, result.drainSeconds,
                    Double(result.applied) / max(result.applySeconds, 1e-9), result.rssMiB, result.catalogMiB, result.scrapeSeconds,
                    result.statusSeconds))
                // One line at a time, also into a pipe or a file: long runs show where they are.
                fflush(nil)
            }
        }
    }
}
await server?.stop()
print("")
print("cost per decision, largest vs smallest store (aim: < 2x):")
for catalogName in options.catalogs {
    for workload in options.workloads {
        for nodes in options.nodes {
            let runs = results.filter { $0.catalog == catalogName && $0.workload == workload && $0.nodes == nodes }
                .sorted { $0.files < $1.files }
            guard let small = runs.first, let large = runs.last, runs.count > 1 else { continue }
            if small.decisions == 0 {
                // An idle workload: the pass found nothing, so compare what it cost (rule 11).
                print(String(format: "  %@ %@, %d nodes: %d → %d files: idle pass %.4f → %.4f s, status %.4f → %.4f s",
                             catalogName as NSString, workload as NSString, nodes, small.files, large.files,
                             small.drainSeconds, large.drainSeconds, small.statusSeconds, large.statusSeconds))
                continue
            }
            print(String(format: "  %@ %@, %d nodes: %d → %d files: %.2fx", catalogName as NSString, workload as NSString, nodes,
                         small.files, large.files, large.microsPerDecision / small.microsPerDecision))
        }
    }
}
if options.catalogs.contains("sqlite") && options.catalogs.contains("mongodb") {
    print("")
    print("mongodb against sqlite, same run: how many times slower (sqlite ÷ mongodb for decisions/s and apply/s, mongodb ÷ sqlite for the drain pass):")
    for mongo in results where mongo.catalog == "mongodb" {
        guard let sqlite = results.first(where: {
            $0.catalog == "sqlite" && $0.workload == mongo.workload && $0.files == mongo.files && $0.nodes == mongo.nodes
        }) else { continue }
        let applyRate = { (run: Result) in Double(run.applied) / max(run.applySeconds, 1e-9) }
        // A drain pass too short to time on SQLite has no meaningful ratio.
        let drain = sqlite.drainSeconds < 0.01
            ? "drain pass not timed" : String(format: "drain pass %.0fx longer", mongo.drainSeconds / sqlite.drainSeconds)
        print(String(
            format: "  %@, %d files, %d nodes: decisions %.0fx slower, apply %.0fx slower, %@",
            mongo.workload as NSString, mongo.files, mongo.nodes, sqlite.decisionsPerSecond / max(mongo.decisionsPerSecond, 1e-9),
            applyRate(sqlite) / max(applyRate(mongo), 1e-9), drain as NSString))
    }
}
print(String(format: "peak resident memory (VmHWM): %.0f MiB", {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0.0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        return (line.split(separator: " ").compactMap { Double($0) }.first ?? 0) / 1024
    }
    return 0.0
}()))
