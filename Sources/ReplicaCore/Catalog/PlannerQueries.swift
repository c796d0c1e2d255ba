/// The synchronous, read-only queries the planner makes, answered by an index in every
/// catalog (no full scans). Obtained from ``Catalog/withPlannerView(_:)``.
public protocol PlannerQueries {
    /// Files not deleted in scheduling order — ascending kn, then smaller K, then smaller
    /// size, then id — strictly after `cursor` (from the start when nil).
    func files(after cursor: FileState?, limit: Int) throws -> [FileState]
    /// The same order, only the files within `bounds`: the filter is applied in the index,
    /// so the files left out cost the catalog an index entry each and the planner nothing.
    func files(after cursor: FileState?, limit: Int, within bounds: CandidateBounds) throws -> [FileState]
    /// Every replica of a file, in any state.
    func replicas(of file: FileID) throws -> [ReplicaRecord]
    /// Nodes known to hold a live replica of every file not deleted: they can receive no copy.
    /// Read from counts the catalog keeps (O(nodes)); a catalog that keeps none answers with
    /// no node, which only costs the planner reads (never a copy it should have planned).
    func nodesHoldingEveryFile() throws -> Set<NodeID>
    /// Live replicas on `node` of files not deleted, highest kn first (ties: larger size
    /// first, then higher id), strictly after `cursor` in that order: the eviction candidates.
    /// A replica its node still holds under the path before a rename is not one (an eviction
    /// names the file's path, where that node does not have it yet).
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

/// What a file must satisfy for a planning pass to be able to copy it (``Planner`` rule 11),
/// from the pass's open targets: a bound, never stricter than ``PlanningPass/planCopy(of:)``.
public struct CandidateBounds: Sendable, Equatable {
    /// Only files with K below this: a file with K at least the number of alive nodes is on
    /// every one of them.
    public var kBelow: Int
    /// Only files of at most this size (the most free space of an open target)…
    public var roomFor: Int64
    /// …or with kn at most this: an open target could evict for them (its highest kn is at
    /// least kn + 2 and above the floor). Nil when no target can evict.
    public var evictionUpToKn: Int?

    public init(kBelow: Int, roomFor: Int64, evictionUpToKn: Int?) {
        self.kBelow = kBelow
        self.roomFor = roomFor
        self.evictionUpToKn = evictionUpToKn
    }

    /// Whether `file` is within the bounds (what the catalogs' queries test in their index).
    public func admits(_ file: FileState) -> Bool {
        file.k < kBelow && (file.size <= roomFor || evictionUpToKn.map { file.kn <= $0 } ?? false)
    }

    /// Whether any file of a store whose smallest file has `smallestSize` bytes and whose
    /// lowest kn is `lowestKn` (nil: no file) may be within the bounds: each is one end of an
    /// index, so a catalog answers this before it reads a page.
    public func mayAdmitAny(smallestSize: Int64?, lowestKn: Int?) -> Bool {
        guard let smallestSize, let lowestKn else { return false }
        return smallestSize <= roomFor || evictionUpToKn.map { lowestKn <= $0 } ?? false
    }
}
