// swift-tools-version:6.2
import PackageDescription

// An example, not part of the Acty package: it is built on its own (`swift build` in this folder), so the main
// package's tests never build swift-otel (several minutes).
let package = Package(
    name: "acty-otel-example",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Acty", path: "../.."),
        // OTLP over HTTP only: the gRPC exporter would add grpc-swift to the build.
        .package(url: "https://github.com/swift-otel/swift-otel", from: "1.6.0", traits: ["OTLPHTTP"]),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "acty-otel-example",
            dependencies: [
                .product(name: "Acty", package: "Acty"),
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        )
    ],
    swiftLanguageModes: [.v6]
)
