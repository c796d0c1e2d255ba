import Foundation
import Hummingbird
import ReplicaCore
import Transport

extension Master {
    /// The master's routes: node reports, upload grants, and the client commands.
    public func addRoutes(to router: Router<NodeRequestContext>) {
        router.middlewares.add(CatalogOutageMiddleware(master: self))
        router.post(.init(stringLiteral: Route.report)) { request, context in
            let report = try await request.decodeJSON(NodeReport.self, context: context)
            return ErrorResponse.json(try await self.handleReport(report))
        }
        router.post(.init(stringLiteral: Route.inventory)) { request, context in
            let batch = try await request.decodeJSON(InventoryBatch.self, context: context)
            return ErrorResponse.json(try await self.handleInventoryBatch(batch))
        }
        router.post(.init(stringLiteral: Route.leave)) { request, context in
            try await self.handleLeave(try await request.decodeJSON(NodeLeave.self, context: context))
            return ErrorResponse.json(Empty())
        }
        router.post(.init(stringLiteral: Route.uploads)) { request, context in
            let upload = try await request.decodeJSON(UploadRequest.self, context: context)
            return ErrorResponse.json(try await self.grantUpload(upload))
        }
        router.post(.init(stringLiteral: Route.uploadCheck)) { request, context in
            ErrorResponse.json(try await self.checkUpload(try await request.decodeJSON(UploadCheck.self, context: context)))
        }
        router.post(.init(stringLiteral: Route.uploadCommit)) { request, context in
            let commit = try await request.decodeJSON(UploadCommit.self, context: context)
            return ErrorResponse.json(try await self.commitUpload(commit))
        }
        router.post(.init(stringLiteral: Route.uploadBatch)) { request, context in
            let batch = try await request.decodeJSON(UploadBatchRequest.self, context: context)
            return ErrorResponse.json(try await self.grantUploadBatch(batch))
        }
        router.post(.init(stringLiteral: Route.uploadBatchCheck)) { request, context in
            ErrorResponse.json(try self.checkUploadBatch(try await request.decodeJSON(UploadBatchCheck.self, context: context)))
        }
        router.post(.init(stringLiteral: Route.uploadBatchCommit)) { request, context in
            let commit = try await request.decodeJSON(UploadBatchCommit.self, context: context)
            return ErrorResponse.json(try await self.commitUploadBatch(commit))
        }
        router.post(.init(stringLiteral: Route.uploadAbort)) { request, context in
            self.abortUpload(try await request.decodeJSON(UploadAbort.self, context: context))
            return ErrorResponse.json(Empty())
        }
        router.get(.init(stringLiteral: Route.wherePath)) { request, _ in
            ErrorResponse.json(try await self.whereIs(try request.pathParameter()))
        }
        router.get(.init(stringLiteral: Route.filesPath)) { request, _ in
            let query = request.uri.queryParameters
            let after = try query.get("after").map { try VirtualPath($0) }
            let limit = query.get("limit").flatMap(Int.init) ?? 1000
            return ErrorResponse.json(try await self.list(prefix: query.get("prefix") ?? "", after: after, limit: limit))
        }
        router.get(.init(stringLiteral: Route.dirPath)) { request, _ in
            let query = request.uri.queryParameters
            if let entry = query.get("entry") { return ErrorResponse.json(try await self.entry(try VirtualPath(entry))) }
            let path = query.get("path") ?? ""
            if !path.isEmpty { _ = try VirtualPath(path) }
            let after = query.get("after").flatMap { $0.isEmpty ? nil : $0 }
            let limit = try Self.limitParameter(request, default: 1000)
            return ErrorResponse.json(try await self.directory(path, after: after, limit: limit))
        }
        router.get(.init(stringLiteral: Route.manifestPath)) { request, _ in
            let query = request.uri.queryParameters
            let after = try query.get("after").map { try VirtualPath($0) }
            let limit = try Self.limitParameter(request, default: 1000)
            return ErrorResponse.json(try await self.manifest(prefix: query.get("prefix") ?? "", after: after, limit: limit))
        }
        router.post(.init(stringLiteral: Route.s3Keys)) { request, context in
            let command = try await request.decodeJSON(S3KeyCreate.self, context: context)
            return ErrorResponse.json(try await self.createS3Key(command))
        }
        router.get(.init(stringLiteral: Route.s3Keys)) { _, _ in
            ErrorResponse.json(try await self.listS3Keys())
        }
        router.delete(.init(stringLiteral: Route.s3Keys)) { request, _ in
            guard let access = request.uri.queryParameters.get("access"), !access.isEmpty else {
                throw RouteError(.badRequest, "name the S3 key: ?access=ACCESS_KEY", code: "bad_request")
            }
            try await self.deleteS3Key(access)
            return ErrorResponse.json(Empty())
        }
        router.post(.init(stringLiteral: Route.rename)) { request, context in
            let command = try await request.decodeJSON(RenameRequest.self, context: context)
            return ErrorResponse.json(try await self.rename(command))
        }
        router.delete(.init(stringLiteral: Route.filesPath)) { request, _ in
            ErrorResponse.json(try await self.delete(try request.pathParameter()))
        }
        router.get(.init(stringLiteral: Route.nodes)) { _, _ in
            ErrorResponse.json(try await self.catalog.nodes().map(\.address).sorted())
        }
        router.get(.init(stringLiteral: Route.status)) { _, _ in
            ErrorResponse.json(try await self.status())
        }
        router.get(.init(stringLiteral: Route.unaccounted)) { _, _ in
            ErrorResponse.json(self.unaccounted())
        }
        router.post(.init(stringLiteral: Route.safeMode)) { request, context in
            let command = try await request.decodeJSON(SafeModeCommand.self, context: context)
            if command.leave { _ = try await self.leaveSafeMode() }
            return ErrorResponse.json(try await self.safeModeStatus().map { [$0] } ?? [])
        }
        router.get(.init(stringLiteral: Route.atRiskPath)) { request, _ in
            let limit = try Self.limitParameter(request, default: 100)
            return ErrorResponse.json(try await self.atRisk(limit: limit))
        }
        router.get(.init(stringLiteral: Route.eventsPath)) { request, _ in
            let query = request.uri.queryParameters
            let limit = try Self.limitParameter(request, default: 50)
            var after: Int64?
            if let text = query.get("after") {
                guard let value = Int64(text), value >= 0 else {
                    throw RouteError(.badRequest, "after=\(text) is not an event number (0 or more)", code: "bad_request")
                }
                after = value
            }
            return ErrorResponse.json(try await self.eventLog(after: after, limit: limit))
        }
        router.post(.init(stringLiteral: Route.nodeDrain)) { request, context in
            ErrorResponse.json(try await self.drain(try await request.decodeJSON(DrainCommand.self, context: context)))
        }
        router.post(.init(stringLiteral: Route.nodeMaintenance)) { request, context in
            ErrorResponse.json(try await self.maintenance(try await request.decodeJSON(MaintenanceCommand.self, context: context)))
        }
        router.post(.init(stringLiteral: Route.nodeForget)) { request, context in
            ErrorResponse.json(try await self.forget(try await request.decodeJSON(ForgetCommand.self, context: context)))
        }
        router.get(.init(stringLiteral: Route.auditPath)) { request, _ in
            let deep = request.uri.queryParameters.get("deep").map { $0 == "1" || $0 == "true" } ?? false
            return ErrorResponse.json(try await self.audit(deep: deep))
        }
    }

    /// `limit=N` of a query, at least 1; `fallback` when absent.
    static func limitParameter(_ request: Request, default fallback: Int) throws -> Int {
        guard let text = request.uri.queryParameters.get("limit") else { return fallback }
        guard let limit = Int(text), limit >= 1 else {
            throw RouteError(.badRequest, "limit=\(text) is not a number of 1 or more", code: "bad_request")
        }
        return limit
    }
}
