/// A BSON value, built and read in Swift and converted to and from libbson's `bson_t` only at
/// the C boundary (``BSONDocument/withCDocument(_:)``, ``BSONDocument/init(copying:)``).
/// Queries are written as values, never assembled from JSON text.
public indirect enum BSON: Sendable, Equatable {
    case double(Double)
    case string(String)
    case document(BSONDocument)
    case array([BSON])
    case bool(Bool)
    case null
    case int32(Int32)
    case int64(Int64)
    /// Milliseconds since 1970.
    case datetime(Int64)

    public var int64Value: Int64? {
        switch self {
        case .int32(let value): Int64(value)
        case .int64(let value): value
        case .double(let value) where value.rounded() == value && abs(value) < 9.0e15: Int64(value)
        default: nil
        }
    }

    public var intValue: Int? { int64Value.map(Int.init) }

    public var doubleValue: Double? {
        switch self {
        case .double(let value): value
        case .int32(let value): Double(value)
        case .int64(let value): Double(value)
        default: nil
        }
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    public var documentValue: BSONDocument? {
        if case .document(let value) = self { return value }
        return nil
    }

    public var arrayValue: [BSON]? {
        if case .array(let value) = self { return value }
        return nil
    }
}

extension BSON: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByFloatLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    /// Integer literals are 32-bit, as the shell writes them; use ``int64(_:)`` for counters and sizes.
    public init(integerLiteral value: Int32) { self = .int32(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(arrayLiteral elements: BSON...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, BSON)...) {
        self = .document(BSONDocument(elements.map { BSONDocument.Element(key: $0.0, value: $0.1) }))
    }
}

/// An ordered BSON document (key order matters to MongoDB: command names first, sort keys).
public struct BSONDocument: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    public struct Element: Sendable, Equatable {
        public var key: String
        public var value: BSON
    }

    public private(set) var elements: [Element]

    public init(_ elements: [Element] = []) {
        self.elements = elements
    }

    public init(dictionaryLiteral elements: (String, BSON)...) {
        self.elements = elements.map { Element(key: $0.0, value: $0.1) }
    }

    /// The first value under `key`; setting replaces it in place or appends.
    public subscript(key: String) -> BSON? {
        get { elements.first { $0.key == key }?.value }
        set {
            if let index = elements.firstIndex(where: { $0.key == key }) {
                if let newValue { elements[index].value = newValue } else { elements.remove(at: index) }
            } else if let newValue {
                elements.append(Element(key: key, value: newValue))
            }
        }
    }

    public var keys: [String] { elements.map(\.key) }
}
