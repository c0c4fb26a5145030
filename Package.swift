// swift-tools-version:6.1
import PackageDescription

let upcomingFeatures: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Acty",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Acty", targets: ["Acty"]),
        .library(name: "ActyProcess", targets: ["ActyProcess"]),
        .executable(name: "acty-demo", targets: ["acty-demo"]),
        .executable(name: "acty-bench", targets: ["acty-bench"]),
        .executable(name: "acty-query", targets: ["acty-query"]),
        .executable(name: "acty-tui", targets: ["acty-tui"]),
        // LLM provider executors: their own products, so the core library keeps its small dependency set.
        .library(name: "ActyOpenAI", targets: ["ActyOpenAI"]),
        .library(name: "ActyGigaChat", targets: ["ActyGigaChat"]),
        // PostgreSQL storage: its own product, so the core library does not depend on postgres-nio.
        .library(name: "ActyPostgres", targets: ["ActyPostgres"]),
        .executable(name: "acty-llm-test-server", targets: ["acty-llm-test-server"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // HTTP, kept out of the core targets: the LLM executors (ActyOpenAI, ActyGigaChat, ActyLLMTestServer), the
        // tools using them, and `acty-query serve-metrics` (a small HTTP/1 server on swift-nio).
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        // API-only: the user bootstraps a backend (Prometheus, OpenTelemetry); the engine depends on no backend.
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
        // acty-bench only: a real metrics backend, to measure what the engine's metrics cost.
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // PostgreSQL storage only (ActyPostgres and its tests).
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // Value types and pure scheduling logic: no I/O, no database.
        .target(name: "ActyCore", swiftSettings: upcomingFeatures),
        // Tiny C helpers the standard library does not expose (glibc's mallopt).
        .target(name: "CActyShims", linkerSettings: [.linkedLibrary("sqlite3")]),
        // SQLite persistence: every SQL statement of the project lives here.
        .target(
            name: "ActyStore",
            dependencies: [
                "ActyCore", "CActyShims", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ],
            swiftSettings: upcomingFeatures,
            plugins: ["EmbedMigrations"]
        ),
        // PostgreSQL persistence: the PostgreSQL side of the storage seam (connection, schema, migrations).
        .target(
            name: "ActyPostgres",
            dependencies: [
                "ActyCore", "ActyStore", .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcomingFeatures,
            plugins: ["EmbedMigrations"]
        ),
        // The engine users embed.
        .target(
            name: "Acty",
            dependencies: [
                "ActyCore", "ActyStore", .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"), .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: upcomingFeatures
        ),
        // Runs jobs in pools of worker processes speaking JSON lines (the Python bridge, LangChain).
        .target(name: "CActyProcess"),
        .target(name: "ActyProcess", dependencies: ["Acty", "ActyCore", "CActyProcess"], swiftSettings: upcomingFeatures),
        // Examples/LangChainBridge: LangChain runnables in Python workers through the engine.
        .executableTarget(
            name: "langchain-bridge-example",
            dependencies: ["Acty", "ActyProcess", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Examples/LangChainBridge",
            exclude: ["README.md", "runnable_worker.py"],
            swiftSettings: upcomingFeatures
        ),
        .executableTarget(
            name: "acty-demo",
            dependencies: ["Acty", "ActyStore", "ActyOpenAI", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: upcomingFeatures
        ),
        .executableTarget(
            name: "acty-bench",
            dependencies: [
                "Acty", "ActyStore", "ActyOpenAI", "ActyProcess", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Tracing", package: "swift-distributed-tracing"), .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: upcomingFeatures
        ),
        // OpenAI-compatible chat completions (OpenAI, vLLM, llama.cpp server, Ollama, gateways) over AsyncHTTPClient.
        .target(
            name: "ActyOpenAI",
            dependencies: [
                "Acty", "ActyCore", .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: upcomingFeatures
        ),
        // GigaChat: OAuth token, session header and its own CA, on ActyOpenAI's chat-completions code.
        .target(
            name: "ActyGigaChat",
            dependencies: [
                "Acty", "ActyCore", "ActyOpenAI", .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: upcomingFeatures
        ),
        // Test helper, not a product: an OpenAI-compatible and GigaChat-like HTTP server on NIO, with scripted failures.
        .target(
            name: "ActyLLMTestServer",
            dependencies: [
                "ActyCore", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: upcomingFeatures
        ),
        .executableTarget(
            name: "acty-llm-test-server",
            dependencies: ["ActyLLMTestServer", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: upcomingFeatures
        ),
        // The acty-query tool's commands, as a library so tests can link it; the executable is a thin main.
        .target(
            name: "ActyQueryCLI",
            dependencies: [
                "ActyCore", "ActyStore", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: upcomingFeatures
        ),
        .executableTarget(name: "acty-query", dependencies: ["ActyQueryCLI", .product(name: "ArgumentParser", package: "swift-argument-parser")], swiftSettings: upcomingFeatures),
        // The acty-tui dashboard: state, view and terminal layers as a library so tests link it; the executable is a thin main.
        .target(
            name: "ActyTUI",
            dependencies: ["ActyCore", "ActyStore", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: upcomingFeatures
        ),
        .executableTarget(name: "acty-tui", dependencies: ["ActyTUI", .product(name: "ArgumentParser", package: "swift-argument-parser")], swiftSettings: upcomingFeatures),
        // Test helper, not a product: the crash and multi-process tests run it as real child processes.
        .executableTarget(
            name: "acty-test-worker",
            dependencies: ["Acty", "ActyStore", .product(name: "ArgumentParser", package: "swift-argument-parser"), .product(name: "Logging", package: "swift-log")],
            swiftSettings: upcomingFeatures
        ),
        // Build-time tool: turns migrations/*.sql (ActyStore) and migrations/postgres/*.sql (ActyPostgres) into Swift
        // string constants.
        .executableTarget(name: "embed-migrations", swiftSettings: upcomingFeatures),
        // Finds the executables tests run as child processes.
        .target(name: "ActyTestSupport", dependencies: ["ActyCore"], swiftSettings: upcomingFeatures),
        .plugin(name: "EmbedMigrations", capability: .buildTool(), dependencies: ["embed-migrations"]),
        .testTarget(name: "ActyCoreTests", dependencies: ["ActyCore", "ActyTestSupport"], swiftSettings: upcomingFeatures),
        .testTarget(
            name: "ActyStoreTests",
            dependencies: ["ActyStore", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: upcomingFeatures
        ),
        .testTarget(
            name: "ActyTests",
            dependencies: [
                "Acty", "ActyStore", "ActyTestSupport", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"), .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"), .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: upcomingFeatures
        ),
        .testTarget(
            name: "ActyPostgresTests",
            dependencies: ["ActyPostgres", "ActyStore", "ActyCore", "ActyTestSupport", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: upcomingFeatures
        ),
        .testTarget(
            name: "ActyProcessTests",
            dependencies: ["ActyProcess", "Acty", "ActyStore", "ActyTestSupport", .product(name: "GRDB", package: "GRDB.swift")],
            exclude: ["Fixtures"],
            swiftSettings: upcomingFeatures
        ),
        // Runs the built acty-bench binary with tiny parameters; no dependency on its module.
        .testTarget(name: "ActyBenchTests", dependencies: ["ActyTestSupport"], swiftSettings: upcomingFeatures),
        .testTarget(
            name: "ActyLLMTests",
            dependencies: [
                "Acty", "ActyStore", "ActyOpenAI", "ActyGigaChat", "ActyLLMTestServer", "ActyTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"), .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: upcomingFeatures
        ),
        .testTarget(
            name: "ActyQueryCLITests",
            dependencies: ["Acty", "ActyStore", "ActyTestSupport", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: upcomingFeatures
        ),
        .testTarget(
            name: "ActyTUITests",
            dependencies: ["ActyTUI", "Acty", "ActyStore", "ActyTestSupport", .product(name: "GRDB", package: "GRDB.swift")],
            exclude: ["Snapshots", "Fixtures"],
            swiftSettings: upcomingFeatures
        ),
    ],
    swiftLanguageModes: [.v6]
)
