import Foundation
import ReplicaCore
import Transport

extension Master {
    /// Nodes whose disks are read at the same time.
    static let auditConcurrency = 4
    /// Files asked per page from a node.
    static let auditPageSize = 5000

    /// `audit`: compares the catalog with what every node holds on disk (not with what the
    /// nodes last reported). Alive nodes are asked for their holdings, page by page, a few at a
    /// time; nodes that are down or do not answer are listed as not audited, which makes the
    /// audit unclean (nothing can be said of a disk nobody read). Then every current file of the
    /// catalog is checked on every audited node (see ``AuditDifference/Kind``).
    ///
    /// The catalog and the disks are read at slightly different moments, so work under way
    /// (a copy finishing, an eviction) can show as a difference that is gone a moment later.
    public func audit(deep: Bool) async throws -> AuditReply {
        let nodes = try await catalog.nodes().sorted { $0.address < $1.address }
        let disks = await readDisks(of: nodes.filter(\.alive), deep: deep)
        var audited: [AuditedNode] = []
        var notAudited: [UnauditedNode] = []
        var pendingDeletions = 0
        for node in nodes {
            guard node.alive else {
                notAudited.append(UnauditedNode(node: node.id, address: node.address, reason: "down (last report \(node.lastReport))"))
                pendingDeletions += try await catalog.pendingDeletions(on: node.id).count
                continue
            }
            switch disks[node.id] {
            case .success(let disk)?:
                let holdings = try await catalog.holdings(on: node.id)
                pendingDeletions += holdings.filter(\.file.deleted).count
                audited.append(AuditedNode(
                    record: node, disk: disk,
                    holdings: Dictionary(holdings.map { ($0.file.id, $0) }) { first, _ in first }))
            case .failure(let error)?:
                notAudited.append(UnauditedNode(node: node.id, address: node.address, reason: "\(error)"))
            case nil:
                notAudited.append(UnauditedNode(node: node.id, address: node.address, reason: "not asked"))
            }
        }
        let aliveUnaudited = Set(notAudited.map(\.node)).intersection(nodes.filter(\.alive).map(\.id))

        var findings = AuditFindings()
        var after: VirtualPath?
        repeat {
            let page = try await catalog.listFiles(prefix: "", after: after, limit: 1000)
            for file in page {
                // A live replica on an alive node nobody could read: its K cannot be checked.
                var unverifiable = false
                if !aliveUnaudited.isEmpty {
                    unverifiable = try await catalog.replicas(of: file.id)
                        .contains { $0.state == .live && aliveUnaudited.contains($0.node) }
                }
                check(file, on: &audited, unverifiable: unverifiable, into: &findings)
            }
            after = page.count == 1000 ? page.last?.path : nil
        } while after != nil
        for index in audited.indices { findings.leftovers(of: audited[index]) }

        let differences = findings.differences.sorted { ($0.path, $0.node ?? "") < ($1.path, $1.node ?? "") }
        return AuditReply(
            clean: notAudited.isEmpty && differences.isEmpty, deep: deep, files: findings.files,
            copies: findings.copies, nodesAudited: audited.map(\.record.address), nodesNotAudited: notAudited,
            differences: differences, pendingDeletions: pendingDeletions, unaccounted: findings.unaccounted,
            notes: Array(findings.notes.prefix(AuditReply.maxNotes)))
    }

    /// One current file against every audited node.
    private func check(_ file: FileRecord, on nodes: inout [AuditedNode], unverifiable: Bool, into findings: inout AuditFindings) {
        var found = 0
        var judged: [(node: String, kind: AuditDifference.Kind, detail: String)] = []
        for index in nodes.indices {
            nodes[index].seen.insert(file.path)
            let node = nodes[index]
            let verdict = Self.judge(
                file, state: node.holdings[file.id]?.state, blob: node.disk.blobs[file.path], holdings: node.holdings)
            switch verdict {
            case .counted: found += 1
            case .finding(let kind, let detail):
                if kind == .uncounted { found += 1 }
                judged.append((node.record.address, kind, detail))
            case .nothing: break
            }
        }
        findings.files += 1
        findings.copies += found
        for (node, kind, detail) in judged {
            findings.add(AuditDifference(
                path: file.path.rawValue, version: file.version, node: node, kind: kind, catalogK: file.k,
                found: found, detail: detail))
        }
        if !unverifiable, found != file.k {
            findings.add(AuditDifference(
                path: file.path.rawValue, version: file.version, node: nil, kind: .wrongK, catalogK: file.k, found: found,
                detail: "the catalog says K = \(file.k) but \(found) verified cop\(found == 1 ? "y was" : "ies were") found on alive nodes"))
        }
    }

    enum AuditVerdict: Equatable {
        /// A good copy that the catalog counts.
        case counted
        case finding(AuditDifference.Kind, String)
        /// Nothing on the node and nothing expected there.
        case nothing
    }

