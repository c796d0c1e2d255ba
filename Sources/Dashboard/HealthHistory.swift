import Foundation
import ReplicaCore

/// The samples behind the dashboard's health chart: one every ``HealthSampler`` interval,
/// the most recent ``capacity`` kept (a day at one every 10 s), in memory only.
public struct HealthHistory: Sendable {
    public static let capacity = 8640
    private var samples: [HealthSample] = []
    /// Index of the oldest sample once the buffer is full.
    private var start = 0

    public init() {}

    public mutating func append(_ sample: HealthSample) {
        if samples.count < Self.capacity {
            samples.append(sample)
        } else {
            samples[start] = sample
            start = (start + 1) % Self.capacity
        }
    }

    /// Every sample kept, oldest first.
    public var all: [HealthSample] {
        Array(samples[start...] + samples[..<start])
    }

    /// The samples of the last `seconds` before `now`, merged into at most `points` points:
    /// each point keeps the lowest min(K − N), the largest backlog and the highest rate of the
    /// samples it stands for, so a short dip is never smoothed away.
    public func recent(seconds: Double, points: Int, now: Date) -> [HealthSample] {
        let from = now.timeIntervalSince1970 - seconds
        let kept = all.filter { $0.t >= from }
        guard points > 0, kept.count > points else { return kept }
        let width = seconds / Double(points)
        var merged: [HealthSample] = []
        var bucket: Int?
        for sample in kept {
            let index = Int((sample.t - from) / width)
            if index == bucket, var last = merged.popLast() {
                last.t = sample.t
                last.minKn = [last.minKn, sample.minKn].compactMap { $0 }.min()
                last.backlogBytes = max(last.backlogBytes, sample.backlogBytes)
                last.bytesPerSecond = max(last.bytesPerSecond, sample.bytesPerSecond)
                last.underReplicated = max(last.underReplicated, sample.underReplicated)
                merged.append(last)
            } else {
                merged.append(sample)
                bucket = index
            }
        }
        return merged
    }
}
