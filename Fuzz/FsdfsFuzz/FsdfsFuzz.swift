import Foundation
import ReplicaCore
import Synchronization

// libFuzzer targets (scripts/fuzz.sh builds this with -sanitize=fuzzer -DFUZZING and runs each
// target for a set time). FSDFS_FUZZ_TARGET picks one: signature, sigv4, path, policy, json.
// Each feeds its bytes to a parser or verifier that takes input from the network or from
// operators, and checks what must hold whatever the input: no crash, and for what parses,
// that it reads back the same.

#if FUZZING
/// The C boundary with libFuzzer: it owns the buffer for this call only, so it is copied at once.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzTargets.run(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}

/// libFuzzer's driver (in its runtime, linked by -sanitize=fuzzer).
@_silgen_name("LLVMFuzzerRunDriver")
func runDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// The executable's entry point under the name SwiftPM gives it (it links `main` to
/// `<module>_main`): hands the command line to libFuzzer's driver.
@_cdecl("fsdfs_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return runDriver(&count, &arguments) { data, size in fuzzOne(data, size) }
}
#else
@main
struct FuzzUsage {
    static func main() {
        FileHandle.standardError.write(Data("fsdfs-fuzz is built for libFuzzer by scripts/fuzz.sh\n".utf8))
        exit(2)
    }
}
#endif

enum FuzzTargets {
    static let target = ProcessInfo.processInfo.environment["FSDFS_FUZZ_TARGET"] ?? "json"
    static let key = try! SwarmKey(password: "fuzzing-swarm-secret")
    /// A window wide enough for any timestamp: the signature checks are reached.
    static let verifier = RequestVerifier(
        key: key, names: NodeNames(["node.example:4242", "127.0.0.1:4242"]), window: 4_000_000_000, maxNonces: 1_000_000)
    static let now = Date(timeIntervalSince1970: 1_700_000_000)

    static func run(_ bytes: [UInt8]) {
        switch target {
        case "signature": signature(bytes)
        case "sigv4": sigv4(bytes)
        case "path": path(bytes)
        case "policy": policy(bytes)
        default: json(bytes)
        }
    }

    static func lines(_ bytes: [UInt8]) -> [String] {
        String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    /// fsdfs's own request signatures: method, path and query, timestamp, nonce, body hash,
    /// signature, target node and body, one per line. A forged signature, or one for another
    /// node, must never pass.
    static func signature(_ bytes: [UInt8]) {
        let fields = lines(bytes)
        guard fields.count >= 7 else { return }
        let headers = SignedHeaders(
            target: fields[6], timestamp: fields[2], nonce: fields[3], contentSHA256: fields[4], signature: fields[5])
        let body = Array(fields.dropFirst(7).joined(separator: "\n").utf8)
        do {
            try verifier.verify(
                method: fields[0], pathAndQuery: fields[1], headers: headers, bodySHA256: RequestSignature.sha256Hex(of: body), now: now)
            // Accepted: then it must be what the key signs.
            let canonical = RequestSignature.canonicalString(
                method: fields[0], target: fields[6], pathAndQuery: fields[1], timestamp: fields[2], nonce: fields[3],
                bodySHA256: fields[4])
            precondition(RequestSignature.signature(canonicalString: canonical, key: key) == fields[5], "a forged signature passed")
            precondition(verifier.names.contains(fields[6]), "a request for another node passed")
        } catch {}
    }

    /// S3's Signature Version 4: method, path, query and headers (`Name: value`), one per line.
    static func sigv4(_ bytes: [UInt8]) {
        let fields = lines(bytes)
        guard fields.count >= 3 else { return }
        let query = fields[2].split(separator: "&").map { pair -> S3Pair in
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            return S3Pair(parts.first ?? "", parts.count > 1 ? parts[1] : "")
        }
        let headers = fields.dropFirst(3).compactMap { line -> S3Pair? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return S3Pair(String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces))
        }
        let request = S3SignedRequest(method: fields[0], path: fields[1], query: query, headers: headers)
        let accepted = Blocking.wait {
            (try? await SigV4Verifier.verify(request, now: now) { _ in "fuzzing-s3-secret-key" }) != nil
        }
        // No input can carry a valid signature: the secret is not in any of them.
        precondition(!accepted, "an S3 request passed without the secret")
    }

