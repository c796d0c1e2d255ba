import CMongo
#if canImport(Glibc)
import Glibc
#endif

/// Facts about the linked MongoDB C driver. The MongoDB catalog (issue #4) builds on this
/// folder; it is the only place in the package that imports CMongo.
public enum MongoDriver {
    /// The libmongoc version this build links, e.g. `1.23.1`.
    public static var version: String { String(cString: mongoc_get_version()) }

    /// Removes the name of libmongoc's shared-memory counters, `/dev/shm/mongoc-PID`.
    ///
    /// Debian's libmongoc initialises itself when the program loads, in every `fsdfsd`
    /// command, and creates that file; only a clean exit removes it, so a node stopped with
    /// SIGKILL or a client stopped with Ctrl-C would leave one behind each time. Removing the
    /// name at once leaves nothing behind however the process ends; the counters stay mapped
    /// and working in this process (only outside readers such as `mongoc-stat` lose them).
    public static func releaseSharedCounters() {
        #if canImport(Glibc)
        _ = shm_unlink("/mongoc-\(getpid())")
        #endif
    }
}
