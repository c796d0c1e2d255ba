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
    /// The swarm key from, in order: `--secret`, `--secret-file`, `FSDFS_SECRET`,
    /// `FSDFS_SECRET_FILE`. A file must be readable by its owner only.
    static func key(from option: String?, file: String? = nil) async throws -> SwarmKey {
        let environment = ProcessInfo.processInfo.environment
        var password = option
        if password == nil, let file = file ?? (environment["FSDFS_SECRET"] == nil ? environment["FSDFS_SECRET_FILE"] : nil) {
            password = try SecretFile.read(file, what: "swarm password")
        }
        guard let password = password ?? environment["FSDFS_SECRET"], !password.isEmpty else {
            throw CommandFailure("no swarm password: set FSDFS_SECRET or FSDFS_SECRET_FILE (or pass --secret-file)")
        }
        do {
            return try await SwarmKey.derive(password: password)
        } catch {
            throw CommandFailure("swarm password: \(error)")
        }
    }
}

/// A secret kept in a file (the swarm password, a MongoDB URI with its password): refused
/// when anyone but its owner may read or write it, as ssh refuses a private key.
enum SecretFile {
    static func read(_ path: String, what: String) throws -> String {
        let attributes: [FileAttributeKey: Any]
        do {
            // The file a link leads to (a Kubernetes secret mount is a chain of links).
            attributes = try FileManager.default.attributesOfItem(atPath: URL(fileURLWithPath: path).resolvingSymlinksInPath().path)
        } catch {
            throw CommandFailure("cannot read the \(what) file \(path): no such file or no permission")
        }
        let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? 0
        guard mode & 0o077 == 0 else {
            throw CommandFailure(
                "the \(what) file \(path) may be read by others (mode \(String(mode, radix: 8))): make it private with chmod 600 \(path)")
        }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw CommandFailure("cannot read the \(what) file \(path) as UTF-8 text")
        }
        // A trailing line end is not part of the secret (echo secret > file).
        var secret = Substring(text)
        while let last = secret.last, last == "\n" || last == "\r" { secret = secret.dropLast() }
        guard !secret.isEmpty else { throw CommandFailure("the \(what) file \(path) is empty") }
        return String(secret)
    }
}

/// Options every client command takes.
struct ClientOptions: ParsableArguments {
    @Option(help: "The master (HOST:PORT); default FSDFS_MASTER or 127.0.0.1:4242.")
    var master: String?

    @Option(help: "Swarm password (prefer --secret-file, FSDFS_SECRET_FILE or FSDFS_SECRET: arguments are visible to other users).")
    var secret: String?

    @Option(help: "A file holding the swarm password, readable by its owner only (or FSDFS_SECRET_FILE).")
    var secretFile: String?

    @Option(help: "Use TLS, trusting the CA certificates in this PEM file (or FSDFS_TLS_CA): for a swarm whose nodes serve with --tls-cert.")
    var tlsCa: String?

    var masterAddress: String {
        master ?? ProcessInfo.processInfo.environment["FSDFS_MASTER"] ?? "127.0.0.1:4242"
    }

    func validate() throws {
        if let master { _ = try Endpoint(master, option: "--master") }
    }

    /// The TLS a client uses: nil (plain HTTP) unless `--tls-ca` or `FSDFS_TLS_CA` names a CA.
    func clientTLS() throws -> SwarmTLS? {
        guard let authority = tlsCa ?? ProcessInfo.processInfo.environment["FSDFS_TLS_CA"], !authority.isEmpty else { return nil }
        do {
            return try SwarmTLS.load(certificate: nil, privateKey: nil, authority: authority)
        } catch {
            throw CommandFailure("\(error)")
        }
    }

    /// Runs `body` with a signed client, shutting the HTTP client down afterwards.
    func withClient<T: Sendable>(_ body: (SignedClient) async throws -> T) async throws -> T {
        let key = try await SwarmSecret.key(from: secret, file: secretFile)
        let tls = try clientTLS()
        let http = SignedClient.makeHTTPClient(connectTimeout: .seconds(2), tls: tls)
        let client = SignedClient(http: http, key: key, tls: tls)
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
