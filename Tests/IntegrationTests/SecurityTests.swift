import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import ReplicaCore
import Transport
import Slave
import Testing
import TestSupport

extension Integration {
    /// Every request must be signed; paths must stay inside the store.
    @Suite("Security")
    struct SecurityTests {
        /// Sends a request with hand-made signing headers.
        struct RawRequest {
            var method: HTTPMethod
            var pathAndQuery: String
            var body: Data = Data()
            /// Signed with this password (nil: no signature at all).
            var password: String? = Cluster.secret
            var signedPathAndQuery: String?
            var signedBody: Data?
            var now = Date()
            /// The node it is signed for (nil: the one it is sent to).
            var signedFor: String?

            func send(to address: String, with http: HTTPClient) async throws -> (status: Int, reply: ErrorReply?) {
                var request = HTTPClientRequest(url: "http://\(address)\(pathAndQuery)")
                request.method = method
                if let password {
                    let signer = RequestSigner(key: try SwarmKey(password: password, scryptRounds: Cluster.scryptRounds))
                    let headers = signer.sign(
                        method: method.rawValue, target: signedFor ?? address, pathAndQuery: signedPathAndQuery ?? pathAndQuery,
                        body: signedBody ?? body, now: now)
                    for (name, value) in headers.headerPairs() { request.headers.add(name: name, value: value) }
                }
                if !body.isEmpty { request.body = .bytes(ByteBuffer(data: body)) }
                return try await Self.execute(request, http: http)
            }

            static func execute(_ request: HTTPClientRequest, http: HTTPClient) async throws -> (status: Int, reply: ErrorReply?) {
                let response = try await http.execute(request, timeout: .seconds(10))
                let bytes = try await response.body.collect(upTo: 1 << 20)
                return (Int(response.status.code), try? JSONDecoder().decode(ErrorReply.self, from: Data(buffer: bytes)))
            }
        }

