import ArgumentParser
import Foundation
import ReplicaCore
import Transport
import UnixSignals

/// `fsdfsd mount MOUNTPOINT`: the store as a local file system (libfuse 3), until
/// `fusermount3 -u MOUNTPOINT`, SIGINT or SIGTERM.
struct Mount: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Mount the store as a local file system (FUSE) until unmounted.",
        discussion: """
            Directories are the store's prefixes. Reads fetch a file from a node holding it (then the \
            others), checked against its SHA-256; a written file becomes a new version when it is \
            closed or fsync'ed. Unmount with fusermount3 -u MOUNTPOINT, Ctrl-C or SIGTERM.
            """)

    @Argument(help: "An empty directory to mount the store at.")
    var mountpoint: String

    @Flag(help: "Refuse every change (EROFS).")
    var readOnly = false

    @Option(help: "Directory for cache files (fetched copies, files being written); default: a new one under the temporary directory, removed at unmount.")
    var cache: String?

    @OptionGroup var options: ClientOptions

    func run() async throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: mountpoint, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CommandFailure("\(mountpoint) is not a directory: make an empty directory to mount at")
        }
        let absolute = URL(fileURLWithPath: mountpoint).standardizedFileURL.path
        // A new directory of our own (0700, an unguessable name) unless one is given.
        let cacheDirectory = cache.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("fsdfs-mount-\(UUID().uuidString.lowercased())").path
        guard cacheDirectory != absolute, !cacheDirectory.hasPrefix(absolute + "/") else {
            throw CommandFailure("the cache directory \(cacheDirectory) is inside the mount point: choose another with --cache")
        }
        do {
            try FileManager.default.createDirectory(
                atPath: cacheDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw CommandFailure("cannot make the cache directory \(cacheDirectory): \(error)")
        }
        try await options.withClient { client in
            let master = options.masterAddress
            // Fail now, in one line, rather than in every file operation.
            do {
                let _: StatusReply = try await client.call(.GET, master, Route.status, timeout: .seconds(10))
            } catch let error as NodeCallError {
                throw error.forCommand(master: master)
            }
            let fileSystem = MountFileSystem(client: client, master: master, cache: cacheDirectory, readOnly: readOnly)
            let session = try await Self.onThread {
                try FuseSession(
                    fileSystem: fileSystem, mountpoint: absolute,
                    options: "fsname=fsdfs,subtype=fsdfs,default_permissions" + (readOnly ? ",ro" : ""))
            }
            FileHandle.standardError.write(Data("mounted the store of \(master) at \(absolute)\(readOnly ? " (read-only)" : ""); unmount with fusermount3 -u \(absolute) or Ctrl-C\n".utf8))
            let status = try await withThrowingTaskGroup(of: Void.self) { group -> Int32 in
                group.addTask {
                    for await _ in await UnixSignalsSequence(trapping: .sigint, .sigterm) {
                        FileHandle.standardError.write(Data("unmounting \(absolute)\n".utf8))
                        try await Self.onThread { session.requestUnmount() }
                        return
                    }
                }
                // libfuse's loop on its own threads, until the mount goes away.
                let status = try await Self.onThread { session.loop() }
                group.cancelAll()
                try await group.waitForAll()
                return status
            }
            // After the loop and the signal task: nothing else touches libfuse now.
            try await Self.onThread {
                fileSystem.shutdown()
                session.destroy()
            }
            if status != 0 {
                FileHandle.standardError.write(Data("the FUSE loop ended with status \(status)\n".utf8))
            }
            // The default cache directory goes, unless it keeps a file that could not be stored.
            if cache == nil, (try? FileManager.default.contentsOfDirectory(atPath: cacheDirectory))?.isEmpty == true {
                try? FileManager.default.removeItem(atPath: cacheDirectory)
            }
            FileHandle.standardError.write(Data("unmounted \(absolute)\n".utf8))
        }
    }

    /// Runs blocking work (libfuse, mount(2), file I/O) on a thread of its own, never on the
    /// cooperative pool.
    static func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }
}
