import Crypto
import Foundation

/// Signed replies: a node signs each successful JSON reply to a signed request, and the client
/// checks it before trusting a word of it (`where`'s holders, `status`, an upload grant's node,
/// a node list), so that nobody on the path can alter a reply or pass an old one off as new.
///
/// The signature travels in `X-Fsdfs-Reply-Signature`: lowercase hex HMAC-SHA256 of the
/// canonical string below, under the swarm's reply key (``SwarmKey/derivedKey(for:)`` with
/// ``purpose``, so that no reply signature can pass for a request signature or the reverse).
/// The canonical string is seven lines joined by `"\n"`:
///
/// ```
/// REPLY
/// METHOD            the request's, upper-cased
/// TARGET            the request's X-Fsdfs-Target
/// PATH?QUERY        the request's, as signed
/// NONCE             the request's X-Fsdfs-Nonce
/// STATUS            the reply's HTTP status code
/// BODY-SHA256       lowercase hex SHA-256 of the reply body
/// ```
///
/// Why the request's nonce: a reply answers one request only, so a reply captured earlier (a
/// `where` from before a file moved) cannot be replayed in answer to a new one.
///
/// A file served whole (`GET /v1/blob`) is signed with BODY-SHA256 = the file's SHA-256, which
/// the reply also names in `X-Fsdfs-File-SHA256`: the reader checks the signature first, then
/// hashes the bytes as they arrive and discards them unless they match. A ranged read is signed
/// the same way (the file's hash, the range in PATH?QUERY); its bytes are not hashed.
///
/// Error replies (4xx, 5xx) are not signed: someone who can alter traffic can always stop it,
/// and an error makes the client do nothing it would regret (a `get` that falls back to known
/// nodes still takes only signed file replies).
public enum ReplySignature {
    /// The header carrying a reply's signature.
    public static let signatureHeader = "X-Fsdfs-Reply-Signature"
    /// The HKDF purpose of the reply key.
    public static let purpose = "reply-signing"

    public static func canonicalString(
        method: String, target: String, pathAndQuery: String, nonce: String, status: Int, bodySHA256: String
    ) -> String {
        [
            "REPLY", method.uppercased(), target.lowercased(), RequestSignature.canonicalTarget(pathAndQuery), nonce,
            String(status), bodySHA256.lowercased(),
        ].joined(separator: "\n")
    }
}

/// Signs and checks replies with the reply key of one swarm.
public struct ReplySigner: Sendable {
    private let key: [UInt8]

    public init(swarm: SwarmKey) {
        key = swarm.derivedKey(for: ReplySignature.purpose)
    }

    /// The signature of a reply with status `status` and a body hashing to `bodySHA256`, to
    /// the request `method target pathAndQuery` signed with `nonce`.
    public func sign(method: String, target: String, pathAndQuery: String, nonce: String, status: Int, bodySHA256: String) -> String {
        RequestSignature.hex(mac(method: method, target: target, pathAndQuery: pathAndQuery, nonce: nonce, status: status, bodySHA256: bodySHA256))
    }

    /// Whether `signature` is that of this reply, compared in constant time.
    public func isValid(
        _ signature: String, method: String, target: String, pathAndQuery: String, nonce: String, status: Int, body: some DataProtocol
    ) -> Bool {
        guard RequestSignature.isLowercaseHex(signature, count: 64), let presented = RequestSignature.bytes(fromLowercaseHex: signature)
        else { return false }
        let expected = mac(
            method: method, target: target, pathAndQuery: pathAndQuery, nonce: nonce, status: status,
            bodySHA256: RequestSignature.sha256Hex(of: body))
        return RequestSignature.constantTimeEqual(expected, presented)
    }

    /// Whether `signature` is that of a reply whose body is declared (not yet received) to hash
    /// to `bodySHA256`: a streamed file, whose bytes the caller then checks against it.
    public func isValid(
        _ signature: String, method: String, target: String, pathAndQuery: String, nonce: String, status: Int, bodySHA256: String
    ) -> Bool {
        guard RequestSignature.isLowercaseHex(signature, count: 64), let presented = RequestSignature.bytes(fromLowercaseHex: signature),
            RequestSignature.isLowercaseHex(bodySHA256, count: 64)
        else { return false }
        let expected = mac(
            method: method, target: target, pathAndQuery: pathAndQuery, nonce: nonce, status: status, bodySHA256: bodySHA256)
        return RequestSignature.constantTimeEqual(expected, presented)
    }

    private func mac(method: String, target: String, pathAndQuery: String, nonce: String, status: Int, bodySHA256: String) -> [UInt8] {
        let canonical = ReplySignature.canonicalString(
            method: method, target: target, pathAndQuery: pathAndQuery, nonce: nonce, status: status, bodySHA256: bodySHA256)
        return Array(HMAC<SHA256>.authenticationCode(for: Array(canonical.utf8), using: SymmetricKey(data: key)))
    }
}
