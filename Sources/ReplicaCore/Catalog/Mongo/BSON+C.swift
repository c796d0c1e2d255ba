import CMongo

// Conversion between ``BSON`` values and libbson. Documents are built with `bson_new` and the
// `bson_append_*` functions (libbson allocates and aligns them) and read with `bson_iter_*`
// over iterator storage allocated with libbson's 128-byte alignment; every `bson_t` made here
// is destroyed on every path.

extension BSONDocument {
    /// Lends a libbson copy of this document to `body`, then destroys it.
    func withCDocument<T>(_ body: (OpaquePointer) throws -> T) throws -> T {
        let document = try Self.make(elements)
        defer { bson_destroy(document) }
        return try body(document)
    }

    /// A pipeline (an update made of aggregation stages) as libbson sees it: an array document.
    static func withCArray<T>(_ values: [BSON], _ body: (OpaquePointer) throws -> T) throws -> T {
        let document = try make(arrayElements(values))
        defer { bson_destroy(document) }
        return try body(document)
    }

    /// Lends libbson copies of several documents (for `insert_many`), then destroys them.
    static func withCDocuments<T>(_ documents: [BSONDocument], _ body: (inout [OpaquePointer?]) throws -> T) throws -> T {
        var made: [OpaquePointer?] = []
        made.reserveCapacity(documents.count)
        defer { for document in made { bson_destroy(document) } }
        for document in documents { made.append(try make(document.elements)) }
        return try body(&made)
    }

    private static func arrayElements(_ values: [BSON]) -> [Element] {
        values.enumerated().map { Element(key: String($0.offset), value: $0.element) }
    }

    private static func make(_ elements: [Element]) throws -> OpaquePointer {
        let document = bson_new()!
        do {
            for element in elements { try append(element.value, key: element.key, to: document) }
        } catch {
            bson_destroy(document)
            throw error
        }
        return document
    }

    private static func append(_ value: BSON, key: String, to document: OpaquePointer) throws {
        let appended: Bool
        switch value {
        case .double(let value): appended = bson_append_double(document, key, -1, value)
        case .string(let value): appended = bson_append_utf8(document, key, -1, value, Int32(value.utf8.count))
        case .document(let value):
            let child = try make(value.elements)
            defer { bson_destroy(child) }
            appended = bson_append_document(document, key, -1, child)
        case .array(let values):
            let child = try make(arrayElements(values))
            defer { bson_destroy(child) }
            appended = bson_append_array(document, key, -1, child)
        case .bool(let value): appended = bson_append_bool(document, key, -1, value)
        case .null: appended = bson_append_null(document, key, -1)
        case .int32(let value): appended = bson_append_int32(document, key, -1, value)
        case .int64(let value): appended = bson_append_int64(document, key, -1, value)
        case .datetime(let value): appended = bson_append_date_time(document, key, -1, value)
        }
        guard appended else {
            throw MongoError(operation: "encode", target: key, message: "the document is larger than BSON allows")
        }
    }

    /// Copies a libbson document into Swift values. Types fsdfs never writes (ObjectId,
    /// binary, regular expressions…) read as ``BSON/null``.
    init(copying document: OpaquePointer) {
        let storage = UnsafeMutableRawPointer.allocate(
            byteCount: fsdfs_bson_iter_size(), alignment: fsdfs_bson_iter_alignment())
        defer { storage.deallocate() }
        let iterator = OpaquePointer(storage)
        var elements: [Element] = []
        if bson_iter_init(iterator, document) {
            while bson_iter_next(iterator) {
                let key = String(cString: bson_iter_key(iterator))
                elements.append(Element(key: key, value: Self.value(at: iterator)))
            }
        }
        self.init(elements)
    }

    private static func value(at iterator: OpaquePointer) -> BSON {
        let type = bson_iter_type(iterator)
        switch type {
        case BSON_TYPE_DOUBLE:
            return .double(bson_iter_double(iterator))
        case BSON_TYPE_UTF8:
            var length: UInt32 = 0
            guard let text = bson_iter_utf8(iterator, &length) else { return .null }
            return .string(String(decoding: UnsafeRawBufferPointer(start: text, count: Int(length)), as: UTF8.self))
        case BSON_TYPE_DOCUMENT, BSON_TYPE_ARRAY:
            var length: UInt32 = 0
            var data: UnsafePointer<UInt8>?
            if type == BSON_TYPE_DOCUMENT {
                bson_iter_document(iterator, &length, &data)
            } else {
                bson_iter_array(iterator, &length, &data)
            }
            guard let data, let child = bson_new_from_data(data, Int(length)) else { return .null }
            defer { bson_destroy(child) }
            let nested = BSONDocument(copying: child)
            return type == BSON_TYPE_DOCUMENT ? .document(nested) : .array(nested.elements.map(\.value))
        case BSON_TYPE_BOOL:
            return .bool(bson_iter_bool(iterator))
        case BSON_TYPE_INT32:
            return .int32(bson_iter_int32(iterator))
        case BSON_TYPE_INT64:
            return .int64(bson_iter_int64(iterator))
        case BSON_TYPE_DATE_TIME:
            return .datetime(bson_iter_date_time(iterator))
        default:
            return .null
        }
    }
}
