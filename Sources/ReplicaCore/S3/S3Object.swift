import Foundation

/// What the S3 API keeps of an object beyond its bytes: its ETag, its content type and the
/// other headers S3 returns as stored, and its user metadata (`x-amz-meta-*`). Kept per
/// version of a file (a rename keeps it; a new version replaces it).
public struct S3ObjectMeta: Sendable, Equatable, Codable {
    /// The ETag without its quotes: the MD5 of the body in hexadecimal, or the MD5 of the parts'
    /// MD5s followed by `-` and the number of parts for a multipart upload.
    public var etag: String
    public var contentType: String?
    /// `Cache-Control`, `Content-Disposition`, `Content-Encoding`, `Content-Language`,
    /// `Expires`, as given at upload: names in lower case.
    public var headers: [String: String]
    /// User metadata: names in lower case without `x-amz-meta-`.
    public var user: [String: String]

    public init(etag: String, contentType: String? = nil, headers: [String: String] = [:], user: [String: String] = [:]) {
        self.etag = etag
        self.contentType = contentType
        self.headers = headers
        self.user = user
    }

    /// The headers kept besides the content type.
    public static let storedHeaders = ["cache-control", "content-disposition", "content-encoding", "content-language", "expires"]

    /// The JSON the catalogs keep.
    public func encoded() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    public static func decoded(_ text: String) throws -> S3ObjectMeta {
        do {
            return try JSONDecoder().decode(S3ObjectMeta.self, from: Data(text.utf8))
        } catch {
            throw CatalogError.corrupt("the S3 metadata of an object is not valid: \(error)")
        }
    }
}
