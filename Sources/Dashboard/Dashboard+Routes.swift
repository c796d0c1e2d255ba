import Foundation
import Logging
import HTTPTypes
import Hummingbird
import Master
import ReplicaCore
import Transport

extension Dashboard {
    /// The header that carries the CSRF token of every change (``SessionSigner``).
    static let csrfHeader = HTTPField.Name("X-CSRF-Token")!

    /// The dashboard's router: the login, the static files, and the JSON API behind a session.
    ///
    /// | route | session | what |
    /// | --- | --- | --- |
    /// | `GET /ui/` | yes (else 303 to the login) | the page |
    /// | `GET /ui/login`, `POST /ui/login` | no | the login form; the password in the form body |
    /// | `GET /ui/app.js`, `app.css`, `favicon.svg` | no | static files |
    /// | `POST /ui/logout` | yes + CSRF | ends the session |
    /// | `GET /ui/api/session` | yes | the CSRF token |
    /// | `GET /ui/api/overview`, `history`, `nodes`, `files`, `at-risk`, `events` | yes | JSON |
    /// | `GET /ui/api/download?path=` | yes | the file, checksum verified |
    /// | `PUT /ui/api/upload?path=` | yes + CSRF | stores the body as a file |
    /// | `DELETE /ui/api/files?path=` | yes + CSRF | deletes a file |
    public func makeRouter() -> Router<DashboardContext> {
        let router = Router(context: DashboardContext.self)
        router.middlewares.add(DashboardResponses(logger: logger))

        router.get("/ui") { request, context in
            // `/ui` and `/ui/` are one route; the page's relative links need the slash.
            guard request.uri.path.hasSuffix("/") else { return Self.redirect(to: "/ui/") }
            guard self.session(of: request.cookies[Self.cookieName]?.value) != nil else {
                return Self.redirect(to: "/ui/login")
            }
            return Response(status: .ok, headers: [.contentType: Assets.index.contentType], body: .init(byteBuffer: Assets.index.bytes))
        }
        router.get("/ui/login") { request, _ in
            if self.session(of: request.cookies[Self.cookieName]?.value) != nil { return Self.redirect(to: "/ui/") }
            return Self.loginPage(status: .ok, message: nil)
        }
        router.post("/ui/login") { request, context in
            try await self.logIn(request, context: context)
        }
        for (name, asset) in Assets.files {
            router.get(RouterPath(stringLiteral: "/ui/\(name)")) { _, _ in
                Response(
                    status: .ok, headers: [.contentType: asset.contentType, .cacheControl: "no-cache"],
                    body: .init(byteBuffer: asset.bytes))
            }
        }

        router.group("/ui/logout").add(middleware: RequireSession(dashboard: self)).post { _, context in
            if let session = context.session { self.logOut(session) }
            var response = ErrorResponse.json(Empty())
            response.headers[.setCookie] = "\(Self.cookieName)=; Path=/ui/; Max-Age=0; HttpOnly; SameSite=Strict"
            return response
        }

        let api = router.group("/ui/api").add(middleware: RequireSession(dashboard: self))
        api.get("session") { _, context in
            let session = context.session!
            return ErrorResponse.json(DashboardSessionInfo(
                csrf: self.sessions.csrfToken(for: session), expires: session.expires.timeIntervalSince1970,
                master: self.master.address))
        }
        api.get("overview") { _, _ in
            ErrorResponse.json(try await self.master.dashboardOverview(histogram: await self.histogram()))
        }
        api.get("history") { request, _ in
            let query = request.uri.queryParameters
            let seconds = min(max(query.get("seconds").flatMap(Double.init) ?? 3600, 60), 86_400)
            let points = min(max(query.get("points").flatMap(Int.init) ?? 360, 10), 2000)
            return ErrorResponse.json(self.history.withLock { $0.recent(seconds: seconds, points: points, now: Date()) })
        }
        api.get("nodes") { _, _ in
            ErrorResponse.json(try await self.master.dashboardNodes())
        }
        api.get("files") { request, _ in
            let query = request.uri.queryParameters
            let after = try query.get("after").map { try VirtualPath($0) }
            let limit = query.get("limit").flatMap(Int.init) ?? 100
            return ErrorResponse.json(try await self.master.dashboardFiles(prefix: query.get("prefix") ?? "", after: after, limit: limit))
        }
        api.get("at-risk") { request, _ in
            let limit = request.uri.queryParameters.get("limit").flatMap(Int.init) ?? 200
            return ErrorResponse.json(try await self.master.dashboardAtRisk(limit: limit))
        }
        api.get("events") { request, _ in
            let query = request.uri.queryParameters
            let after = query.get("after").flatMap(Int64.init)
            let limit = min(max(query.get("limit").flatMap(Int.init) ?? 200, 1), 1000)
            return ErrorResponse.json(try await self.master.dashboardEvents(after: after, limit: limit))
        }
        api.get("download") { request, context in
            try await self.download(request, context: context)
        }
        api.put("upload") { request, context in
            try await self.upload(request, context: context)
        }
        api.delete("files") { request, _ in
            let path = try request.pathParameter()
            let reply = try await self.master.delete(path)
            self.logger.info("dashboard: deleted \(path)")
            return ErrorResponse.json(reply)
        }
        return router
    }

