import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import ReplicaCore
import Testing
import Transport

extension Integration {
    /// The web dashboard at `/ui/` on the master: its login, session and CSRF checks over
    /// plain HTTP, and the whole round trip in a real headless Chromium.
    @Suite("Dashboard")
    struct DashboardTests {
        @Test("Without a session the API answers 401; changes need the CSRF token; the cookie is HttpOnly and SameSite=Strict; signed routes stay signed")
        func sessionCSRFAndSignedRoutes() async throws {
            try await withCluster { cluster in
                try await cluster.start("master", asMaster: true)
                let node = try await cluster.start("node")
                try await cluster.waitForNodes(2)
                try await cluster.put(try cluster.localFile("keep", size: 1000), "docs/keep.txt")
                let ui = Browserless(http: cluster.http, master: cluster.master)

                // No session: the API refuses, the page sends to the login.
                for path in ["/ui/api/overview", "/ui/api/nodes", "/ui/api/files?prefix=", "/ui/api/session", "/ui/api/download?path=docs/keep.txt"] {
                    let reply = try await ui.send(.GET, path)
                    #expect(reply.status == 401, "\(path)")
                    #expect(reply.json?["code"] as? String == "login_required")
                }
                let page = try await ui.send(.GET, "/ui/")
                #expect(page.status == 303)
                #expect(page.headers.first(name: "Location") == "/ui/login")
                #expect(try await ui.send(.GET, "/ui").headers.first(name: "Location") == "/ui/")
                let login = try await ui.send(.GET, "/ui/login")
                #expect(login.status == 200)
                #expect(login.text.contains("Swarm password"))
                #expect(login.headers.first(name: "Content-Security-Policy")?.contains("script-src 'self'") == true)

                // A wrong password: the login page again, with the reason, and no cookie.
                let wrong = try await ui.logIn(password: "not-the-swarm-password")
                #expect(wrong.status == 401)
                #expect(wrong.text.contains("Wrong password"))
                #expect(wrong.headers["Set-Cookie"].isEmpty)

                // The right one: a signed session cookie with its flags.
                let right = try await ui.logIn(password: Cluster.secret)
                #expect(right.status == 303)
                #expect(right.headers.first(name: "Location") == "/ui/")
                let setCookie = try #require(right.headers.first(name: "Set-Cookie"))
                for flag in ["HttpOnly", "SameSite=Strict", "Path=/ui/", "Max-Age=43200"] {
                    #expect(setCookie.contains(flag), "cookie without \(flag): \(setCookie)")
                }
                let cookie = String(setCookie.prefix { $0 != ";" })
                #expect(cookie.hasPrefix("fsdfs_ui="))

                // With the session: the page and the JSON API.
                #expect(try await ui.send(.GET, "/ui/", cookie: cookie).text.contains("id=\"ov-minkn\""))
                let overview = try await ui.send(.GET, "/ui/api/overview", cookie: cookie)
                #expect(overview.status == 200)
                let figures = try JSONDecoder().decode(DashboardOverview.self, from: overview.body)
                #expect(figures.files == 1)
                #expect(figures.nodesAlive == 2)
                #expect(figures.minKn != nil)
                #expect(figures.histogram?.reduce(0) { $0 + $1.files } == 1)
                let nodes = try JSONDecoder().decode([DashboardNode].self, from: try await ui.send(.GET, "/ui/api/nodes", cookie: cookie).body)
                #expect(nodes.count == 2)
                #expect(nodes.allSatisfy { $0.state == "up" && $0.lastReport != nil })
                let listing = try JSONDecoder().decode(
                    DashboardFilePage.self, from: try await ui.send(.GET, "/ui/api/files?prefix=docs/", cookie: cookie).body)
                #expect(listing.files.map(\.path.rawValue) == ["docs/keep.txt"])
                #expect(listing.files.first?.holders.isEmpty == false)
                #expect(try await ui.send(.GET, "/ui/api/at-risk", cookie: cookie).status == 200)
                // The master's event log: the nodes joining at least.
                let events = try JSONDecoder().decode(
                    [DashboardEvent].self, from: try await ui.send(.GET, "/ui/api/events", cookie: cookie).body)
                #expect(events.contains { $0.kind == "node_joined" })
                #expect(try await ui.send(.GET, "/ui/api/history", cookie: cookie).status == 200)
                let session = try JSONDecoder().decode(DashboardSessionInfo.self, from: try await ui.send(.GET, "/ui/api/session", cookie: cookie).body)

                // Changes without the CSRF token, with a wrong one or from another origin: 403, nothing changes.
                let keep = "/ui/api/files?path=docs/keep.txt"
                #expect(try await ui.send(.DELETE, keep, cookie: cookie).status == 403)
                #expect(try await ui.send(.DELETE, keep, cookie: cookie, csrf: String(repeating: "0", count: 64)).status == 403)
                #expect(try await ui.send(.DELETE, keep, cookie: cookie, csrf: session.csrf, origin: "http://evil.example").status == 403)
                let content = Data((0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
                let sha256 = SHA256.hash(data: content).map { String(format: "%02x", $0) }.joined()
                let noToken = try await ui.send(.PUT, "/ui/api/upload?path=docs/up.bin", cookie: cookie, body: content, sha256: sha256)
                #expect(noToken.status == 403)
                #expect(try await cluster.whereIs("docs/keep.txt") != nil)
                #expect(try await cluster.whereIs("docs/up.bin") == nil)

                // Bytes that do not match the checksum they were sent with are refused and not stored.
                let wrongSum = try await ui.send(
                    .PUT, "/ui/api/upload?path=docs/up.bin", cookie: cookie, csrf: session.csrf, body: content,
                    sha256: String(repeating: "a", count: 64))
                #expect(wrongSum.status >= 400)
                #expect(try await cluster.whereIs("docs/up.bin") == nil)

                // With the token: upload, download (same bytes), delete.
                let upload = try await ui.send(
                    .PUT, "/ui/api/upload?path=docs/up.bin", cookie: cookie, csrf: session.csrf, body: content, sha256: sha256)
                #expect(upload.status == 200, "\(upload.text)")
                #expect(try await cluster.whereIs("docs/up.bin")?.sha256 == sha256)
                let download = try await ui.send(.GET, "/ui/api/download?path=docs/up.bin", cookie: cookie)
                #expect(download.status == 200)
                #expect(download.body == content)
                #expect(download.headers.first(name: "Content-Disposition")?.contains("filename=\"up.bin\"") == true)
                let deleted = try await ui.send(.DELETE, keep, cookie: cookie, csrf: session.csrf)
                #expect(deleted.status == 200)
                #expect(try await cluster.whereIs("docs/keep.txt") == nil)

                // A cookie changed by hand is no session.
                #expect(try await ui.send(.GET, "/ui/api/overview", cookie: cookie + "0").status == 401)

                // The signed API refuses unsigned requests as before, whatever the path says.
                #expect(try await ui.send(.GET, "/v1/status").status == 401)
                #expect(try await ui.send(.DELETE, "/v1/files?path=docs/up.bin", cookie: cookie, csrf: session.csrf).status == 401)
                for sneaky in ["/ui/%2E%2E/v1/status", "/ui/../v1/status", "/ui/api/../../v1/status", "/ui//v1/status"] {
                    let reply = try await ui.send(.GET, sneaky, cookie: cookie)
                    #expect(reply.status != 200 || !reply.text.contains("\"replication\""), "\(sneaky) reached the signed status")
                }
                #expect(try await cluster.whereIs("docs/up.bin") != nil)
                // A node that is not the master has no dashboard: /ui/ is one more signed path.
                let elsewhere = try await Browserless(http: cluster.http, master: node.address).send(.GET, "/ui/api/overview", cookie: cookie)
                #expect(elsewhere.status == 401)
                #expect(elsewhere.json?["code"] as? String != "login_required")

                // Logging out ends the session on the server too, not only in the browser.
                #expect(try await ui.send(.POST, "/ui/logout", cookie: cookie).status == 403)
                let logout = try await ui.send(.POST, "/ui/logout", cookie: cookie, csrf: session.csrf)
                #expect(logout.status == 200)
                #expect(logout.headers.first(name: "Set-Cookie")?.contains("Max-Age=0") == true)
                #expect(try await ui.send(.GET, "/ui/api/overview", cookie: cookie).status == 401)
                try await cluster.expectAuditClean()
            }
        }

        @Test("A download whose bytes do not match the checksum ends short of its length instead of completing")
        func corruptDownloadBreaksOff() async throws {
            try await withCluster { cluster in
                let master = try await cluster.start("master", asMaster: true)
                try await cluster.waitForNodes(1)
                let size = 700_000
                try await cluster.put(try cluster.localFile("big", size: size), "big.bin")
                // Rot one byte in the middle of the only copy, keeping its size.
                let handle = try FileHandle(forUpdating: master.file("big.bin"))
                try handle.seek(toOffset: 400_000)
                let byte = try #require(try handle.read(upToCount: 1)).first!
                try handle.seek(toOffset: 400_000)
                try handle.write(contentsOf: Data([byte ^ 0xFF]))
                try handle.close()

                let ui = Browserless(http: cluster.http, master: cluster.master)
                let setCookie = try await ui.logIn(password: Cluster.secret).headers.first(name: "Set-Cookie") ?? ""
                let cookie = String(setCookie.prefix { $0 != ";" })
                do {
                    let reply = try await ui.send(.GET, "/ui/api/download?path=big.bin", cookie: cookie)
                    #expect(reply.body.count < size, "a corrupt copy was downloaded whole")
                } catch {
                    // The connection closed before Content-Length bytes: what a browser reports as a failed download.
                }
            }
        }

        @Test("After five wrong passwords a client is refused for a while, even with the right one")
        func wrongPasswordsAreThrottled() async throws {
            try await withCluster { cluster in
                try await cluster.start("master", asMaster: true)
                let ui = Browserless(http: cluster.http, master: cluster.master)
                for attempt in 1...5 {
                    let reply = try await ui.logIn(password: "wrong-password-\(attempt)")
                    #expect(reply.status == 401)
                }
                let refused = try await ui.logIn(password: Cluster.secret)
                #expect(refused.status == 429)
                #expect(refused.text.contains("Too many wrong passwords"))
                #expect(refused.headers["Set-Cookie"].isEmpty)
                #expect(Int(refused.headers.first(name: "Retry-After") ?? "") ?? 0 > 0)
            }
        }

        @Test("In headless Chromium: a wrong password is refused, then login, upload with progress, K reaches N, download, delete")
        func browserRoundTrip() async throws {
            let python = try Self.testPython()
            try await withCluster { cluster in
                try await cluster.start("master", asMaster: true)
                try await cluster.start("node-a")
                try await cluster.start("node-b")
                try await cluster.waitForNodes(3)
                try await cluster.put(try cluster.localFile("seed", size: 5000), "seed/one.txt")
                let script = Self.packageRoot.appendingPathComponent("Tests/Browser/dashboard.py")
                var arguments = [
                    script.path, "--url", "http://\(cluster.master)/ui/", "--password", Cluster.secret,
                    "--fsdfsd", Fsdfsd.binary.path, "--master", cluster.master, "--remote", "browser/round-trip.bin",
                ]
                // Regenerates the README's screenshot: FSDFS_DASHBOARD_SCREENSHOT=docs/dashboard.png
                if let screenshot = ProcessInfo.processInfo.environment["FSDFS_DASHBOARD_SCREENSHOT"] {
                    arguments += ["--screenshot", screenshot]
                }
                let result = try await Self.run(python, arguments, environment: cluster.environment, timeout: .seconds(300))
                #expect(result.status == 0, "dashboard.py failed:\n\(result.output)")
                for step in ["a wrong password is refused", "the right password logs in", "the overview shows min(K-N)",
                             "progress 100%", "K reached N", "same 3145745 bytes", "gone from the list",
                             "fsdfsd ls no longer lists", "all steps passed"] {
                    #expect(result.output.contains(step), "missing step \(step):\n\(result.output)")
                }
                #expect(try await cluster.list().map(\.path.rawValue) == ["seed/one.txt"])
                try await cluster.expectAuditClean()
            }
        }

        // MARK: Support

        static let packageRoot: URL = {
            var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            while directory.path != "/" {
                if FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) { return directory }
                directory = directory.deletingLastPathComponent()
            }
            return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        }()

        /// The test venv's python (with websocket-client, installed by .ci/run).
        static func testPython() throws -> URL {
            var candidates: [URL] = []
            if let path = ProcessInfo.processInfo.environment["FSDFS_TEST_PYTHON"] { candidates.append(URL(fileURLWithPath: path)) }
            if let secantusd = ProcessInfo.processInfo.environment["FSDFS_SECANTUSD"] {
                candidates.append(URL(fileURLWithPath: secantusd).deletingLastPathComponent().appendingPathComponent("python"))
            }
            candidates.append(packageRoot.appendingPathComponent(".venv/bin/python"))
            guard let python = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
                throw HarnessError("no test venv with python: run `bash .ci/run`, which makes .venv with websocket-client")
            }
            return python
        }

