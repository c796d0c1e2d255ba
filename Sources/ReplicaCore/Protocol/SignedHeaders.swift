/// The five signing headers of one request, as strings exactly as they travel.
///
/// The signer fills them in; the verifier receives them from the HTTP layer, which builds a value
/// with ``init(headerValue:)`` and passes `nil` on to ``RequestVerifier`` when any is absent. The
/// values are kept as strings because the verifier checks their format and the signature covers
/// them exactly as sent.
public struct SignedHeaders: Sendable, Equatable {
    /// `X-Fsdfs-Target`: the `HOST:PORT` the request is for, lower-cased.
    public var target: String
    /// `X-Fsdfs-Timestamp`: integer Unix seconds when the request was signed.
    public var timestamp: String
    /// `X-Fsdfs-Nonce`: 32 lowercase hex characters, unique to this request.
    public var nonce: String
    /// `X-Fsdfs-Content-SHA256`: lowercase hex SHA-256 of the whole body.
    public var contentSHA256: String
    /// `X-Fsdfs-Signature`: lowercase hex HMAC-SHA256 of the canonical string.
    public var signature: String

    public init(target: String, timestamp: String, nonce: String, contentSHA256: String, signature: String) {
        self.target = target
        self.timestamp = timestamp
        self.nonce = nonce
        self.contentSHA256 = contentSHA256
        self.signature = signature
    }

    /// Reads the five headers through `headerValue`, which returns a header's value by name
    /// (HTTP header names are case-insensitive; the lookup should be too). `nil` when any of the
    /// five is absent.
    public init?(headerValue: (String) -> String?) {
        guard let target = headerValue(RequestSignature.targetHeader),
              let timestamp = headerValue(RequestSignature.timestampHeader),
              let nonce = headerValue(RequestSignature.nonceHeader),
              let contentSHA256 = headerValue(RequestSignature.contentSHA256Header),
              let signature = headerValue(RequestSignature.signatureHeader)
        else { return nil }
        self.init(target: target, timestamp: timestamp, nonce: nonce, contentSHA256: contentSHA256, signature: signature)
    }

    /// The headers as `(name, value)` pairs, in a fixed order, for the HTTP client to add.
    public func headerPairs() -> [(String, String)] {
        [
            (RequestSignature.targetHeader, target),
            (RequestSignature.timestampHeader, timestamp),
            (RequestSignature.nonceHeader, nonce),
            (RequestSignature.contentSHA256Header, contentSHA256),
            (RequestSignature.signatureHeader, signature),
        ]
    }
}
