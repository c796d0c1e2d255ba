import Crypto
import Foundation

/// AWS Signature Version 4 as S3 clients compute it, for checking the requests of the S3 API:
/// in the `Authorization` header, or in the query of a presigned URL. Pure: the caller gives
/// the request's parts, the time and a way to find a secret key.
///
/// The steps (AWS's "Signature Version 4 signing process"):
/// 1. The canonical request: method, the path URI-encoded (each segment, `/` kept), the query
///    sorted by encoded name then value, the signed headers (lower-case names, values trimmed
///    and inner runs of spaces made one), the list of their names, and the payload's hash
///    (`x-amz-content-sha256`, or `UNSIGNED-PAYLOAD` in a presigned URL).
/// 2. The string to sign: `AWS4-HMAC-SHA256`, the time, the scope `DATE/REGION/SERVICE/aws4_request`
///    and the canonical request's SHA-256.
/// 3. The key: HMAC-SHA256 chained over `AWS4` + secret, date, region, service, `aws4_request`.
/// 4. The signature: HMAC-SHA256 of the string to sign with that key, in hexadecimal.
public enum SigV4 {
    public static let algorithm = "AWS4-HMAC-SHA256"
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    /// How far a request's time may be from the server's (S3's own limit).
    public static let allowedSkew: TimeInterval = 15 * 60
    /// The longest a presigned URL may live (S3's: seven days).
    public static let maxExpires = 7 * 24 * 3600

    /// `UriEncode` of the specification: every byte but `A-Z a-z 0-9 - . _ ~` as `%XX`
    /// (upper-case hex), `/` kept when `slash` is false.
    public static func uriEncode(_ text: String, encodeSlash: Bool = true) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "/") where !encodeSlash:
                out.append("/")
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    /// The canonical request of step 1. `path` is decoded (as the client meant it), `query`
    /// the decoded pairs, `headers` every header received (names in any case).
    public static func canonicalRequest(
        method: String, path: String, query: [(name: String, value: String)], headers: [(name: String, value: String)],
        signedHeaders: [String], payloadHash: String
    ) -> String {
        var pairs: [(name: String, value: String)] = query.map { (uriEncode($0.name), uriEncode($0.value)) }
        pairs.sort { left, right in left.name != right.name ? left.name < right.name : left.value < right.value }
        let encodedQuery = pairs.map { pair in pair.name + "=" + pair.value }.joined(separator: "&")
        var values: [String: [String]] = [:]
        for header in headers { values[header.name.lowercased(), default: []].append(trimmed(header.value)) }
        let canonicalHeaders = signedHeaders.map { "\($0):\(values[$0]?.joined(separator: ",") ?? "")\n" }.joined()
        return [
            method, uriEncode(path.isEmpty ? "/" : path, encodeSlash: false), encodedQuery, canonicalHeaders,
            signedHeaders.joined(separator: ";"), payloadHash,
        ].joined(separator: "\n")
    }

    /// The string to sign of step 2.
    public static func stringToSign(amzDate: String, scope: String, canonicalRequest: String) -> String {
        [algorithm, amzDate, scope, hex(SHA256.hash(data: Array(canonicalRequest.utf8)))].joined(separator: "\n")
    }

    /// Steps 3 and 4: the signature, in lower-case hexadecimal.
    public static func signature(secret: String, date: String, region: String, service: String, stringToSign: String) -> String {
        var key = SymmetricKey(data: Array(("AWS4" + secret).utf8))
        for part in [date, region, service, "aws4_request"] {
            key = SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
        }
        return hex(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: key))
    }

    static func trimmed(_ value: String) -> String {
        value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            .trimmingCharacters(in: .whitespaces)
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}
