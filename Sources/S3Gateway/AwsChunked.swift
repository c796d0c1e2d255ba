import Crypto
import Foundation
import NIOCore
import ReplicaCore

/// Decodes an `aws-chunked` body (`Content-Encoding: aws-chunked`), the streaming uploads of
/// Signature Version 4: chunks of `HEX-SIZE;chunk-signature=SIG\r\nDATA\r\n`, the last of
/// size 0, then optional trailers (`x-amz-checksum-…`) and an empty line.
///
/// In `STREAMING-AWS4-HMAC-SHA256-PAYLOAD(-TRAILER)` every chunk is signed, chained on the
/// previous signature (the request's own for the first):
/// `AWS4-HMAC-SHA256-PAYLOAD \n DATE \n SCOPE \n PREVIOUS \n SHA256("") \n SHA256(DATA)`.
/// A chunk whose signature does not match fails the whole body. In
/// `STREAMING-UNSIGNED-PAYLOAD-TRAILER` chunks carry no signature. Trailers are read and
/// kept for the caller, who checks an `x-amz-checksum-*` among them.
struct AwsChunkedDecoder {
    enum Mode: Equatable {
        case signed
        case unsigned
    }

    static let signedPayload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
    static let signedPayloadTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
    static let unsignedPayloadTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"

    /// The mode of an `x-amz-content-sha256` value, nil when it is not a streaming one.
    static func mode(_ payload: String) -> Mode? {
        switch payload {
        case signedPayload, signedPayloadTrailer: .signed
        case unsignedPayloadTrailer: .unsigned
        default: nil
        }
    }

    private enum State {
        case header
        case data(remaining: Int)
        case dataEnd
        case trailers
        case done
    }

    let mode: Mode
    let signingKey: SymmetricKey?
    let amzDate: String
    let scope: String
    private var previous: String
    private var state = State.header
    private var line: [UInt8] = []
    private var chunkSignature = ""
    private var chunkHash = SHA256()
    /// The trailers after the last chunk (`x-amz-checksum-crc32: …`), names in lower case.
    private(set) var trailers: [String: String] = [:]
    /// The longest header or trailer line accepted.
    static let maxLine = 4096
    /// The largest chunk accepted (clients send 64 KiB to 8 MiB).
    static let maxChunk = 64 << 20

    init(mode: Mode, caller: S3Caller, secret: String) {
        self.mode = mode
        amzDate = caller.amzDate
        scope = caller.scope
        previous = caller.signature
        if mode == .signed {
            let parts = caller.scope.split(separator: "/").map(String.init)
            var key = SymmetricKey(data: Array(("AWS4" + secret).utf8))
            for part in [parts[0], parts[1], parts[2], "aws4_request"] {
                key = SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
            }
            signingKey = key
        } else {
            signingKey = nil
        }
    }

    var finished: Bool {
        if case .done = state { return true }
        return false
    }

    /// The decoded bytes of `buffer`, in order.
    mutating func feed(_ buffer: ByteBuffer) throws -> [ByteBuffer] {
        var out: [ByteBuffer] = []
        var buffer = buffer
        while buffer.readableBytes > 0 {
            switch state {
            case .header, .trailers:
                guard let byte = buffer.readInteger(as: UInt8.self) else { break }
                if byte == UInt8(ascii: "\n") {
                    guard line.last == UInt8(ascii: "\r") else { throw Self.malformed("a line does not end with CRLF") }
                    line.removeLast()
                    let text = String(decoding: line, as: UTF8.self)
                    line.removeAll(keepingCapacity: true)
                    if case .header = state {
                        try header(text)
                    } else if text.isEmpty {
                        state = .done
                    } else if let colon = text.firstIndex(of: ":") {
                        guard trailers.count < 16 else { throw Self.malformed("too many trailers") }
                        trailers[text[..<colon].trimmingCharacters(in: .whitespaces).lowercased()] =
                            text[text.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                    }
                } else {
                    line.append(byte)
                    guard line.count <= Self.maxLine else { throw Self.malformed("a chunk header is too long") }
                }
            case .data(let remaining):
                let take = min(remaining, buffer.readableBytes)
                let slice = buffer.readSlice(length: take)!
                slice.withUnsafeReadableBytes { chunkHash.update(bufferPointer: $0) }
                out.append(slice)
                state = remaining - take == 0 ? .dataEnd : .data(remaining: remaining - take)
            case .dataEnd:
                guard let byte = buffer.readInteger(as: UInt8.self) else { break }
                line.append(byte)
                if line.count == 2 {
                    guard line == [UInt8(ascii: "\r"), UInt8(ascii: "\n")] else { throw Self.malformed("a chunk's data does not end with CRLF") }
                    line.removeAll(keepingCapacity: true)
                    try checkChunk()
                    state = .header
                }
            case .done:
                throw Self.malformed("bytes follow the last chunk")
            }
        }
        return out
    }

    private mutating func header(_ text: String) throws {
        let fields = text.split(separator: ";", maxSplits: 1).map(String.init)
        guard let sizeText = fields.first, let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size >= 0,
              size <= Self.maxChunk
        else { throw Self.malformed("'\(text.prefix(80))' is not a chunk header") }
        chunkSignature = ""
        if mode == .signed {
            guard fields.count == 2, fields[1].hasPrefix("chunk-signature=") else {
                throw Self.malformed("a chunk has no chunk-signature")
            }
            chunkSignature = String(fields[1].dropFirst("chunk-signature=".count))
        }
        chunkHash = SHA256()
        if size == 0 {
            try checkChunk()
            state = .trailers
        } else {
            state = .data(remaining: size)
        }
    }

    private mutating func checkChunk() throws {
        guard mode == .signed, let signingKey else { return }
        let toSign = [
            "AWS4-HMAC-SHA256-PAYLOAD", amzDate, scope, previous, SigV4.emptyPayloadHash, hex(chunkHash.finalize()),
        ].joined(separator: "\n")
        let expected = hex(HMAC<SHA256>.authenticationCode(for: Array(toSign.utf8), using: signingKey))
        guard SigV4Verifier.constantTimeEqual(expected, chunkSignature) else {
            throw S3Error("SignatureDoesNotMatch", .forbidden, "The signature of a chunk of the streaming upload does not match")
        }
        previous = expected
    }

    static func malformed(_ why: String) -> S3Error {
        S3Error("IncompleteBody", .badRequest, "The aws-chunked body is malformed: \(why)")
    }
}