    /// What one node's disk says of the current version `file`, given the catalog's replica
    /// state there and the blob the node holds at its path. Pure.
    static func judge(_ file: FileRecord, state: ReplicaState?, blob: DiskBlob?, holdings: [FileID: Holding]) -> AuditVerdict {
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

    // MARK: Reading the disks

    /// Asks `nodes` for their holdings, ``auditConcurrency`` at a time.
    private func readDisks(of nodes: [NodeRecord], deep: Bool) async -> [NodeID: Result<NodeDisk, any Error>] {
        await withTaskGroup(of: (NodeID, Result<NodeDisk, any Error>).self) { group in
            var results: [NodeID: Result<NodeDisk, any Error>] = [:]
            var next = 0
            func ask(_ node: NodeRecord) {
                group.addTask {
                    do {
                        return (node.id, .success(try await self.readDisk(of: node, deep: deep)))
                    } catch {
                        return (node.id, .failure(error))
                    }
                }
            }
            while next < min(nodes.count, Self.auditConcurrency) {
                ask(nodes[next])
                next += 1
            }
            for await (id, result) in group {
                results[id] = result
                if next < nodes.count {
                    ask(nodes[next])
                    next += 1
                }
            }
            return results
        }
    }

    /// Every page of one node's holdings on disk.
    private func readDisk(of node: NodeRecord, deep: Bool) async throws -> NodeDisk {
        var disk = NodeDisk()
        var after: VirtualPath?
        repeat {
            let command = DiskAuditCommand(deep: deep, after: after, limit: Self.auditPageSize, listUnindexed: after == nil)
            // A plain page is stats; a deep one hashes up to AuditLimits.maxHashedBytesPerPage.
            let reply: DiskAuditReply = try await client.call(
                .POST, node.address, Route.diskAudit, body: command, timeout: .seconds(deep ? 60 : 30))
            guard reply.node == node.id else {
                throw RouteError(.badGateway, "\(node.address) answers as node \(reply.node), not \(node.id)", code: "wrong_node")
            }
            for blob in reply.blobs { disk.blobs[blob.path] = blob }
            if after == nil {
                disk.unindexed = reply.unindexed
                disk.unindexedCount = reply.unindexedCount
            }
            // Pages must move forward; a node that does not is not trusted to end.
            guard let next = reply.next, after.map({ next > $0 }) ?? true else { break }
            after = next
        } while true
        return disk
    }
}

/// What a node's disk holds, gathered from its pages.
struct NodeDisk: Sendable {
    var blobs: [VirtualPath: DiskBlob] = [:]
    var unindexed: [String] = []
    var unindexedCount = 0
}

/// An audited node with what the catalog records on it.
private struct AuditedNode {
    var record: NodeRecord
    var disk: NodeDisk
    var holdings: [FileID: Holding]
    /// Paths of current files already checked on this node.
    var seen: Set<VirtualPath> = []
}

/// The audit's running results.
private struct AuditFindings {
    var files = 0
    var copies = 0
    var unaccounted = 0
    var differences: [AuditDifference] = []
    var notes: [AuditDifference] = []

    mutating func add(_ finding: AuditDifference) {
        if finding.kind.isFailure {
            differences.append(finding)
        } else {
            if finding.kind == .unaccounted { unaccounted += 1 }
            if notes.count < AuditReply.maxNotes { notes.append(finding) }
        }
    }

    /// What a node holds at paths that have no current file: versions pending deletion, and
    /// data the catalog does not know.
    mutating func leftovers(of node: AuditedNode) {
        let address = node.record.address
        for (path, blob) in node.disk.blobs.sorted(by: { $0.key < $1.key }) where !node.seen.contains(path) && blob.present {
            if let id = blob.fileID, let holding = node.holdings[id], holding.file.deleted {
                add(AuditDifference(
                    path: path.rawValue, version: holding.file.version, node: address, kind: .pendingDeletion,
                    catalogK: nil, found: nil,
                    detail: "still holds version \(holding.file.version), deleted; it goes when the node is told"))
            } else {
                let what = blob.fileID.map { "a version (\($0)) the catalog no longer records on this node" }
                    ?? "a file found on the node's disk that the catalog never recorded"
                add(AuditDifference(
                    path: path.rawValue, version: nil, node: address, kind: .unaccounted, catalogK: nil, found: nil,
                    detail: "holds \(what) (kept)"))
            }
        }
        for path in node.disk.unindexed {
            add(AuditDifference(
                path: path, version: nil, node: address, kind: .unaccounted, catalogK: nil, found: nil,
                detail: "a file on the node's disk that its store does not know (kept; indexed when the node restarts)"))
        }
        // Those not listed by name still count.
        unaccounted += node.disk.unindexedCount - node.disk.unindexed.count
    }
}
