import Crypto
import Foundation
import ReplicaCore

/// A logged-in browser: a random id and the moment the session ends.
public struct DashboardSession: Sendable, Equatable {
    /// 32 hex digits from 16 random bytes.
    public var id: String
    public var expires: Date
}

/// Issues and checks the dashboard's session cookies and CSRF tokens. Stateless: a cookie is
/// `EXPIRY.ID.MAC` with `MAC = HMAC-SHA256(session key, "fsdfs-ui-v1|EXPIRY|ID")`, so only the
/// master (holding the swarm key) can make one, and any change to the expiry or the id breaks
/// it. The session and CSRF keys are derived from the swarm key for those purposes alone
/// (``SwarmKey/derivedKey(for:)``): neither can sign a request, and neither reveals the password.
///
/// The CSRF token of a session is `HMAC-SHA256(CSRF key, ID)`. The page reads it from
/// `/ui/api/session` (same origin only) and sends it back in `X-CSRF-Token` with every change;
/// another site can make the browser send the cookie (not with `SameSite=Strict`, but older
/// browsers ignore it) but can never read the token.
public struct SessionSigner: Sendable {
    /// How long a login lasts.
    public static let lifetime: TimeInterval = 12 * 3600
    private let sessionKey: [UInt8]
    private let csrfKey: [UInt8]

    public init(key: SwarmKey) {
        sessionKey = key.derivedKey(for: "dashboard-session")
        csrfKey = key.derivedKey(for: "dashboard-csrf")
    }

    /// A new session and its cookie value.
    public func issue(now: Date = Date()) -> (session: DashboardSession, cookie: String) {
        var random = SystemRandomNumberGenerator()
        let id = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &random)) }.joined()
        let expires = Int64(now.addingTimeInterval(Self.lifetime).timeIntervalSince1970)
        let session = DashboardSession(id: id, expires: Date(timeIntervalSince1970: TimeInterval(expires)))
        return (session, "\(expires).\(id).\(mac(expires: expires, id: id))")
    }

    /// The session a cookie value stands for, or nil when it is malformed, forged or expired.
    public func verify(_ cookie: String, now: Date = Date()) -> DashboardSession? {
        let parts = cookie.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let expires = Int64(parts[0]), parts[1].count == 32,
            parts[1].allSatisfy({ $0.isHexDigit && !$0.isUppercase })
        else { return nil }
        let id = String(parts[1])
        guard RequestSignature.constantTimeEqual(Array(parts[2].utf8), Array(mac(expires: expires, id: id).utf8)) else {
            return nil
        }
        let end = Date(timeIntervalSince1970: TimeInterval(expires))
        guard end > now else { return nil }
        return DashboardSession(id: id, expires: end)
    }

    public func csrfToken(for session: DashboardSession) -> String {
        hex(HMAC<SHA256>.authenticationCode(for: Array(session.id.utf8), using: SymmetricKey(data: csrfKey)))
    }

    /// Whether `token` is the CSRF token of `session`, compared in constant time.
    public func checkCSRF(_ token: String?, for session: DashboardSession) -> Bool {
        guard let token else { return false }
        return RequestSignature.constantTimeEqual(Array(token.utf8), Array(csrfToken(for: session).utf8))
    }

    private func mac(expires: Int64, id: String) -> String {
        hex(HMAC<SHA256>.authenticationCode(for: Array("fsdfs-ui-v1|\(expires)|\(id)".utf8), using: SymmetricKey(data: sessionKey)))
    }

    private func hex(_ code: some Sequence<UInt8>) -> String {
        code.map { String(format: "%02x", $0) }.joined()
    }
}
