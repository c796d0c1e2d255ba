import Crypto
import Foundation

/// The fsdfs request-signing scheme: header names, the canonical string and the HMAC over it.
///
/// A signed request carries five headers:
///
/// | header | value |
/// | --- | --- |
/// | `X-Fsdfs-Target` | the `HOST:PORT` the request is for, as the sender addressed the node, lower-cased |
/// | `X-Fsdfs-Timestamp` | integer Unix seconds when the request was signed |
/// | `X-Fsdfs-Nonce` | 32 lowercase hex characters from 16 random bytes |
/// | `X-Fsdfs-Content-SHA256` | lowercase hex SHA-256 of the whole body (of the empty string when there is none) |
/// | `X-Fsdfs-Signature` | lowercase hex HMAC-SHA256, under the ``SwarmKey``, of the canonical string |
///
/// The canonical string is six lines joined by `"\n"` (no trailing newline):
///
/// ```
/// METHOD
/// TARGET
/// PATH?QUERY
/// TIMESTAMP
/// NONCE
/// BODY-SHA256
/// ```
///
/// `METHOD` is upper-cased. `PATH?QUERY` is the request target exactly as sent on the request line
/// (percent-encoding untouched), with the `?` only when the query is non-empty: a target ending in
/// a bare `?` is signed without it. `TIMESTAMP`, `NONCE` and `BODY-SHA256` are the header values
/// exactly as sent.
///
/// Why each part is signed:
/// - method, path and query: a request signed for `GET /files/a` cannot be replayed as
///   `DELETE /files/a` or against `/files/b`;
/// - the target: a request signed for one node is refused by every other (each node accepts
///   only its own addresses: see ``NodeNames``), so a captured `DELETE` cannot be sent on to
///   another node holding the same file;
/// - the timestamp: a captured request is only good for a short window (see ``RequestVerifier``);
/// - the nonce: within that window each request is accepted once;
/// - the body hash: the body cannot be swapped, and a streamed upload can be signed before it is
///   sent and checked after it is received.
///
/// The secret never crosses the wire: only the HMAC does, and it reveals nothing about the key.
public enum RequestSignature {
    /// The header carrying the node the request is for: `HOST:PORT`, lower-cased.
    public static let targetHeader = "X-Fsdfs-Target"
    /// The header carrying the signing time, integer Unix seconds.
    public static let timestampHeader = "X-Fsdfs-Timestamp"
    /// The header carrying the request's one-time nonce, 32 lowercase hex characters.
    public static let nonceHeader = "X-Fsdfs-Nonce"
    /// The header carrying the lowercase hex SHA-256 of the whole body.
    public static let contentSHA256Header = "X-Fsdfs-Content-SHA256"
    /// The header carrying the lowercase hex HMAC-SHA256 of the canonical string.
    public static let signatureHeader = "X-Fsdfs-Signature"

    /// The SHA-256 of an empty body, in lowercase hex: what requests without a body sign.
    public static let emptyBodySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// Joins a path and a query the way the canonical string expects: `path?query`, or just `path`
    /// when the query is `nil` or empty.
    public static func pathAndQuery(path: String, query: String?) -> String {
        guard let query, !query.isEmpty else { return path }
        return path + "?" + query
    }

    /// The string the HMAC is computed over. See the type's documentation for the format.
    public static func canonicalString(
        method: String,
        target: String,
        pathAndQuery: String,
        timestamp: String,
        nonce: String,
        bodySHA256: String
    ) -> String {
        [method.uppercased(), target, canonicalTarget(pathAndQuery), timestamp, nonce, bodySHA256]
            .joined(separator: "\n")
    }

    /// The lowercase hex HMAC-SHA256 of `canonicalString` under `key`.
    public static func signature(canonicalString: String, key: SwarmKey) -> String {
        hex(authenticationCode(canonicalString: canonicalString, key: key))
    }

    /// The lowercase hex SHA-256 of `body`.
    public static func sha256Hex(of body: some DataProtocol) -> String {
        hex(SHA256.hash(data: body))
    }

    /// Whether `a` and `b` hold the same bytes, taking the same time wherever they differ.
    ///
    /// Why constant time? A comparison that stops at the first differing byte answers faster the
    /// fewer leading bytes of a forged MAC are right, and an attacker who can time many attempts
    /// can then guess a valid MAC one byte at a time. This compares every byte (OR-accumulating the
    /// XOR of each pair) with no early exit. Only the lengths are compared up front: they are
    /// public (every MAC is 32 bytes).
    public static func constantTimeEqual<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, _ b: B) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) {
            difference |= x ^ y
        }
        return difference == 0
    }

    /// The raw 32-byte HMAC-SHA256 of `canonicalString` under `key`.
    static func authenticationCode(canonicalString: String, key: SwarmKey) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array(canonicalString.utf8), using: key.symmetricKey))
    }

    /// `pathAndQuery` with a trailing `?` removed when the query after it is empty.
    static func canonicalTarget(_ pathAndQuery: String) -> String {
        if let question = pathAndQuery.firstIndex(of: "?"), pathAndQuery.index(after: question) == pathAndQuery.endIndex {
            return String(pathAndQuery[..<question])
        }
        return pathAndQuery
    }
}
