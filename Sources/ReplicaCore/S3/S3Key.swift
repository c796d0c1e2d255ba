import Crypto
import Foundation

/// An S3 access key of the swarm (`fsdfsd s3-key create`): what clients sign S3 requests with
/// (Signature V4). The catalog keeps the secret sealed (``S3SecretSeal``), never in clear.
public struct S3KeyRecord: Sendable, Equatable {
    /// `FSDF` and 16 more upper-case letters and digits, as AWS access key ids look.
    public var accessKey: String
    /// What the operator called it; nil when not named.
    public var name: String?
    /// The secret key sealed with the swarm's sealing key (AES-GCM: nonce, ciphertext, tag).
    public var sealedSecret: [UInt8]
    public var created: Date

    public init(accessKey: String, name: String?, sealedSecret: [UInt8], created: Date) {
        self.accessKey = accessKey
        self.name = name
        self.sealedSecret = sealedSecret
        self.created = created
    }
}

/// New S3 credentials.
public enum S3Credentials {
    static let accessAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    static let secretAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")

    /// A fresh access key (20 characters, 80 random bits) and secret key (40 characters, 240
    /// random bits), from the system's cryptographic generator.
    public static func generate() -> (accessKey: String, secretKey: String) {
        var generator = SystemRandomNumberGenerator()
        let access = "FSDF" + String((0..<16).map { _ in accessAlphabet.randomElement(using: &generator)! })
        let secret = String((0..<40).map { _ in secretAlphabet.randomElement(using: &generator)! })
        return (access, secret)
    }

    /// Whether `text` has the shape of an access key this swarm makes.
    public static func isAccessKey(_ text: String) -> Bool {
        text.count == 20 && text.hasPrefix("FSDF") && text.allSatisfy { accessAlphabet.contains($0) }
    }
}

/// Seals S3 secret keys for the catalog with a key derived from the swarm key
/// (``SwarmKey/derivedKey(for:)`` with ``purpose``): a catalog read by someone without the swarm
/// password (a MongoDB shared with other teams, a backup) gives no S3 secret away. AES-GCM,
/// with the access key as associated data, so that a sealed secret moved to another access
/// key does not open.
public struct S3SecretSeal: Sendable {
    public static let purpose = "s3-secret-sealing"
    private let key: [UInt8]

    public init(key: [UInt8]) {
        self.key = key
    }

    public func seal(_ secret: String, for accessKey: String) throws -> [UInt8] {
        let box = try AES.GCM.seal(Array(secret.utf8), using: SymmetricKey(data: key), authenticating: Array(accessKey.utf8))
        guard let combined = box.combined else { throw S3KeyError.sealing("AES-GCM gave no combined form") }
        return Array(combined)
    }

    /// - Throws: ``S3KeyError/cannotOpen(_:)`` when the secret was sealed with another swarm's
    ///   key (another password) or for another access key, or was altered.
    public func open(_ sealed: [UInt8], for accessKey: String) throws -> String {
        do {
            let box = try AES.GCM.SealedBox(combined: sealed)
            let bytes = try AES.GCM.open(box, using: SymmetricKey(data: key), authenticating: Array(accessKey.utf8))
            return String(decoding: bytes, as: UTF8.self)
        } catch {
            throw S3KeyError.cannotOpen(accessKey)
        }
    }
}

public enum S3KeyError: Error, Equatable, CustomStringConvertible {
    case sealing(String)
    case cannotOpen(String)
    case exists(String)

    public var description: String {
        switch self {
        case .sealing(let why): "cannot seal an S3 secret key: \(why)"
        case .cannotOpen(let access):
            "the secret of S3 key \(access) does not open with this swarm's password (made by another swarm, or altered)"
        case .exists(let access): "S3 key \(access) exists already"
        }
    }
}
