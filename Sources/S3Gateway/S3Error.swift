import Foundation
import HTTPTypes
import ReplicaCore

/// An error of the S3 API as S3 returns it: its code, HTTP status and message, sent as the
/// `<Error>` XML document (no body for `HEAD`).
struct S3Error: Error, CustomStringConvertible {
    var code: String
    var status: HTTPResponse.Status
    var message: String

    init(_ code: String, _ status: HTTPResponse.Status, _ message: String) {
        self.code = code
        self.status = status
        self.message = message
    }

    var description: String { "\(code): \(message)" }

    static func noSuchBucket(_ name: String) -> S3Error {
        S3Error("NoSuchBucket", .notFound, "The specified bucket does not exist: \(name)")
    }
    static func noSuchKey(_ key: String) -> S3Error { S3Error("NoSuchKey", .notFound, "The specified key does not exist: \(key)") }
    static func invalidArgument(_ message: String) -> S3Error { S3Error("InvalidArgument", .badRequest, message) }
    static func notImplemented(_ what: String) -> S3Error {
        S3Error("NotImplemented", .init(code: 501), "\(what) is not implemented by fsdfs (README.rst, \"S3 API\", lists what is)")
    }
    static func internalError(_ message: String) -> S3Error { S3Error("InternalError", .internalServerError, message) }
    static func unavailable(_ message: String) -> S3Error { S3Error("ServiceUnavailable", .serviceUnavailable, message) }
    static let preconditionFailed = S3Error(
        "PreconditionFailed", .preconditionFailed, "At least one of the preconditions you specified did not hold")
    static func invalidRange(_ size: Int64) -> S3Error {
        S3Error("InvalidRange", .rangeNotSatisfiable, "The requested range is not satisfiable (the object has \(size) bytes)")
    }

    init(_ error: S3AuthError) {
        self.init(error.code, .init(code: error.status), error.description)
    }

    func xml(resource: String, requestID: String) -> String {
        var document = S3XML("Error")
        document.element("Code", code)
        document.element("Message", message)
        document.element("Resource", resource)
        document.element("RequestId", requestID)
        return document.finish()
    }
}

/// A small XML writer for the S3 API's replies: elements with escaped text, in order.
struct S3XML {
    private var text = #"<?xml version="1.0" encoding="UTF-8"?>"# + "\n"
    private var open: [String] = []

    init(_ root: String, namespace: Bool = false) {
        text += namespace ? #"<\#(root) xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"# : "<\(root)>"
        open.append(root)
    }

    mutating func element(_ name: String, _ value: String) {
        text += "<\(name)>\(Self.escape(value))</\(name)>"
    }

    mutating func start(_ name: String) {
        text += "<\(name)>"
        open.append(name)
    }

    mutating func end() {
        text += "</\(open.removeLast())>"
    }

    mutating func finish() -> String {
        while !open.isEmpty { end() }
        return text
    }

    static func escape(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for character in value.unicodeScalars {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default:
                // Characters XML 1.0 cannot carry are written as references of 1.1's kind,
                // as S3 does for keys with control characters.
                if character.value < 0x20, character != "\t", character != "\n", character != "\r" {
                    out += "&#x\(String(character.value, radix: 16));"
                } else {
                    out.unicodeScalars.append(character)
                }
            }
        }
        return out
    }

    /// The text of every `<name>` element in `document`, in order, unescaped; enough for the
    /// flat request bodies of the S3 API (`Delete`, `CompleteMultipartUpload`).
    static func values(of name: String, in document: String) -> [String] {
        blocks(name, in: document).map(unescape)
    }

    /// The blocks `<name>…</name>` in `document`, their inner text as is.
    static func blocks(_ name: String, in document: String) -> [String] {
        var found: [String] = []
        var rest = Substring(document)
        while let start = rest.range(of: "<\(name)>") {
            rest = rest[start.upperBound...]
            guard let end = rest.range(of: "</\(name)>") else { break }
            found.append(String(rest[..<end.lowerBound]))
            rest = rest[end.upperBound...]
        }
        return found
    }

    static func unescape(_ text: String) -> String {
        guard text.contains("&") else { return text }
        var out = ""
        var rest = Substring(text)
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            guard let semicolon = rest[amp...].firstIndex(of: ";") else { break }
            let entity = rest[rest.index(after: amp)..<semicolon]
            switch entity {
            case "amp": out += "&"
            case "lt": out += "<"
            case "gt": out += ">"
            case "quot": out += "\""
            case "apos": out += "'"
            default:
                var scalar: Unicode.Scalar?
                if entity.hasPrefix("#x") { scalar = UInt32(entity.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init) }
                else if entity.hasPrefix("#") { scalar = UInt32(entity.dropFirst()).flatMap(Unicode.Scalar.init) }
                if let scalar { out.unicodeScalars.append(scalar) } else { out += "&\(entity);" }
            }
            rest = rest[rest.index(after: semicolon)...]
        }
        return out + rest
    }
}
