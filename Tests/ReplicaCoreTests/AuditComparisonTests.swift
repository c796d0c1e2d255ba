import Foundation
import Testing
import ReplicaCore

@Suite("Audit comparison")
struct AuditComparisonTests {
    static let sha = String(repeating: "a", count: 64)
    static let other = String(repeating: "b", count: 64)

    static func file(_ id: Int64, _ path: String, k: Int, version: Int64 = 1, sha256: String = sha, deleted: Bool = false) throws -> FileRecord {
        FileRecord(
            id: FileID(id), path: try VirtualPath(path), size: 10, sha256: sha256, n: 3, k: k, version: version,
            created: Date(timeIntervalSince1970: 0), deleted: deleted)
    }

    static func blob(_ path: String, _ id: Int64?, sha256: String? = sha, size: Int64? = 10, problem: String? = nil) throws -> DiskBlob {
        DiskBlob(path: try VirtualPath(path), fileID: id.map(FileID.init), size: size, sha256: sha256, rehashed: false, problem: problem)
    }

    static func disk(_ address: String, _ blobs: [DiskBlob], _ holdings: [Holding], unindexed: [String] = []) -> AuditedDisk {
        AuditedDisk(
            address: address, blobs: Dictionary(uniqueKeysWithValues: blobs.map { ($0.path, $0) }),
            unindexed: unindexed, unindexedCount: unindexed.count, holdings: holdings)
    }

    static func kind(_ verdict: AuditComparison.Verdict) -> AuditDifference.Kind? {
        if case .finding(let kind, _) = verdict { return kind }
        return nil
    }

    @Test func aGoodCopyCountsWhateverVersionTheNodeRecorded() throws {
        let f = try Self.file(2, "a", k: 1)
        #expect(AuditComparison.judge(f, state: .live, blob: try Self.blob("a", 2), holdings: [:]) == .counted)
        #expect(AuditComparison.judge(f, state: .live, blob: try Self.blob("a", nil), holdings: [:]) == .counted)
        #expect(Self.kind(AuditComparison.judge(f, state: nil, blob: try Self.blob("a", 2), holdings: [:])) == .uncounted)
        #expect(Self.kind(AuditComparison.judge(f, state: .copying, blob: try Self.blob("a", 2), holdings: [:])) == .uncounted)
    }

    @Test func aCountedReplicaMustBeOnTheDiskWithItsBytes() throws {
        let f = try Self.file(2, "a", k: 1, version: 2)
        let old = Holding(file: try Self.file(1, "a", k: 0, version: 1, sha256: Self.other, deleted: true), state: .evicting)
        #expect(Self.kind(AuditComparison.judge(f, state: .live, blob: nil, holdings: [:])) == .missing)
        #expect(Self.kind(AuditComparison.judge(f, state: .live, blob: try Self.blob("a", 2, sha256: nil, size: nil, problem: "missing"), holdings: [:])) == .missing)
        #expect(Self.kind(AuditComparison.judge(f, state: .live, blob: try Self.blob("a", 2, sha256: Self.other), holdings: [:])) == .wrongChecksum)
        #expect(Self.kind(AuditComparison.judge(f, state: .live, blob: try Self.blob("a", 2, size: 11), holdings: [:])) == .wrongChecksum)
        let verdict = AuditComparison.judge(f, state: .live, blob: try Self.blob("a", 1, sha256: Self.other), holdings: [FileID(1): old])
        #expect(Self.kind(verdict) == .otherVersion)
        if case .finding(_, let detail) = verdict { #expect(detail.contains("version 1"), "\(detail)") }
    }

    @Test func otherBytesTheCatalogDoesNotCountAreNotes() throws {
        let f = try Self.file(2, "a", k: 0, version: 2)
        let old = Holding(file: try Self.file(1, "a", k: 0, version: 1, sha256: Self.other, deleted: true), state: .evicting)
        #expect(Self.kind(AuditComparison.judge(f, state: nil, blob: try Self.blob("a", 1, sha256: Self.other), holdings: [FileID(1): old])) == .pendingDeletion)
        #expect(Self.kind(AuditComparison.judge(f, state: nil, blob: try Self.blob("a", nil, sha256: Self.other), holdings: [:])) == .unaccounted)
        #expect(AuditComparison.judge(f, state: nil, blob: nil, holdings: [:]) == .nothing)
        #expect(AuditComparison.judge(f, state: .evicting, blob: try Self.blob("a", 2, sha256: nil, size: nil, problem: "missing"), holdings: [:]) == .nothing)
        #expect(!AuditDifference.Kind.pendingDeletion.isFailure && !AuditDifference.Kind.unaccounted.isFailure)
    }

    @Test func kMustEqualTheGoodCopiesFound() throws {
        let f = try Self.file(1, "a", k: 2)
        let live = Holding(file: f, state: .live)
        var comparison = AuditComparison(disks: [
            Self.disk("n1", [try Self.blob("a", 1)], [live]),
            Self.disk("n2", [], [live]),
        ])
        comparison.check(f)
        comparison.finish()
        #expect(comparison.files == 1 && comparison.copies == 1)
        // Per path, the line about the whole file comes first, then one per node.
        #expect(comparison.differences.map(\.kind) == [.wrongK, .missing])
        #expect(comparison.differences.allSatisfy { $0.catalogK == 2 && $0.found == 1 && $0.version == 1 })
        #expect(comparison.differences.map(\.node) == [nil, "n2"])

        // A holder that could not be audited: K cannot be checked, the rest still is.
        var partial = AuditComparison(disks: [Self.disk("n1", [try Self.blob("a", 1)], [live])])
        partial.check(f, unverifiable: true)
        partial.finish()
        #expect(partial.differences.isEmpty)
    }

    @Test func leftoversArePendingDeletionsOrUnaccounted() throws {
        let current = try Self.file(3, "kept", k: 1)
        let deleted = try Self.file(1, "gone", k: 0, deleted: true)
        var comparison = AuditComparison(disks: [
            Self.disk(
                "n1",
                [try Self.blob("kept", 3), try Self.blob("gone", 1), try Self.blob("stray", nil), try Self.blob("forgotten", 9),
                 try Self.blob("vanished", 8, sha256: nil, size: nil, problem: "missing")],
                [Holding(file: current, state: .live), Holding(file: deleted, state: .evicting)],
                unindexed: ["by/hand.txt"]),
        ])
        comparison.check(current)
        comparison.finish()
        #expect(comparison.differences.isEmpty)
        #expect(comparison.notes.map(\.path) == ["forgotten", "gone", "stray", "by/hand.txt"])
        #expect(comparison.notes.map(\.kind) == [.unaccounted, .pendingDeletion, .unaccounted, .unaccounted])
        #expect(comparison.unaccounted == 3)
    }
}
