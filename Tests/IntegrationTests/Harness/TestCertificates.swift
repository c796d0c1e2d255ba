import Foundation

/// A CA and a node certificate (P-256, for IP 127.0.0.1 and DNS localhost) signed by it, made
/// with the openssl command line for one TLS test cluster; and a second, unrelated CA.
struct TestCertificates: Sendable {
    /// The CA's certificate: what clients trust (`--tls-ca`, `FSDFS_TLS_CA`).
    let authority: URL
    /// The certificate every node of the cluster serves (`--tls-cert`).
    let certificate: URL
    /// Its private key (`--tls-key`): a symbolic link to the key file, mode 600, as certbot's
    /// `live/` directory and Kubernetes secret mounts give it.
    let privateKey: URL
    /// The stranger CA's own key: a key that matches no certificate of the cluster.
    let strangerKey: URL
    /// A self-signed CA that signed nothing of the cluster's: a client that trusts only it
    /// must refuse the nodes.
    let strangerAuthority: URL

    static func make(in directory: URL) async throws -> TestCertificates {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        func file(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let extensions = file("node.ext")
        try Data("subjectAltName=IP:127.0.0.1,DNS:localhost\n".utf8).write(to: URL(fileURLWithPath: extensions))
        let steps: [[String]] = [
            ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", file("ca.key"),
             "-out", file("ca.pem"), "-days", "2", "-subj", "/CN=fsdfs test CA"],
            ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", file("stranger.key"),
             "-out", file("stranger.pem"), "-days", "2", "-subj", "/CN=fsdfs stranger CA"],
            ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", file("node.key"),
             "-out", file("node.csr"), "-subj", "/CN=fsdfs node"],
            ["x509", "-req", "-in", file("node.csr"), "-CA", file("ca.pem"), "-CAkey", file("ca.key"), "-CAcreateserial",
             "-out", file("node.pem"), "-days", "2", "-extfile", extensions],
        ]
        for arguments in steps {
            let result = try await Fsdfsd.run(
                arguments, environment: ProcessInfo.processInfo.environment, timeout: .seconds(30),
                executable: URL(fileURLWithPath: "/usr/bin/openssl"))
            guard result.status == 0 else { throw HarnessError("openssl \(arguments.joined(separator: " ")) failed: \(result.stderr)") }
        }
        for key in ["node.key", "stranger.key"] {
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file(key))
        }
        try FileManager.default.createSymbolicLink(atPath: file("live.key"), withDestinationPath: file("node.key"))
        return TestCertificates(
            authority: URL(fileURLWithPath: file("ca.pem")), certificate: URL(fileURLWithPath: file("node.pem")),
            privateKey: URL(fileURLWithPath: file("live.key")), strangerKey: URL(fileURLWithPath: file("stranger.key")),
            strangerAuthority: URL(fileURLWithPath: file("stranger.pem")))
    }
}
