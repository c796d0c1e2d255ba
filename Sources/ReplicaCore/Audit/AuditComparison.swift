import Foundation

/// One audited node: what its disk holds (from ``DiskAuditReply`` pages) and what the catalog
/// records on it (``Catalog/holdings(on:)``).
public struct AuditedDisk: Sendable {
    public var address: String
    public var blobs: [VirtualPath: DiskBlob]
    /// Regular files the node's store does not know, as listed, and how many there are.
    public var unindexed: [String]
    public var unindexedCount: Int
    public var holdings: [FileID: Holding]
    /// Paths of current files already checked on this node.
    var seen: Set<VirtualPath> = []

    public init(
        address: String, blobs: [VirtualPath: DiskBlob], unindexed: [String] = [], unindexedCount: Int = 0,
        holdings: [Holding]
    ) {
        self.address = address
        self.blobs = blobs
        self.unindexed = unindexed
        self.unindexedCount = unindexedCount
        self.holdings = Dictionary(holdings.map { ($0.file.id, $0) }) { first, _ in first }
    }
}

/// The comparison behind `fsdfsd audit`: current files of the catalog against the disks of
/// the audited nodes. Pure: the master reads the disks and pages through the catalog, then
/// feeds every current file to ``check(_:unverifiable:)`` and calls ``finish()``.
///
/// Rules, per current file F and audited node:
/// - a good copy (the bytes on disk have F's size and checksum) is found, whatever version
///   the node recorded for it; if the catalog does not count it live it is ``AuditDifference/Kind/uncounted``;
/// - the catalog counts a live replica and the node has no file (``AuditDifference/Kind/missing``),
///   holds the path under another version (``AuditDifference/Kind/otherVersion``) or has
///   other bytes (``AuditDifference/Kind/wrongChecksum``);
/// - other bytes that the catalog does not count are notes: a deleted or replaced version
///   still recorded on the node (``AuditDifference/Kind/pendingDeletion``) or data the catalog
///   does not know (``AuditDifference/Kind/unaccounted``);
/// - F's K must equal the good copies found (``AuditDifference/Kind/wrongK``), unless a live
///   replica of F is on an alive node that could not be audited (then nothing can be said).
public struct AuditComparison: Sendable {
    public private(set) var disks: [AuditedDisk]
    public private(set) var files = 0
    /// Good copies of current files found.
    public private(set) var copies = 0
    public private(set) var unaccounted = 0
    public private(set) var differences: [AuditDifference] = []
    /// At most ``AuditReply/maxNotes``.
    public private(set) var notes: [AuditDifference] = []

    public init(disks: [AuditedDisk]) {
        self.disks = disks
    }

    /// Checks one current file on every audited node.
    /// - Parameter unverifiable: a live replica of it is on an alive node that was not audited.
    public mutating func check(_ file: FileRecord, unverifiable: Bool = false) {
        var found = 0
        var judged: [(node: String, kind: AuditDifference.Kind, detail: String)] = []
        for index in disks.indices {
            // A node that has not moved a renamed file yet holds it under the old path.
            let held = disks[index].holdings[file.id]?.heldAt ?? file.path
            disks[index].seen.insert(file.path)
            disks[index].seen.insert(held)
            let disk = disks[index]
            let blob = disk.blobs[held].flatMap { $0.present ? $0 : nil } ?? disk.blobs[file.path]
            switch Self.judge(file, state: disk.holdings[file.id]?.state, blob: blob, holdings: disk.holdings) {
            case .counted: found += 1
            case .finding(let kind, let detail):
                if kind == .uncounted { found += 1 }
                judged.append((disk.address, kind, detail))
            case .nothing: break
            }
        }
        files += 1
        copies += found
        for (node, kind, detail) in judged {
            add(AuditDifference(
                path: file.path.rawValue, version: file.version, node: node, kind: kind, catalogK: file.k,
                found: found, detail: detail))
        }
        if !unverifiable, found != file.k {
            add(AuditDifference(
                path: file.path.rawValue, version: file.version, node: nil, kind: .wrongK, catalogK: file.k, found: found,
                detail: "the catalog says K = \(file.k) but \(found) verified cop\(found == 1 ? "y was" : "ies were") found on alive nodes"))
        }
    }

