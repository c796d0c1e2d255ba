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
    ],
    targets: [
        // libmongoc / libbson from the system (Debian: libmongoc-dev, libbson-dev).
        // Only ReplicaCore's Catalog/Mongo folder imports it.
        .systemLibrary(
            name: "CMongo",
            pkgConfig: "libmongoc-1.0",
            providers: [.apt(["libmongoc-dev", "libbson-dev"])]
        ),
        .target(
            name: "ReplicaCore",
            dependencies: [
                "CMongo",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "Master",
            dependencies: ["ReplicaCore", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "Slave",
            dependencies: ["ReplicaCore", .product(name: "Logging", package: "swift-log")]
        ),
        .executableTarget(
            name: "fsdfsd",
            dependencies: [
                "ReplicaCore", "Master", "Slave",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "PlannerBenchmark",
            dependencies: ["ReplicaCore"],
            path: "Benchmarks/PlannerBenchmark"
        ),
        .testTarget(
            name: "ReplicaCoreTests",
            dependencies: ["ReplicaCore"]
        ),
    ]
)
