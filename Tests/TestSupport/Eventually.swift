import Foundation

/// A condition polled by ``eventually(_:timeout:_:)`` did not hold before its deadline.
public struct TimedOut: Error, CustomStringConvertible {
    public let description: String
}

/// Polls `condition` until it holds or the deadline passes (never a fixed sleep). An error
/// thrown by the condition counts as "not yet" and is reported if time runs out.
public func eventually(
    _ what: @autoclosure () -> String, timeout: Duration = .seconds(30),
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    var lastError: (any Error)?
    while ContinuousClock.now < deadline {
        do {
            if try await condition() { return }
            lastError = nil
        } catch {
            lastError = error
        }
        try await Task.sleep(for: .milliseconds(100))
    }
    throw TimedOut(description: "timed out after \(timeout) waiting for: \(what())\(lastError.map { " (last error: \($0))" } ?? "")")
}
