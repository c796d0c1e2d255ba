import ReplicaCore

extension StorageNode {
    /// `POST /v1/disk-audit`: one page of this node's holdings as they are on disk, for the
    /// master's `audit`. Changes nothing on the node (a corrupt file found here is reported,
    /// not quarantined: the scrubber and reads do that).
    func diskAudit(_ command: DiskAuditCommand) async throws -> DiskAuditReply {
        let page = await store.audit(deep: command.deep, after: command.after, limit: command.limit)
        var reply = DiskAuditReply(node: id, blobs: page.blobs, next: page.next)
        if command.listUnindexed {
            let unindexed = try await store.unindexedFiles()
            reply.unindexed = unindexed.listed
            reply.unindexedCount = unindexed.count
            reply.unindexedTruncated = unindexed.truncated
        }
        return reply
    }
}
