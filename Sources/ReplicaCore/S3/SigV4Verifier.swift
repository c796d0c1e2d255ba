import Foundation

/// A request of the S3 API as received, for ``SigV4Verifier``: the path and query decoded.
public struct S3SignedRequest: Sendable {
    public var method: String
    public var path: String
    public var query: [S3Pair]
    public var headers: [S3Pair]

    public init(method: String, path: String, query: [S3Pair], headers: [S3Pair]) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
    }

    func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    func queryValue(_ name: String) -> String? {
        query.first { $0.name == name }?.value
    }
}

/// A name and a value (a header, a query parameter).
public struct S3Pair: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// Who signed a request that checked out, and what its body must hash to.
public struct S3Caller: Sendable, Equatable {
    public var accessKey: String
    public var region: String
    /// The body's SHA-256 in hexadecimal as signed, or ``SigV4/unsignedPayload``, or a
    /// `STREAMING-…` mode (chunks signed one by one).
    public var payloadHash: String
    /// The request's signature (a streaming upload's first chunk is signed after it).
    public var signature: String
    public var amzDate: String
    public var scope: String
}

/// Why a request of the S3 API is refused, with S3's error code and HTTP status.
public enum S3AuthError: Error, Equatable, CustomStringConvertible {
    case missing
    case malformed(String)
    case unknownKey(String)
    case signatureMismatch
    case skewed
    case expired
    /// `x-amz-*` or `Content-MD5` headers present but not signed (they could have been added).
    case unsignedHeaders([String])

    public var code: String {
        switch self {
        case .missing, .expired, .unsignedHeaders: "AccessDenied"
        case .malformed: "AuthorizationHeaderMalformed"
        case .unknownKey: "InvalidAccessKeyId"
        case .signatureMismatch: "SignatureDoesNotMatch"
        case .skewed: "RequestTimeTooSkewed"
        }
    }

    public var status: Int {
        if case .malformed = self { return 400 }
        return 403
    }

    public var description: String {
        switch self {
        case .missing: "Access Denied: the request is not signed (Signature Version 4 in the Authorization header or a presigned URL)"
        case .malformed(let why): "The authorization is malformed: \(why)"
        case .unknownKey(let key): "The AWS Access Key Id you provided does not exist in our records (\(key))"
        case .signatureMismatch: "The request signature we calculated does not match the signature you provided. Check your key and signing method."
        case .skewed: "The difference between the request time and the server's time is too large"
        case .expired: "Request has expired"
        case .unsignedHeaders(let names): "There were headers present in the request which were not signed: \(names.joined(separator: ", "))"
        }
    }
}

/// Checks the Signature Version 4 of a request of the S3 API (``SigV4``).
public enum SigV4Verifier {
    /// - Parameter secret: the secret key of an access key, nil when there is no such key.
    public static func verify(
        _ request: S3SignedRequest, now: Date, secret: (String) async throws -> String?
    ) async throws -> S3Caller {
        if let authorization = request.header("Authorization") {
            return try await verifyHeader(request, authorization: authorization, now: now, secret: secret)
        }
        if request.queryValue("X-Amz-Signature") != nil || request.queryValue("X-Amz-Algorithm") != nil {
            return try await verifyPresigned(request, now: now, secret: secret)
        }
        throw S3AuthError.missing
    }

    struct Credential {
        var accessKey: String
        var date: String
        var region: String
        var service: String
        var scope: String { "\(date)/\(region)/\(service)/aws4_request" }
    }

    static func credential(_ text: String) throws -> Credential {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 5, parts[4] == "aws4_request", parts[1].count == 8, parts[1].allSatisfy(\.isNumber), !parts[0].isEmpty else {
            throw S3AuthError.malformed("the credential '\(text)' is not ACCESS_KEY/YYYYMMDD/REGION/SERVICE/aws4_request")
        }
        guard parts[3] == "s3" else { throw S3AuthError.malformed("the credential is for service '\(parts[3])', not s3") }
        return Credential(accessKey: parts[0], date: parts[1], region: parts[2], service: parts[3])
    }

    /// `YYYYMMDDTHHMMSSZ`.
    static func parseAmzDate(_ text: String) -> Date? {
        let digits = Array(text.utf8)
        guard digits.count == 16, digits[8] == UInt8(ascii: "T"), digits[15] == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(digits[index]) else { return nil }
                value = value * 10 + Int(digits[index] - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8),
              let hour = number(9..<11), let minute = number(11..<13), let second = number(13..<15)
        else { return nil }
        var components = DateComponents()
        (components.year, components.month, components.day) = (year, month, day)
        (components.hour, components.minute, components.second) = (hour, minute, second)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.date(from: components)
    }

