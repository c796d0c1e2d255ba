import Foundation
import ServiceLifecycle

/// Samples the store's health for the dashboard's chart: min(K − N), the replication backlog
/// and rate, every `interval` while the master runs.
public struct HealthSampler: Service {
    let dashboard: Dashboard
    let interval: Duration

    public init(dashboard: Dashboard, interval: Duration = .seconds(10)) {
        self.dashboard = dashboard
        self.interval = interval
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await dashboard.takeSample()
                try? await Task.sleep(for: interval)
            }
        }
    }
}
