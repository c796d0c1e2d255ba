import Foundation
import ReplicaCore

/// Figure 2: one big file through get, put and replication, beside curl | tee | openssl
/// pipelines against nginx.
struct BigFilesStage {
    let context: BenchContext
    let report: Report
    let nginx: Nginx

    func run() async throws {
        let folder = try context.directory("big")
        let source = folder.appendingPathComponent("source.bin")
        let size = context.bigSize
        progress("big: writing \(ByteSize.format(size)) of random bytes")
        try await Shell.bashChecked(
            "writing the big file", "head -c \(size) /dev/urandom > \(Shell.quote(source.path))", scratch: context.work)
        try FileManager.default.createDirectory(at: nginx.root.appendingPathComponent("big"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: source, to: nginx.root.appendingPathComponent("big/source.bin"))
        let sizeText = ByteSize.format(size)
        try await withCluster("big", context: context) { cluster in
            try await cluster.startMaster()
            let put = try await timePut(cluster, source: source)
            report.add(Figure(
                key: "big.put.seconds", title: "big: put of \(sizeText)", unit: "s", fsdfs: put.fsdfs, peer: put.peer,
                peerName: "tee | openssl + curl -T", higherIsBetter: false, goal: .ratioAtLeast(1.0)))
            let get = try await timeGet(cluster, folder: folder)
            report.add(Figure(
                key: "big.get.seconds", title: "big: get of \(sizeText)", unit: "s", fsdfs: get.fsdfs, peer: get.peer,
                peerName: "curl | tee | openssl", higherIsBetter: false, goal: .ratioAtLeast(1.0)))
            let replication = try await timeReplication(cluster, source: source, folder: folder)
            report.add(Figure(
                key: "big.replication.seconds", title: "big: replication of \(sizeText) to 2 joining nodes", unit: "s",
                fsdfs: replication.fsdfs, peer: replication.peer, peerName: "2 × curl | tee | openssl",
                higherIsBetter: false, goal: .ratioAtLeast(1.0), note: "fsdfs time includes the two nodes' start"))
        }
    }

    /// The pipeline the issue compares a download with: fetch, write, hash in one pass, then
    /// make the written file durable.
    private func getPipeline(_ url: String, to file: URL) -> String {
        let path = Shell.quote(file.path)
        return "curl -sS -f \(Shell.quote(url)) | tee \(path) | openssl dgst -sha256 >/dev/null && sync \(path)"
    }

    private func timePut(_ cluster: BenchCluster, source: URL) async throws -> (fsdfs: Double, peer: Double) {
        progress("big: put")
        let fsdfs = try await cluster.cli("put", source.path, "big/put.bin").seconds
        let stored = nginx.root.appendingPathComponent("big/peer-put.bin").path
        let script = "tee >(openssl dgst -sha256 >/dev/null) < \(Shell.quote(source.path)) "
            + "| curl -sS -f -T - \(Shell.quote(nginx.url + "/big/peer-put.bin")) >/dev/null && sync \(Shell.quote(stored))"
        let peer = try await Shell.bashChecked("the peer's put pipeline", script, scratch: context.work).seconds
        try await verifySameContent(source, URL(fileURLWithPath: stored))
        return (fsdfs, peer)
    }

    private func timeGet(_ cluster: BenchCluster, folder: URL) async throws -> (fsdfs: Double, peer: Double) {
        progress("big: get")
        let fsdfsOut = folder.appendingPathComponent("got-fsdfs.bin")
        let fsdfs = try await cluster.cli("get", "big/put.bin", fsdfsOut.path).seconds
        let peerOut = folder.appendingPathComponent("got-peer.bin")
        let peer = try await Shell.bashChecked(
            "the peer's get pipeline", getPipeline(nginx.url + "/big/source.bin", to: peerOut), scratch: context.work).seconds
        try await verifySameContent(fsdfsOut, peerOut)
        try? FileManager.default.removeItem(at: fsdfsOut)
        try? FileManager.default.removeItem(at: peerOut)
        return (fsdfs, peer)
    }

    /// The master holds the file (N = 3, K = 1); two nodes join: seconds until K = 3.
    private func timeReplication(_ cluster: BenchCluster, source: URL, folder: URL) async throws -> (fsdfs: Double, peer: Double) {
        progress("big: replication to two joining nodes")
        // The one file to copy, as the peer copies one: the put's file (N = 1) would take the
        // joining nodes' spare room at the same time (rule 5), doubling the bytes moved.
        try await cluster.cli("rm", "big/put.bin")
        try await cluster.cli("put", source.path, "bigrepl/file.bin")
        let start = ContinuousClock.now
        try await cluster.startNode("b", wait: false)
        try await cluster.startNode("c", wait: false)
        let fsdfs = try await poll("big: bigrepl/file.bin at K = 3", from: start, timeout: context.timeout) {
            try await cluster.whereIs("bigrepl/file.bin").k >= 3
        }
        let outputs = [folder.appendingPathComponent("peer-1.bin"), folder.appendingPathComponent("peer-2.bin")]
        let url = nginx.url + "/big/source.bin"
        let script = """
            ( \(getPipeline(url, to: outputs[0])) ) & first=$!
            ( \(getPipeline(url, to: outputs[1])) ) & second=$!
            wait $first
            wait $second
            """
        let peer = try await Shell.bashChecked("the peer's two get pipelines", script, scratch: context.work).seconds
        for output in outputs { try? FileManager.default.removeItem(at: output) }
        return (fsdfs, peer)
    }

    /// Both sides must have moved the same bytes, or the comparison means nothing.
    private func verifySameContent(_ first: URL, _ second: URL) async throws {
        let script = "cmp -s \(Shell.quote(first.path)) \(Shell.quote(second.path))"
        guard try await Shell.bash(script, scratch: context.work).succeeded else {
            throw BenchError("big: \(first.lastPathComponent) and \(second.lastPathComponent) differ: one side moved other bytes")
        }
    }
}
