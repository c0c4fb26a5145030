import Acty

import ArgumentParser
import Foundation
import InMemoryTracing
import Prometheus
import Tracing

/// G groups of one primer and F followers, no-op executor, file database, full event log.
struct Fanout: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Throughput of groups of one primer and F followers with a no-op executor.",
        discussion: "Example: acty-bench fanout --groups 2000 --followers 9 --primer-workers 8 --follower-workers 32"
    )

    @Option(help: "Number of groups.") var groups = 2000
    @Option(help: "Followers per group.") var followers = 9
    @Option(help: "Primer pool size.") var primerWorkers = 8
    @Option(help: "Follower pool size.") var followerWorkers = 32
    @Option(help: "Durability: process or power.") var durability = "process"
    @Option(help: "Concurrent submitting tasks.") var submitters = 16
    @Option(help: "Groups per submitGroups call; 1 submits each group with submitGroup.") var bulk = 1
    @Option(help: "Database file (default: a new file in a temporary folder).") var database: String?
    @Option(help: "Share of attempts that fail (0 to 1); failed attempts are retried at once.") var failureRate = 0.0
    @Option(help: "Attempts a job may have when --failure-rate is above 0.") var maxAttempts = 10
    @Option(help: "EngineConfiguration.maxActiveGroups (default: no cap).") var maxActiveGroups: Int?
    @Option(help: "Observability backends: none, metrics (swift-prometheus), traces (a tracer; groups submitted in a span) or both.")
    var observe: Observe = .none
    @Option(help: "The tracer of --observe traces|both: minimal (keeps no span: the engine's own cost) or in-memory (keeps every span).")
    var tracer: TracerChoice = .minimal

    func run() async throws {
        guard let durability = Durability(rawValue: durability) else {
            throw ValidationError("--durability must be 'process' or 'power'")
        }
        guard bulk >= 1 else { throw ValidationError("--bulk must be at least 1") }
        guard (0..<1).contains(failureRate), maxAttempts >= 1 else {
            throw ValidationError("--failure-rate must be at least 0 and below 1, and --max-attempts at least 1")
        }
        let measured = try await Self.measure(
            groups: groups, followers: followers, primerWorkers: primerWorkers, followerWorkers: followerWorkers,
            durability: durability, submitters: submitters, database: database, failureRate: failureRate, maxAttempts: maxAttempts,
            bulk: bulk, maxActiveGroups: maxActiveGroups, observe: observe, tracer: tracer
        )
        let seconds = measured.elapsed.seconds
        let result: JSONValue = [
            "workload": "fanout",
            "groups": .number(Double(groups)),
            "followers": .number(Double(followers)),
            "jobs": .number(Double(measured.jobs)),
            "succeeded": .number(Double(measured.succeeded)),
            "primer_workers": .number(Double(primerWorkers)),
            "follower_workers": .number(Double(followerWorkers)),
            "durability": .string(durability.rawValue),
            "sqlite": sqliteSettings(durability),
            "failure_rate": .number(failureRate),
            "bulk": .number(Double(bulk)),
            "max_active_groups": maxActiveGroups.map { .number(Double($0)) } ?? .null,
            "observe": .string(observe.rawValue),
            "tracer": observe.traces ? .string(tracer.rawValue) : .null,
            "spans": .number(Double(measured.spans)),
            "metrics_bytes": .number(Double(measured.metricsBytes)),
            "seconds": .number(seconds),
            "submit_seconds": .number(measured.submitted.seconds),
            "jobs_per_second": .number(measured.jobsPerSecond),
            "peak_rss_mb": .number(Double(peakRSSBytes()) / 1_048_576),
        ]
        print(result.jsonString)
    }
}

extension Fanout {
    /// One fan-out run: jobs submitted and succeeded, time to the last result, and time to submit.
    struct Measurement {
        var jobs: Int
        var succeeded: Int
        var elapsed: Duration
        var submitted: Duration
        /// Attempt spans the tracer recorded (`--observe traces|both`).
        var spans = 0
        /// The size of one Prometheus scrape rendered after the run (`--observe metrics|both`).
        var metricsBytes = 0

        var jobsPerSecond: Double { Double(jobs) / elapsed.seconds }
    }

