import Foundation
import Synchronization

/// The MongoDB server the tests use: `FSDFS_TEST_MONGODB_URI` when set (a real MongoDB),
/// otherwise a SecantusDB server (a MongoDB-wire-compatible server from PyPI, installed by
/// `.ci/run` into `.venv`) started on a free loopback port with in-memory storage.
public final class MongoTestServer: Sendable {
    public let uri: String
    private let process: Process?

    private static let sharedServer = Mutex<Task<MongoTestServer, any Error>?>(nil)

    /// One server for the whole test run, started on first use. It outlives the tests: a
    /// guard process stops it when the test process exits.
    public static func shared() async throws -> MongoTestServer {
        let task = sharedServer.withLock { task in
            if let task { return task }
            let started = Task { try await start(guarded: true) }
            task = started
            return started
        }
        return try await task.value
    }

    /// The server's URI with `database` in place of the one it names: each test gets a
    /// database of its own.
    public func uri(database: String) -> String {
        let scheme = uri.range(of: "://")!.upperBound
        let query = uri.firstIndex(of: "?") ?? uri.endIndex
        let hostsEnd = uri[scheme..<query].firstIndex(of: "/") ?? query
        return String(uri[..<hostsEnd]) + "/" + database + String(uri[query...])
    }

    /// Runs the server under a small Python guard that stops it (SIGTERM, then SIGKILL) when
    /// the process that started it is gone, so a shared server never outlives the test run.
    private static let guardScript = """
        import os, signal, subprocess, sys, time
        parent = os.getppid()
        child = subprocess.Popen(sys.argv[1:])
        asked = []
        signal.signal(signal.SIGTERM, lambda *_: asked.append(1))
        while child.poll() is None:
            if asked or os.getppid() != parent:
                child.terminate()
                try:
                    child.wait(8)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
                break
            time.sleep(0.2)
        sys.exit(0)
        """

    /// - Parameter testCommands: also serves `configureFailPoint`, so that a test can make the
    ///   server fail chosen commands (for a real MongoDB from `FSDFS_TEST_MONGODB_URI`, start
    ///   it with `--setParameter enableTestCommands=1`).
    public static func start(guarded: Bool = false, testCommands: Bool = false) async throws -> MongoTestServer {
        if let uri = ProcessInfo.processInfo.environment["FSDFS_TEST_MONGODB_URI"], !uri.isEmpty {
            return MongoTestServer(uri: uri, process: nil)
        }
        let executable = try secantusd()
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("secantusd-\(UUID().uuidString.prefix(8)).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let process = Process()
        let arguments = ["--host", "127.0.0.1", "--port", "0", "--storage-path", ":memory:"]
            + (testCommands ? ["--enable-test-commands"] : [])
        if guarded {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", "-c", guardScript, executable.path] + arguments
        } else {
            process.executableURL = executable
            process.arguments = arguments
        }
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        try? handle.close()  // the child has its own copy
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if let range = text.range(of: #"listening on 127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                let port = text[range].split(separator: ":").last!
                return MongoTestServer(uri: "mongodb://127.0.0.1:\(port)/fsdfs_test?retryWrites=false", process: process)
            }
            guard process.isRunning else { throw TestServerError("secantusd-py exited: \(text.suffix(2000))") }
            try await Task.sleep(for: .milliseconds(50))  // poll interval, bounded by the deadline
        }
        process.terminate()
        throw TestServerError("secantusd-py did not report its port within 30 s")
    }

    /// A server someone else runs, at `uri`.
    public convenience init(uri: String) {
        self.init(uri: uri, process: nil)
    }

    private init(uri: String, process: Process?) {
        self.uri = uri
        self.process = process
    }

    /// Sends `signal` to the server process (SIGSTOP makes it silent, as a hung or cut-off
    /// server is; SIGCONT brings it back with its data). Only for servers from ``start(guarded:)``
    /// without the guard.
    public func signal(_ signal: Int32) {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, signal)
    }

    /// Stops the server (it takes a few seconds to exit; SIGKILL after 10 s).
    public func stop() async {
        guard let process, process.isRunning else { return }
        // The process leads its own process group (the guard and the server under it, or the
        // server alone): signal the whole group, so no server outlives its guard.
        let pid = process.processIdentifier
        kill(-pid, SIGTERM)
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + .seconds(10)
        while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        kill(-pid, SIGKILL)
        if process.isRunning { kill(pid, SIGKILL) }
    }

    /// `FSDFS_SECANTUSD`, or `.venv/bin/secantusd-py` at the package root.
    static func secantusd() throws -> URL {
        if let path = ProcessInfo.processInfo.environment["FSDFS_SECANTUSD"] { return URL(fileURLWithPath: path) }
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent(".venv/bin/secantusd-py")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        throw TestServerError("no MongoDB for the tests: run `bash .ci/run` (it installs SecantusDB into .venv) or set FSDFS_TEST_MONGODB_URI")
    }
}

public struct TestServerError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
