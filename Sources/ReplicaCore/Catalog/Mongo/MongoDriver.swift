import CMongo

/// Facts about the linked MongoDB C driver. The MongoDB catalog (issue #4) builds on this
/// folder; it is the only place in the package that imports CMongo.
public enum MongoDriver {
    /// The libmongoc version this build links, e.g. `1.23.1`.
    public static var version: String { String(cString: mongoc_get_version()) }
}
