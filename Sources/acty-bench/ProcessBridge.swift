import Acty
import ActyProcess
import ArgumentParser
import Foundation

/// Jobs/s through the engine with the Python echo bridge, beside the same executor called directly in a loop.
struct ProcessBridge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "process",
        abstract: "Throughput of the process executor with the Python echo bridge, through the engine and called directly.",
        discussion: """
            For each pool size: the executor called directly by as many concurrent loops as it has workers (no \
            engine, no database), then groups of 1 + F jobs through an engine on a file. Workers are started before \
            the clock runs. The same groups with the in-process EchoExecutor give the engine's own cost. Example: acty-bench process --jobs 5000 --pool-sizes 2,4
            """
    )

    @Option(help: "Jobs per measurement.") var jobs = 5000
    @Option(help: "Pool sizes to measure, comma-separated.") var poolSizes = "2,4"
    @Option(help: "Followers per group in the engine runs.") var followers = 9
    @Option(help: "Follower pool size of the engine (primer pool: 2).") var followerWorkers = 8
    @Option(help: "The Python interpreter.") var python = "python3"
    @Option(help: "The bridge script (run with --echo).") var bridge = "Python/acty_bridge.py"

    func run() async throws {
        let sizes = poolSizes.split(separator: ",").compactMap { Int($0) }
        guard !sizes.isEmpty, sizes.allSatisfy({ $0 >= 1 }), jobs >= 1, followers >= 0 else {
            throw ValidationError("--pool-sizes must list numbers of at least 1, --jobs be at least 1 and --followers 0 or more.")
        }
        guard FileManager.default.fileExists(atPath: bridge) else {
            throw ValidationError("--bridge \(bridge) does not exist; run from the repository's root or pass its path.")
        }
        var runs: [JSONValue] = []
        let sequential = try await direct(poolSize: 1)
        let inProcess = try await throughEngine(poolSize: 0)
        for size in sizes {
            let direct = try await direct(poolSize: size)
            let engine = try await throughEngine(poolSize: size)
            runs.append([
                "pool_size": .number(Double(size)),
                "direct_jobs_per_second": .number(direct.jobsPerSecond),
                "engine_jobs_per_second": .number(engine.jobsPerSecond),
                "engine_over_direct": .number(engine.jobsPerSecond / direct.jobsPerSecond),
                "direct_cpu_us_per_job": direct.cpu,
                "engine_cpu_us_per_job": engine.cpu,
            ])
        }
        let result: JSONValue = [
            "workload": "process",
            "jobs": .number(Double(jobs)),
            "followers": .number(Double(followers)),
            "follower_workers": .number(Double(followerWorkers)),
            "direct_sequential_jobs_per_second": .number(sequential.jobsPerSecond),
            "direct_sequential_cpu_us_per_job": sequential.cpu,
            "engine_in_process_jobs_per_second": .number(inProcess.jobsPerSecond),
            "engine_in_process_cpu_us_per_job": inProcess.cpu,
            "runs": .array(runs),
            "peak_rss_mb": .number(Double(peakRSSBytes()) / 1_048_576),
        ]
        print(result.jsonString)
    }

    /// A measurement: jobs/s, and the CPU time per job of this process and of the workers.
    struct Measurement {
        var jobsPerSecond: Double
        var cpu: JSONValue
    }

    /// CPU seconds used so far by this process and by its reaped children (the workers, once shut down).
    private static func cpuSeconds() -> (own: Double, children: Double) {
        func seconds(_ who: Int32) -> Double {
            var usage = rusage()
            getrusage(__rusage_who_t(who), &usage)
            return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        }
        return (seconds(RUSAGE_SELF.rawValue), seconds(RUSAGE_CHILDREN.rawValue))
    }

    /// Runs `body` (which must shut its executor down, so its workers are reaped) and reports its jobs/s.
    private func measure(_ body: () async throws -> Double) async throws -> Measurement {
        let before = Self.cpuSeconds()
        let jobsPerSecond = try await body()
        let after = Self.cpuSeconds()
        let count = Double(jobs)
        return Measurement(
            jobsPerSecond: jobsPerSecond,
            cpu: ["swift": .number((after.own - before.own) / count * 1e6), "workers": .number((after.children - before.children) / count * 1e6)]
        )
    }

    private func executor(poolSize: Int) -> ProcessExecutor {
        ProcessExecutor(ProcessExecutorConfiguration(name: "echo", command: python, arguments: [bridge, "--echo"], poolSize: poolSize))
    }

    /// Jobs/s of `poolSize` loops calling the executor directly, each waiting for its answer before the next call.
    private func direct(poolSize: Int) async throws -> Measurement {
        try await measure { try await directRun(poolSize: poolSize) }
    }

    private func directRun(poolSize: Int) async throws -> Double {
        let executor = executor(poolSize: poolSize)
        let jobs = jobs
        func call(_ index: Int) async throws {
            let job = Job(id: JobID(Int64(index)), groupKey: "direct", role: .follower, payload: ["agent": .string("specialist:\(index % 9)")])
            _ = try await executor.execute(job)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<poolSize { group.addTask { try await call(index) } }
            try await group.waitForAll()
        }
        let clock = ContinuousClock()
        let start = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for loop in 0..<poolSize {
                group.addTask {
                    for index in stride(from: loop, to: jobs, by: poolSize) { try await call(index) }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = clock.now - start
        await executor.shutdown()
        return Double(jobs) / elapsed.seconds
    }

    /// Jobs/s of groups of 1 + `followers` echo jobs through an engine on a new file; pool size 0 runs them with the
    /// in-process `EchoExecutor` instead, for the engine's own cost.
    private func throughEngine(poolSize: Int) async throws -> Measurement {
        try await measure { try await engineRun(poolSize: poolSize) }
    }

    private func engineRun(poolSize: Int) async throws -> Double {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("acty-bench-process-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let executor = executor(poolSize: max(1, poolSize))  // never started for pool size 0
        let engine = try await ActyEngine(
            database: .file(folder.appendingPathComponent("bench.db").path),
            configuration: EngineConfiguration(primerWorkers: 2, followerWorkers: followerWorkers),
            executors: [poolSize == 0 ? EchoExecutor(name: "echo") : executor]
        )
        let warmUp = try await engine.submitGroup("warm-up", primer: nil, followers: Array(repeating: ["n": 0], count: max(1, poolSize * 2)))
        for job in warmUp.jobs { _ = try await job.result() }

        let groups = max(1, jobs / (1 + followers))
        let followerPayloads: [JSONValue] = (0..<followers).map { ["agent": .string("specialist:\($0)")] }
        let clock = ContinuousClock()
        let start = clock.now
        let specs = (0..<groups).map { GroupSpec("group-\($0)", primer: ["agent": "coordinator"], followers: followerPayloads) }
        var handles: [JobHandle] = []
        for chunk in stride(from: 0, to: specs.count, by: 100) {
            handles += try await engine.submitGroups(Array(specs[chunk..<min(chunk + 100, specs.count)])).flatMap(\.jobs)
        }
        var failed = 0
        for handle in handles where try await handle.result().status != .succeeded { failed += 1 }
        let elapsed = clock.now - start
        try await engine.shutdown()
        await executor.shutdown()
        guard failed == 0 else { throw ValidationError("\(failed) of \(handles.count) echo jobs failed") }
        return Double(handles.count) / elapsed.seconds
    }
}
