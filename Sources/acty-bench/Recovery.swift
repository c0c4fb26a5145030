import Acty
import ActyStore
import ArgumentParser
import Foundation

/// Crash recovery: a process holding many running jobs is killed with SIGKILL; a new one takes over.
struct Recovery: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time for a new process to resume after a SIGKILL: first job, drain, lost and doubled jobs.",
        discussion: """
            Queues --jobs jobs, lets a child process (this tool, `recovery-victim`) claim --inflight of them with jobs \
            that never finish, kills it with SIGKILL, then starts an engine that must rescue the killed process's jobs \
            and run everything. Example: acty-bench recovery --jobs 100000 --inflight 1000
            """
    )

    @Option(help: "Jobs queued before the crash.") var jobs = 100_000
    @Option(help: "Jobs the killed process holds (running, leased) when it dies.") var inflight = 1_000
    @Option(help: "Follower workers of the recovering process.") var workers = 32

    func run() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("acty-recovery-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("recovery.db").path

        // Queue the work: groups without a primer, so every job is ready at once.
        let store = try Store(.file(path))
        let perGroup = 10
        try await withThrowingTaskGroup(of: Void.self) { group in
            for submitter in 0..<8 {
                group.addTask {
                    for index in stride(from: submitter, to: jobs / perGroup, by: 8) {
                        let followers = (0..<perGroup).map { NewJob(executor: "noop", payload: #"{"n":\#($0)}"#, maxAttempts: 3) }
                        _ = try await store.submitGroup(
                            NewGroup(key: "g\(index)", lane: "default", primer: nil, followers: followers, isClosed: true),
                            worker: nil
                        )
                    }
                }
            }
            try await group.waitForAll()
        }

        // The victim claims `inflight` jobs and hangs on them until it is killed.
        let victim = Process()
        victim.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        victim.arguments = ["recovery-victim", "--database", path, "--workers", String(inflight)]
        try victim.run()
        let deadline = ContinuousClock.now + .seconds(120)
        while try await store.jobCountsByState()[.running, default: 0] < inflight {
            guard ContinuousClock.now < deadline, victim.isRunning else {
                throw ValidationError("the victim process did not claim \(inflight) jobs")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        kill(victim.processIdentifier, SIGKILL)
        victim.waitUntilExit()
        try await store.close()

        // The new process: time to its first job, and to the last.
        let clock = ContinuousClock()
        let start = clock.now
        let firstJob = Locked<Duration?>(nil)
        let executed = Locked(0)
        let executor = ClosureExecutor(name: "noop") { _ in
            firstJob.withLock { $0 = $0 ?? (clock.now - start) }
            executed.withLock { $0 += 1 }
            return .null
        }
        let engine = try await ActyEngine(
            database: .file(path),
            configuration: EngineConfiguration(primerWorkers: 1, followerWorkers: workers, retryPolicy: RetryPolicy(maxAttempts: 3)),
            executors: [executor]
        )
        let check = try Store(.file(path))
        while true {
            let counts = try await check.jobCountsByState()
            if counts[.succeeded, default: 0] + counts[.failed, default: 0] + counts[.cancelled, default: 0] == jobs { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        let drained = clock.now - start
        try await engine.shutdown()
        let counts = try await check.jobCountsByState()
        let doubled = try await check.jobsSucceededMoreThanOnce()
        let rescued = try await check.attempts().filter { $0.outcome == "abandoned" }.count
        try await check.close()

        let result: JSONValue = [
            "workload": "recovery",
            "jobs": .number(Double(jobs)),
            "inflight_at_kill": .number(Double(inflight)),
            "rescued": .number(Double(rescued)),
            "first_job_ms": .number((firstJob.withLock { $0 } ?? drained).seconds * 1000),
            "drain_seconds": .number(drained.seconds),
            "lost": .number(Double(jobs - counts[.succeeded, default: 0])),
            "double_recorded": .number(Double(doubled)),
            "durability": .string(Durability.process.rawValue),
            "sqlite": sqliteSettings(.process),
            "peak_rss_mb": .number(Double(peakRSSBytes()) / 1_048_576),
        ]
        print(result.jsonString)
    }
}

/// The process `recovery` kills: it claims jobs whose executor never returns.
struct RecoveryVictim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "recovery-victim", abstract: "Used by `recovery`; not for direct use.", shouldDisplay: false)

    @Option(help: "The database.") var database: String
    @Option(help: "Workers, all of which hang.") var workers: Int

    func run() async throws {
        let hang = ClosureExecutor(name: "noop") { _ in
            try await Task.sleep(for: .seconds(3600))
            return .null
        }
        let engine = try await ActyEngine(
            database: .file(database), configuration: EngineConfiguration(primerWorkers: 1, followerWorkers: workers), executors: [hang]
        )
        try await Task.sleep(for: .seconds(3600))
        try await engine.shutdown()
    }
}
