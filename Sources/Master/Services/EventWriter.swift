import Foundation
import ReplicaCore
import ServiceLifecycle

/// Writes the events the master records to the catalog, in the order they happened. While
/// the catalog is unreachable they wait in memory (``EventQueue``) and the writer tries again
/// every ``Scheduler/probeInterval``. On graceful shutdown it writes what is left, after the
/// services that record events have stopped (it comes before them in the service group).
public struct EventWriter: Service {
    let master: Master

    public init(master: Master) {
        self.master = master
    }

    public func run() async throws {
        let stopping = StopFlag()
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !stopping.isSet {
                let written = await master.flushEvents()
                await master.events.wakeup.wait(timeout: written ? nil : Scheduler.probeInterval)
            }
            if !Task.isCancelled { await master.flushEvents() }
        } onGracefulShutdown: {
            stopping.set()
            master.events.wakeup.signal()
        }
    }
}
