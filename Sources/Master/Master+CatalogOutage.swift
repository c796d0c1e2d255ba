import Foundation
import Hummingbird
import ReplicaCore
import Transport

/// The catalog going away at runtime (a MongoDB server down, no majority): the master keeps
/// answering, replication pauses and says why, and everything resumes when the catalog
/// answers again. Nothing is written meanwhile, so nothing is lost; nodes keep serving reads.
/// The pause and the resumption are events, written once the catalog is back.
extension Master {
    /// Records an outage when `error` is the catalog being unreachable; returns whether it was.
    @discardableResult
    func noteCatalogFailure(_ error: any Error) -> Bool {
        guard case .unreachable(let message)? = error as? CatalogError else { return false }
        let first = state.withLock { state -> Bool in
            guard state.catalogOutage == nil else { return false }
            state.catalogOutage = (Date(), message)
            return true
        }
        if first {
            logger.error("catalog unreachable, replication paused until it answers again: \(message)")
            // Written once the catalog is back (EventQueue keeps it meanwhile).
            record(.catalogPaused, "catalog unreachable, replication paused: \(message)")
            // The scheduler probes the catalog while it is away.
            schedule.signal()
        }
        return true
    }

    /// The catalog answered: ends an outage if there was one.
    func noteCatalogReachable() {
        let outage = state.withLock { state -> (since: Date, message: String)? in
            guard let outage = state.catalogOutage else { return nil }
            state.catalogOutage = nil
            // Reports failed while the catalog was away; that is not the nodes' fault.
            let now = Date()
            for node in state.lastSeen.keys { state.lastSeen[node] = now }
            return outage
        }
        guard let outage else { return }
        let seconds = Int(Date().timeIntervalSince(outage.since).rounded())
        logger.notice("catalog reachable again after \(seconds) s: replication resumes")
        record(.catalogResumed, "catalog reachable again after \(seconds) s: replication resumes")
        schedule.signal()
        deletions.signal()
    }

    /// Why replication is paused, for `status`; nil while the catalog answers.
    var pausedReason: String? {
        state.withLock { state in
            state.catalogOutage.map { outage in
                "catalog unreachable since \(ISO8601DateFormatter().string(from: outage.since)): \(outage.message)"
            }
        }
    }
}

/// Turns the catalog being unreachable into `503 catalog_unreachable` for every master route
/// (nodes retry their reports; clients get one clear line) and records the outage.
struct CatalogOutageMiddleware: RouterMiddleware {
    typealias Context = NodeRequestContext
    let master: Master

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            guard master.noteCatalogFailure(error) else { throw error }
            throw RouteError(
                .serviceUnavailable, "the master's catalog is unreachable; try again when it is back (\(error))",
                code: "catalog_unreachable")
        }
    }
}
