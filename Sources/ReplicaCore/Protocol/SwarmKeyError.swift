/// Why a swarm password cannot become a ``SwarmKey``. Descriptions are one line a user can act on.
public enum SwarmKeyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The password is the empty string.
    case empty
    /// The password has fewer UTF-8 bytes than ``SwarmKey/minimumPasswordBytes``.
    case tooShort(byteCount: Int, minimum: Int)

    public var description: String {
        switch self {
        case .empty:
            "the swarm secret is empty; pass --secret or set FSDFS_SECRET to the same value on every node and client"
        case .tooShort(let byteCount, let minimum):
            "the swarm secret is \(byteCount) byte\(byteCount == 1 ? "" : "s") long but must be at least \(minimum) bytes; "
                + "choose a longer secret (a long random passphrase is best) and use it on every node and client"
        }
    }
}
