import ArgumentParser
import AsyncHTTPClient
import Foundation
import ReplicaCore
import Transport

/// `fsdfsd audit [--json] [--deep]`: the catalog compared with what the nodes hold on disk.
///
/// Exit status: 0 when clean, 1 when differences were found (or a node could not be
/// audited), 2 when the audit could not be run (master unreachable, no password…).
struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare the catalog with the files the nodes hold on disk; list every difference.",
        discussion: """
            Exit 0 when the catalog and the disks agree, 1 when they differ or a node could \
            not be audited, 2 when the audit could not be run. Versions pending deletion and \
            files the catalog does not know (unaccounted: kept, never counted) are reported \
            as notes and do not make the audit fail.
            """)

    @Flag(help: "JSON output: {clean, files, copies, nodesAudited, nodesNotAudited, differences, pendingDeletions, unaccounted, notes}.")
    var json = false

    @Flag(help: "Re-hash every file on every node (slow); by default a file is re-hashed only when its size, mtime or inode changed.")
    var deep = false

    @OptionGroup var options: ClientOptions

    func run() async throws {
        let reply: AuditReply
        do {
            reply = try await fetch()
        } catch {
            // One line, and an exit status of its own: no audit took place.
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            throw ExitCode(2)
        }
        if json {
            printJSON(reply)
        } else {
            print(Self.render(reply), terminator: "")
        }
        if !reply.clean { throw ExitCode(1) }
    }

    /// Asks the master. The reply comes only once every node has answered, so the HTTP
    /// client waits longer than the commands' usual minute.
    private func fetch() async throws -> AuditReply {
        let master = options.masterAddress
        let key = try await SwarmSecret.key(from: options.secret, file: options.secretFile)
        let tls = try options.clientTLS()
        let http = SignedClient.makeHTTPClient(connectTimeout: .seconds(2), readTimeout: .hours(2), tls: tls)
        let client = SignedClient(http: http, key: key, tls: tls)
        do {
            let reply: AuditReply = try await client.call(.GET, master, Route.audit(deep: deep), timeout: .hours(2))
            try? await http.shutdown()
            return reply
        } catch let error as NodeCallError {
            try? await http.shutdown()
            throw error.forCommand(master: master)
        } catch {
            try? await http.shutdown()
            throw error
        }
    }

    static func render(_ reply: AuditReply) -> String {
        var out = ""
        for node in reply.nodesNotAudited {
            out += "NOT AUDITED      \(node.address): \(node.reason)\n"
        }
        for difference in reply.differences {
            out += line(difference)
        }
        for note in reply.notes {
            out += line(note)
        }
        var informational: [String] = []
        if reply.pendingDeletions > 0 { informational.append("\(reply.pendingDeletions) version(s) pending deletion") }
        if reply.unaccounted > 0 { informational.append("\(reply.unaccounted) unaccounted file(s), kept and not counted") }
        if !informational.isEmpty {
            out += "informational, not a failure: \(informational.joined(separator: "; "))\n"
        }
        let nodes = reply.nodesAudited.count
        let checked = "\(reply.files) file\(reply.files == 1 ? "" : "s"), \(reply.copies) cop\(reply.copies == 1 ? "y" : "ies") checked\(reply.deep ? " (deep)" : "") on \(nodes) node\(nodes == 1 ? "" : "s")"
        if reply.clean {
            out += "audit clean: \(checked)\n"
        } else {
            var problems: [String] = []
            if !reply.differences.isEmpty {
                problems.append("\(reply.differences.count) difference\(reply.differences.count == 1 ? "" : "s")")
            }
            if !reply.nodesNotAudited.isEmpty {
                problems.append("\(reply.nodesNotAudited.count) node\(reply.nodesNotAudited.count == 1 ? "" : "s") not audited")
            }
            out += "audit NOT clean: \(problems.joined(separator: ", ")); \(checked)\n"
        }
        return out
    }

    private static func line(_ difference: AuditDifference) -> String {
        let label: String = switch difference.kind {
        case .missing: "MISSING"
        case .wrongChecksum: "WRONG CHECKSUM"
        case .otherVersion: "OTHER VERSION"
        case .uncounted: "UNCOUNTED"
        case .wrongK: "WRONG K"
        case .pendingDeletion: "note: pending"
        case .unaccounted: "note: unaccounted"
        }
        let version = difference.version.map { " (version \($0))" } ?? ""
        let node = difference.node.map { " on \($0)" } ?? ""
        return "\(label.rightPadded(16)) \(difference.path)\(version)\(node): \(difference.detail)\n"
    }
}
