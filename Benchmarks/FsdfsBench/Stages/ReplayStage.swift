import Crypto
import Foundation
import ReplicaCore

/// Issue #13's point 2: the replay cache under sustained load. A node's verifier (the one
/// `serve` builds, default window and capacity) receives `rate` freshly signed requests every
/// second for `seconds` seconds, on the real clock; each second also one node report (which
/// may use the cache's reserve) and one request seen before (which must be refused as a
/// replay). Measured: the rate sustained with nothing refused, the nonces remembered and the
/// process's resident memory over the run; then the verifier's burst rate beside its peer,
/// HMAC-SHA256 of the same canonical strings alone.
struct ReplayStage {
    let report: Report
    let seconds: Int
    let rate: Int

    static let node = "node-a.example:4242"

    func run() async throws {
        let key = try SwarmKey(password: BenchContext.secret)
        let verifier = RequestVerifier(key: key, names: NodeNames([Self.node]))
        let signer = RequestSigner(key: key)
        let startRSS = Self.residentMiB()
        var peakRSS = startRSS
        var peakNonces = 0
        var accepted = 0, refused = 0, reportsRefused = 0, replaysCaught = 0, replaysMissed = 0
        var refusals: [String: Int] = [:]
        var lastAccepted: SignedHeaders?
        var lastPath = ""
        progress("replay: \(rate) signed requests a second for \(seconds) s on the real clock (window \(Int(verifier.window)) s, \(verifier.maxNonces) nonces + \(verifier.reservedNonces) reserved)")
        let start = ContinuousClock.now
        var lastDone = start
        var lateSeconds = 0
        for second in 0..<seconds {
            let now = Date()
            for index in 0..<rate {
                let path = "/v1/blob?path=s\(second)/f\(index)"
                let headers = signer.sign(method: "GET", target: Self.node, pathAndQuery: path, bodySHA256: RequestSignature.emptyBodySHA256, now: now)
                do throws(AuthError) {
                    try verifier.verify(method: "GET", pathAndQuery: path, headers: headers, bodySHA256: RequestSignature.emptyBodySHA256, now: now)
                    accepted += 1
                    lastAccepted = headers
                    lastPath = path
                } catch {
                    refused += 1
                    refusals[error.code, default: 0] += 1
                }
            }
            // A node's report, and the last request sent again.
            let report = signer.sign(method: "POST", target: Self.node, pathAndQuery: "/v1/report", bodySHA256: RequestSignature.emptyBodySHA256, now: now)
            do throws(AuthError) {
                try verifier.verify(
                    method: "POST", pathAndQuery: "/v1/report", headers: report, bodySHA256: RequestSignature.emptyBodySHA256, now: now,
                    reserved: true)
            } catch {
                reportsRefused += 1
            }
            if let lastAccepted {
                do throws(AuthError) {
                    try verifier.verify(method: "GET", pathAndQuery: lastPath, headers: lastAccepted, bodySHA256: RequestSignature.emptyBodySHA256, now: Date())
                    replaysMissed += 1
                } catch {
                    if error == .replayed { replaysCaught += 1 } else { replaysMissed += 1 }
                }
            }
            if second % 10 == 9 || second == seconds - 1 {
                peakNonces = max(peakNonces, verifier.rememberedNonceCount)
                peakRSS = max(peakRSS, Self.residentMiB())
            }
            if second % 60 == 59 {
                progress("replay: \(second + 1) s, \(accepted) accepted, \(refused) refused, \(verifier.rememberedNonceCount) nonces remembered, RSS \(Int(Self.residentMiB())) MiB")
            }
            // On to the next second of the schedule (none if this one ran late).
            lastDone = ContinuousClock.now
            if lastDone > start + .seconds(second + 1) { lateSeconds += 1 }
            try await Task.sleep(until: start + .seconds(second + 1), clock: .continuous)
        }
        // From the start to the end of the last second's work (not of its idle remainder).
        let elapsed = (lastDone - start).seconds
        let sustained = Double(accepted) / elapsed
        let note = "\(accepted) accepted in \(String(format: "%.1f", elapsed)) s (\(lateSeconds) of \(seconds) seconds ran late), \(refused) refused\(refusals.isEmpty ? "" : " \(refusals)"), \(replaysCaught) replays caught, \(replaysMissed) missed"
        progress("replay: \(note)")
        self.report.add(Figure(
            key: "replay.sustained_requests_per_second", title: "replay cache: signed requests/s sustained", unit: "req/s",
            fsdfs: sustained, peer: nil, peerName: nil, higherIsBetter: true, goal: .atLeast(20_000), note: note))
        self.report.add(Figure(
            key: "replay.refused", title: "replay cache: fresh requests refused", unit: "requests",
            fsdfs: Double(refused + replaysMissed), peer: nil, peerName: nil, higherIsBetter: false, goal: .atMost(1),
            note: "refused fresh requests plus replays not caught"))
        self.report.add(Figure(
            key: "replay.reports_refused", title: "replay cache: node reports refused", unit: "reports",
            fsdfs: Double(reportsRefused), peer: nil, peerName: nil, higherIsBetter: false, goal: .atMost(1), note: nil))
        self.report.add(Figure(
            key: "replay.peak_nonces", title: "replay cache: nonces remembered at most", unit: "nonces",
            fsdfs: Double(peakNonces), peer: Double(verifier.maxNonces), peerName: "capacity", higherIsBetter: false, goal: .none,
            note: nil))
        self.report.add(Figure(
            key: "replay.rss_growth_mib", title: "replay cache: resident memory growth", unit: "MiB",
            fsdfs: peakRSS - startRSS, peer: nil, peerName: nil, higherIsBetter: false, goal: .atMost(256),
            note: "from \(Int(startRSS)) to \(Int(peakRSS)) MiB"))

        // The verifier's burst rate on one core, beside HMAC-SHA256 of the same strings alone.
        let burst = 200_000
        let now = Date()
        let signed = (0..<burst).map { index in
            let path = "/v1/blob?path=burst/f\(index)"
            return (path, signer.sign(method: "GET", target: Self.node, pathAndQuery: path, bodySHA256: RequestSignature.emptyBodySHA256, now: now))
        }
        let fresh = RequestVerifier(key: key, names: NodeNames([Self.node]))
        let verifyStart = ContinuousClock.now
        for (path, headers) in signed {
            try fresh.verify(method: "GET", pathAndQuery: path, headers: headers, bodySHA256: RequestSignature.emptyBodySHA256, now: now)
        }
        let verifyRate = Double(burst) / (ContinuousClock.now - verifyStart).seconds
        let hmacKey = SymmetricKey(size: .bits256)
        let hmacStart = ContinuousClock.now
        var sink: UInt8 = 0
        for (path, headers) in signed {
            let canonical = RequestSignature.canonicalString(
                method: "GET", target: Self.node, pathAndQuery: path, timestamp: headers.timestamp, nonce: headers.nonce,
                bodySHA256: headers.contentSHA256)
            sink ^= Array(HMAC<SHA256>.authenticationCode(for: Array(canonical.utf8), using: hmacKey))[0]
        }
        let hmacRate = Double(burst) / (ContinuousClock.now - hmacStart).seconds
        self.report.add(Figure(
            key: "replay.burst_verifications_per_second", title: "verifier burst (one core)", unit: "req/s",
            fsdfs: verifyRate, peer: hmacRate, peerName: "HMAC-SHA256 alone", higherIsBetter: true, goal: .atLeast(20_000),
            note: "\(burst) requests; checksum \(sink)"))
    }

    /// This process's resident set, MiB (Linux: /proc/self/statm).
    static func residentMiB() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
            let pages = text.split(separator: " ").dropFirst().first.flatMap({ Double($0) })
        else { return 0 }
        return pages * Double(sysconf(Int32(_SC_PAGESIZE))) / 1_048_576
    }
}
