import Synchronization

/// Orders node-liveness changes against replica writes inside one master: many replica writes
/// at once (`shared`), or one liveness change alone (`exclusive`). First come, first served,
/// so a steady stream of replica writes cannot starve a node going down. It suspends, never
/// blocks a thread.
final class LivenessGate: Sendable {
    private struct Waiter {
        let exclusive: Bool
        let continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var readers = 0
        var writer = false
        var queue: [Waiter] = []
    }

    private let state = Mutex(State())

    func shared<T>(_ body: () async throws -> T) async rethrows -> T {
        await acquire(exclusive: false)
        defer { release(exclusive: false) }
        return try await body()
    }

    func exclusive<T>(_ body: () async throws -> T) async rethrows -> T {
        await acquire(exclusive: true)
        defer { release(exclusive: true) }
        return try await body()
    }

    private func acquire(exclusive: Bool) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = state.withLock { state -> Bool in
                let free = exclusive ? (!state.writer && state.readers == 0) : !state.writer
                if free && state.queue.isEmpty {
                    if exclusive { state.writer = true } else { state.readers += 1 }
                    return true
                }
                state.queue.append(Waiter(exclusive: exclusive, continuation: continuation))
                return false
            }
            if granted { continuation.resume() }
        }
    }

    private func release(exclusive: Bool) {
        let woken = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            if exclusive { state.writer = false } else { state.readers -= 1 }
            var woken: [CheckedContinuation<Void, Never>] = []
            while let next = state.queue.first {
                if next.exclusive {
                    guard state.readers == 0, !state.writer, woken.isEmpty else { break }
                    state.writer = true
                    woken.append(state.queue.removeFirst().continuation)
                    break
                }
                guard !state.writer else { break }
                state.readers += 1
                woken.append(state.queue.removeFirst().continuation)
            }
            return woken
        }
        for continuation in woken { continuation.resume() }
    }
}
