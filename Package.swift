// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
  name: "crio",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "crio", targets: ["crio"]),
    .executable(name: "crioctl", targets: ["crioctl"]),
    .executable(name: "crio-bench", targets: ["crio-bench"]),
  ],
  dependencies: [
    .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
    .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
    .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", from: "2.4.1"),
    .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
    .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
    .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
    .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    .package(url: "https://github.com/apple/swift-metrics.git", from: "2.4.1"),
    .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.1.0"),
  ],
  targets: [
    // The CRI wire contract: runtime.v1 messages and gRPC stubs (generated, committed).
    .target(
      name: "CRIAPI",
      dependencies: [
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ],
      swiftSettings: strict
    ),
    // OCI image-spec and runtime-spec value types.
    .target(name: "OCI", swiftSettings: strict),
    // Syscalls Swift's Glibc module does not expose.
    .target(name: "CCRIOSys"),
    // Streaming gzip (zlib) and zstd decompression for image layers.
    .target(
      name: "CCRIOCompression",
      linkerSettings: [.linkedLibrary("z"), .linkedLibrary("zstd")]
    ),
    // Host facts: files, processes, sockets, disk usage. No CRI knowledge.
    .target(name: "CRIOSystem", dependencies: ["CCRIOSys"], swiftSettings: strict),
    // Guards TOMLKit (toml++) against input that crashes it.
    .target(name: "CRIOTOML", swiftSettings: strict),
    // crio.conf, drop-ins, command-line overrides, rendering.
    .target(
      name: "CRIOConfig",
      dependencies: ["CRIOTOML", .product(name: "TOMLKit", package: "TOMLKit")],
      swiftSettings: strict
    ),
    // The image store on disk.
    .target(
      name: "CRIOImage",
      dependencies: [
        "OCI", "CRIOConfig", "CRIOSystem", "CRIORegistry", "CCRIOCompression",
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "CoreMetrics", package: "swift-metrics"),
      ],
      swiftSettings: strict
    ),
    // Registries: registries.conf, credentials, the Distribution API client.
    .target(
      name: "CRIORegistry",
      dependencies: [
        "OCI", "CRIOSystem", "CRIOTOML",
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "TOMLKit", package: "TOMLKit"),
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: strict
    ),
    // OCI runtimes and conmon.
    .target(
      name: "CRIORuntime",
      dependencies: [
        "OCI", "CRIOConfig", "CRIOSystem", "CRIONetwork", "CCRIOSys", .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: strict
    ),
    // CNI configuration and plugins.
    .target(
      name: "CRIONetwork",
      dependencies: ["CRIOConfig", "CRIOSystem", .product(name: "Logging", package: "swift-log")],
      swiftSettings: strict
    ),
    // zlib with a preset dictionary, for SPDY header blocks.
    .target(name: "CSPDYZlib", linkerSettings: [.linkedLibrary("z")]),
    // SPDY/3.1 framing, header compression and sessions on SwiftNIO.
    .target(
      name: "SPDY",
      dependencies: [
        "CSPDYZlib",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
      ],
      swiftSettings: strict
    ),
    // The streaming server: exec, attach and port-forward over SPDY and WebSocket.
    .target(
      name: "CRIOStreaming",
      dependencies: [
        "CRIAPI", "CRIORuntime", "CRIOSystem", "SPDY",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "NIOWebSocket", package: "swift-nio"),
        .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: strict
    ),
    // The CRI services and the daemon's gRPC server.
    .target(
      name: "CRIOServer",
      dependencies: [
        "CRIAPI", "CRIOConfig", "CRIOSystem", "CRIOImage", "CRIORegistry", "CRIORuntime", "CRIONetwork",
        "CRIOStreaming",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "CoreMetrics", package: "swift-metrics"),
        .product(name: "Prometheus", package: "swift-prometheus"),
      ],
      swiftSettings: strict
    ),
    // A small CRI client shared by crioctl and the integration tests.
    .target(
      name: "CRIClient",
      dependencies: [
        "CRIAPI", "SPDY",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "NIOWebSocket", package: "swift-nio"),
        .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
      ],
      swiftSettings: strict
    ),
    .executableTarget(
      name: "crio",
      dependencies: [
        "CRIOServer", "CRIOConfig",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
      ],
      swiftSettings: strict
    ),
    .executableTarget(
      name: "crioctl",
      dependencies: [
        "CRIClient", "CRIAPI", "CCRIOSys",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ],
      swiftSettings: strict
    ),
    // Benchmark statistics and reports (no CRI knowledge), used by crio-bench.
    .target(name: "CRIOBench", swiftSettings: strict),
    // `make bench`: drives any CRI endpoint and reports latencies and memory.
    .executableTarget(
      name: "crio-bench",
      dependencies: [
        "CRIOBench", "CRIClient", "CRIAPI", "CRIOTestSupport", "CCRIOSys", "CRIOSystem",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "GRPCCore", package: "grpc-swift-2"),
      ],
      swiftSettings: strict
    ),
    .testTarget(
      name: "CRIOTOMLTests", dependencies: ["CRIOTOML", .product(name: "TOMLKit", package: "TOMLKit")],
      swiftSettings: strict),
    .testTarget(name: "CRIOBenchTests", dependencies: ["CRIOBench"], swiftSettings: strict),
    .testTarget(name: "CRIOConfigTests", dependencies: ["CRIOConfig", "CRIOFuzz"], swiftSettings: strict),
    .testTarget(name: "CRIOSystemTests", dependencies: ["CRIOSystem"], swiftSettings: strict),
    .testTarget(name: "CRIONetworkTests", dependencies: ["CRIONetwork", "CRIOConfig", "CRIOFuzz"], swiftSettings: strict),
    .testTarget(name: "CRIORuntimeTests", dependencies: ["CRIORuntime", "CRIOConfig"], swiftSettings: strict),
    .testTarget(name: "OCITests", dependencies: ["OCI", "CRIOFuzz"], swiftSettings: strict),
    .testTarget(name: "CRIClientTests", dependencies: ["CRIClient"], swiftSettings: strict),
    .testTarget(
      name: "SPDYTests",
      dependencies: [
        "SPDY", "CRIOFuzz",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOEmbedded", package: "swift-nio"),
      ],
      swiftSettings: strict),
    .testTarget(
      name: "CRIOStreamingTests",
      dependencies: ["CRIOStreaming", "CRIAPI", .product(name: "NIOWebSocket", package: "swift-nio")],
      swiftSettings: strict),
    .testTarget(
      name: "CRIOServerTests",
      dependencies: [
        "CRIOServer", "CRIORuntime", "CRIOConfig", "CRIAPI",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOEmbedded", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
      ],
      swiftSettings: strict),
    .testTarget(name: "CRIORegistryTests", dependencies: ["CRIORegistry", "OCI", "CRIOFuzz"], swiftSettings: strict),
    .testTarget(
      name: "CRIOImageTests", dependencies: ["CRIOImage", "CRIOSystem", "CRIOTestSupport", "CRIOFuzz"], swiftSettings: strict),
    // The deterministic fuzzing engine of the fuzz tests (`make fuzz`): seeds, mutators, budgets.
    .target(name: "CRIOFuzz", path: "Tests/CRIOFuzz", swiftSettings: strict),
    .testTarget(name: "CRIOFuzzTests", dependencies: ["CRIOFuzz"], swiftSettings: strict),
    // Test helpers: a tar writer, a real local registry, reproducible test images.
    .target(
      name: "CRIOTestSupport",
      dependencies: [
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        .product(name: "Crypto", package: "swift-crypto"),
      ],
      path: "Tests/CRIOTestSupport",
      swiftSettings: strict
    ),
    .testTarget(
      name: "IntegrationTests",
      dependencies: [
        "CRIClient", "CRIAPI", "CRIOTestSupport", "CCRIOSys", "CRIOSystem", .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
      ],
      swiftSettings: strict
    ),
  ]
)
