/// Where the master keeps its catalog, as given to `--catalog`.
public enum CatalogLocation: Sendable, Equatable, CustomStringConvertible {
    /// An SQLite file (the embedded default: `<data>/.fsdfs/catalog.sqlite`).
    case sqlite(path: String)
    /// A MongoDB connection string, `mongodb://HOST:PORT/DB?options`.
    case mongodb(uri: String)

    /// Parses `sqlite:PATH` or `mongodb://…` (also `mongodb+srv://…`).
    public init(parsing text: String) throws(CatalogLocationError) {
        if text.hasPrefix("sqlite:") {
            let path = String(text.dropFirst("sqlite:".count))
            guard !path.isEmpty else { throw .emptySQLitePath }
            self = .sqlite(path: path)
        } else if text.hasPrefix("mongodb://") || text.hasPrefix("mongodb+srv://") {
            self = .mongodb(uri: text)
        } else {
            throw .unknownScheme(text)
        }
    }

    /// The default catalog of a master whose data directory is `data`.
    public static func embedded(data: String) -> CatalogLocation {
        .sqlite(path: data + "/.fsdfs/catalog.sqlite")
    }

    public var description: String {
        switch self {
        case .sqlite(let path): "sqlite:\(path)"
        case .mongodb(let uri): MongoConnection.redacted(uri)
        }
    }
}

public enum CatalogLocationError: Error, Equatable, Sendable, CustomStringConvertible {
    case emptySQLitePath
    case unknownScheme(String)

    public var description: String {
        switch self {
        case .emptySQLitePath: "--catalog sqlite: needs a file path, e.g. sqlite:/var/lib/fsdfs/catalog.sqlite"
        case .unknownScheme(let text):
            "--catalog '\(text)' is neither sqlite:PATH nor mongodb://HOST:PORT/DB"
        }
    }
}
