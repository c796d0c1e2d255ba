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
    /// catalog is checked on every audited node (``AuditComparison`` has the rules).
    ///
    /// The catalog and the disks are read at slightly different moments, so work under way
    /// (a copy finishing, an eviction) can show as a difference that is gone a moment later.
    public func audit(deep: Bool) async throws -> AuditReply {
        let nodes = try await catalog.nodes().sorted { $0.address < $1.address }
        let disks = await readDisks(of: nodes.filter(\.alive), deep: deep)
        var audited: [AuditedDisk] = []
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
                // Read after the disk, so that a copy finishing meanwhile is seen on both sides.
                let holdings = try await catalog.holdings(on: node.id)
                pendingDeletions += holdings.filter(\.file.deleted).count
                audited.append(AuditedDisk(
                    address: node.address, blobs: disk.blobs, unindexed: disk.unindexed,
                    unindexedCount: disk.unindexedCount, holdings: holdings))
            case .failure(let error)?:
                notAudited.append(UnauditedNode(node: node.id, address: node.address, reason: "\(error)"))
            case nil:
                notAudited.append(UnauditedNode(node: node.id, address: node.address, reason: "not asked"))
            }
        }
        let aliveUnaudited = Set(notAudited.map(\.node)).intersection(nodes.filter(\.alive).map(\.id))

        var comparison = AuditComparison(disks: audited)
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
                comparison.check(file, unverifiable: unverifiable)
            }
            after = page.count == 1000 ? page.last?.path : nil
        } while after != nil
        comparison.finish()

        return AuditReply(
            clean: notAudited.isEmpty && comparison.differences.isEmpty, deep: deep, files: comparison.files,
            copies: comparison.copies, nodesAudited: audited.map(\.address), nodesNotAudited: notAudited,
            differences: comparison.differences, pendingDeletions: pendingDeletions,
            unaccounted: comparison.unaccounted, notes: comparison.notes)
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
