import Foundation
import NIOPosix
import ReplicaCore

/// The swarm a data directory belongs to, kept in `<data>/.fsdfs/swarm-id`.
///
/// A node learns it from the first master that accepts it and keeps it from then on: it
/// refuses to join, or to remove anything for, a master whose catalog has another id (a
/// replaced catalog, a mistyped `--catalog`, another swarm's master). Only the operator moves
/// a data directory to another swarm (`fsdfsd node leave-swarm --data DIR`).
public enum SwarmMembership {
    static func file(_ data: String) -> String { data + "/.fsdfs/swarm-id" }

    /// The swarm recorded in `data`, or nil when the directory never joined one. Synchronous:
    /// for start-up, before the server runs.
    public static func load(data: String) throws -> SwarmID? {
        let path = file(data)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw BlobStoreError.io(operation: "read swarm id", path: path, message: "\(error)")
        }
        let id = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard UUID(uuidString: id) != nil else {
            throw BlobStoreError.io(operation: "read swarm id", path: path, message: "'\(id)' is not a swarm id")
        }
        return SwarmID(id)
    }

    /// Records `id` durably (temp file, fsync, rename), on NIO's blocking pool.
    public static func store(_ id: SwarmID, data: String) async throws {
        let path = file(data)
        try await NIOThreadPool.singleton.runIfActive {
            try writeDurably(id.rawValue + "\n", to: path)
        }
    }

    /// Forgets the swarm of `data` (the node must be stopped). Returns the id it had.
    public static func forget(data: String) throws -> SwarmID? {
        let previous = try load(data: data)
        if previous != nil {
            do {
                try FileManager.default.removeItem(atPath: file(data))
            } catch {
                throw BlobStoreError.io(operation: "remove swarm id", path: file(data), message: "\(error)")
            }
        }
        return previous
    }

    private static func writeDurably(_ text: String, to path: String) throws {
        let temporary = path + ".tmp"
        do {
            guard FileManager.default.createFile(atPath: temporary, contents: nil, attributes: [.posixPermissions: 0o644]),
                  let handle = FileHandle(forWritingAtPath: temporary)
            else { throw CocoaError(.fileWriteUnknown) }
            defer { try? handle.close() }
            try handle.write(contentsOf: Data(text.utf8))
            try handle.synchronize()
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw BlobStoreError.io(operation: "write", path: temporary, message: "\(error)")
        }
        guard rename(temporary, path) == 0 else {
            let message = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: temporary)
            throw BlobStoreError.io(operation: "rename", path: path, message: message)
        }
        // The rename itself is durable once the directory is.
        if let directory = FileHandle(forReadingAtPath: (path as NSString).deletingLastPathComponent) {
            try? directory.synchronize()
            try? directory.close()
        }
    }
}
