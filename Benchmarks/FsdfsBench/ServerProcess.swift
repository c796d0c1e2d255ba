import Foundation
import Synchronization

/// A long-running child (an `fsdfsd serve`, nginx) with its output appended to a log file.
final class ServerProcess: Sendable {
    let name: String
    let executable: String
    let arguments: [String]
    let environment: [String: String]
    let log: URL
    /// How ``Reaper`` stops it when the bench is interrupted.
    let reapSignal: Int32
    private let process = Mutex<Process?>(nil)

    init(name: String, executable: String, arguments: [String], environment: [String: String], log: URL, reapSignal: Int32 = SIGKILL) {
        self.name = name
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.log = log
        self.reapSignal = reapSignal
    }

    var pid: Int32? { process.withLock { $0?.isRunning == true ? $0?.processIdentifier : nil } }
    var isRunning: Bool { process.withLock { $0?.isRunning ?? false } }

    /// Starts (or starts again) the process.
    func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        if !FileManager.default.fileExists(atPath: log.path) {
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        do {
            try process.run()
        } catch {
            throw BenchError("cannot start \(name) (\(executable)): \(error)")
        }
        try? handle.close()  // the child has its own copy
        Reaper.shared.adopt(process.processIdentifier, stopWith: reapSignal)
        self.process.withLock { $0 = process }
    }

    /// SIGTERM (a clean stop: a node says goodbye to its master), SIGKILL after `timeout`.
    func stop(timeout: Duration = .seconds(20)) async {
        guard let pid else { return }
        kill(pid, SIGTERM)
        if await waitForExit(timeout: timeout) == false {
            kill(pid, SIGKILL)
            _ = await waitForExit(timeout: .seconds(5))
        }
        Reaper.shared.release(pid)
    }

    func waitForExit(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if !isRunning { return true }
            try? await Task.sleep(for: .milliseconds(50))  // poll interval, bounded by the deadline
        }
        return !isRunning
    }

    /// The end of the log, for an error message.
    func logTail(_ characters: Int = 1500) -> String {
        String(((try? String(contentsOf: log, encoding: .utf8)) ?? "").suffix(characters))
    }

    /// The resident set size from /proc/PID/status (VmRSS), in MiB.
    func residentMiB() throws -> Double {
        guard let pid else { throw BenchError("\(name) is not running: no RSS to read") }
        let text = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kib = Double(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        else { throw BenchError("no VmRSS line in /proc/\(pid)/status") }
        return kib / 1024
    }
}

/// A free TCP port on loopback, from the kernel (bound to port 0, read back, closed).
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw BenchError("socket(): errno \(errno)") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw BenchError("bind(127.0.0.1:0): errno \(errno)") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else { throw BenchError("getsockname(): errno \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}
