import Foundation
import ReplicaCore
import Transport

/// S3 access keys (`fsdfsd s3-key create | list | delete`). The secret is shown once, when the
/// key is made, and kept in the catalog sealed with a key derived from the swarm password.
extension Master {
    /// Longest name an S3 key may have.
    public static let maxS3KeyName = 128

    func s3Seal() throws -> S3SecretSeal {
        guard let key = settings.s3SealKey else {
            throw RouteError(.serviceUnavailable, "this master has no key to seal S3 secrets with", code: "unavailable")
        }
        return S3SecretSeal(key: key)
    }

    public func createS3Key(_ request: S3KeyCreate) async throws -> S3KeyCreated {
        let name = request.name?.trimmingCharacters(in: .whitespaces)
        if let name {
            guard !name.isEmpty, name.count <= Self.maxS3KeyName, !name.contains(where: { $0.isNewline || $0.asciiValue.map { $0 < 0x20 } == true }) else {
                throw RouteError(.badRequest, "an S3 key name is 1 to \(Self.maxS3KeyName) printable characters on one line", code: "bad_request")
            }
        }
        let seal = try s3Seal()
        // 80 random bits: a clash is as good as impossible, and is answered by drawing again.
        for _ in 0..<4 {
            let (access, secret) = S3Credentials.generate()
            do {
                try await catalog.addS3Key(S3KeyRecord(
                    accessKey: access, name: name, sealedSecret: try seal.seal(secret, for: access), created: Date()))
            } catch S3KeyError.exists {
                continue
            }
            logger.info("S3 key \(access) made\(name.map { " (\($0))" } ?? "")")
            return S3KeyCreated(accessKey: access, secretKey: secret)
        }
        throw RouteError(.internalServerError, "could not draw an unused S3 access key", code: "internal")
    }

    public func listS3Keys() async throws -> [S3KeyEntry] {
        try await catalog.s3Keys().map { S3KeyEntry(accessKey: $0.accessKey, name: $0.name, created: $0.created) }
    }

    public func deleteS3Key(_ access: String) async throws {
        guard try await catalog.deleteS3Key(accessKey: access) else {
            throw RouteError(.notFound, "no S3 key \(access)", code: "not_found")
        }
        logger.info("S3 key \(access) deleted")
    }

    /// The secret of an S3 key, for checking a request's signature; nil for an unknown key.
    public func s3Secret(accessKey: String) async throws -> String? {
        guard let record = try await catalog.s3Key(accessKey: accessKey) else { return nil }
        return try s3Seal().open(record.sealedSecret, for: record.accessKey)
    }
}
