import Foundation
import Logging
import Master
import ReplicaCore
import Synchronization
import Transport

/// The web dashboard the master serves at `/ui/`: a login with the swarm password, pages
/// built into the binary (`Resources/`), and a JSON API under `/ui/api/` that the pages poll.
/// Its data comes from the master (`Master+Dashboard.swift`); what it keeps itself is the
/// health chart's history, the login throttle and the sessions logged out before they expired.
public final class Dashboard: Sendable {
    /// Where the dashboard lives on the master's server.
    public static let root = "/ui"
    static let cookieName = "fsdfs_ui"

    let master: Master
    let key: SwarmKey
    let sessions: SessionSigner
    /// Signs the master's calls to nodes for uploads and downloads.
    let client: SignedClient
    let logger: Logger
    /// How long a wrong password waits for its answer.
    let failedLoginDelay: Duration
    let throttle = Mutex(LoginThrottle())
    /// Sessions ended by logging out, until they would have expired anyway.
    let loggedOut = Mutex<[String: Date]>([:])
    let history = Mutex(HealthHistory())
    /// The K − N histogram walks the catalog: computed at most once per ``histogramLifetime``.
    let histogramCache = Mutex<(at: Date, buckets: [KnBucket])?>(nil)
    static let histogramLifetime: TimeInterval = 5

    public init(master: Master, key: SwarmKey, client: SignedClient, logger: Logger, failedLoginDelay: Duration = .seconds(1)) {
        self.master = master
        self.key = key
        self.sessions = SessionSigner(key: key)
        self.client = client
        self.logger = logger
        self.failedLoginDelay = failedLoginDelay
    }

    /// Adds a point to the health chart (``HealthSampler``); a catalog that does not answer
    /// leaves a gap rather than a made-up point.
    func takeSample() async {
        do {
            let sample = try await master.dashboardSample()
            history.withLock { $0.append(sample) }
        } catch {
            logger.debug("dashboard: no health sample: \(error)")
        }
    }

    /// The K − N histogram, from the cache when it is recent; nil when the catalog cannot
    /// give it (the page then leaves the chart out).
    func histogram() async -> [KnBucket]? {
        let now = Date()
        if let cached = histogramCache.withLock({ $0 }), now.timeIntervalSince(cached.at) < Self.histogramLifetime {
            return cached.buckets
        }
        guard let buckets = try? await master.dashboardHistogram() else { return nil }
        histogramCache.withLock { $0 = (now, buckets) }
        return buckets
    }

    /// The session a request's cookie stands for, unless it was logged out.
    func session(of cookie: String?, now: Date = Date()) -> DashboardSession? {
        guard let cookie, let session = sessions.verify(cookie, now: now) else { return nil }
        let ended = loggedOut.withLock { ended in
            ended = ended.filter { $0.value > now }
            return ended[session.id] != nil
        }
        return ended ? nil : session
    }

    func logOut(_ session: DashboardSession) {
        loggedOut.withLock { ended in
            let now = Date()
            ended = ended.filter { $0.value > now }
            ended[session.id] = session.expires
        }
    }
}
