import Foundation
import Testing
import ReplicaCore
import TestSupport

extension Integration {
    /// A swarm whose every node serves TLS (`--tls-cert`, `--tls-key`, `--tls-ca`), with a CA
    /// and certificates made by openssl for the test.
    @Suite("TLS")
    struct TLSTests {
        @Test("A TLS swarm replicates, and its commands, S3 API (boto3), dashboard and metrics work over TLS; plain HTTP, a plain node and an untrusted certificate are refused in one line")
        func tlsSwarm() async throws {
            try await withTLSCluster { cluster in
                let tls = try #require(cluster.tls)
                let policies = try Integration.ReplicationTests.policyDirectory(in: cluster, "[default]\nn = 3\n")
                let s3Address = "127.0.0.1:\(try await Cluster.freePort())"
                let metricsAddress = "127.0.0.1:\(try await Cluster.freePort())"
                try await cluster.start(
                    "master", asMaster: true,
                    extra: ["--policies", policies, "--s3-listen", s3Address, "--metrics-listen", metricsAddress])
                try await cluster.start("a")
                try await cluster.start("b")
                try await cluster.waitForNodes(3)

                // Commands (FSDFS_TLS_CA in the cluster's environment) and replication among
                // the nodes, all over TLS.
                let local = try cluster.localFile("secret.bin", size: 300_000)
                try await cluster.put(local, "tls/secret.bin")

                // TLS files that cannot be used: one line each, nothing started.
                let openKey = cluster.root.appendingPathComponent("open.key")
                try FileManager.default.copyItem(at: tls.privateKey.resolvingSymlinksInPath(), to: openKey)
                try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: openKey.path)
                let data = cluster.root.appendingPathComponent("refused").path
                let serve = ["serve", "--data", data, "--listen", "127.0.0.1:\(try await Cluster.freePort())"]
                let cases: [([String], String)] = [
                    (serve + ["--tls-cert", tls.certificate.path, "--tls-key", openKey.path], "chmod o-rwx"),
                    (serve + ["--tls-cert", tls.certificate.path], "--tls-cert and --tls-key go together"),
                    (serve + ["--tls-cert", tls.certificate.path, "--tls-key", tls.strangerKey.path], "does not match the certificate"),
                    (serve + ["--tls-ca", tls.authority.path], "--tls-ca needs --tls-cert"),
                    (serve + ["--tls-cert", tls.privateKey.path, "--tls-key", tls.privateKey.path], "not a PEM certificate"),
                    (serve + ["--tls-cert", "/nonexistent.pem", "--tls-key", tls.privateKey.path], "cannot read the TLS certificate"),
                    (["status", "--tls-ca", "/nonexistent.pem"], "cannot read the TLS CA certificate"),
                ]
                for (arguments, message) in cases {
                    let result = try await cluster.cli(arguments: arguments)
                    #expect(result.status != 0, "\(arguments)")
                    #expect(result.stderr.contains(message) && result.stderr.split(separator: "\n").count == 1, "\(arguments): \(result.stderr)")
                }
                #expect(!FileManager.default.fileExists(atPath: data + "/.fsdfs"))
                try await eventually("tls/secret.bin has its 3 copies", timeout: .seconds(60)) {
                    try await cluster.whereIs("tls/secret.bin")?.k == 3
                }
                let back = cluster.root.appendingPathComponent("back.bin")
                let get = try await cluster.cli("get", "tls/secret.bin", back.path)
                #expect(get.status == 0, "\(get.stderr)")
                #expect(try Data(contentsOf: back) == Data(contentsOf: local))

                // A client without --tls-ca is told, in one line, that the node serves TLS only.
                let plain = try await cluster.cli(arguments: ["status"], environment: ["FSDFS_TLS_CA": ""])
                #expect(plain.status != 0)
                #expect(plain.stderr.contains("serves TLS only"), "\(plain.stderr)")
                #expect(plain.stderr.split(separator: "\n").count == 1, "\(plain.stderr)")
                // One that trusts another CA refuses the node's certificate.
                let stranger = try await cluster.cli(arguments: ["ls"], environment: ["FSDFS_TLS_CA": tls.strangerAuthority.path])
                #expect(stranger.status != 0)
                #expect(stranger.stderr.contains("certificate cannot be verified"), "\(stranger.stderr)")

                // A node started without TLS cannot join: the master answers its reports with
                // the plain-HTTP refusal, and never counts it.
                let outsiderLog = cluster.root.appendingPathComponent("outsider.log")
                var environment = cluster.environment
                environment["FSDFS_TLS_CA"] = nil
                let outsider = try Fsdfsd.start(
                    ["serve", "--data", cluster.root.appendingPathComponent("outsider").path,
                     "--listen", "127.0.0.1:\(try await Cluster.freePort())", "--master", cluster.master, "--quota", "10M",
                     "--report-interval", "0.5"],
                    environment: environment, log: outsiderLog)
                defer { outsider.terminate() }
                try await eventually("the plain node's reports are refused", timeout: .seconds(30)) {
                    ((try? String(contentsOf: outsiderLog, encoding: .utf8)) ?? "").contains("serves TLS only")
                }
                #expect(try await cluster.status().nodes.count == 3)

                // The S3 API with boto3 over TLS, the dashboard's login page and the metrics;
                // plain HTTP to the S3 port refused.
                let made = try await cluster.cli("s3-key", "create", "--name", "tls")
                #expect(made.status == 0, "\(made.stderr)")
                let keys = made.stdout.split(whereSeparator: \.isWhitespace).map(String.init)
                try #require(keys.count == 2)
                let script = """
                    import sys, ssl, urllib.request, urllib.error, boto3, botocore.config
                    from prometheus_client.parser import text_string_to_metric_families
                    s3_url, master, metrics, ca, key, secret = sys.argv[1:]
                    s3 = boto3.client("s3", endpoint_url="https://" + s3_url, aws_access_key_id=key, aws_secret_access_key=secret,
                                      region_name="us-east-1", verify=ca, config=botocore.config.Config(s3={"addressing_style": "path"}))
                    s3.create_bucket(Bucket="sealed")
                    s3.put_object(Bucket="sealed", Key="note.txt", Body=b"over tls\\n")
                    assert s3.get_object(Bucket="sealed", Key="note.txt")["Body"].read() == b"over tls\\n"
                    untrusting = boto3.client("s3", endpoint_url="https://" + s3_url, aws_access_key_id=key,
                                              aws_secret_access_key=secret, region_name="us-east-1")
                    try:
                        untrusting.list_buckets()
                        raise SystemExit("a client without the CA was served")
                    except botocore.exceptions.SSLError:
                        pass
                    try:
                        urllib.request.urlopen("http://" + s3_url + "/", timeout=10)
                        raise SystemExit("plain HTTP was served")
                    except urllib.error.HTTPError as error:
                        assert error.code == 400 and b"tls_required" in error.read()
                    context = ssl.create_default_context(cafile=ca)
                    page = urllib.request.urlopen("https://" + master + "/ui/login", context=context, timeout=10)
                    assert page.status == 200 and b"<form" in page.read()
                    text = urllib.request.urlopen("https://" + metrics + "/metrics", context=context, timeout=10).read().decode()
                    names = {family.name for family in text_string_to_metric_families(text)}
                    assert "fsdfs_node_quota_bytes" in names, sorted(names)[:5]
                    print("ok")
                    """
                let clients = try await Fsdfsd.run(
                    ["-c", script, s3Address, cluster.master, metricsAddress, tls.authority.path, keys[0], keys[1]],
                    environment: ProcessInfo.processInfo.environment, timeout: .seconds(120), executable: try PrometheusScrape.python())
                #expect(clients.status == 0 && clients.stdout == "ok\n", "\(clients.stdout)\(clients.stderr)")
                try await eventually("the S3 object has its 3 copies", timeout: .seconds(60)) {
                    try await cluster.whereIs("sealed/note.txt")?.k == 3
                }

                try await cluster.expectAuditClean()
            }
        }
    }
}
