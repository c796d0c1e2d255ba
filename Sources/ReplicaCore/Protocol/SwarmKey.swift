import Foundation
import Crypto
import _CryptoExtras

/// The secret every node and client of one swarm shares, in the form requests are signed with.
///
/// The key is derived from the swarm password (`--secret-file`, `FSDFS_SECRET`…) in two steps:
/// 1. scrypt (N = 2^14, r = 8, p = 1: 16 MiB and about 50 ms) over the password's
///    UTF-8 bytes exactly as given (no Unicode normalisation), salt `"fsdfs-swarm-v2"`, 32 bytes.
///    Deliberately slow: anyone who captures one signed request can test password guesses
///    offline, and each guess now costs that much. It runs once per process.
/// 2. HKDF-SHA256 over those bytes, salt `"fsdfs-swarm-v2"`, info `"request-signing"`, 32
///    bytes: the signing key.
///
/// Why HKDF on top? The fixed `info` label binds this key to request signing, so a feature
/// that needs its own key (the dashboard's sessions, the S3 secrets' seal) derives a
/// different, unrelated key from the same password (``derivedKey(for:)``). The salt names the
/// protocol version: changing the derivation means changing the salt, never silently producing
/// a different key under the same name.
///
/// The password itself is not stored, and neither the password nor the key ever crosses the wire:
/// requests carry only an HMAC computed with the key (see ``RequestSigner``), which reveals
/// nothing about it. ``description`` is redacted so a key cannot leak into logs.
public struct SwarmKey: Sendable, Equatable, CustomStringConvertible {
    /// The fewest UTF-8 bytes a swarm password may have.
    ///
    /// Sixteen bytes is a floor against typos and placeholder values, not a strength
    /// guarantee: use a long random passphrase.
    public static let minimumPasswordBytes = 16

    /// The scrypt and HKDF salt: the protocol's name and version.
    public static let hkdfSalt = "fsdfs-swarm-v2"
    /// scrypt's cost: N = 2^14, r = 8, p = 1 (scrypt's own interactive setting). Every
    /// command derives the key once, so it stays well under a second.
    public static let scryptRounds = 1 << 14
    /// The scrypt cost this process derives keys with: ``scryptRounds``, except in a debug
    /// build whose environment sets `FSDFS_DEBUG_SCRYPT_ROUNDS` to a power of two (the
    /// integration tests do, with 16: each of the hundreds of commands they run would otherwise
    /// spend some 0.3 s of a debug build's CPU in scrypt). A release build ignores the variable,
    /// and every process of a swarm must agree on the cost, or none can verify another's
    /// requests.
    public static var configuredScryptRounds: Int {
        #if DEBUG
        if let value = ProcessInfo.processInfo.environment["FSDFS_DEBUG_SCRYPT_ROUNDS"].flatMap(Int.init),
            value >= 2, value & (value - 1) == 0
        {
            return value
        }
        #endif
        return scryptRounds
    }

    /// The HKDF info label: what this key is for.
    public static let hkdfInfo = "request-signing"
    /// The derived key's length in bytes.
    public static let keyByteCount = 32

    /// The 32 derived key bytes.
    ///
    /// Kept as plain bytes rather than a `SymmetricKey` because swift-crypto 3 does not declare
    /// `SymmetricKey` `Sendable`; a `SymmetricKey` is rebuilt for each use (``symmetricKey``).
    private let bytes: [UInt8]

    /// Derives the swarm key from the swarm password.
    ///
    /// - Throws: ``SwarmKeyError/empty`` for an empty password and ``SwarmKeyError/tooShort(byteCount:minimum:)``
    ///   for one shorter than ``minimumPasswordBytes`` bytes of UTF-8.
    public init(password: String) throws(SwarmKeyError) {
        try self.init(password: password, scryptRounds: Self.scryptRounds)
    }

    /// Derives the key with another scrypt cost than ``scryptRounds``: for tests only, which
    /// start hundreds of processes that each derive the key (see ``configuredScryptRounds``).
    /// `scryptRounds` must be a power of two of at least 2.
    public init(password: String, scryptRounds: Int) throws(SwarmKeyError) {
        let passwordBytes = Array(password.utf8)
        guard !passwordBytes.isEmpty else { throw .empty }
        guard passwordBytes.count >= Self.minimumPasswordBytes else {
            throw .tooShort(byteCount: passwordBytes.count, minimum: Self.minimumPasswordBytes)
        }
        let stretched: SymmetricKey
        do {
            stretched = try KDF.Scrypt.deriveKey(
                from: passwordBytes, salt: Array(Self.hkdfSalt.utf8), outputByteCount: Self.keyByteCount,
                rounds: scryptRounds, blockSize: 8, parallelism: 1, maxMemory: 64 << 20)
        } catch {
            // Only memory exhaustion makes scrypt fail with these constant parameters.
            preconditionFailure("scrypt failed: \(error)")
        }
        let derived = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: stretched,
            salt: Array(Self.hkdfSalt.utf8),
            info: Array(Self.hkdfInfo.utf8),
            outputByteCount: Self.keyByteCount
        )
        self.bytes = derived.withUnsafeBytes { Array($0) }
    }

    /// A key for another purpose than request signing, derived from this one with HKDF-SHA256
    /// (input key material = this key, salt = ``hkdfSalt``, info = `purpose`, 32 bytes).
    ///
    /// Why: a feature that needs its own secret (the dashboard's session cookies, say) gets a
    /// key unrelated to the signing key, so a value it produces can never pass for a request
    /// signature, and leaking one key reveals nothing about the other. `purpose` must not be
    /// ``hkdfInfo``.
    public func derivedKey(for purpose: String) -> [UInt8] {
        precondition(purpose != Self.hkdfInfo, "derive the signing key through init(password:)")
        let derived = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: symmetricKey,
            salt: Array(Self.hkdfSalt.utf8),
            info: Array(purpose.utf8),
            outputByteCount: Self.keyByteCount
        )
        return derived.withUnsafeBytes { Array($0) }
    }

    /// The key in the form swift-crypto's `HMAC` takes.
    var symmetricKey: SymmetricKey {
        SymmetricKey(data: bytes)
    }

    /// Whether two keys are the same, compared in constant time.
    public static func == (lhs: SwarmKey, rhs: SwarmKey) -> Bool {
        RequestSignature.constantTimeEqual(lhs.bytes, rhs.bytes)
    }

    /// Always `"SwarmKey(redacted)"`: the key must never reach a log or an error message.
    public var description: String {
        "SwarmKey(redacted)"
    }
}
