/// One bar of the K − N histogram (``Catalog/knHistogram()``, `status`): how many files have
/// this K − N.
public struct KnBucket: Sendable, Equatable, Codable {
    public var kn: Int
    public var files: Int

    public init(kn: Int, files: Int) {
        self.kn = kn
        self.files = files
    }
}