        /// Runs a process to its end (bounded by `timeout`), with stdout and stderr together.
        static func run(
            _ executable: URL, _ arguments: [String], environment: [String: String], timeout: Duration
        ) async throws -> (status: Int32, output: String) {
            let log = FileManager.default.temporaryDirectory.appendingPathComponent("fsdfs-browser-\(UUID().uuidString.prefix(8)).log")
            FileManager.default.createFile(atPath: log.path, contents: nil)
            defer { try? FileManager.default.removeItem(at: log) }
            let process = Process()
            process.executableURL = executable
            process.arguments = arguments
            process.environment = environment
            let handle = try FileHandle(forWritingTo: log)
            process.standardOutput = handle
            process.standardError = handle
            process.standardInput = FileHandle.nullDevice
            try process.run()
            let deadline = ContinuousClock.now + timeout
            while process.isRunning {
                if ContinuousClock.now > deadline {
                    process.terminate()
                    throw HarnessError("\(executable.lastPathComponent) \(arguments.first ?? "") did not finish within \(timeout): \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
                }
                try await Task.sleep(for: .milliseconds(100))  // poll interval, bounded by the deadline
            }
            return (process.terminationStatus, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
        }
    }

    /// Plain HTTP to the dashboard, as a browser would send it (no request signing).
    struct Browserless {
        let http: HTTPClient
        let master: String

        struct Reply {
            var status: Int
            var headers: HTTPHeaders
            var body: Data
            var text: String { String(decoding: body, as: UTF8.self) }
            var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] }
        }

        func send(
            _ method: HTTPMethod, _ path: String, cookie: String? = nil, csrf: String? = nil, origin: String? = nil,
            body: Data? = nil, sha256: String? = nil, form: String? = nil
        ) async throws -> Reply {
            var request = HTTPClientRequest(url: "http://\(master)\(path)")
            request.method = method
            if let cookie { request.headers.add(name: "Cookie", value: cookie) }
            if let csrf { request.headers.add(name: "X-CSRF-Token", value: csrf) }
            if let origin { request.headers.add(name: "Origin", value: origin) }
            if let sha256 { request.headers.add(name: "X-Content-SHA256", value: sha256) }
            if let body {
                request.body = .bytes(ByteBuffer(data: body))
            } else if let form {
                request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
                request.body = .bytes(ByteBuffer(string: form))
            }
            let response = try await http.execute(request, timeout: .seconds(30))
            let bytes = try await response.body.collect(upTo: 64 << 20)
            return Reply(status: Int(response.status.code), headers: response.headers, body: Data(buffer: bytes))
        }

        func logIn(password: String) async throws -> Reply {
            try await send(.POST, "/ui/login", form: "password=\(Route.encode(password))")
        }
    }
}
