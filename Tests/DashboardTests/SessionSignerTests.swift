import Foundation
import ReplicaCore
import Testing

@testable import Dashboard

@Suite("Dashboard sessions")
struct SessionSignerTests {
    let signer = SessionSigner(key: try! SwarmKey(password: "dashboard-test-secret"))

    @Test("A cookie it issued is accepted until it expires")
    func issuedCookieIsAcceptedUntilExpiry() {
        let now = Date()
        let (session, cookie) = signer.issue(now: now)
        #expect(signer.verify(cookie, now: now) == session)
        #expect(signer.verify(cookie, now: now.addingTimeInterval(SessionSigner.lifetime - 5)) == session)
        #expect(signer.verify(cookie, now: now.addingTimeInterval(SessionSigner.lifetime + 1)) == nil)
    }

    @Test("A changed expiry, id or MAC, another swarm's cookie and garbage are refused")
    func forgedCookiesAreRefused() {
        let now = Date()
        let (_, cookie) = signer.issue(now: now)
        let parts = cookie.split(separator: ".").map(String.init)
        let later = "\(Int64(parts[0])! + 3600).\(parts[1]).\(parts[2])"
        let otherID = "\(parts[0]).\(String(repeating: "a", count: 32)).\(parts[2])"
        let flipped = "\(parts[0]).\(parts[1]).\(parts[2].hasPrefix("0") ? "1" : "0")\(parts[2].dropFirst())"
        let otherSwarm = SessionSigner(key: try! SwarmKey(password: "another-swarm-secret")).issue(now: now).cookie
        for forged in [later, otherID, flipped, otherSwarm, "", "x", "1.2.3", cookie + ".x"] {
            #expect(signer.verify(forged, now: now) == nil, "accepted \(forged)")
        }
    }

    @Test("The CSRF token belongs to one session")
    func csrfTokenIsPerSession() {
        let (first, _) = signer.issue()
        let (second, _) = signer.issue()
        #expect(first.id != second.id)
        let token = signer.csrfToken(for: first)
        #expect(signer.checkCSRF(token, for: first))
        #expect(!signer.checkCSRF(token, for: second))
        #expect(!signer.checkCSRF(nil, for: first))
        #expect(!signer.checkCSRF("", for: first))
    }

    @Test("Session and CSRF keys differ from each other and from the signing key")
    func derivedKeysAreDistinct() throws {
        let key = try SwarmKey(password: "dashboard-test-secret")
        let session = key.derivedKey(for: "dashboard-session")
        let csrf = key.derivedKey(for: "dashboard-csrf")
        #expect(session.count == 32)
        #expect(session != csrf)
        #expect(key.derivedKey(for: "dashboard-session") == session)
        #expect(try SwarmKey(password: "another-swarm-secret").derivedKey(for: "dashboard-session") != session)
    }
}

@Suite("Dashboard login throttle")
struct LoginThrottleTests {
    @Test("Five failures in a minute block the client, not the others, until the oldest is a minute old")
    func failuresBlockTheClient() {
        var throttle = LoginThrottle()
        let start = Date()
        for i in 0..<LoginThrottle.maxFailures {
            #expect(throttle.retryAfter(client: "10.0.0.1", now: start.addingTimeInterval(Double(i))) == nil)
            throttle.recordFailure(client: "10.0.0.1", now: start.addingTimeInterval(Double(i)))
        }
        let wait = throttle.retryAfter(client: "10.0.0.1", now: start.addingTimeInterval(10))
        #expect(wait == 50)
        #expect(throttle.retryAfter(client: "10.0.0.2", now: start.addingTimeInterval(10)) == nil)
        #expect(throttle.retryAfter(client: "10.0.0.1", now: start.addingTimeInterval(LoginThrottle.window + 0.5)) == nil)
    }

    @Test("A success clears the client's failures")
    func successClears() {
        var throttle = LoginThrottle()
        let now = Date()
        for _ in 0..<LoginThrottle.maxFailures { throttle.recordFailure(client: "a", now: now) }
        #expect(throttle.retryAfter(client: "a", now: now) != nil)
        throttle.recordSuccess(client: "a")
        #expect(throttle.retryAfter(client: "a", now: now) == nil)
    }
}

@Suite("Dashboard health history")
struct HealthHistoryTests {
    func sample(_ t: Double, _ kn: Int?, backlog: Int64 = 0) -> HealthSample {
        HealthSample(t: t, minKn: kn, backlogBytes: backlog, bytesPerSecond: 0, underReplicated: 0)
    }

    @Test("Keeps the most recent day of samples, oldest first")
    func boundedRing() {
        var history = HealthHistory()
        for i in 0..<(HealthHistory.capacity + 10) { history.append(sample(Double(i), 1)) }
        let all = history.all
        #expect(all.count == HealthHistory.capacity)
        #expect(all.first?.t == 10)
        #expect(all.last?.t == Double(HealthHistory.capacity + 9))
    }

    @Test("Merging points keeps a short dip of min(K−N) and the largest backlog")
    func mergingKeepsExtremes() {
        var history = HealthHistory()
        let now = Date(timeIntervalSince1970: 10_000)
        for i in 0..<360 {
            let t = 10_000 - 3600 + Double(i) * 10
            history.append(sample(t, i == 100 ? -2 : 1, backlog: i == 200 ? 5000 : 10))
        }
        let points = history.recent(seconds: 3600, points: 36, now: now)
        #expect(points.count <= 37)
        #expect(points.compactMap(\.minKn).min() == -2)
        #expect(points.map(\.backlogBytes).max() == 5000)
        #expect(history.recent(seconds: 60, points: 100, now: now).count == 6)
    }
}

@Suite("Dashboard forms and pages")
struct DashboardFormTests {
    @Test("Form values are percent- and plus-decoded")
    func formDecoding() {
        #expect(Dashboard.formValue("password", in: "password=a%26b+c%3D") == "a&b c=")
        #expect(Dashboard.formValue("password", in: "x=1&password=") == "")
        #expect(Dashboard.formValue("password", in: "x=1") == nil)
    }

    @Test("The login page escapes its message and the assets are built in")
    func loginPageEscapes() {
        let page = Assets.loginPage(message: "<script>alert(1)</script>")
        #expect(page.contains("&lt;script&gt;"))
        #expect(!page.contains("<script>alert"))
        #expect(!Assets.loginPage(message: nil).contains("{{message}}"))
        #expect(Assets.files["app.js"]!.bytes.readableBytes > 1000)
        #expect(Assets.index.bytes.readableBytes > 1000)
    }

    @Test("Only /ui and paths under /ui/ go to the dashboard")
    func dispatchPaths() {
        #expect(DashboardDispatch.isDashboardPath("/ui"))
        #expect(DashboardDispatch.isDashboardPath("/ui/api/overview"))
        #expect(!DashboardDispatch.isDashboardPath("/uix"))
        #expect(!DashboardDispatch.isDashboardPath("/v1/status"))
        #expect(!DashboardDispatch.isDashboardPath("/"))
    }

    @Test("Download names are safe in Content-Disposition")
    func attachmentNames() {
        #expect(Dashboard.attachment("a.txt") == "attachment; filename=\"a.txt\"; filename*=UTF-8''a.txt")
        #expect(Dashboard.attachment("été \"x\".txt").hasPrefix("attachment; filename=\"_t_ _x_.txt\""))
    }
}
