import CMongo

/// One pooled client lent for one catalog operation (``MongoConnection/withSession(_:)``).
/// Every call is synchronous — libmongoc blocks on the network — and runs on the connection's
/// own queue. Every failure becomes a ``MongoError`` here, naming the operation, the collection
/// and the server, including write-concern errors: a write that a majority did not
/// acknowledge is a failed write.
struct MongoSession {
    let client: OpaquePointer
    let database: String
    let hosts: String

    /// An update: operators (`$set`, `$inc`…) or an aggregation pipeline that rewrites the
    /// document from its own fields in one atomic step.
    enum Update {
        case operators(BSONDocument)
        case pipeline([BSON])

        func withC<T>(_ body: (OpaquePointer) throws -> T) throws -> T {
            switch self {
            case .operators(let document): try document.withCDocument(body)
            case .pipeline(let stages): try BSONDocument.withCArray(stages, body)
            }
        }
    }

    struct UpdateResult {
        var matched: Int
        var modified: Int
        var upserted: Int
    }

    func target(_ collection: String) -> String { "\(database).\(collection) at \(hosts)" }

    private func withCollection<T>(_ name: String, _ body: (OpaquePointer) throws -> T) rethrows -> T {
        let collection = mongoc_client_get_collection(client, database, name)!
        defer { mongoc_collection_destroy(collection) }
        return try body(collection)
    }

    private func failure(_ operation: String, _ collection: String, _ error: bson_error_t) -> MongoError {
        MongoError(operation: operation, target: target(collection), error: error)
    }

    /// A reply that says the write happened but a majority did not confirm it is a failure.
    private func checkWriteConcern(_ reply: BSONDocument, _ operation: String, _ collection: String) throws {
        var concernErrors: [BSON] = []
        if let single = reply["writeConcernError"] { concernErrors.append(single) }
        concernErrors += reply["writeConcernErrors"]?.arrayValue ?? []
        guard let first = concernErrors.first?.documentValue else { return }
        var error = MongoError(
            operation: operation, target: target(collection),
            message: "write concern not satisfied: " + (first["errmsg"]?.stringValue ?? "no message"))
        error.domain = UInt32(MONGOC_ERROR_WRITE_CONCERN.rawValue)
        error.code = UInt32(truncatingIfNeeded: first["code"]?.int64Value ?? 0)
        throw error
    }

    // MARK: Reads

    func find(
        _ collection: String, _ filter: BSONDocument, sort: BSONDocument? = nil, projection: BSONDocument? = nil,
        limit: Int? = nil, hint: String? = nil
    ) throws -> [BSONDocument] {
        var options = BSONDocument()
        if let sort { options["sort"] = .document(sort) }
        if let projection { options["projection"] = .document(projection) }
        if let limit { options["limit"] = .int64(Int64(limit)) }
        if let hint { options["hint"] = .string(hint) }
        return try withCollection(collection) { handle in
            try filter.withCDocument { cFilter in
                try options.withCDocument { cOptions in
                    let cursor = mongoc_collection_find_with_opts(handle, cFilter, cOptions, nil)!
                    defer { mongoc_cursor_destroy(cursor) }
                    return try drain(cursor, "find", collection)
                }
            }
        }
    }

    func findOne(_ collection: String, _ filter: BSONDocument, projection: BSONDocument? = nil) throws -> BSONDocument? {
        try find(collection, filter, projection: projection, limit: 1).first
    }

    func count(_ collection: String, _ filter: BSONDocument, hint: String? = nil) throws -> Int {
        var options = BSONDocument()
        if let hint { options["hint"] = .string(hint) }
        return try withCollection(collection) { handle in
            try filter.withCDocument { cFilter in
                try options.withCDocument { cOptions in
                    try BSONReply.with { reply in
                        var error = bson_error_t()
                        let count = mongoc_collection_count_documents(handle, cFilter, cOptions, nil, reply, &error)
                        guard count >= 0 else { throw failure("count", collection, error) }
                        return Int(count)
                    }
                }
            }
        }
    }

    func aggregate(_ collection: String, _ pipeline: [BSON]) throws -> [BSONDocument] {
        try withCollection(collection) { handle in
            try BSONDocument.withCArray(pipeline) { cPipeline in
                let cursor = mongoc_collection_aggregate(handle, MONGOC_QUERY_NONE, cPipeline, nil, nil)!
                defer { mongoc_cursor_destroy(cursor) }
                return try drain(cursor, "aggregate", collection)
            }
        }
    }

    private func drain(_ cursor: OpaquePointer, _ operation: String, _ collection: String) throws -> [BSONDocument] {
        var documents: [BSONDocument] = []
        var current: OpaquePointer?
        while mongoc_cursor_next(cursor, &current) {
            if let current { documents.append(BSONDocument(copying: current)) }
        }
        var error = bson_error_t()
        if mongoc_cursor_error(cursor, &error) { throw failure(operation, collection, error) }
        return documents
    }

    // MARK: Writes

