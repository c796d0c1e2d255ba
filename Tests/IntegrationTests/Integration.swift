import Testing

/// Every integration suite is nested here and runs one test at a time: each starts several
/// real processes, and on two cores parallel clusters would only slow each other down.
@Suite("Integration", .serialized)
enum Integration {}
