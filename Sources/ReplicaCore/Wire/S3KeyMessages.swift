import Foundation

/// `POST /v1/s3-keys` on the master (`fsdfsd s3-key create`).
public struct S3KeyCreate: Sendable, Codable, Equatable {
    public var name: String?

    public init(name: String?) { self.name = name }
}

/// The answer to ``S3KeyCreate``: the only time the secret key is shown.
public struct S3KeyCreated: Sendable, Codable, Equatable {
    public var accessKey: String
    public var secretKey: String

    public init(accessKey: String, secretKey: String) {
        self.accessKey = accessKey
        self.secretKey = secretKey
    }
}

/// One key of `GET /v1/s3-keys` (`fsdfsd s3-key list`): never its secret.
public struct S3KeyEntry: Sendable, Codable, Equatable {
    public var accessKey: String
    public var name: String?
    public var created: Date

    public init(accessKey: String, name: String?, created: Date) {
        self.accessKey = accessKey
        self.name = name
        self.created = created
    }
}
