import ArgumentParser
import AsyncHTTPClient
import Foundation
import ReplicaCore
import Transport

/// A HOST:PORT given on the command line.
struct Endpoint: Sendable, Equatable, CustomStringConvertible {
    var host: String
    var port: Int

    /// - Parameter reachedBy: who must reach the address, for the message refusing port 0.
    init(_ text: String, option: String, reachedBy: String = "other nodes") throws {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port), colon != text.startIndex
        else {
            throw ValidationError("\(option) \(text) is not HOST:PORT, e.g. 127.0.0.1:4242")
        }
        // Nodes and clients reach a node at the address it gives, so "any free port" cannot work.
        guard port != 0 else {
            throw ValidationError("\(option) \(text): port 0 is not an address \(reachedBy) can reach; give a fixed port, e.g. 4242")
        }
        host = String(text[..<colon])
        self.port = port
    }

    var description: String { "\(host):\(port)" }
}

/// The swarm password, from `--secret` or `FSDFS_SECRET`.
enum SwarmSecret {
    static func key(from option: String?) throws -> SwarmKey {
        guard let password = option ?? ProcessInfo.processInfo.environment["FSDFS_SECRET"], !password.isEmpty else {
            throw CommandFailure("no swarm password: set FSDFS_SECRET (or pass --secret)")
        }
        do {
            return try SwarmKey(password: password)
        } catch {
            throw CommandFailure("swarm password: \(error)")
        }
    }
}

/// Options every client command takes.
struct ClientOptions: ParsableArguments {
    @Option(help: "The master (HOST:PORT); default FSDFS_MASTER or 127.0.0.1:4242.")
    var master: String?

    @Option(help: "Swarm password (prefer the FSDFS_SECRET environment variable).")
    var secret: String?

    var masterAddress: String {
        master ?? ProcessInfo.processInfo.environment["FSDFS_MASTER"] ?? "127.0.0.1:4242"
    }

    func validate() throws {
        if let master { _ = try Endpoint(master, option: "--master") }
    }

    /// Runs `body` with a signed client, shutting the HTTP client down afterwards.
    func withClient<T: Sendable>(_ body: (SignedClient) async throws -> T) async throws -> T {
        let key = try SwarmSecret.key(from: secret)
        let http = SignedClient.makeHTTPClient(connectTimeout: .seconds(2))
        let client = SignedClient(http: http, key: key)
        do {
            let result = try await body(client)
            try? await http.shutdown()
            return result
        } catch {
            try? await http.shutdown()
            throw error
        }
    }
}

extension NodeCallError {
    /// The one line a command prints for a failed call to the master.
    func forCommand(master: String) -> CommandFailure {
        switch self {
        case .unreachable(let address, let message) where address == master:
            CommandFailure("cannot reach the master at \(master): \(message)")
        default:
            CommandFailure(description)
        }
    }
}

/// Parses a remote path argument with a message that names it.
func parseRemotePath(_ text: String) throws -> VirtualPath {
    do {
        return try VirtualPath(text)
    } catch {
        throw CommandFailure("invalid remote path \(text.debugDescription): \(error)")
    }
}

/// Runs a client command body, turning call failures into one-line messages.
func clientCommand<T: Sendable>(_ options: ClientOptions, _ body: (SignedClient, String) async throws -> T) async throws -> T {
    let master = options.masterAddress
    do {
        return try await options.withClient { client in try await body(client, master) }
    } catch let error as NodeCallError {
        throw error.forCommand(master: master)
    }
}
