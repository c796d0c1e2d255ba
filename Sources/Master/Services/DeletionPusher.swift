import Foundation
import ReplicaCore
import ServiceLifecycle

/// Has nodes remove the copies of deleted and replaced versions as soon as they are known,
/// then drops tombstones no node holds any more. Nodes that are down get the list in the
/// answer to their next report. Then has them move the copies of renamed files they still
/// hold under the old path (a node that was down when the rename happened, now back).
public struct DeletionPusher: Service {
    let master: Master

    public init(master: Master) {
        self.master = master
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var movesLeft = false
            while !Task.isCancelled {
                // A move a node could not make now (unreachable, another file in the way) is
                // asked again after a while, signal or not.
                await master.deletions.wait(timeout: movesLeft ? .seconds(5) : nil)
                // Safe mode signals again when it ends.
                if master.inSafeMode { continue }
                do {
                    for node in try await master.catalog.nodes() where node.alive {
                        try await master.pushRemovals(to: node.id)
                        // After the removals: a version a rename replaced leaves its path free.
                        try await master.pushMoves(to: node.id)
                    }
                    _ = try await master.catalog.purgeTombstones()
                    movesLeft = try await master.movesPending()
                } catch {
                    if Task.isCancelled { break }  // shutting down, not a failure
                    if !master.noteCatalogFailure(error) { master.logger.error("pushing deletions failed: \(error)") }
                }
            }
        }
    }
}