        @Test("Unsigned, wrongly signed, expired, replayed, re-targeted and tampered requests get 401 and change nothing")
        func everyBadSignatureIsRefused() async throws {
            try await withCluster { cluster in
                try await cluster.start("master", asMaster: true)
                try await cluster.waitForNodes(1)
                try await cluster.put(try cluster.localFile("a", size: 100), "a.txt")
                try await cluster.put(try cluster.localFile("b", size: 100, seed: 2), "b.txt")
                let http = cluster.http
                let deleteA = Route.file(try VirtualPath("a.txt"))

                let unsigned = try await RawRequest(method: .DELETE, pathAndQuery: deleteA, password: nil).send(to: cluster.master, with: http)
                #expect(unsigned.status == 401)
                #expect(unsigned.reply?.code == AuthError.missingOrMalformed.code)

                let wrongSecret = try await RawRequest(method: .DELETE, pathAndQuery: deleteA, password: "not-the-swarm-password")
                    .send(to: cluster.master, with: http)
                #expect(wrongSecret.status == 401)
                #expect(wrongSecret.reply?.code == AuthError.badSignature.code)

                let expired = try await RawRequest(method: .DELETE, pathAndQuery: deleteA, now: Date().addingTimeInterval(-400))
                    .send(to: cluster.master, with: http)
                #expect(expired.status == 401)
                #expect(expired.reply?.code == AuthError.expired.code)

                // Signed for deleting b.txt, sent to delete a.txt.
                let retargeted = try await RawRequest(
                    method: .DELETE, pathAndQuery: deleteA, signedPathAndQuery: Route.file(try VirtualPath("b.txt"))
                ).send(to: cluster.master, with: http)
                #expect(retargeted.status == 401)

                // Signed for another node of the swarm, sent to the master: refused, whoever
                // holds the file. Signed for the master under a loopback name it listens on:
                // accepted (a harmless read).
                let other = try await cluster.start("other")
                let elsewhere = try await RawRequest(method: .DELETE, pathAndQuery: deleteA, signedFor: other.address)
                    .send(to: cluster.master, with: http)
                #expect(elsewhere.status == 401)
                #expect(elsewhere.reply?.code == "wrong_target")
                #expect(elsewhere.reply?.error.contains("--alias \(other.address)") == true, "\(String(describing: elsewhere.reply))")
                let port = try #require(cluster.master.split(separator: ":").last)
                let byAlias = try await RawRequest(method: .GET, pathAndQuery: Route.status, signedFor: "LOCALHOST:\(port)")
                    .send(to: cluster.master, with: http)
                #expect(byAlias.status == 200)

                // A body other than the one signed.
                let upload = try JSONEncoder().encode(UploadRequest(path: try VirtualPath("c.txt"), size: 10))
                let tampered = try await RawRequest(
                    method: .POST, pathAndQuery: Route.uploads, body: upload,
                    signedBody: try JSONEncoder().encode(UploadRequest(path: try VirtualPath("c.txt"), size: 1))
                ).send(to: cluster.master, with: http)
                #expect(tampered.status == 401)
                #expect(tampered.reply?.code == AuthError.bodyMismatch.code)

                #expect(try await cluster.whereIs("a.txt") != nil, "nothing was deleted")
                #expect(try await cluster.whereIs("b.txt") != nil)

                // Replay: the first delivery works, the same bytes again are refused.
                let once = RawRequest(method: .DELETE, pathAndQuery: Route.file(try VirtualPath("b.txt")))
                var request = HTTPClientRequest(url: "http://\(cluster.master)\(once.pathAndQuery)")
                request.method = .DELETE
                let headers = RequestSigner(key: Cluster.key)
                    .sign(method: "DELETE", target: cluster.master, pathAndQuery: once.pathAndQuery, body: Data(), now: Date())
                for (name, value) in headers.headerPairs() { request.headers.add(name: name, value: value) }
                #expect(try await RawRequest.execute(request, http: http).status == 200)
                try await cluster.put(try cluster.localFile("b2", size: 100, seed: 3), "b.txt")
                let replayed = try await RawRequest.execute(request, http: http)
                #expect(replayed.status == 401)
                #expect(replayed.reply?.code == AuthError.replayed.code)
                #expect(try await cluster.whereIs("b.txt") != nil, "the replay deleted nothing")
            }
        }

        @Test("A reply altered on its way (a man in the middle rewriting a node address) is refused by the client in one line, and nothing is stored through it")
        func tamperedRepliesAreRefused() async throws {
            try await withCluster { cluster in
                let passPort = try await Cluster.freePort(), tamperPort = try await Cluster.freePort()
                let stripPort = try await Cluster.freePort()
                // The master answers to the proxies' addresses too: requests are signed for them.
                try await cluster.start(
                    "master", asMaster: true,
                    extra: [passPort, tamperPort, stripPort].flatMap { ["--alias", "127.0.0.1:\($0)"] })
                try await cluster.waitForNodes(1)
                try await cluster.put(try cluster.localFile("a", size: 1000), "a.txt")
                let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Clients/tamper_proxy.py")
                var proxies: [Process] = []
                defer { for proxy in proxies { proxy.terminate() } }
                for (port, mode) in [(passPort, "pass"), (tamperPort, "tamper"), (stripPort, "strip")] {
                    let log = cluster.root.appendingPathComponent("proxy-\(mode).log")
                    proxies.append(try Fsdfsd.start(
                        [script.path, String(port), cluster.master, mode], environment: ProcessInfo.processInfo.environment, log: log,
                        executable: try PrometheusScrape.python()))
                    try await eventually("the \(mode) proxy listens") { ((try? String(contentsOf: log, encoding: .utf8)) ?? "").contains("ready") }
                }

                // Through a proxy that changes nothing, the signed replies check out.
                let passed = try await cluster.cli("where", "a.txt", "--master", "127.0.0.1:\(passPort)")
                #expect(passed.status == 0 && passed.stdout.contains(cluster.master), "\(passed.stdout)\(passed.stderr)")

                // Through one that rewrites a node's address: refused, whatever the command.
                for arguments in [["where", "a.txt"], ["status"], ["put", try cluster.localFile("b", size: 500).path, "b.txt"]] {
                    let result = try await cluster.cli(arguments: arguments + ["--master", "127.0.0.1:\(tamperPort)"])
                    #expect(result.status != 0, "\(arguments)")
                    #expect(result.stderr.contains("signature does not match"), "\(arguments): \(result.stderr)")
                    #expect(result.stderr.split(separator: "\n").count == 1, "\(arguments): \(result.stderr)")
                }
                #expect(try await cluster.whereIs("b.txt") == nil, "the put stopped at its tampered grant")

                // Through one that drops the signatures: refused as unsigned, a file's bytes too
                // (they would be checked against a checksum nobody signed).
                let stripped = try await cluster.cli("where", "a.txt", "--master", "127.0.0.1:\(stripPort)")
                #expect(stripped.status != 0 && stripped.stderr.contains("not signed"), "\(stripped.stderr)")
                let direct = try await cluster.client.openBlob(cluster.master, path: try VirtualPath("a.txt"), timeout: .seconds(10))
                for try await _ in direct.1 {}
                await #expect(throws: NodeCallError.self) {
                    _ = try await cluster.client.openBlob("127.0.0.1:\(stripPort)", path: try VirtualPath("a.txt"), timeout: .seconds(10))
                }
                try await cluster.expectAuditClean()
            }
        }

