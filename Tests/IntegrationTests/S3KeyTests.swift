import Foundation
import Testing
import ReplicaCore
import TestSupport

extension Integration {
    /// `fsdfsd s3-key create | list | delete` against a real master.
    @Suite("S3 keys")
    struct S3KeyCommandTests {
        @Test("s3-key create prints a key pair once, list shows names and never secrets, delete forgets it; bad input is one line", arguments: [CatalogKind.sqlite, .mongodb])
        func lifecycle(catalog: CatalogKind) async throws {
            try await withCluster(catalog: catalog) { cluster in try await Self.lifecycle(cluster) }
        }

        static func lifecycle(_ cluster: Cluster) async throws {
            do {
                let master = try await cluster.start("master", asMaster: true)
                #expect(try await cluster.cli("s3-key", "list").stdout.contains("no S3 key"))
                let made = try await cluster.cli("s3-key", "create", "--name", "backups")
                #expect(made.status == 0, "\(made.stderr)")
                let parts = made.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ").map(String.init)
                #expect(parts.count == 2)
                let access = try #require(parts.first), secret = try #require(parts.last)
                #expect(S3Credentials.isAccessKey(access) && secret.count == 40)
                let second = try await cluster.cli("s3-key", "create")
                #expect(second.status == 0, "\(second.stderr)")

                let listed = try await cluster.cli("s3-key", "list", "--json")
                #expect(listed.status == 0, "\(listed.stderr)")
                let decoder = JSONDecoder()
                decoder.dateDecodingStrategy = .iso8601
                let keys = try decoder.decode([S3KeyEntry].self, from: Data(listed.stdout.utf8))
                #expect(keys.count == 2)
                #expect(keys.first { $0.accessKey == access }?.name == "backups")
                #expect(!listed.stdout.contains(secret))
                let text = try await cluster.cli("s3-key", "list")
                #expect(text.stdout.contains(access) && text.stdout.contains("backups") && !text.stdout.contains(secret))
                // The secret is not in the catalog in clear either.
                if let catalog = try? Data(contentsOf: master.file(".fsdfs/catalog.sqlite")) {
                    #expect(catalog.range(of: Data(secret.utf8)) == nil, "sealed in the catalog")
                }

                let deleted = try await cluster.cli("s3-key", "delete", access)
                #expect(deleted.status == 0, "\(deleted.stderr)")
                let again = try await cluster.cli("s3-key", "delete", access)
                #expect(again.status != 0 && again.stderr.contains("no S3 key \(access)"), "\(again.stderr)")
                let bad = try await cluster.cli("s3-key", "delete", "not-a-key")
                #expect(bad.status != 0 && bad.stderr.split(separator: "\n").count == 1, "\(bad.stderr)")
                let long = try await cluster.cli("s3-key", "create", "--name", String(repeating: "x", count: 200))
                #expect(long.status != 0 && long.stderr.contains("1 to 128 printable characters"), "\(long.stderr)")
                #expect(try await cluster.cli("s3-key", "list", "--json").stdout.contains(access) == false)
            }
        }
    }
}
