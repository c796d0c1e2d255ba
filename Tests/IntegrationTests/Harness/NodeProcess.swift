import Foundation
import Synchronization

/// One `fsdfsd serve` process with its own data directory and log file.
final class NodeProcess: Sendable {
    let name: String
    let address: String
    let data: URL
    let log: URL
    let arguments: [String]
    private let process: Mutex<Process?>

    init(name: String, address: String, data: URL, log: URL, arguments: [String]) {
        self.name = name
        self.address = address
        self.data = data
        self.log = log
        self.arguments = arguments
        self.process = Mutex(nil)
    }

    var pid: Int32? { process.withLock { $0?.isRunning == true ? $0?.processIdentifier : nil } }
    var isRunning: Bool { process.withLock { $0?.isRunning ?? false } }

    /// Starts (or restarts) the process with the same arguments; output is appended to `log`.
    func start(environment: [String: String]) throws {
        let process = Process()
        process.executableURL = Fsdfsd.binary
        process.arguments = arguments
        process.environment = environment
        if !FileManager.default.fileExists(atPath: log.path) {
            FileManager.default.createFile(atPath: log.path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        try? handle.close()  // the child has its own copy
        self.process.withLock { $0 = process }
    }

    func signal(_ signal: Int32) {
        if let pid { kill(pid, signal) }
    }

    /// SIGTERM, then waits for the exit (SIGKILL after `timeout`).
    func stop(timeout: Duration = .seconds(15)) async {
        signal(SIGTERM)
        if await waitForExit(timeout: timeout) { return }
        signal(SIGKILL)
        _ = await waitForExit(timeout: .seconds(5))
    }

    /// SIGKILL: a crash, no goodbye to the master.
    func crash() async {
        signal(SIGKILL)
        _ = await waitForExit(timeout: .seconds(5))
    }

    func waitForExit(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if !isRunning { return true }
            try? await Task.sleep(for: .milliseconds(50))  // poll interval, bounded by the deadline
        }
        return !isRunning
    }

    var exitStatus: Int32? {
        process.withLock { process in
            guard let process, !process.isRunning else { return nil }
            return process.terminationStatus
        }
    }

    func logText() -> String {
        (try? String(contentsOf: log, encoding: .utf8)) ?? ""
    }

    /// The file a node stores for a virtual path.
    func file(_ path: String) -> URL { data.appendingPathComponent(path) }
}
