import Acty
import ActyStore
import ArgumentParser
import Foundation

/// Throughput of a large queue: a full run of G groups × (1 + F), and the rate at several queue depths.
struct Scale: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Throughput and peak RSS with a large queue, and throughput at several queue depths.",
        discussion: """
            For each checkpoint N, queues N jobs in a fresh database (groups of one primer and F followers, through \
            the store, 8 submitting tasks), starts an engine with a no-op executor and measures jobs/s over the first \
            min(N, --window) executions. The full run queues every group and drains it. \
            Example: acty-bench scale --groups 100000 --followers 9 --checkpoints 10000,100000,1000000
            """
    )

    @Option(help: "Number of groups of the full run.") var groups = 100_000
    @Option(help: "Followers per group.") var followers = 9
    @Option(help: "Queue depths (jobs) to measure, comma-separated.") var checkpoints = "10000,100000,1000000"
    @Option(help: "Executions measured at each checkpoint (at most N).") var window = 50_000
    @Option(help: "Primer pool size.") var primerWorkers = 8
    @Option(help: "Follower pool size.") var followerWorkers = 32
    @Option(help: "Durability: process or power.") var durability = "process"

    func validate() throws {
        guard groups >= 1 else { throw ValidationError("--groups must be at least 1.") }
        guard followers >= 0 else { throw ValidationError("--followers must be 0 or more.") }
        guard window >= 2 else { throw ValidationError("--window must be at least 2.") }
        guard primerWorkers >= 1, followerWorkers >= 1 else {
            throw ValidationError("--primer-workers and --follower-workers must be at least 1.")
        }
        _ = try parseDurability(durability)
        _ = try checkpointSizes()
    }

    func checkpointSizes() throws -> [Int] {
        let parts = checkpoints.split(separator: ",", omittingEmptySubsequences: false)
        let sizes = parts.compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, sizes.count == parts.count, sizes.allSatisfy({ $0 >= 1 + followers }) else {
            throw ValidationError(
                "--checkpoints must be comma-separated job counts, each at least one group (\(1 + followers) jobs), such as 10000,100000."
            )
        }
        return sizes
    }

    struct Measurement {
        var queueSeconds: Double
        var windowJobsPerSecond: Double
        var drainSeconds: Double?
        var jobs: Int
    }

    func run() async throws {
        let durability = try parseDurability(durability)
        let sizes = try checkpointSizes()
        let perGroup = 1 + followers
        let total = groups * perGroup
        let full = try await measure(groupCount: groups, durability: durability, drain: true)
        var rates: [String: JSONValue] = [:]
        for size in sizes {
            let groupCount = size / perGroup
            let measured = groupCount == groups ? full : try await measure(groupCount: groupCount, durability: durability, drain: false)
            rates[String(size)] = .number(measured.windowJobsPerSecond)
        }
        let drain = full.drainSeconds ?? .nan
        let result: JSONValue = [
            "workload": "scale",
            "groups": .number(Double(groups)),
            "followers": .number(Double(followers)),
            "jobs": .number(Double(total)),
            "checkpoints": .array(sizes.map { .number(Double($0)) }),
            "window": .number(Double(window)),
            "primer_workers": .number(Double(primerWorkers)),
            "follower_workers": .number(Double(followerWorkers)),
            "durability": .string(durability.rawValue),
            "sqlite": sqliteSettings(durability),
            "queue_seconds": .number(full.queueSeconds),
            "drain_seconds": .number(drain),
            "jobs_per_second": .number(Double(total) / drain),
            "jobs_per_second_at": .object(rates),
            "peak_rss_mb": .number(Double(peakRSSBytes()) / 1_048_576),
        ]
        print(result.jsonString)
    }

    /// Queues `groupCount` groups in a fresh database, then runs an engine over them.
    func measure(groupCount: Int, durability: Durability, drain: Bool) async throws -> Measurement {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("acty-scale-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("scale.db").path
        let clock = ContinuousClock()

        let queueStart = clock.now
        let store = try Store(.file(path), durability: durability)
        let followers = followers
        try await withThrowingTaskGroup(of: Void.self) { group in
            for submitter in 0..<8 {
                group.addTask {
                    for index in stride(from: submitter, to: groupCount, by: 8) {
                        let members = (0..<followers).map { NewJob(executor: "noop", payload: #"{"n":\#($0)}"#) }
                        _ = try await store.submitGroup(
                            NewGroup(key: "g\(index)", lane: "default", primer: NewJob(executor: "noop", payload: #"{"i":\#(index)}"#),
                                     followers: members, isClosed: true),
                            worker: nil
                        )
                    }
                }
            }
            try await group.waitForAll()
        }
        try await store.close()
        let queueSeconds = (clock.now - queueStart).seconds

        let jobs = groupCount * (1 + followers)
        let target = min(jobs, window)
        // Execution count, the first execution's time and the target-th execution's time.
        let progress = Locked<(count: Int, first: ContinuousClock.Instant?, reached: ContinuousClock.Instant?, all: Bool)>((0, nil, nil, false))
        let executor = ClosureExecutor(name: "noop") { _ in
            let now = clock.now
            progress.withLock { state in
                state.count += 1
                if state.count == 1 { state.first = now }
                if state.count == target { state.reached = now }
                if state.count == jobs { state.all = true }
            }
            return .null
        }
        let start = clock.now
        let engine = try await ActyEngine(
            database: .file(path),
            configuration: EngineConfiguration(primerWorkers: primerWorkers, followerWorkers: followerWorkers, durability: durability),
            executors: [executor]
        )
        while !progress.withLock({ drain ? $0.all : $0.reached != nil }) {
            try await Task.sleep(for: .milliseconds(5))
        }
        try await engine.shutdown()
        let drained = clock.now - start
        let state = progress.withLock { $0 }
        let span = (state.reached! - state.first!).seconds
        return Measurement(
            queueSeconds: queueSeconds, windowJobsPerSecond: span > 0 ? Double(target - 1) / span : .nan,
            drainSeconds: drain ? drained.seconds : nil, jobs: jobs
        )
    }
}
