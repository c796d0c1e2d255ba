/// The nonces a ``RequestVerifier`` accepted and must still refuse to see again.
///
/// Each nonce is kept until its expiry time, after which the verifier's timestamp check alone
/// refuses any copy of the request, so the nonce can be forgotten. Entries sit in a dictionary for
/// lookup and in a binary min-heap ordered by expiry, so forgetting expired ones costs O(log n)
/// each and memory never exceeds `capacity` entries. Not thread-safe: the verifier wraps it in a
/// `Mutex`.
struct NonceCache: Sendable {
    /// What ``insert(_:expiresAt:)`` did.
    enum Insertion: Equatable {
        case inserted
        case alreadySeen
        case full
    }

    private struct Entry: Sendable {
        var expiresAt: Double
        var nonce: String
    }

    /// The most nonces kept at once.
    let capacity: Int
    private var expiries: [String: Double] = [:]
    /// A min-heap on `expiresAt`; holds exactly the nonces in `expiries`.
    private var heap: [Entry] = []

    init(capacity: Int) {
        precondition(capacity > 0, "a nonce cache needs room for at least one nonce")
        self.capacity = capacity
    }

    /// How many nonces are remembered.
    var count: Int { expiries.count }

    /// Whether `nonce` is remembered.
    func contains(_ nonce: String) -> Bool {
        expiries[nonce] != nil
    }

    /// Forgets every nonce whose expiry time is before `now` (seconds since 1970).
    mutating func removeExpired(now: Double) {
        while let first = heap.first, first.expiresAt < now {
            expiries[first.nonce] = nil
            popFirst()
        }
    }

    /// Remembers `nonce` until `expiresAt`, unless it is already remembered or the cache is full.
    mutating func insert(_ nonce: String, expiresAt: Double) -> Insertion {
        if expiries[nonce] != nil { return .alreadySeen }
        if expiries.count >= capacity { return .full }
        expiries[nonce] = expiresAt
        heap.append(Entry(expiresAt: expiresAt, nonce: nonce))
        siftUp(from: heap.count - 1)
        return .inserted
    }

    private mutating func popFirst() {
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        siftDown(from: 0)
    }

    private mutating func siftUp(from start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].expiresAt < heap[parent].expiresAt else { return }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(from start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count, heap[left].expiresAt < heap[smallest].expiresAt { smallest = left }
            if right < heap.count, heap[right].expiresAt < heap[smallest].expiresAt { smallest = right }
            guard smallest != parent else { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
