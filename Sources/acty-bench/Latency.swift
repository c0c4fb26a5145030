import Acty
import ArgumentParser
import Foundation

/// Open-loop arrivals of single-job groups at a fixed rate; enqueue→start latency percentiles.
struct Latency: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Enqueue→start latency of single-job groups arriving at a fixed rate (open loop).",
        discussion: """
            A submitter follows a fixed schedule (one job every 1/rate s, sent in bursts once a millisecond so it \
            keeps up), whatever the engine does; each job's start is recorded by its executor. Latency is measured \
            from when submitGroup returned (enqueue) and from when it was called. Without --rate, a fan-out run \
            (2,000 × (1 + 9), same workers and durability) is measured first and the rate is half its jobs/s. \
            Example: acty-bench latency --rate 2000 --seconds 10 --primer-workers 8 --follower-workers 32
            """
    )

    @Option(help: "Arrivals per second (default: half the jobs/s of a fan-out run measured first).") var rate: Int?
    @Option(help: "Length of the arrival schedule, in seconds.") var seconds = 10.0
    @Option(help: "Primer pool size (every job is a primer).") var primerWorkers = 8
    @Option(help: "Follower pool size.") var followerWorkers = 32
    @Option(help: "Durability: process or power.") var durability = "process"

    func validate() throws {
        if let rate, rate < 1 { throw ValidationError("--rate must be at least 1 job per second.") }
        guard seconds > 0, seconds.isFinite else { throw ValidationError("--seconds must be a number greater than 0.") }
        guard primerWorkers >= 1, followerWorkers >= 0 else {
            throw ValidationError("--primer-workers must be at least 1 and --follower-workers 0 or more.")
        }
        _ = try parseDurability(durability)
    }

    func run() async throws {
        let durability = try parseDurability(durability)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("acty-latency-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("latency.db").path

        var calibration: Fanout.Measurement?
        if rate == nil {
            calibration = try await Fanout.measure(
                groups: 2000, followers: 9, primerWorkers: primerWorkers, followerWorkers: followerWorkers, durability: durability
            )
        }
        let rate = rate ?? max(1, Int(calibration!.jobsPerSecond / 2))
        let total = max(1, Int((Double(rate) * seconds).rounded()))
        let clock = ContinuousClock()
        let origin = clock.now
        let times = Times(count: total)
        let executor = ClosureExecutor(name: "noop") { job in
            let now = (clock.now - origin).seconds
            if let index = Int(job.groupKey.dropFirst()), index < total {
                times.started.withLock { $0[index] = now }
            }
            times.startedCount.withLock { $0 += 1 }
            return .null
        }
        let engine = try await ActyEngine(
            database: .file(path),
            configuration: EngineConfiguration(primerWorkers: primerWorkers, followerWorkers: followerWorkers, durability: durability),
            executors: [executor]
        )

        // The schedule: job i is due at scheduleStart + i / rate; each tick sends every job due by then, concurrently.
        // A discarding group frees each submission's task when it ends, so the harness holds no per-job task and the
        // run's RSS is the engine's.
        let scheduleStart = clock.now
        var sent = 0
        var maxLagMs = 0.0
        try await withThrowingDiscardingTaskGroup { group in
            while sent < total {
                let elapsed = (clock.now - scheduleStart).seconds
                let due = min(total, Int(elapsed * Double(rate)) + 1)
                if sent < due {
                    maxLagMs = max(maxLagMs, (elapsed - Double(sent) / Double(rate)) * 1000)
                }
                while sent < due {
                    let index = sent
                    group.addTask {
                        times.called.withLock { $0[index] = (clock.now - origin).seconds }
                        try await engine.submitGroup("j\(index)", primer: ["i": .number(Double(index))])
                        times.returned.withLock { $0[index] = (clock.now - origin).seconds }
                    }
                    sent += 1
                }
                try await Task.sleep(for: .milliseconds(1))
            }
        }
        let scheduleSeconds = (clock.now - scheduleStart).seconds
        let deadline = clock.now + .seconds(max(60, seconds * 10))
        while times.startedCount.withLock({ $0 }) < total {
            guard clock.now < deadline else { throw NotStarted(started: times.startedCount.withLock { $0 }, total: total) }
            try await Task.sleep(for: .milliseconds(5))
        }
        try await engine.shutdown()

        let starts = times.started.withLock { $0 }
        let fromReturn = zip(starts, times.returned.withLock { $0 }).map { max(0, $0 - $1) * 1000 }.sorted()
        let fromCall = zip(starts, times.called.withLock { $0 }).map { max(0, $0 - $1) * 1000 }.sorted()
        let result: JSONValue = [
            "workload": "latency",
            "rate": .number(Double(rate)),
            "rate_source": .string(calibration.map { "half of a measured fan-out run (\(Int($0.jobsPerSecond)) jobs/s)" } ?? "--rate"),
            "seconds": .number(seconds),
            "jobs": .number(Double(total)),
            "achieved_rate": .number(Double(total) / scheduleSeconds),
            "max_schedule_lag_ms": .number(maxLagMs),
            "primer_workers": .number(Double(primerWorkers)),
            "follower_workers": .number(Double(followerWorkers)),
            "durability": .string(durability.rawValue),
            "sqlite": sqliteSettings(durability),
            "enqueue_to_start_ms": percentiles(fromReturn),
            "call_to_start_ms": percentiles(fromCall),
            "peak_rss_mb": .number(Double(peakRSSBytes()) / 1_048_576),
        ]
        print(result.jsonString)
    }
}

/// Seconds since the run's origin, per job: submitGroup called, submitGroup returned, executor started.
final class Times: Sendable {
    let called: Locked<[Double]>
    let returned: Locked<[Double]>
    let started: Locked<[Double]>
    let startedCount = Locked(0)

    init(count: Int) {
        called = Locked([Double](repeating: .nan, count: count))
        returned = Locked([Double](repeating: .nan, count: count))
        started = Locked([Double](repeating: .nan, count: count))
    }
}

/// The run ended with jobs that never started.
struct NotStarted: Error, CustomStringConvertible {
    let started: Int
    let total: Int
    var description: String { "only \(started) of \(total) jobs started before the deadline; lower --rate or add workers" }
}

/// p50, p90, p99 and max of sorted values (nearest rank).
func percentiles(_ sorted: [Double]) -> JSONValue {
    func rank(_ p: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        return sorted[min(sorted.count - 1, max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1))]
    }
    return ["p50": .number(rank(0.5)), "p90": .number(rank(0.9)), "p99": .number(rank(0.99)), "max": .number(sorted.last ?? .nan)]
}
