import Acty
import ActyStore
import ArgumentParser
import Foundation

/// Weighted lanes kept saturated: how far each lane's share of starts strays from its weight share.
struct Fairness: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Deviation of each lane's share of job starts from its weight share, with every lane saturated.",
        discussion: """
            Lanes l0, l1, … get the given weights and --jobs-per-lane ready jobs each, all queued before the engine \
            starts; the executor sleeps about --sleep-ms. Starts are read back in the order they were recorded (the \
            job_started events), and over every sliding window of --window starts taken while all lanes still had \
            ready work, each lane's share is compared with its weight share. \
            Example: acty-bench fairness --weights 5:3:1 --jobs-per-lane 4000
            """
    )

    @Option(help: "Lane weights, colon-separated (lanes l0, l1, …).") var weights = "3:1"
    @Option(help: "Jobs queued in each lane.") var jobsPerLane = 4000
    @Option(help: "Follower pool size (all jobs are followers; the primer pool is empty).") var workers = 8
    @Option(help: "How long each job sleeps, in milliseconds.") var sleepMs = 1.0
    @Option(help: "Starts per sliding window.") var window = 200
    @Option(help: "Durability: process or power.") var durability = "process"

    func validate() throws {
        _ = try laneWeights()
        guard jobsPerLane >= 1 else { throw ValidationError("--jobs-per-lane must be at least 1.") }
        guard workers >= 1 else { throw ValidationError("--workers must be at least 1.") }
        guard sleepMs >= 0, sleepMs.isFinite else { throw ValidationError("--sleep-ms must be 0 or more.") }
        guard window >= 2 else { throw ValidationError("--window must be at least 2.") }
        _ = try parseDurability(durability)
    }

    func laneWeights() throws -> [Double] {
        let parts = weights.split(separator: ":", omittingEmptySubsequences: false)
        let values = parts.compactMap { Double($0) }.filter { $0 > 0 && $0.isFinite }
        guard parts.count >= 2, values.count == parts.count else {
            throw ValidationError("--weights must be two or more positive numbers separated by colons, such as 3:1 or 5:3:1.")
        }
        return values
    }

    func run() async throws {
        let durability = try parseDurability(durability)
        let weights = try laneWeights()
        let lanes = weights.indices.map { "l\($0)" }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("acty-fairness-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("fairness.db").path

        // Queue everything first, in groups of up to 100 followers with no primer (ready at once).
        let store = try Store(.file(path), durability: durability)
        var laneOfJob: [JobID: Int] = [:]
        for (lane, weight) in zip(lanes.indices, weights) {
            var queued = 0
            while queued < jobsPerLane {
                let count = min(100, jobsPerLane - queued)
                let followers = (0..<count).map { NewJob(executor: "sleep", payload: #"{"n":\#($0)}"#) }
                let (submitted, _) = try await store.submitGroup(
                    NewGroup(
                        key: "\(lanes[lane])-\(queued)", lane: lanes[lane], laneWeight: weight, primer: nil, followers: followers,
                        isClosed: true
                    ),
                    worker: nil
                )
                for id in submitted.followers { laneOfJob[id] = lane }
                queued += count
            }
        }

        let sleep = Duration.microseconds(Int64(sleepMs * 1000))
        let executor = ClosureExecutor(name: "sleep") { _ in
            if sleep > .zero { try await Task.sleep(for: sleep) }
            return .null
        }
        var laneConfigurations: [String: LaneConfiguration] = [:]
        for (lane, weight) in zip(lanes, weights) { laneConfigurations[lane] = LaneConfiguration(weight: weight) }
        let clock = ContinuousClock()
        let start = clock.now
        let engine = try await ActyEngine(
            database: .file(path),
            configuration: EngineConfiguration(primerWorkers: 0, followerWorkers: workers, lanes: laneConfigurations, durability: durability),
            executors: [executor]
        )
        let total = jobsPerLane * lanes.count
        while try await store.jobCountsByState()[.succeeded, default: 0] < total {
            try await Task.sleep(for: .milliseconds(20))
        }
        let elapsed = clock.now - start
        try await engine.shutdown()

        // Lane of each start, in start order: the `job_started` events in `seq` order (first starts only; nothing
        // fails). Not `started_at`: every job of one claim has the claim's time, and ordering those ties by job id
        // would put them lane by lane (lanes were queued one after the other) instead of in the order decided.
        var order: [Int] = []
        var seen = Set<JobID>()
        var after: Int64 = 0
        while true {
            let events = try await store.events(after: after, limit: 10_000)
            guard let last = events.last else { break }
            for event in events where event.type == EventType.jobStarted.rawValue {
                if let job = event.jobID, let lane = laneOfJob[job], seen.insert(job).inserted { order.append(lane) }
            }
            after = last.seq
        }
        try await store.close()

        // Starts while every lane still had ready work: up to the first start that empties a lane.
        var started = [Int](repeating: 0, count: lanes.count)
        var saturated = order.count
        for (index, lane) in order.enumerated() {
            started[lane] += 1
            if started[lane] == jobsPerLane { saturated = index; break }
        }
        let weightSum = weights.reduce(0, +)
        let expected = weights.map { $0 / weightSum }
        var maxError = 0.0
        var errorSum = 0.0
        var samples = 0
        var windowCounts = [Int](repeating: 0, count: lanes.count)
        var laneMax = [Double](repeating: 0, count: lanes.count)
        for index in 0..<saturated {
            windowCounts[order[index]] += 1
            if index >= window { windowCounts[order[index - window]] -= 1 }
            guard index >= window - 1 else { continue }
            for lane in lanes.indices {
                let error = abs(Double(windowCounts[lane]) / Double(window) - expected[lane]) * 100
                maxError = max(maxError, error)
                laneMax[lane] = max(laneMax[lane], error)
                errorSum += error
                samples += 1
            }
        }
        let windows = max(0, saturated - window + 1)

        let result: JSONValue = [
            "workload": "fairness",
            "weights": .array(weights.map { .number($0) }),
            "jobs_per_lane": .number(Double(jobsPerLane)),
            "primer_workers": .number(0),
            "follower_workers": .number(Double(workers)),
            "sleep_ms": .number(sleepMs),
            "window": .number(Double(window)),
            "durability": .string(durability.rawValue),
            "sqlite": sqliteSettings(durability),
            "jobs": .number(Double(total)),
            "seconds": .number(elapsed.seconds),
            "jobs_per_second": .number(Double(total) / elapsed.seconds),
            "saturated_starts": .number(Double(saturated)),
            "windows": .number(Double(windows)),
            "max_share_error_points": .number(windows > 0 ? maxError : .nan),
            "mean_share_error_points": .number(samples > 0 ? errorSum / Double(samples) : .nan),
            "max_share_error_points_by_lane": .object(
                Dictionary(uniqueKeysWithValues: zip(lanes, laneMax.map { JSONValue.number(windows > 0 ? $0 : .nan) }))
            ),
            "peak_rss_mb": .number(Double(peakRSSBytes()) / 1_048_576),
        ]
        print(result.jsonString)
    }
}
