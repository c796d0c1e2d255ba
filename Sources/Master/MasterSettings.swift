import ReplicaCore

/// How a master runs. Defaults are those of `fsdfsd serve` (ARCHITECTURE.md section 8).
public struct MasterSettings: Sendable, Equatable {
    /// Where the catalog lives; the embedded SQLite file in the data directory by default.
    public var catalog: CatalogLocation
    /// Directory of `*.toml` policy files; nil uses N = 3 for every file.
    public var policies: String?
    /// Seconds between node reports.
    public var reportInterval: Double
    /// Reports a node may miss before it is declared down.
    public var missedReports: Int
    /// Planner knobs: copy slots, load limit, eviction floor.
    public var planner: PlannerLimits
    /// Rebuild an empty catalog from the inventories of the nodes that join (`--recover`).
    public var recover: Bool
    /// Bytes per second the copies the scheduler starts may add up to, across the swarm
    /// (`--max-replication-rate`); nil: no limit. Uploads and reads are not counted.
    public var maxReplicationRate: Int64?
    /// Whole inventories matched at once (``InventoryBatch``): a node that asks to send one
    /// while as many others are under way is told to try again a little later, so that nodes
    /// joining together (a master restart) take turns instead of timing out together.
    public var inventorySlots: Int = 2
    /// The key that seals S3 secret keys in the catalog (``S3SecretSeal``), derived from the
    /// swarm key; nil: no S3 key can be made or read.
    public var s3SealKey: [UInt8]? = nil

    public init(
        catalog: CatalogLocation, policies: String? = nil, reportInterval: Double = 10,
        missedReports: Int = 3, planner: PlannerLimits = PlannerLimits(), recover: Bool = false,
        maxReplicationRate: Int64? = nil
    ) {
        self.maxReplicationRate = maxReplicationRate
        self.recover = recover
        self.catalog = catalog
        self.policies = policies
        self.reportInterval = reportInterval
        self.missedReports = missedReports
        self.planner = planner
    }

    /// How long a node may stay silent before it is down.
    public var downAfter: Double { reportInterval * Double(missedReports) }

    /// How long a stream of inventory batches may pause before the master forgets it (the
    /// node stopped or gave up): then it no longer takes a slot, and the node, if it comes
    /// back, starts its stream again.
    public var inventoryStaleAfter: Double { max(downAfter, 30) }
}
