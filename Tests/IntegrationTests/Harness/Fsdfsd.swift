import Foundation

/// Locates the `fsdfsd` executable built next to the test bundle, and runs client commands.
enum Fsdfsd {
    static let binary: URL = {
        if let path = ProcessInfo.processInfo.environment["FSDFS_BINARY"] { return URL(fileURLWithPath: path) }
        // swift test runs the bundle from the products directory, where fsdfsd is built too.
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("fsdfsd")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: ".build/debug/fsdfsd")
    }()

    struct Result: Sendable {
        var status: Int32
        var stdout: String
        var stderr: String
        /// stdout as raw bytes (`get PATH -` writes binary content).
        var stdoutData: Data = Data()
    }

    /// Runs one command to completion (with a deadline) and captures its output.
    static func run(
        _ arguments: [String], environment: [String: String], timeout: Duration = .seconds(60), executable: URL = binary
    ) async throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = environment
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fsdfs-cmd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let out = directory.appendingPathComponent("out")
        let err = directory.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let outHandle = try FileHandle(forWritingTo: out)
        let errHandle = try FileHandle(forWritingTo: err)
        process.standardOutput = outHandle
        process.standardError = errHandle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // The child has its own copies. Ours would stay open for good (a Process nobody waited
        // on with waitUntilExit is never released), two descriptors per command: thousands in
        // a chaos run, and Process.run, which adds a close action for every open descriptor,
        // then crashed the test process.
        try? outHandle.close()
        try? errHandle.close()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline {
                process.terminate()
                throw HarnessError("\(executable.lastPathComponent) \(arguments.joined(separator: " ")) did not finish within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(20))  // poll interval, bounded by the deadline
        }
        let stdoutData = (try? Data(contentsOf: out)) ?? Data()
        return Result(
            status: process.terminationStatus,
            stdout: String(data: stdoutData, encoding: .utf8) ?? "",
            stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "",
            stdoutData: stdoutData)
    }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension Fsdfsd {
    /// Starts one command and returns it running (to signal it while it works); its output
    /// goes to `log`.
    static func start(_ arguments: [String], environment: [String: String], log: URL, executable: URL = binary) throws -> Process {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = environment
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try? handle.close()  // the child has its own copy
        return process
    }
}
