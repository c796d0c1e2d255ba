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

    /// Reloads and records the outcome as an event (`policy_reload` or `policy_reload_failed`).
    func reload() async {
        let policies: PolicySet
        do {
            policies = try PolicySet.load(directory: directory)
        } catch {
            master.logger.error("policies not reloaded, the previous ones stay in force: \(error)")
            master.record(.policyReloadFailed, "policies in \(directory) not reloaded, the previous ones stay in force: \(error)")
            return
        }
        do {
            let changed = try await master.replacePolicies(policies)
            let summary = "policies reloaded from \(directory): \(policies.rules.count) rules; N changed for \(changed) files"
            master.logger.info("\(summary)")
            master.record(.policyReload, summary)
        } catch {
            let message = "policies reloaded from \(directory), but N of the existing files could not be re-evaluated: \(error)"
            master.logger.error("\(message)")
            master.record(.policyReloadFailed, message)
        }
    }
}
