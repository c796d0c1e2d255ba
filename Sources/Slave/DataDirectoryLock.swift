import Foundation

/// An exclusive lock on a data directory (`<data>/.fsdfs/lock`), held for the life of the
/// process, so two nodes never share one directory. The kernel releases it when the process
/// ends, however it ends.
public final class DataDirectoryLock: Sendable {
    private let descriptor: Int32

    /// Takes the lock, or throws at once if another process holds it.
    public init(data: String) throws {
        let directory = data + "/.fsdfs"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let descriptor = open(directory + "/lock", O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw DataDirectoryLockError(message: "cannot open \(directory)/lock: \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw DataDirectoryLockError(message: "\(data) is in use by another fsdfsd process")
        }
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }
}

public struct DataDirectoryLockError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
