/// The `HOST:PORT` names a node answers to: a signed request whose `X-Fsdfs-Target` is not one
/// of them was meant for another node, and is refused (``AuthError/wrongTarget``).
///
/// A node's names are its `--listen` and `--advertise` addresses and its `--alias`es; when it
/// listens on every interface (`0.0.0.0` or `::`), also each of its interface addresses and
/// `localhost` at the listening port; when it listens on a loopback address, also `localhost`
/// and `127.0.0.1` at that port. A client that reaches a node by another name (a DNS alias, a
/// proxy) must be given to the node with `--alias`, or the node refuses its requests.
///
/// Names compare lower-cased, as written: `127.0.0.1:4242` and `localhost:4242` are different
/// names, and no name is resolved.
public struct NodeNames: Sendable, Equatable, CustomStringConvertible {
    private let names: Set<String>?

    /// The node answers to exactly `names` (lower-cased here).
    public init(_ names: some Sequence<String>) {
        self.names = Set(names.map { $0.lowercased() })
    }

    private init(any: Void) {
        names = nil
    }

    /// Every target accepted: for tests and tools that verify signatures outside a node.
    public static let any = NodeNames(any: ())

    /// Whether `target` (as signed) names this node.
    public func contains(_ target: String) -> Bool {
        names?.contains(target.lowercased()) ?? true
    }

    /// The names, sorted, comma-separated (for the refusal's message).
    public var description: String {
        names.map { $0.sorted().joined(separator: ", ") } ?? "any"
    }
}
