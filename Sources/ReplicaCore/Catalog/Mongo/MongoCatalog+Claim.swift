import Foundation
import Synchronization

/// This master's claim on its MongoDB database (``MongoCatalog/claim(for:address:lease:)``).
struct Ownership: Sendable {
    var node: NodeID?
    var token = ""
    var lease = Duration.seconds(30)
    /// Until when this master may write without a renewed claim.
    var validUntil: ContinuousClock.Instant?
    /// The master that took the database over, once one has.
    var lostTo: String?
    var renewal: Task<Void, Never>?
}

/// One master per database.
///
/// The master claims the database with the document `master` in `meta`: its node, address,
/// host and process, and an expiry in the server's clock. A claim held by another master and
/// not yet expired refuses the start, naming that master; the same node restarting takes its
/// own claim back at once. The claim is renewed every third of its lease and dropped at a
/// clean stop, so a master that died is replaced after one lease (30 s) at most.
///
/// A master also fences itself: it stops writing when its claim was taken over, and when it
/// could not renew it for most of a lease (a master frozen or cut off for that long may have
/// been replaced), and only resumes once renewed. Either shows as a paused scheduler.
extension MongoCatalog {
    static let claimID: BSON = "master"

    /// Claims the database for the master `node`, reachable at `address`, or throws
    /// ``CatalogError/inUse(_:)`` naming the master that holds it.
    public func claim(for node: NodeID, address: String, lease: Duration = .seconds(30)) async throws {
        let token = UUID().uuidString
        let asked = ContinuousClock.now
        let claimed = try await withSession(checkingOwnership: false) { session in
            try Self.writeClaim(
                session, ["_id": Self.claimID, "$or": [["node": .string(node.rawValue)], Self.expired]],
                node: node, address: address, token: token, lease: lease)
        }
        guard claimed else {
            let holder = try await withSession(checkingOwnership: false) { session in try session.findOne(Meta.collection, ["_id": Self.claimID]) }
            throw CatalogError.inUse(
                "the catalog database \(connection.database) at \(hosts) is in use by \(Self.describe(holder)); "
                    + "only one master may use a database. Stop that master first; if it is gone, its claim runs out "
                    + "within \(lease.components.seconds) s")
        }
        ownership.withLock { ownership in
            ownership.renewal?.cancel()
            ownership = Ownership(node: node, token: token, lease: lease, validUntil: Self.validity(from: asked, lease))
            ownership.renewal = Task { [weak self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: lease / 3)
                    guard let self, !Task.isCancelled else { return }
                    await self.renewClaim(node: node, address: address)
                }
            }
        }
    }

    /// Drops the claim (a clean stop), so the next master can start at once.
    public func release() async {
        let released = ownership.withLock { ownership -> Ownership in
            let before = ownership
            ownership.renewal?.cancel()
            ownership = Ownership()
            return before
        }
        guard released.node != nil, released.lostTo == nil else { return }
        _ = try? await withSession(checkingOwnership: false) { session in
            try session.delete(Meta.collection, ["_id": Self.claimID, "token": .string(released.token)])
        }
    }

    /// Throws when this master must not write: its claim was taken over, or not renewed in time.
    func checkOwnership() throws {
        let ownership = ownership.withLock { $0 }
        guard ownership.node != nil else { return }
        if let lostTo = ownership.lostTo {
            throw CatalogError.unreachable(
                "database \(connection.database) at \(hosts) was taken over by \(lostTo); this master writes nothing more to it, stop it")
        }
        if let until = ownership.validUntil, ContinuousClock.now > until {
            throw CatalogError.unreachable(
                "this master could not renew its claim on database \(connection.database) at \(hosts) in time, so it writes nothing until it has")
        }
    }

    private func renewClaim(node: NodeID, address: String) async {
        let (token, lease) = ownership.withLock { ($0.token, $0.lease) }
        let asked = ContinuousClock.now
        do {
            let kept = try await withSession(checkingOwnership: false) { session in
                try Self.writeClaim(session, ["_id": Self.claimID, "token": .string(token)], node: node, address: address, token: token, lease: lease)
            }
            if kept {
                ownership.withLock { if $0.token == token { $0.validUntil = Self.validity(from: asked, lease) } }
            } else {
                let holder = try? await withSession(checkingOwnership: false) { session in try session.findOne(Meta.collection, ["_id": Self.claimID]) }
                ownership.withLock { ownership in
                    guard ownership.token == token else { return }
                    ownership.lostTo = Self.describe(holder ?? nil)
                    ownership.renewal?.cancel()
                }
            }
        } catch {
            // Not answering: the claim's validity runs out and the master pauses until a renewal works.
        }
    }

    /// A claim whose expiry has passed in the server's clock.
    private static let expired: BSON = ["$expr": ["$lt": ["$expires", ["$toLong": "$$NOW"]]]]

    /// Writes the claim where `filter` matches, or inserts it when there is none; false when
    /// another master holds it.
    private static func writeClaim(
        _ session: MongoSession, _ filter: BSONDocument, node: NodeID, address: String, token: String, lease: Duration
    ) throws -> Bool {
        let milliseconds = lease.components.seconds * 1000 + lease.components.attoseconds / 1_000_000_000_000_000
        do {
            _ = try session.findAndModify(
                Meta.collection, filter,
                .pipeline([
                    ["$set": [
                        "node": .string(node.rawValue), "address": .string(address), "token": .string(token),
                        "host": .string(ProcessInfo.processInfo.hostName), "pid": .int64(Int64(ProcessInfo.processInfo.processIdentifier)),
                        "expires": ["$add": [["$toLong": "$$NOW"], .int64(milliseconds)]],
                    ]],
                ]),
                upsert: true, returnNew: true)
            return true
        } catch let error as MongoError where error.isDuplicateKey {
            return false
        }
    }

    /// Writes may go on until shortly before the claim could expire: a write sent just before
    /// must still land in time.
    private static func validity(from asked: ContinuousClock.Instant, _ lease: Duration) -> ContinuousClock.Instant {
        asked + lease - lease / 6
    }

    private static func describe(_ holder: BSONDocument?) -> String {
        guard let holder else { return "another master" }
        let node = holder["node"]?.stringValue.map { String($0.prefix(8)) } ?? "?"
        let pid = holder["pid"]?.int64Value.map(String.init) ?? "?"
        return "the master at \(holder["address"]?.stringValue ?? "?") (node \(node), pid \(pid) on \(holder["host"]?.stringValue ?? "?"))"
    }
}
