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
    /// Live replicas on `node` of files not deleted, lowest kn first (ties: smaller size
    /// first, then lower id), strictly after `cursor` in that order: the same index range as
    /// ``highestKnFiles(on:after:limit:)`` read from the other end. A drain reads the files of
    /// a draining node this way, most at risk first.
    func lowestKnFiles(on node: NodeID, after cursor: FileState?, limit: Int) throws -> [FileState]
    /// The records of the given versions (deleted or not), in any order; unknown ids are left
    /// out. The master resolves a pass's plans with it — paths, checksums, sizes — in the same
    /// view, so carrying them out reads nothing more from the catalog.
    func records(of files: [FileID]) throws -> [FileRecord]
}
