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
            if command.leave { _ = self.leaveSafeMode() }
            return ErrorResponse.json(try await self.safeModeStatus().map { [$0] } ?? [])
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
}