    /// Runs G groups × (1 + F) no-op jobs through a new engine on a new file and waits for every result.
    static func measure(
        groups: Int, followers: Int, primerWorkers: Int, followerWorkers: Int, durability: Durability, submitters: Int = 16,
        database: String? = nil, failureRate: Double = 0, maxAttempts: Int = 10, bulk: Int = 1, maxActiveGroups: Int? = nil,
        observe: Observe = .none, tracer choice: TracerChoice = .minimal
    ) async throws -> Measurement {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("acty-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = database ?? folder.appendingPathComponent("bench.db").path

        var configuration = EngineConfiguration(
            primerWorkers: primerWorkers, followerWorkers: followerWorkers, maxActiveGroups: maxActiveGroups, durability: durability,
            retryPolicy: failureRate > 0 ? RetryPolicy(maxAttempts: maxAttempts, initialDelay: .zero, jitter: .none) : .none
        )
        let registry = PrometheusCollectorRegistry()
        let inMemory = InMemoryTracer(recordInjections: false, recordExtractions: false)
        let minimal = MinimalTracer()
        let tracer: any Tracer = choice == .inMemory ? inMemory : minimal
        if observe.metrics { configuration.metricsFactory = PrometheusMetricsFactory(registry: registry) }
        if observe.traces { configuration.tracer = tracer }
        let engine = try await ActyEngine(
            database: .file(path),
            configuration: configuration,
            executors: [failureRate > 0 ? FlakyExecutor(failureRate: failureRate) : NoopExecutor()]
        )
        let followerPayloads: [JSONValue] = (0..<followers).map { ["agent": .string("specialist:\($0)")] }
        let clock = ContinuousClock()
        let start = clock.now
        let handles = try await withThrowingTaskGroup(of: [JobHandle].self) { group in
            for submitter in 0..<submitters {
                group.addTask {
                    // With traces, each submitter works in a span of its own: every group stores its context.
                    let span = observe.traces ? tracer.startSpan("submitter-\(submitter)") : nil
                    defer { span?.end() }
                    return try await ServiceContext.withValue(span?.context ?? .topLevel) {
                        var handles: [JobHandle] = []
                        let mine = Array(stride(from: submitter, to: groups, by: submitters))
                        if bulk > 1 {
                            for start in stride(from: 0, to: mine.count, by: bulk) {
                                let specs = mine[start..<min(start + bulk, mine.count)].map { index in
                                    GroupSpec(
                                        "group-\(index)", primer: ["agent": "coordinator", "index": .number(Double(index))],
                                        followers: followerPayloads
                                    )
                                }
                                handles += try await engine.submitGroups(specs).flatMap(\.jobs)
                            }
                            return handles
                        }
                        for index in mine {
                            let submission = try await engine.submitGroup(
                                "group-\(index)", primer: ["agent": "coordinator", "index": .number(Double(index))], followers: followerPayloads
                            )
                            handles += submission.jobs
                        }
                        return handles
                    }
                }
            }
            var all: [JobHandle] = []
            for try await part in group { all += part }
            return all
        }
        let submitted = clock.now - start
        var succeeded = 0
        for handle in handles where try await handle.result().status == .succeeded { succeeded += 1 }
        let elapsed = clock.now - start
        try await engine.shutdown()
        return Measurement(
            jobs: handles.count, succeeded: succeeded, elapsed: elapsed, submitted: submitted,
            spans: choice == .inMemory ? inMemory.finishedSpans.count { $0.operationName == "acty.job" } : minimal.ended.count - (observe.traces ? submitters : 0), metricsBytes: observe.metrics ? registry.emitToBuffer().count : 0
        )
    }
}

/// The process's peak resident set size, in bytes.
func peakRSSBytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss * 1024
}

/// Does nothing, and fails a given share of attempts, chosen by a hash of job id and attempt (repeatable).
struct FlakyExecutor: Executor {
    let name = "flaky"
    let failureRate: Double

    func execute(_ job: Job) async throws -> JSONValue {
        var hash = UInt64(bitPattern: job.id.rawValue) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(job.attempt) &* 0xBF58_476D_1CE4_E5B9
        hash ^= hash >> 31
        if Double(hash % 1_000_000) / 1_000_000 < failureRate { throw FlakyFailure() }
        return .null
    }

    struct FlakyFailure: Error {}
}

/// Which observability backends a benchmark run bootstraps for its engine.
enum Observe: String, ExpressibleByArgument, CaseIterable, Sendable {
    case none, metrics, traces, both

    var metrics: Bool { self == .metrics || self == .both }
    var traces: Bool { self == .traces || self == .both }
}

/// The tracer a benchmark run with traces gives its engine.
enum TracerChoice: String, ExpressibleByArgument, CaseIterable, Sendable {
    case minimal
    case inMemory = "in-memory"
}
