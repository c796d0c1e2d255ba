// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "fsdfs",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "fsdfsd", targets: ["fsdfsd"]),
        .library(name: "ReplicaCore", targets: ["ReplicaCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // libmongoc / libbson from the system (Debian: libmongoc-dev, libbson-dev).
        // Only ReplicaCore's Catalog/Mongo folder imports it.
        .systemLibrary(
            name: "CMongo",
            pkgConfig: "libmongoc-1.0",
            providers: [.apt(["libmongoc-dev", "libbson-dev"])]
        ),
        .systemLibrary(
            name: "CFuse",
            pkgConfig: "fuse3",
            providers: [.apt(["libfuse3-dev"])]
        ),
        .target(
            name: "ReplicaCore",
            dependencies: [
                "CMongo",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // What every role (slave, master, command line) uses to talk to nodes: the signed
        // client, the signed HTTP server's middleware and error replies, and the async
        // primitives (Wakeup, AsyncLock) of the long-lived loops. Also what every role uses
        // to be watched: the Prometheus export and its `/metrics` server, and the timing of
        // HTTP requests. The roles record with swift-metrics only.
        .target(
            name: "Transport",
            dependencies: [
                "ReplicaCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // The storage node: blob store, scanner, the node's routes and its reporter.
        .target(
            name: "Slave",
            dependencies: [
                "ReplicaCore", "Transport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "_NIOFileSystem", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // The master role: catalog owner, scheduler, liveness, client API. A master process
        // is also a storage node, but `serve` wires the two roles together: Master does not
        // depend on Slave.
        .target(
            name: "Master",
            dependencies: [
                "ReplicaCore", "Transport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // The web dashboard a master serves at /ui/: login, session cookies, its JSON API, and
        // the pages (hand-written HTML, CSS and JavaScript compiled into the binary).
        .target(
            name: "S3Gateway",
            dependencies: [
                "ReplicaCore", "Transport", "Master",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "_NIOFileSystem", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "Dashboard",
            dependencies: [
                "ReplicaCore", "Transport", "Master",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [
                .embedInCode("Resources/index.html"),
                .embedInCode("Resources/login.html"),
                .embedInCode("Resources/app.js"),
                .embedInCode("Resources/app.css"),
                .embedInCode("Resources/favicon.svg"),
            ]
        ),
        .executableTarget(
            name: "fsdfsd",
            dependencies: [
                "ReplicaCore", "Master", "Slave", "Transport", "Dashboard", "S3Gateway", "CFuse",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "_NIOFileSystem", package: "swift-nio"),
            ]
        ),
        // `scripts/bench.sh`: the issue #11 figures, measured on real `fsdfsd` processes (a
        // release build) beside nginx, curl and openssl in the same run.
        .executableTarget(
            name: "fsdfs-bench",
            dependencies: [
                "ReplicaCore", "TestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Benchmarks/FsdfsBench"
        ),
        .executableTarget(
            name: "fsdfs-fuzz",
            dependencies: ["ReplicaCore"],
            path: "Fuzz/FsdfsFuzz"
        ),
        .executableTarget(
            name: "PlannerBenchmark",
            dependencies: ["ReplicaCore", "TestSupport"],
            path: "Benchmarks/PlannerBenchmark"
        ),
        // What the tests and the benchmark share: the MongoDB server they run against.
        .target(
            name: "TestSupport",
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "ReplicaCoreTests",
            dependencies: [
                "ReplicaCore", "TestSupport",
                // To write catalogs of earlier schema versions and open them with this build.
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        // Real fsdfsd processes on loopback ports with temporary data directories.
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "fsdfsd", "ReplicaCore", "Slave", "Transport", "TestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // What every role shares: the metrics export and the request timing, in process.
        .testTarget(
            name: "TransportTests",
            dependencies: [
                "Transport", "ReplicaCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // The master's in-memory parts, without processes.
        .testTarget(
            name: "MasterTests",
            dependencies: ["Master", "ReplicaCore"]
        ),
        .testTarget(
            name: "DashboardTests",
            dependencies: ["Dashboard", "ReplicaCore"]
        ),
        .testTarget(
            name: "SlaveTests",
            dependencies: [
                "Slave", "ReplicaCore", "Transport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
    ]
)
