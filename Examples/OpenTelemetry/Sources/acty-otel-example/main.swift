import Acty
import Foundation
import Logging
import OTel
import ServiceLifecycle
import Tracing

// Exports Acty's traces and metrics over OTLP/HTTP (to http://localhost:4318 unless OTEL_EXPORTER_OTLP_ENDPOINT says
// otherwise). OTel.bootstrap sets the global metrics factory, tracer and logging backend; the engine uses them
// because its configuration leaves `metricsFactory` and `tracer` nil.
var configuration = OTel.Configuration.default
configuration.serviceName = "acty-otel-example"
configuration.traces.otlpExporter.protocol = .httpProtobuf
configuration.metrics.otlpExporter.protocol = .httpProtobuf
configuration.logs.otlpExporter.protocol = .httpProtobuf
configuration.metrics.exportInterval = .seconds(5)
let observability = try OTel.bootstrap(configuration: configuration)

/// Submits a group inside a span, waits for its jobs, and shuts the engine down; the attempts' spans are children
/// of the span that submitted the group.
struct Work: Service {
    func run() async throws {
        let logger = Logger(label: "acty-otel-example")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("acty-otel-example.db").path
        let engine = try await ActyEngine(
            database: .file(path),
            configuration: EngineConfiguration(lanes: ["reviews": LaneConfiguration(weight: 2)], logger: logger),
            executors: [SimulatedExecutor(minDelay: .milliseconds(50), maxDelay: .milliseconds(200), seed: 7)]
        )
        try await withSpan("submit release review") { _ in
            let submission = try await engine.submitGroup(
                "release-\(UUID().uuidString.prefix(8))", primer: ["agent": "coordinator"],
                followers: [["agent": "specialist:ops"], ["agent": "specialist:perf"], ["agent": "specialist:security"]],
                lane: "reviews"
            )
            for job in submission.jobs {
                let result = try await job.result()
                logger.info("job finished", metadata: ["acty.job": "\(result.jobID)", "status": "\(result.status)"])
            }
        }
        try await engine.shutdown()
        // Leave the exporters one export interval to send what the run recorded.
        try await Task.sleep(for: .seconds(6))
    }
}

let group = ServiceGroup(
    configuration: ServiceGroupConfiguration(
        services: [
            .init(service: observability),
            .init(service: Work(), successTerminationBehavior: .gracefullyShutdownGroup),
        ],
        logger: Logger(label: "service-group")
    )
)
try await group.run()
