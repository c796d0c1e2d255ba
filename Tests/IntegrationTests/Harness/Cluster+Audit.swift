import Foundation
import ReplicaCore
import TestSupport

extension Cluster {
    /// `fsdfsd audit --json [--deep]`: the exit status and the decoded reply.
    func audit(deep: Bool = false) async throws -> (status: Int32, reply: AuditReply) {
        let result = try await cli(arguments: ["audit", "--json"] + (deep ? ["--deep"] : []))
        guard result.status == 0 || result.status == 1 else {
            throw HarnessError("audit failed with status \(result.status): \(result.stderr)")
        }
        do {
            return (result.status, try JSONDecoder().decode(AuditReply.self, from: Data(result.stdout.utf8)))
        } catch {
            throw HarnessError("audit --json printed something that is not its reply (\(error)): \(result.stdout)")
        }
    }

    /// Waits until `fsdfsd audit` finds the catalog and every node's disk in agreement (exit 0,
    /// `clean: true`); replication may still be finishing when it is called. Throws with the
    /// differences of the last audit if that does not happen in time.
    func expectAuditClean(deep: Bool = false, timeout: Duration = .seconds(30)) async throws {
        var last: AuditReply?
        do {
            try await eventually("audit clean", timeout: timeout) {
                let (status, reply) = try await audit(deep: deep)
                last = reply
                return status == 0 && reply.clean
            }
        } catch let error as TimedOut {
            guard let reply = last else { throw error }
            let found = reply.nodesNotAudited.map { "not audited \($0.address): \($0.reason)" }
                + reply.differences.map { "\($0.kind) \($0.path) on \($0.node ?? "-"): \($0.detail)" }
            throw HarnessError("audit not clean after \(timeout):\n" + found.joined(separator: "\n"))
        }
    }
}
