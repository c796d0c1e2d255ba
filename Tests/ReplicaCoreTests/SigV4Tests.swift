import Foundation
import Testing
import ReplicaCore

/// Signature Version 4 against the examples of AWS's S3 documentation ("Authenticating
/// Requests": a GET with a Range header, and a presigned GET).
@Suite("Signature Version 4")
struct SigV4Tests {
    static let access = "AKIAIOSFODNN7EXAMPLE"
    static let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    static let time = Date(timeIntervalSince1970: 1_369_353_600)  // 2013-05-24T00:00:00Z

    static func lookup(_ key: String) async throws -> String? { key == access ? secret : nil }

    static var getObject: S3SignedRequest {
        S3SignedRequest(method: "GET", path: "/test.txt", query: [], headers: [
            S3Pair("Host", "examplebucket.s3.amazonaws.com"), S3Pair("Range", "bytes=0-9"),
            S3Pair("x-amz-content-sha256", SigV4.emptyPayloadHash), S3Pair("x-amz-date", "20130524T000000Z"),
            S3Pair("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"),
        ])
    }

    static var presigned: S3SignedRequest {
        S3SignedRequest(method: "GET", path: "/test.txt", query: [
            S3Pair("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            S3Pair("X-Amz-Credential", "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"),
            S3Pair("X-Amz-Date", "20130524T000000Z"), S3Pair("X-Amz-Expires", "86400"), S3Pair("X-Amz-SignedHeaders", "host"),
            S3Pair("X-Amz-Signature", "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"),
        ], headers: [S3Pair("Host", "examplebucket.s3.amazonaws.com")])
    }

    @Test("AWS's GET Object example checks out, and any change to it does not")
    func headerExample() async throws {
        let caller = try await SigV4Verifier.verify(Self.getObject, now: Self.time, secret: Self.lookup)
        #expect(caller.accessKey == Self.access && caller.region == "us-east-1" && caller.payloadHash == SigV4.emptyPayloadHash)

        var tampered = Self.getObject
        tampered.headers[1] = S3Pair("Range", "bytes=0-99")
        await #expect(throws: S3AuthError.signatureMismatch) { try await SigV4Verifier.verify(tampered, now: Self.time, secret: Self.lookup) }
        var otherPath = Self.getObject
        otherPath.path = "/test.txt2"
        await #expect(throws: S3AuthError.signatureMismatch) { try await SigV4Verifier.verify(otherPath, now: Self.time, secret: Self.lookup) }
        await #expect(throws: S3AuthError.unknownKey(Self.access)) {
            try await SigV4Verifier.verify(Self.getObject, now: Self.time) { _ in nil }
        }
        await #expect(throws: S3AuthError.signatureMismatch) {
            try await SigV4Verifier.verify(Self.getObject, now: Self.time) { _ in "another secret" }
        }
        await #expect(throws: S3AuthError.skewed) {
            try await SigV4Verifier.verify(Self.getObject, now: Self.time.addingTimeInterval(16 * 60), secret: Self.lookup)
        }
        var unsigned = Self.getObject
        unsigned.headers.removeLast()
        await #expect(throws: S3AuthError.missing) { try await SigV4Verifier.verify(unsigned, now: Self.time, secret: Self.lookup) }
        var v2 = Self.getObject
        v2.headers[4] = S3Pair("Authorization", "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=")
        do {
            _ = try await SigV4Verifier.verify(v2, now: Self.time, secret: Self.lookup)
            Issue.record("Signature Version 2 must be refused")
        } catch let error as S3AuthError {
            #expect(error.code == "AuthorizationHeaderMalformed" && error.status == 400)
        }
    }

    @Test("An x-amz-* or Content-MD5 header added to a signed request is refused, in the header form and in a presigned URL")
    func unsignedHeaders() async throws {
        var added = Self.getObject
        added.headers.append(S3Pair("X-Amz-Copy-Source", "/other/secret.txt"))
        await #expect(throws: S3AuthError.unsignedHeaders(["x-amz-copy-source"])) {
            try await SigV4Verifier.verify(added, now: Self.time, secret: Self.lookup)
        }
        var presigned = Self.presigned
        presigned.headers += [S3Pair("x-amz-meta-owner", "mallory"), S3Pair("Content-MD5", "AAAA")]
        await #expect(throws: S3AuthError.unsignedHeaders(["content-md5", "x-amz-meta-owner"])) {
            try await SigV4Verifier.verify(presigned, now: Self.time, secret: Self.lookup)
        }
        #expect(S3AuthError.unsignedHeaders(["x"]).code == "AccessDenied" && S3AuthError.unsignedHeaders(["x"]).status == 403)
        // The payload hash a presigned URL leaves out may come as a header.
        var hashed = Self.presigned
        hashed.headers.append(S3Pair("x-amz-content-sha256", SigV4.unsignedPayload))
        _ = try await SigV4Verifier.verify(hashed, now: Self.time, secret: Self.lookup)
    }

    @Test("AWS's presigned GET example checks out until it expires")
    func presignedExample() async throws {
        let caller = try await SigV4Verifier.verify(Self.presigned, now: Self.time.addingTimeInterval(3600), secret: Self.lookup)
        #expect(caller.payloadHash == SigV4.unsignedPayload)
        await #expect(throws: S3AuthError.expired) {
            try await SigV4Verifier.verify(Self.presigned, now: Self.time.addingTimeInterval(86_401), secret: Self.lookup)
        }
        var longer = Self.presigned
        longer.query[3] = S3Pair("X-Amz-Expires", "172800")
        await #expect(throws: S3AuthError.signatureMismatch) {
            try await SigV4Verifier.verify(longer, now: Self.time.addingTimeInterval(100_000), secret: Self.lookup)
        }
    }

    @Test("URI encoding follows the specification: unreserved characters kept, the rest as upper-case %XX")
    func encoding() {
        #expect(SigV4.uriEncode("a b/c~d_e.f-g") == "a%20b%2Fc~d_e.f-g")
        #expect(SigV4.uriEncode("photos/2026 11/é.jpg", encodeSlash: false) == "photos/2026%2011/%C3%A9.jpg")
        #expect(SigV4.uriEncode("a+b=c&d*") == "a%2Bb%3Dc%26d%2A")
    }
}