        @Test("An unsigned request announcing a 60 MB body is refused at once, before any body byte is sent, and its connection closed")
        func refusedBeforeTheBody() async throws {
            try await withCluster { cluster in
                let master = try await cluster.start("master", asMaster: true)
                let port = try #require(master.address.split(separator: ":").last)
                // bash's /dev/tcp: a raw client that sends the head only and never a body byte.
                let script = """
                    exec 3<>/dev/tcp/127.0.0.1/\(port)
                    printf 'POST /v1/copy HTTP/1.1\\r\\nHost: fsdfs\\r\\nContent-Type: application/json\\r\\nContent-Length: 60000000\\r\\n\\r\\n' >&3
                    timeout 10 cat <&3
                    echo "cat: $?"
                    """
                let started = ContinuousClock.now
                let result = try await Fsdfsd.run(
                    ["-c", script], environment: [:], timeout: .seconds(30), executable: URL(fileURLWithPath: "/bin/bash"))
                #expect(result.stdout.hasPrefix("HTTP/1.1 401"), "\(result.stdout)")
                // The node closed the connection (cat saw its end), long before the 10 s timeout.
                #expect(result.stdout.hasSuffix("cat: 0\n"), "\(result.stdout)")
                #expect(ContinuousClock.now - started < .seconds(5))
            }
        }

        @Test("A secret file readable by others is refused in one line; a private one (--secret-file, FSDFS_SECRET_FILE) works; --catalog-file likewise")
        func secretFiles() async throws {
            try await withCluster { cluster in
                try await cluster.start("master", asMaster: true)
                let file = cluster.root.appendingPathComponent("swarm.secret")
                try Data((Cluster.secret + "\n").utf8).write(to: file)
                try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file.path)
                var environment = cluster.environment
                environment["FSDFS_SECRET"] = nil
                let open = try await Fsdfsd.run(["status", "--secret-file", file.path], environment: environment)
                #expect(open.status != 0)
                #expect(open.stderr.contains("may be read by others") && open.stderr.contains("chmod 600"), "\(open.stderr)")
                #expect(open.stderr.split(separator: "\n").count == 1)

                try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file.path)
                let private1 = try await Fsdfsd.run(["status", "--secret-file", file.path], environment: environment)
                #expect(private1.status == 0, "\(private1.stderr)")
                environment["FSDFS_SECRET_FILE"] = file.path
                let private2 = try await Fsdfsd.run(["status"], environment: environment)
                #expect(private2.status == 0, "\(private2.stderr)")
                environment["FSDFS_SECRET_FILE"] = cluster.root.appendingPathComponent("missing").path
                let missing = try await Fsdfsd.run(["status"], environment: environment)
                #expect(missing.status != 0 && missing.stderr.contains("cannot read the swarm password file"), "\(missing.stderr)")