    static func verifyHeader(
        _ request: S3SignedRequest, authorization: String, now: Date, secret: (String) async throws -> String?
    ) async throws -> S3Caller {
        guard authorization.hasPrefix(SigV4.algorithm + " ") else {
            throw S3AuthError.malformed("only \(SigV4.algorithm) (Signature Version 4) is accepted")
        }
        var fields: [String: String] = [:]
        for part in authorization.dropFirst(SigV4.algorithm.count + 1).split(separator: ",") {
            let pair = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1).map(String.init)
            if pair.count == 2 { fields[pair[0]] = pair[1] }
        }
        guard let credentialText = fields["Credential"], let signed = fields["SignedHeaders"], let signature = fields["Signature"] else {
            throw S3AuthError.malformed("the Authorization header needs Credential, SignedHeaders and Signature")
        }
        let credential = try credential(credentialText)
        guard let amzDate = request.header("x-amz-date") else { throw S3AuthError.malformed("the request has no x-amz-date header") }
        guard let time = parseAmzDate(amzDate), amzDate.hasPrefix(credential.date) else {
            throw S3AuthError.malformed("x-amz-date '\(amzDate)' is not YYYYMMDDTHHMMSSZ of the credential's date")
        }
        guard abs(time.timeIntervalSince(now)) <= SigV4.allowedSkew else { throw S3AuthError.skewed }
        let signedHeaders = signed.split(separator: ";").map { String($0) }
        guard signedHeaders.contains("host"), signedHeaders == signedHeaders.map({ $0.lowercased() }).sorted() else {
            throw S3AuthError.malformed("SignedHeaders must list host and be lower-case names in order")
        }
        let payloadHash = request.header("x-amz-content-sha256") ?? SigV4.emptyPayloadHash
        return try await check(
            request, credential: credential, signedHeaders: signedHeaders, payloadHash: payloadHash, amzDate: amzDate,
            signature: signature, query: request.query, presigned: false, secret: secret)
    }

    static func verifyPresigned(_ request: S3SignedRequest, now: Date, secret: (String) async throws -> String?) async throws -> S3Caller {
        guard request.queryValue("X-Amz-Algorithm") == SigV4.algorithm else {
            throw S3AuthError.malformed("X-Amz-Algorithm must be \(SigV4.algorithm)")
        }
        guard let credentialText = request.queryValue("X-Amz-Credential"), let amzDate = request.queryValue("X-Amz-Date"),
              let expiresText = request.queryValue("X-Amz-Expires"), let signed = request.queryValue("X-Amz-SignedHeaders"),
              let signature = request.queryValue("X-Amz-Signature")
        else { throw S3AuthError.malformed("a presigned URL needs X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders and X-Amz-Signature") }
        let credential = try credential(credentialText)
        guard let time = parseAmzDate(amzDate), amzDate.hasPrefix(credential.date) else {
            throw S3AuthError.malformed("X-Amz-Date '\(amzDate)' is not YYYYMMDDTHHMMSSZ of the credential's date")
        }
        guard let expires = Int(expiresText), (1...SigV4.maxExpires).contains(expires) else {
            throw S3AuthError.malformed("X-Amz-Expires must be 1 to \(SigV4.maxExpires) seconds")
        }
        guard time.timeIntervalSince(now) <= SigV4.allowedSkew else { throw S3AuthError.skewed }
        guard now.timeIntervalSince(time) <= Double(expires) else { throw S3AuthError.expired }
        let signedHeaders = signed.split(separator: ";").map { String($0) }
        guard signedHeaders.contains("host") else { throw S3AuthError.malformed("X-Amz-SignedHeaders must list host") }
        let payloadHash = request.queryValue("X-Amz-Content-Sha256") ?? SigV4.unsignedPayload
        return try await check(
            request, credential: credential, signedHeaders: signedHeaders, payloadHash: payloadHash, amzDate: amzDate,
            signature: signature, query: request.query.filter { $0.name != "X-Amz-Signature" }, presigned: true, secret: secret)
    }

    static func check(
        _ request: S3SignedRequest, credential: Credential, signedHeaders: [String], payloadHash: String, amzDate: String,
        signature: String, query: [S3Pair], presigned: Bool, secret: (String) async throws -> String?
    ) async throws -> S3Caller {
        // What S3 requires too: every x-amz-* header and Content-MD5 is signed, so that none
        // can be added to a signed request (a copy source, metadata, a decoded length).
        let unsigned = Set(request.headers.map { $0.name.lowercased() }.filter { name in
            (name.hasPrefix("x-amz-") || name == "content-md5") && !signedHeaders.contains(name)
                && !(presigned && name == "x-amz-content-sha256")
        }).sorted()
        guard unsigned.isEmpty else { throw S3AuthError.unsignedHeaders(unsigned) }
        guard let key = try await secret(credential.accessKey) else { throw S3AuthError.unknownKey(credential.accessKey) }
        let canonical = SigV4.canonicalRequest(
            method: request.method, path: request.path, query: query.map { ($0.name, $0.value) },
            headers: request.headers.map { ($0.name, $0.value) }, signedHeaders: signedHeaders, payloadHash: payloadHash)
        let toSign = SigV4.stringToSign(amzDate: amzDate, scope: credential.scope, canonicalRequest: canonical)
        let expected = SigV4.signature(
            secret: key, date: credential.date, region: credential.region, service: credential.service, stringToSign: toSign)
        guard constantTimeEqual(expected, signature.lowercased()) else { throw S3AuthError.signatureMismatch }
        return S3Caller(
            accessKey: credential.accessKey, region: credential.region, payloadHash: payloadHash, signature: expected,
            amzDate: amzDate, scope: credential.scope)
    }

    /// Compares two signatures in a time that does not depend on where they differ.
    public static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for index in x.indices { difference |= x[index] ^ y[index] }
        return difference == 0
    }
}