    /// What the nodes hold at paths with no current file: versions pending deletion and data
    /// the catalog does not know. Call once, after every current file was checked.
    public mutating func finish() {
        for disk in disks {
            for (path, blob) in disk.blobs.sorted(by: { $0.key < $1.key }) where !disk.seen.contains(path) && blob.present {
                if let id = blob.fileID, let holding = disk.holdings[id], holding.file.deleted {
                    add(AuditDifference(
                        path: path.rawValue, version: holding.file.version, node: disk.address, kind: .pendingDeletion,
                        catalogK: nil, found: nil,
                        detail: "still holds version \(holding.file.version), deleted; it goes when the node is told"))
                } else {
                    let what = blob.fileID.map { "a version (\($0)) the catalog no longer records on this node" }
                        ?? "a file found on the node's disk that the catalog never recorded"
                    add(AuditDifference(
                        path: path.rawValue, version: nil, node: disk.address, kind: .unaccounted, catalogK: nil, found: nil,
                        detail: "holds \(what) (kept)"))
                }
            }
            for path in disk.unindexed {
                add(AuditDifference(
                    path: path, version: nil, node: disk.address, kind: .unaccounted, catalogK: nil, found: nil,
                    detail: "a file on the node's disk that its store does not know (kept; indexed when the node restarts)"))
            }
            // Those not listed by name still count.
            unaccounted += disk.unindexedCount - disk.unindexed.count
        }
        differences.sort { ($0.path, $0.node ?? "") < ($1.path, $1.node ?? "") }
    }

    private mutating func add(_ finding: AuditDifference) {
        if finding.kind.isFailure {
            differences.append(finding)
        } else {
            if finding.kind == .unaccounted { unaccounted += 1 }
            if notes.count < AuditReply.maxNotes { notes.append(finding) }
        }
    }

    public enum Verdict: Equatable, Sendable {
        /// A good copy that the catalog counts.
        case counted
        case finding(AuditDifference.Kind, String)
        /// Nothing on the node and nothing expected there.
        case nothing
    }

    /// What one node's disk says of the current version `file`, given the catalog's replica
    /// state there (nil: none recorded), the blob the node holds at its path, and every
    /// replica the catalog records on the node.
    public static func judge(_ file: FileRecord, state: ReplicaState?, blob: DiskBlob?, holdings: [FileID: Holding]) -> Verdict {
        let expected = "sha256 \(file.sha256.prefix(12))…, \(file.size) B"
        if let blob, blob.present, blob.sha256 == file.sha256, blob.size == file.size {
            if state == .live { return .counted }
            return .finding(.uncounted, "holds a good copy that the catalog does not count (replica \(state?.rawValue ?? "not recorded"))")
        }
        if state == .live {
            guard let blob else { return .finding(.missing, "the catalog counts a copy that the node does not hold") }
            guard blob.present, let sha256 = blob.sha256, let size = blob.size else {
                return .finding(.missing, "the catalog counts a copy whose file is \(blob.problem ?? "missing") on the node's disk")
            }
            let actual = "sha256 \(sha256.prefix(12))…, \(size) B\(blob.rehashed ? "" : " as indexed")"
            if let id = blob.fileID, id != file.id {
                let version = holdings[id].map { "version \($0.file.version)" } ?? "an unknown version (\(id))"
                return .finding(.otherVersion, "the catalog counts version \(file.version) (\(expected)); the node holds \(version) (\(actual))")
            }
            return .finding(.wrongChecksum, "the catalog counts a copy of \(expected); the node's file has \(actual)")
        }
        guard let blob, blob.present else { return .nothing }
        if let id = blob.fileID, let holding = holdings[id], holding.file.deleted {
            return .finding(.pendingDeletion, "still holds version \(holding.file.version), deleted or replaced; it goes when the node is told")
        }
        return .finding(.unaccounted, "holds other bytes at this path that the catalog does not count (kept)")
    }
}