    /// Store paths: whatever is accepted has no `.`/`..`/empty segment, no NUL or control
    /// character, is relative, and reads back the same.
    static func path(_ bytes: [UInt8]) {
        guard let path = try? VirtualPath(bytes: bytes) else { return }
        let text = path.rawValue
        precondition(!text.hasPrefix("/") && !text.hasSuffix("/"), "an absolute or directory path was accepted")
        for segment in text.split(separator: "/", omittingEmptySubsequences: false) {
            precondition(!segment.isEmpty && segment != "." && segment != "..", "a bad segment was accepted: \(text)")
        }
        precondition(!text.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }, "a control character was accepted")
        precondition((try? VirtualPath(text)) == path, "a path does not read back the same")
    }

    /// Policy files (TOML): parsing never crashes, and what parses gives every path an N of 1
    /// or more.
    static func policy(_ bytes: [UInt8]) {
        // The loader refuses what is not UTF-8 before parsing, as here.
        guard let text = String(bytes: bytes, encoding: .utf8), let file = try? PolicySet.parse(text, fileName: "fuzz.toml"),
              let set = try? PolicySet(files: [file])
        else { return }
        for (path, size) in [("a", Int64(0)), ("videos/2024/trip.mov", Int64(5 << 30)), ("x/y.txt", Int64(1))] {
            precondition(set.replicas(for: try! VirtualPath(path), size: size) >= 1, "a policy gave N < 1")
        }
    }

    /// Every JSON body a node or the master decodes: what decodes, encodes and decodes back
    /// the same.
    static func json(_ bytes: [UInt8]) {
        let data = Data(bytes)
        roundTrip(BlobsRequest.self, data); roundTrip(CopyBatchCommand.self, data); roundTrip(CopyCommand.self, data)
        roundTrip(DiskAuditCommand.self, data); roundTrip(DrainCommand.self, data); roundTrip(ForgetCommand.self, data)
        roundTrip(InventoryBatch.self, data); roundTrip(MaintenanceCommand.self, data); roundTrip(MoveCommand.self, data)
        roundTrip(NodeLeave.self, data); roundTrip(NodeReport.self, data); roundTrip(RemoveCommand.self, data)
        roundTrip(RenameRequest.self, data); roundTrip(S3KeyCreate.self, data); roundTrip(SafeModeCommand.self, data)
        roundTrip(UploadAbort.self, data); roundTrip(UploadBatchCheck.self, data); roundTrip(UploadBatchCommit.self, data)
        roundTrip(UploadBatchRequest.self, data); roundTrip(UploadCheck.self, data); roundTrip(UploadCommit.self, data)
        roundTrip(UploadRequest.self, data); roundTrip(VerifyCommand.self, data)
    }

    static func roundTrip<T: Codable & Equatable>(_ type: T.Type, _ data: Data) {
        guard let value = try? JSONDecoder().decode(T.self, from: data) else { return }
        guard let encoded = try? JSONEncoder().encode(value) else {
            preconditionFailure("\(T.self) decoded but does not encode")
        }
        precondition((try? JSONDecoder().decode(T.self, from: encoded)) == value, "\(T.self) does not read back the same")
    }
}

/// Runs async work from libFuzzer's synchronous callback and waits for it.
enum Blocking {
    static func wait<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<T?>(nil)
        Task {
            let value = await body()
            result.withLock { $0 = value }
            done.signal()
        }
        done.wait()
        return result.withLock { $0! }
    }
}
