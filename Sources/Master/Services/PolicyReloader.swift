import Foundation
import ReplicaCore
import ServiceLifecycle
import UnixSignals

/// Re-reads the policy directory on SIGHUP and re-evaluates N for every file. A directory with
/// an invalid file keeps the policies in force and logs the file, line and reason.
public struct PolicyReloader: Service {
    let master: Master
    let directory: String

    public init(master: Master, directory: String) {
        self.master = master
        self.directory = directory
    }

    public func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            for await _ in signals {
                await reload()
            }
        }
    }

    func reload() async {
        do {
            let policies = try PolicySet.load(directory: directory)
            let changed = try await master.replacePolicies(policies)
            master.logger.info("policies reloaded from \(directory): \(policies.rules.count) rules; N changed for \(changed) files")
        } catch {
            master.logger.error("policies not reloaded, the previous ones stay in force: \(error)")
        }
    }
}
