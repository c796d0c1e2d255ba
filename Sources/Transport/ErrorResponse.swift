import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ReplicaCore

/// JSON replies: `{"error": "...", "code": "..."}` for errors, Codable DTOs otherwise.
public enum ErrorResponse {
    public static func make(_ status: HTTPResponse.Status, _ reply: ErrorReply) -> Response {
        json(reply, status: status)
    }

    public static func make(_ status: HTTPResponse.Status, _ message: String, code: String) -> Response {
        json(ErrorReply(error: message, code: code), status: status)
    }

    public static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        // The body's hash, for SigningMiddleware to sign the reply with.
        return Response(
            status: status,
            headers: [.contentType: "application/json", .replyBodySHA256: RequestSignature.sha256Hex(of: data)],
            body: .init(byteBuffer: ByteBuffer(data: data)))
    }

    /// Maps any error a handler throws to a status and a JSON body.
    public static func from(_ error: any Error) -> Response {
        switch error {
        case let error as any HTTPReplyError:
            return make(error.httpStatus, error.description, code: error.code)
        case let error as VirtualPathError:
            return make(.badRequest, "invalid path: \(error)", code: "invalid_path")
        case let error as RouteError:
            return make(error.status, error.message, code: error.code)
        case let error as NodeCallError:
            return make(.badGateway, error.description, code: error.code)
        case let error as CatalogError:
            return make(.serviceUnavailable, error.description, code: "catalog")
        case let error as DecodingError:
            return make(.badRequest, "malformed request: \(error)", code: "bad_request")
        default:
            return make(.internalServerError, "\(error)", code: "internal")
        }
    }
}

extension HTTPField.Name {
    /// The SHA-256 of a JSON reply's body, set where the body is encoded (``ErrorResponse/json(_:status:)``).
    /// ``SigningMiddleware`` signs a successful reply bearing it (``ReplySignature``).
    public static let replyBodySHA256 = HTTPField.Name("X-Fsdfs-Reply-SHA256")!
    /// The reply's signature (``ReplySignature/signatureHeader``).
    public static let replySignature = HTTPField.Name(ReplySignature.signatureHeader)!
}

extension HTTPResponse.Status {
    /// 507: the node (or the whole store) has no room under its quota.
    public static let insufficientStorage = HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage")
}

/// An error of another layer (the blob store, say) that knows its HTTP status and stable code,
/// so that this target need not know every error type of every role.
public protocol HTTPReplyError: Error, CustomStringConvertible {
    var httpStatus: HTTPResponse.Status { get }
    /// Stable short name for the JSON `code` field.
    var code: String { get }
}

/// An error a route handler answers with a chosen status.
public struct RouteError: Error, Sendable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var message: String
    public var code: String

    public init(_ status: HTTPResponse.Status, _ message: String, code: String) {
        self.status = status
        self.message = message
        self.code = code
    }

    public var description: String { message }
}

extension Request {
    /// Decodes the (already collected) JSON body.
    public func decodeJSON<T: Decodable>(_ type: T.Type, context: NodeRequestContext) async throws -> T {
        var copy = self
        let buffer = try await copy.collectBody(upTo: context.maxUploadSize)
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer: buffer))
        } catch {
            throw RouteError(.badRequest, "malformed \(T.self): \(error)", code: "bad_request")
        }
    }

    /// A query parameter that must be a valid virtual path.
    public func pathParameter(_ name: String = "path") throws -> VirtualPath {
        guard let raw = uri.queryParameters.get(name) else {
            throw RouteError(.badRequest, "missing query parameter '\(name)'", code: "bad_request")
        }
        do {
            return try VirtualPath(raw)
        } catch {
            throw RouteError(.badRequest, "invalid path: \(error)", code: "invalid_path")
        }
    }
}
