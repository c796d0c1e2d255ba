import NIOPosix
import ReplicaCore

extension SwarmKey {
    /// Derives the swarm key on NIO's blocking pool: the derivation is deliberately slow
    /// (scrypt, some 50 ms and 16 MiB), never work for a cooperative thread. Its cost is
    /// ``SwarmKey/configuredScryptRounds``.
    public static func derive(password: String) async throws -> SwarmKey {
        let rounds = configuredScryptRounds
        return try await NIOThreadPool.singleton.runIfActive { try SwarmKey(password: password, scryptRounds: rounds) }
    }
}