    /// `findAndModify`: one document changed atomically; returns it as it was before, or after
    /// when `returnNew`, or nil when nothing matched (and `upsert` is off).
    func findAndModify(
        _ collection: String, _ query: BSONDocument, _ update: Update, upsert: Bool = false, returnNew: Bool,
        fields: BSONDocument? = nil
    ) throws -> BSONDocument? {
        try withCollection(collection) { handle in
            try query.withCDocument { cQuery in
                try update.withC { cUpdate in
                    let options = mongoc_find_and_modify_opts_new()!
                    defer { mongoc_find_and_modify_opts_destroy(options) }
                    _ = mongoc_find_and_modify_opts_set_update(options, cUpdate)
                    var flags = MONGOC_FIND_AND_MODIFY_NONE.rawValue
                    if upsert { flags |= MONGOC_FIND_AND_MODIFY_UPSERT.rawValue }
                    if returnNew { flags |= MONGOC_FIND_AND_MODIFY_RETURN_NEW.rawValue }
                    _ = mongoc_find_and_modify_opts_set_flags(options, mongoc_find_and_modify_flags_t(rawValue: flags))
                    return try withOptionalDocument(fields) { cFields in
                        if let cFields { _ = mongoc_find_and_modify_opts_set_fields(options, cFields) }
                        return try BSONReply.with { reply in
                            var error = bson_error_t()
                            guard mongoc_collection_find_and_modify_with_opts(handle, cQuery, options, reply, &error) else {
                                throw failure("findAndModify", collection, error)
                            }
                            let document = BSONDocument(copying: reply)
                            try checkWriteConcern(document, "findAndModify", collection)
                            return document["value"]?.documentValue
                        }
                    }
                }
            }
        }
    }

    func update(
        _ collection: String, _ filter: BSONDocument, _ update: Update, many: Bool = false, upsert: Bool = false
    ) throws -> UpdateResult {
        let options: BSONDocument = upsert ? ["upsert": true] : [:]
        let operation = many ? "updateMany" : "updateOne"
        return try withCollection(collection) { handle in
            try filter.withCDocument { cFilter in
                try update.withC { cUpdate in
                    try options.withCDocument { cOptions in
                        try BSONReply.with { reply in
                            var error = bson_error_t()
                            let done = many
                                ? mongoc_collection_update_many(handle, cFilter, cUpdate, cOptions, reply, &error)
                                : mongoc_collection_update_one(handle, cFilter, cUpdate, cOptions, reply, &error)
                            guard done else { throw failure(operation, collection, error) }
                            let document = BSONDocument(copying: reply)
                            try checkWriteConcern(document, operation, collection)
                            return UpdateResult(
                                matched: document["matchedCount"]?.intValue ?? 0,
                                modified: document["modifiedCount"]?.intValue ?? 0,
                                upserted: document["upsertedCount"]?.intValue ?? 0)
                        }
                    }
                }
            }
        }
    }

    /// Replaces the one document matching `filter` (or inserts it, with `upsert`).
    func replace(_ collection: String, _ filter: BSONDocument, with document: BSONDocument, upsert: Bool = false) throws {
        let options: BSONDocument = upsert ? ["upsert": true] : [:]
        try withCollection(collection) { handle in
            try filter.withCDocument { cFilter in
                try document.withCDocument { cDocument in
                    try options.withCDocument { cOptions in
                        try BSONReply.with { reply in
                            var error = bson_error_t()
                            guard mongoc_collection_replace_one(handle, cFilter, cDocument, cOptions, reply, &error) else {
                                throw failure("replaceOne", collection, error)
                            }
                            try checkWriteConcern(BSONDocument(copying: reply), "replaceOne", collection)
                        }
                    }
                }
            }
        }
    }

    func insert(_ collection: String, _ documents: [BSONDocument]) throws {
        guard !documents.isEmpty else { return }
        try withCollection(collection) { handle in
            try BSONDocument.withCDocuments(documents) { cDocuments in
                try BSONReply.with { reply in
                    var error = bson_error_t()
                    guard mongoc_collection_insert_many(handle, &cDocuments, cDocuments.count, nil, reply, &error) else {
                        throw failure("insert", collection, error)
                    }
                    try checkWriteConcern(BSONDocument(copying: reply), "insert", collection)
                }
            }
        }
    }

    /// Deletes every match; returns how many.
    func delete(_ collection: String, _ filter: BSONDocument) throws -> Int {
        try withCollection(collection) { handle in
            try filter.withCDocument { cFilter in
                try BSONReply.with { reply in
                    var error = bson_error_t()
                    guard mongoc_collection_delete_many(handle, cFilter, nil, reply, &error) else {
                        throw failure("delete", collection, error)
                    }
                    let document = BSONDocument(copying: reply)
                    try checkWriteConcern(document, "delete", collection)
                    return document["deletedCount"]?.intValue ?? 0
                }
            }
        }
    }

    // MARK: Commands

    /// A command that reads (`ping`, `hello`, `listIndexes`…).
    func command(_ command: BSONDocument, database name: String? = nil, operation: String) throws -> BSONDocument {
        let name = name ?? database
        return try command.withCDocument { cCommand in
            try BSONReply.with { reply in
                var error = bson_error_t()
                guard mongoc_client_read_command_with_opts(client, name, cCommand, nil, nil, reply, &error) else {
                    throw MongoError(operation: operation, target: "\(name) at \(hosts)", error: error)
                }
                return BSONDocument(copying: reply)
            }
        }
    }

    /// A command that writes (`createIndexes`…), with the connection's write concern.
    func writeCommand(_ command: BSONDocument, on collection: String, operation: String) throws -> BSONDocument {
        let handle = mongoc_client_get_database(client, database)!
        defer { mongoc_database_destroy(handle) }
        return try command.withCDocument { cCommand in
            try BSONReply.with { reply in
                var error = bson_error_t()
                guard mongoc_database_write_command_with_opts(handle, cCommand, nil, reply, &error) else {
                    throw failure(operation, collection, error)
                }
                let document = BSONDocument(copying: reply)
                try checkWriteConcern(document, operation, collection)
                return document
            }
        }
    }

    private func withOptionalDocument<T>(_ document: BSONDocument?, _ body: (OpaquePointer?) throws -> T) throws -> T {
        guard let document else { return try body(nil) }
        return try document.withCDocument { try body($0) }
    }
}
