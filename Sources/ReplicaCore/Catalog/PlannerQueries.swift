/// The synchronous, read-only queries the planner makes, answered by an index in every
/// catalog (no full scans). Obtained from ``Catalog/withPlannerView(_:)``.
public protocol PlannerQueries {
    /// Files not deleted in scheduling order — ascending kn, then smaller K, then smaller
    /// size, then id — strictly after `cursor` (from the start when nil).
    func files(after cursor: FileState?, limit: Int) throws -> [FileState]
    /// Every replica of a file, in any state.
    func replicas(of file: FileID) throws -> [ReplicaRecord]
    /// Live replicas on `node` of files not deleted, highest kn first (ties: larger size
    /// first, then higher id), strictly after `cursor` in that order.
    func highestKnFiles(on node: NodeID, after cursor: FileState?, limit: Int) throws -> [FileState]
}