    /// `POST /ui/login`: the password comes in the form body (never in the URL). A right one
    /// gets a session cookie and goes to the dashboard; a wrong one waits, then gets the login
    /// page again with the reason and no cookie.
    func logIn(_ request: Request, context: DashboardContext) async throws -> Response {
        let client = context.client
        // Counted as a failure from the start, so parallel guesses cannot all pass the check
        // before the first one is recorded; a success clears it.
        let wait = throttle.withLock { throttle -> TimeInterval? in
            if let wait = throttle.retryAfter(client: client, now: Date()) { return wait }
            throttle.recordFailure(client: client, now: Date())
            return nil
        }
        if let wait {
            logger.notice("dashboard: login from \(client) refused: too many wrong passwords")
            var response = Self.loginPage(
                status: .tooManyRequests,
                message: "Too many wrong passwords from your address. Try again in \(Int(wait)) seconds.")
            response.headers[.retryAfter] = String(Int(wait))
            return response
        }
        guard Self.isSameOrigin(request) else {
            return Self.loginPage(status: .forbidden, message: "This login form was sent from another site; open the dashboard directly.")
        }
        var request = request
        let body = try await request.collectBody(upTo: 8192)
        let password = Self.formValue("password", in: String(buffer: body)) ?? ""
        let accepted = (try? await SwarmKey.derive(password: password)).map { $0 == key } ?? false
        guard accepted else {
            try await Task.sleep(for: failedLoginDelay)
            logger.notice("dashboard: wrong password from \(client)")
            return Self.loginPage(status: .unauthorized, message: "Wrong password. Use the swarm password (FSDFS_SECRET).")
        }
        throttle.withLock { $0.recordSuccess(client: client) }
        let (_, cookie) = sessions.issue()
        logger.info("dashboard: login from \(client)")
        var response = Self.redirect(to: "/ui/")
        response.headers[.setCookie] =
            "\(Self.cookieName)=\(cookie); Path=/ui/; Max-Age=\(Int(SessionSigner.lifetime)); HttpOnly; SameSite=Strict"
        return response
    }

    static func loginPage(status: HTTPResponse.Status, message: String?) -> Response {
        Response(
            status: status, headers: [.contentType: "text/html; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: Assets.loginPage(message: message))))
    }

    static func redirect(to location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }

    /// Whether a change comes from a page of this server: no `Origin` header (a browser
    /// navigating, or a command-line client), or one naming this host.
    static func isSameOrigin(_ request: Request) -> Bool {
        guard let origin = request.headers[.origin] else { return true }
        guard let host = request.head.authority else { return false }
        return origin == "http://\(host)" || origin == "https://\(host)"
    }

    /// A value of an `application/x-www-form-urlencoded` body.
    static func formValue(_ name: String, in body: String) -> String? {
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard decodeFormComponent(parts[0]) == name else { continue }
            return parts.count > 1 ? decodeFormComponent(parts[1]) : ""
        }
        return nil
    }

    private static func decodeFormComponent(_ text: Substring) -> String? {
        text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }
}

/// Lets through only requests with a live session, and changes only with its CSRF token
/// from this origin; the session goes into the context.
struct RequireSession: RouterMiddleware {
    typealias Context = DashboardContext
    let dashboard: Dashboard

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let session = dashboard.session(of: request.cookies[Dashboard.cookieName]?.value) else {
            return ErrorResponse.make(.unauthorized, "not logged in, or the session has ended: log in again", code: "login_required")
        }
        if request.method != .get && request.method != .head {
            guard dashboard.sessions.checkCSRF(request.headers[Dashboard.csrfHeader], for: session),
                Dashboard.isSameOrigin(request)
            else {
                dashboard.logger.notice("dashboard: \(request.method) \(request.uri.path) refused: no valid CSRF token")
                return ErrorResponse.make(.forbidden, "missing or wrong CSRF token: reload the page", code: "csrf")
            }
        }
        var context = context
        context.session = session
        return try await next(request, context)
    }
}

/// Turns errors into JSON replies (as the node's ``ErrorMiddleware`` does) and adds the
/// headers every dashboard reply carries: no caching, no framing, no inline scripts.
struct DashboardResponses: RouterMiddleware {
    typealias Context = DashboardContext
    let logger: Logger

    static let contentSecurityPolicy =
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
        + "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as HTTPError {
            response = ErrorResponse.make(error.status, error.body ?? "\(error.status)", code: "http_\(error.status.code)")
        } catch {
            response = ErrorResponse.from(error)
            if response.status.code >= 500 {
                logger.error("dashboard: \(request.method) \(request.uri.path) failed: \(error)")
            }
        }
        if response.headers[.cacheControl] == nil { response.headers[.cacheControl] = "no-store" }
        response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
        response.headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "same-origin"
        return response
    }
}
