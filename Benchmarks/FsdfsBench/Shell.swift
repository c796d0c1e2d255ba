import Foundation

/// What a finished command printed and how long it ran (process start to exit).
struct CommandResult: Sendable {
    var status: Int32
    var stdout: String
    var stderr: String
    var seconds: Double

    var succeeded: Bool { status == 0 }
}

/// A command that failed, with what it printed.
struct CommandError: Error, CustomStringConvertible {
    let description: String

    init(_ what: String, _ result: CommandResult) {
        let said = (result.stderr.isEmpty ? result.stdout : result.stderr)
            .trimmingCharacters(in: .whitespacesAndNewlines).suffix(1500)
        description = "\(what) failed (exit \(result.status)): \(said)"
    }
}

/// A failure of the bench itself (a setup step, a deadline), naming what failed.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

enum Shell {
    /// Runs `executable` to its end; stdout and stderr go to files in `scratch` (a pipe could
    /// fill up and stall a child that prints a lot, such as `ls --json` of 100,000 files).
    /// The time covers the whole process, start-up included: what a user waits for.
    static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, scratch: URL
    ) async throws -> CommandResult {
        let id = UUID().uuidString.prefix(8)
        let outURL = scratch.appendingPathComponent("cmd-\(id).out")
        let errURL = scratch.appendingPathComponent("cmd-\(id).err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        let start = ContinuousClock.now
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { finished in continuation.resume(returning: finished.terminationStatus) }
            do {
                try process.run()
                Reaper.shared.adopt(process.processIdentifier, stopWith: SIGKILL)
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: BenchError("cannot start \(executable): \(error)"))
            }
        }
        let seconds = (ContinuousClock.now - start).seconds
        Reaper.shared.release(process.processIdentifier)
        try? out.close()
        try? err.close()
        return CommandResult(
            status: status,
            stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "",
            seconds: seconds)
    }

    /// Runs a bash script (`set -euo pipefail` first): the peers' pipelines.
    static func bash(_ script: String, environment: [String: String]? = nil, scratch: URL) async throws -> CommandResult {
        try await run("/bin/bash", ["-c", "set -euo pipefail\n" + script], environment: environment, scratch: scratch)
    }

    /// Like ``bash(_:environment:scratch:)``, but a failure is an error naming `what`.
    @discardableResult
    static func bashChecked(_ what: String, _ script: String, scratch: URL) async throws -> CommandResult {
        let result = try await bash(script, scratch: scratch)
        guard result.succeeded else { throw CommandError(what, result) }
        return result
    }

    /// Single-quotes `text` for bash.
    static func quote(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// The first executable called `name` on PATH.
    static func which(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin"
        for directory in path.split(separator: ":") + ["/usr/sbin", "/sbin"] {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}

extension Duration {
    var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}

/// A process a stage needs is gone: polling for it stops at once.
struct ProcessExited: Error, CustomStringConvertible {
    let description: String
}

/// Polls `condition` every `interval` until it holds, and returns the time from `start` to the
/// end of the check that saw it hold (so a figure never counts less time than was spent).
/// An error thrown by the condition counts as "not yet" (at the deadline the last one is
/// reported), except ``ProcessExited``, which ends the wait at once.
@discardableResult
func poll(
    _ what: String, from start: ContinuousClock.Instant = .now, timeout: Duration,
    interval: Duration = .milliseconds(50), _ condition: () async throws -> Bool
) async throws -> Double {
    let deadline = start + timeout
    var lastError: (any Error)?
    while ContinuousClock.now < deadline {
        do {
            if try await condition() { return (ContinuousClock.now - start).seconds }
            lastError = nil
        } catch let error as ProcessExited {
            throw error
        } catch {
            lastError = error
        }
        try await Task.sleep(for: interval)  // poll interval, bounded by the deadline
    }
    throw BenchError("timed out after \(timeout) waiting for \(what)\(lastError.map { " (last error: \($0))" } ?? "")")
}

/// Progress for the person watching: one line on stderr.
func progress(_ line: String) {
    let stamp = Date().formatted(.dateTime.hour(.twoDigits(amPM: .omitted)).minute(.twoDigits).second(.twoDigits))
    FileHandle.standardError.write(Data("[\(stamp)] \(line)\n".utf8))
}
