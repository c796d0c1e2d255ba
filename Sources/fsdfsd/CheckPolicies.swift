import ArgumentParser
import Foundation
import ReplicaCore

/// `fsdfsd check-policies DIR [PATH SIZE …]`: validates a policy directory the way the master
/// will load it, and optionally shows which rule decides N for sample paths.
struct CheckPolicies: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-policies",
        abstract: "Validate a policy directory and show the replica count it gives to paths."
    )

    @Argument(help: "Directory of *.toml policy files.")
    var directory: String

    @Argument(help: "Virtual paths to evaluate, each optionally followed by =SIZE (e.g. videos/a.mp4=2G).")
    var samples: [String] = []

    func run() throws {
        let policies: PolicySet
        do {
            policies = try PolicySet.load(directory: directory)
        } catch {
            throw CommandFailure(error.description)
        }
        print("\(directory): \(policies.rules.count) rule(s), default N = \(policies.defaultN)")
        for sample in samples {
            let parts = sample.split(separator: "=", maxSplits: 1).map(String.init)
            let path: VirtualPath
            let size: Int64
            do {
                path = try VirtualPath(parts[0])
                size = parts.count > 1 ? try ByteSize.parse(parts[1]) : 0
            } catch {
                throw ValidationError("\(sample): \(error)")
            }
            print(policies.explain(path: path, size: size))
        }
    }
}

/// A failure to report as one line on stderr with a non-zero exit, without the usage text
/// that argument-parser adds to a `ValidationError`.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