                let catalog = cluster.root.appendingPathComponent("catalog.uri")
                try Data("mongodb://user:password@127.0.0.1:1/fsdfs".utf8).write(to: catalog)
                try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: catalog.path)
                let serve = try await Fsdfsd.run(
                    ["serve", "--data", cluster.root.appendingPathComponent("other").path, "--listen", "127.0.0.1:1",
                     "--catalog-file", catalog.path],
                    environment: cluster.environment)
                #expect(serve.status != 0 && serve.stderr.contains("the catalog file") && serve.stderr.contains("chmod 600"), "\(serve.stderr)")
                #expect(!serve.stderr.contains("password@"), "the URI is not printed")
            }
        }

        @Test("A request captured before a node restarted is refused after it, though its nonce is forgotten: nothing is deleted")
        func replayAfterRestartIsRefused() async throws {
            try await withCluster { cluster in
                let master = try await cluster.start("master", asMaster: true)
                try await cluster.waitForNodes(1)
                try await cluster.put(try cluster.localFile("a", size: 100), "a.txt")
                // Signed now, sent only after the restart (as a captured request would be).
                let path = Route.file(try VirtualPath("a.txt"))
                var request = HTTPClientRequest(url: "http://\(cluster.master)\(path)")
                request.method = .DELETE
                let headers = RequestSigner(key: Cluster.key)
                    .sign(method: "DELETE", target: cluster.master, pathAndQuery: path, body: Data(), now: Date().addingTimeInterval(-2))
                for (name, value) in headers.headerPairs() { request.headers.add(name: name, value: value) }
                await master.stop()
                try await cluster.restart(master)
                let replayed = try await RawRequest.execute(request, http: cluster.http)
                #expect(replayed.status == 401)
                #expect(replayed.reply?.code == AuthError.signedBeforeStart.code)
                try await eventually("a.txt is still there") { try await cluster.whereIs("a.txt") != nil }
            }
        }

        @Test("Idle sockets from one address are capped: those over the cap are closed at once, and the node's own peers and clients go on")
        func idleSocketsAreCapped() async throws {
            try await withCluster { cluster in
                let master = try await cluster.start(
                    "master", asMaster: true, extra: ["--max-connections", "300", "--max-connections-per-peer", "60"])
                try await cluster.start("node")
                try await cluster.waitForNodes(2)
                let port = try #require(master.address.split(separator: ":").last)
                // 150 idle sockets from 127.0.0.2 (another address than the swarm's 127.0.0.1),
                // held while the swarm works; how many the master closed at once.
                let script = """
                    import socket, sys, time
                    sockets = []
                    for _ in range(150):
                        s = socket.socket()
                        s.bind(("127.0.0.2", 0))
                        s.connect(("127.0.0.1", \(port)))
                        s.settimeout(0.05)
                        sockets.append(s)
                    time.sleep(1)
                    closed = 0
                    for s in sockets:
                        try:
                            if s.recv(1) == b"":
                                closed += 1
                        except (socket.timeout, ConnectionResetError):
                            pass
                    print(closed, flush=True)
                    time.sleep(8)
                    """
                let log = cluster.root.appendingPathComponent("sockets.log")
                let process = Process()
                process.executableURL = try PrometheusScrape.python()
                process.arguments = ["-c", script]
                FileManager.default.createFile(atPath: log.path, contents: nil)
                let handle = try FileHandle(forWritingTo: log)
                process.standardOutput = handle
                process.standardError = handle
                try process.run()
                try? handle.close()
                defer { process.terminate() }
                try await eventually("the sockets are counted") {
                    !(try String(contentsOf: log, encoding: .utf8)).isEmpty
                }
                let output = try String(contentsOf: log, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
                #expect(output == "90", "150 opened, 60 kept, 90 closed: \(output)")
                // Meanwhile the swarm works: a put, its copy, the node's reports.
                try await cluster.put(try cluster.localFile("a", size: 1000), "while-flooded.txt")
                try await eventually("replicated while the sockets are held") { try await cluster.whereIs("while-flooded.txt")?.k == 2 }
                #expect(try await cluster.status().nodes.allSatisfy(\.alive))
            }
        }

        @Test("A signed body over its route's cap (1 MiB for one command) is refused with 413 and changes nothing")
        func oversizedCommandBodyIsRefused() async throws {
            try await withCluster { cluster in
                try await cluster.start("master", asMaster: true)
                try await cluster.waitForNodes(1)
                let big = Data(repeating: UInt8(ascii: " "), count: 2 << 20)
                let refused = try await RawRequest(method: .POST, pathAndQuery: Route.uploads, body: big).send(to: cluster.master, with: cluster.http)
                #expect(refused.status == 413)
                #expect(refused.reply?.code == "too_large")
                // A list route takes more: the same bytes get past the cap (and are then not a report).
                let listed = try await RawRequest(method: .POST, pathAndQuery: Route.report, body: big).send(to: cluster.master, with: cluster.http)
                #expect(listed.status == 400)
                #expect(try await cluster.list().isEmpty)
            }
        }

        @Test("A signed upload whose body stalls is cut off after the idle timeout, and leaves no file, temporary file or grant behind")
        func slowBodyIsCutOff() async throws {
            try await withCluster { cluster in
                let master = try await cluster.start("master", asMaster: true, extra: ["--idle-timeout", "2"])
                try await cluster.waitForNodes(1)
                let size = 1 << 20
                let content = Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) })
                let path = try VirtualPath("slow.bin")
                let grant: UploadGrant = try await cluster.client.call(
                    .POST, cluster.master, Route.uploads, body: UploadRequest(path: path, size: Int64(size)))
                // Signed for the whole megabyte; 64 KiB are sent, then nothing for 30 s.
                let target = Route.blob(path, upload: grant.upload)
                var request = HTTPClientRequest(url: "http://\(grant.address)\(target)")
                request.method = .PUT
                let headers = RequestSigner(key: Cluster.key).sign(
                    method: "PUT", target: grant.address, pathAndQuery: target, body: content, now: Date())
                for (name, value) in headers.headerPairs() { request.headers.add(name: name, value: value) }
                let first = ByteBuffer(data: content.prefix(64 << 10))
                let stalling = AsyncThrowingStream<ByteBuffer, any Error> { continuation in
                    continuation.yield(first)
                    // Never finished: the stream ends when the request is torn down.
                }
                request.body = .stream(stalling, length: .known(Int64(size)))
                let started = ContinuousClock.now
                do {
                    let response = try await cluster.http.execute(request, timeout: .seconds(30))
                    _ = try await response.body.collect(upTo: 1 << 20)
                    Issue.record("a stalled upload got an answer: \(response.status)")
                } catch {
                    // The node closed the connection.
                }
                #expect(ContinuousClock.now - started < .seconds(20), "cut off by the 2 s idle timeout, not by the client's 30 s")
                #expect(try await cluster.whereIs("slow.bin") == nil)
                let temporary = master.data.appendingPathComponent(".fsdfs/tmp")
                try await eventually("no temporary file is left") {
                    ((try? FileManager.default.contentsOfDirectory(atPath: temporary.path)) ?? []).isEmpty
                }
                #expect(!FileManager.default.fileExists(atPath: master.data.appendingPathComponent("slow.bin").path))
                // The node still serves, and a whole upload of the same path goes through.
                try await cluster.put(try cluster.localFile("slow", size: 1000), "slow.bin")
                try await cluster.expectAuditClean()
            }
        }

        @Test("An upload whose bytes differ from the signed checksum is refused and leaves nothing behind")
        func tamperedUploadIsRefused() async throws {
            try await withCluster { cluster in
                let master = try await cluster.start("master", asMaster: true)
                try await cluster.waitForNodes(1)
                let path = try VirtualPath("upload.bin")
                let grant: UploadGrant = try await cluster.client.call(.POST, cluster.master, Route.uploads, body: UploadRequest(path: path, size: 4))
                let result = try await RawRequest(
                    method: .PUT, pathAndQuery: Route.blob(path, upload: grant.upload), body: Data("evil".utf8),
                    signedBody: Data("good".utf8)
                ).send(to: grant.address, with: cluster.http)
                #expect(result.status == 401)
                #expect(result.reply?.code == AuthError.bodyMismatch.code)
                #expect(!FileManager.default.fileExists(atPath: master.file("upload.bin").path))
                #expect(try FileManager.default.contentsOfDirectory(atPath: master.data.appendingPathComponent(".fsdfs/tmp").path).isEmpty)
                #expect(try await cluster.whereIs("upload.bin") == nil)

                // A PUT straight to a node without the master's grant is refused too.
                let ungranted = try await RawRequest(
                    method: .PUT, pathAndQuery: Route.blob(path, upload: "made-up"), body: Data("good".utf8)
                ).send(to: master.address, with: cluster.http)
                #expect(ungranted.status == 403)
                #expect(!FileManager.default.fileExists(atPath: master.file("upload.bin").path))
            }
        }

        @Test("Paths escaping the store (../x, /etc/passwd, NUL) are refused by put, by the HTTP API and in a crafted copy command")
        func pathTraversalIsRefused() async throws {
            try await withCluster { cluster in
                let master = try await cluster.start("master", asMaster: true)
                let slave = try await cluster.start("slave")
                try await cluster.waitForNodes(2)
                let local = try cluster.localFile("payload", size: 64)

                for bad in ["../x", "/etc/passwd", "a/../../x", "a/./b", ".fsdfs/node-id"] {
                    let put = try await cluster.cli("put", local.path, bad)
                    #expect(put.status != 0, "put \(bad)")
                    #expect(put.stderr.contains("invalid remote path"), "\(put.stderr)")
                    #expect(put.stderr.split(separator: "\n").count == 1, "one line: \(put.stderr)")
                }

                // The HTTP API, signed: in query strings and in JSON bodies.
                for bad in ["../x", "/etc/passwd", "a\u{0}b", "a/../../../x", ""] {
                    let get = try await RawRequest(method: .GET, pathAndQuery: "\(Route.blobPath)?path=\(Route.encode(bad))")
                        .send(to: slave.address, with: cluster.http)
                    #expect(get.status == 400, "GET \(bad.debugDescription)")
                    let json = Data("{\"path\": \(Self.jsonString(bad)), \"size\": 1}".utf8)
                    let grant = try await RawRequest(method: .POST, pathAndQuery: Route.uploads, body: json)
                        .send(to: cluster.master, with: cluster.http)
                    #expect(grant.status == 400, "upload grant for \(bad.debugDescription)")
                    let put = try await RawRequest(
                        method: .PUT, pathAndQuery: "\(Route.blobPath)?path=\(Route.encode(bad))&upload=x", body: Data("x".utf8)
                    ).send(to: slave.address, with: cluster.http)
                    #expect(put.status == 400, "PUT \(bad.debugDescription)")
                }

                // A crafted copy command, signed with the swarm key, naming a path outside.
                try await cluster.put(local, "ok.bin")
                let escape = "../../escaped-\(UUID().uuidString.prefix(6))"
                let copy = Data("""
                    {"fileID": 1, "path": \(Self.jsonString(escape)), "size": 64, "sha256": "\(String(repeating: "0", count: 64))", "source": "\(master.address)"}
                    """.utf8)
                let crafted = try await RawRequest(method: .POST, pathAndQuery: Route.copy, body: copy).send(to: slave.address, with: cluster.http)
                #expect(crafted.status == 400)
                let outside = slave.data.appendingPathComponent(escape).standardizedFileURL
                #expect(!FileManager.default.fileExists(atPath: outside.path))
                #expect(try await cluster.status().files == 1)
            }
        }

        static func jsonString(_ text: String) -> String {
            String(decoding: try! JSONEncoder().encode(text), as: UTF8.self)
        }
    }
}
