import Foundation
import ReplicaCore

/// A node's stable id, kept in `<data>/.fsdfs/node-id` so that a restarted node with the
/// same data directory is recognised and its replicas count again without re-download.
public enum NodeIdentity {
    /// Reads the id from `data`, creating it (a new UUID) the first time.
    public static func loadOrCreate(data: String) throws -> NodeID {
        let directory = data + "/.fsdfs"
        let file = directory + "/node-id"
        if let text = try? String(contentsOfFile: file, encoding: .utf8) {
            let id = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if UUID(uuidString: id) != nil { return NodeID(id) }
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let id = UUID().uuidString.lowercased()
        try (id + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        return NodeID(id)
    }
}
