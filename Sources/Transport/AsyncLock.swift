import Synchronization

/// A first-come, first-served lock that suspends (never blocks a thread) while it waits.
///
/// The blob store holds it around every change of the namespace (commit's mkdir + rename +
/// index update, remove, quarantine, adopt, scan), so that those multi-step changes do not
/// interleave across their suspension points. The master holds one around placement decisions
/// (scheduler passes and upload grants), so two decisions never book the same free space.
public final class AsyncLock: Sendable {
    private struct State {
        var locked = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    public init() {}

    /// Waits until the lock is free and takes it.
    public func lock() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let acquired = state.withLock { state -> Bool in
                if state.locked {
                    state.waiters.append(continuation)
                    return false
                }
                state.locked = true
                return true
            }
            if acquired { continuation.resume() }
        }
    }

    /// Releases the lock, handing it to the longest waiter if there is one.
    public func unlock() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty {
                state.locked = false
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }

    /// Runs `body` holding the lock.
    public func withLock<T>(_ body: () async throws -> T) async rethrows -> T {
        await lock()
        defer { unlock() }
        return try await body()
    }
}
