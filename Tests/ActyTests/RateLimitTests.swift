import ActyTestSupport
@testable import Acty
@testable import ActyStore
import Foundation
import Testing

/// Rate limits: budgets applied before a claim, shared through the file, lowered by a provider's refusal.
@Suite(.timeLimit(.minutes(2)))
struct RateLimitTests {
    /// `job_started` times of the jobs of `executor`, in order.
    static func starts(of jobs: Set<JobID>, in events: [EventRecord]) -> [Double] {
        events.filter { $0.type == EventType.jobStarted.rawValue && $0.jobID.map(jobs.contains) == true }.map(\.at).sorted()
    }

    /// Whether no window of the starts holds more than `burst` plus what the rate refills over it.
    static func withinBudget(_ starts: [Double], perSecond rate: Double, burst: Int) -> Bool {
        for i in starts.indices {
            for j in starts.indices where j > i {
                if Double(j - i + 1) > Double(burst) + rate * (starts[j] - starts[i]) + 1e-6 { return false }
            }
        }
        return true
    }

    @Test func jobsOverBudgetWaitReadyWhileOtherExecutorsJobsRun() async throws {
        let dir = TemporaryDirectory()
        let limited = ClosureExecutor(name: "llm") { _ in "called" }
        let configuration = EngineConfiguration(rateLimits: [RateLimit(executor: "llm", requestsPerMinute: 600, burst: 2)])
        try await withEngine(dir, configuration, executors: [limited, EchoExecutor()]) { engine in
            let calls = try await engine.submitGroups((0..<16).map { GroupSpec("llm-\($0)", primer: ["n": .number(Double($0))], executor: "llm") })
            let others = try await engine.submitGroups((0..<4).map { GroupSpec("echo-\($0)", primer: [:], executor: "echo") })
            var othersDone: [Double] = []
            for submission in others {
                let result = try await #require(submission.primer).boundedResult()
                #expect(result.status == .succeeded)
                othersDone.append(try #require(try await engine.store.job(result.jobID)?.finishedAt))
            }
            for submission in calls { #expect(try await #require(submission.primer).boundedResult().status == .succeeded) }

            let events = try await engine.allEvents()
            let starts = Self.starts(of: Set(calls.compactMap(\.primer?.id)), in: events)
            #expect(starts.count == 16)
            #expect(Self.withinBudget(starts, perSecond: 10, burst: 2), "\(starts.map { $0 - starts[0] })")
            #expect(starts.last! - starts.first! >= 1.3, "14 jobs past the burst at 10 per second")
            // The echo jobs did not queue behind the limited ones: the workers were free for them.
            #expect(othersDone.max()! < starts.last!)
        }
    }

    @Test func maxInflightCapsRunningJobs() async throws {
        let dir = TemporaryDirectory()
        let gauge = ConcurrencyGauge()
        let limited = ClosureExecutor(name: "llm") { _ in
            try await gauge.measure("llm") { try await Task.sleep(for: .milliseconds(30)) }
            return "called"
        }
        let configuration = EngineConfiguration(rateLimits: [RateLimit(executor: "llm", maxInflight: 2)])
        try await withEngine(dir, configuration, executors: [limited]) { engine in
            let calls = try await engine.submitGroups((0..<10).map { GroupSpec("g\($0)", primer: [:], followers: [[:], [:]]) })
            for job in calls.flatMap(\.jobs) { #expect(try await job.boundedResult().status == .succeeded) }
            #expect(gauge.peak("llm") == 2)
        }
    }

    @Test func spentTokensHoldTheNextJobUntilTheBudgetRefills() async throws {
        let dir = TemporaryDirectory()
        let limited = ClosureExecutor(name: "llm") { job in
            job.recordUsage(TokenUsage(promptTokens: 600, completionTokens: 5))
            return "called"
        }
        // 600 tokens a minute is 10 a second: the first job leaves the budget at -5, so the next waits 0.6 s.
        let configuration = EngineConfiguration(rateLimits: [RateLimit(executor: "llm", tokensPerMinute: 600, maxInflight: 1)])
        try await withEngine(dir, configuration, executors: [limited]) { engine in
            let calls = try await engine.submitGroups((0..<2).map { GroupSpec("g\($0)", primer: [:]) })
            let first = try await #require(calls[0].primer).boundedResult()
            let second = try await #require(calls[1].primer).boundedResult()
            #expect(first.status == .succeeded && second.status == .succeeded)
            let firstFinished = try #require(try await engine.store.attempts(of: first.jobID).first?.finishedAt)
            let secondStarted = try #require(try await engine.store.attempts(of: second.jobID).first?.startedAt)
            #expect(secondStarted - firstFinished >= 0.5, "waited \(secondStarted - firstFinished) s")
        }
    }

    @Test func aProviderRefusalPausesTheExecutorHalvesItsBudgetAndItRecovers() async throws {
        let dir = TemporaryDirectory()
        let limited = ClosureExecutor(name: "llm") { job in
            if job.groupKey == "refused", job.attempt == 1 {
                throw RetryAfterError(PlannedFailure("429 slow down"), after: .milliseconds(300), isRateLimit: true)
            }
            return "called"
        }
        let configuration = EngineConfiguration(
            retryPolicy: RetryPolicy(maxAttempts: 2, initialDelay: .milliseconds(1), jitter: .none),
            rateLimits: [RateLimit(executor: "llm", maxInflight: 8, cooldown: .milliseconds(500))]
        )
        try await withEngine(dir, configuration, executors: [limited]) { engine in
            let refused = try #require(try await engine.submitGroup("refused", primer: [:]).primer)
            try await require("the refusal to be recorded") { try await engine.allEvents().contains { $0.type == EventType.rateLimited.rawValue } }
            let later = try await engine.submitGroups((0..<3).map { GroupSpec("later-\($0)", primer: [:]) })
            #expect(try await refused.boundedResult().status == .succeeded)
            for submission in later { #expect(try await #require(submission.primer).boundedResult().status == .succeeded) }

            let events = try await engine.allEvents()
            let refusal = try #require(events.first { $0.type == EventType.rateLimited.rawValue })
            let data = try JSONValue(jsonString: refusal.data ?? "")
            #expect(data["executor"] == "llm")
            #expect(data["slowdown"] == 0.5)
            #expect(refusal.jobID == refused.id)
            let starts = Self.starts(of: Set(later.compactMap(\.primer?.id)), in: events)
            #expect(starts.allSatisfy { $0 >= refusal.at + 0.3 - 1e-6 }, "started \(starts.map { $0 - refusal.at }) s after the refusal")
            // The cooldown passes with no job in sight: the engine restores the budget on its own.
            try await require("the budget to be restored", timeout: .seconds(10)) {
                try await engine.allEvents().contains { $0.type == EventType.rateLimitRestored.rawValue }
            }
        }
    }

    @Test func budgetsAreSharedByEveryEngineProcessOnTheFile() async throws {
        let dir = TemporaryDirectory()
        let database = dir.file()
        let log = dir.file("executions.log")
        _ = try await TestWorkerProcess.run(["submit", "--database", database, "--groups", "30", "--followers", "0"], in: dir, name: "submit")
        let work = { (name: String) in
            try TestWorkerProcess(
                [
                    "work", "--database", database, "--log", log, "--primer-workers", "3", "--follower-workers", "3", "--min-sleep-ms", "0",
                    "--max-sleep-ms", "0", "--requests-per-minute", "1200", "--rate-burst", "2", "--await-peers", "2",
                ],
                in: dir, name: name
            )
        }
        let processes = [try work("a"), try work("b")]
        for process in processes { #expect(try await process.waitForExit(timeout: .seconds(60)) == .status(0), "\(process.stderr)") }

        let store = try Store(.file(database))
        let events = try await store.events(after: 0, limit: 100_000)
        let jobs = Set(try await store.allJobs().map(\.id))
        try await store.close()
        let starts = Self.starts(of: jobs, in: events)
        #expect(starts.count == 30)
        #expect(Self.withinBudget(starts, perSecond: 20, burst: 2), "\(starts.map { $0 - starts[0] })")
        let executions = try Execution.read(log)
        #expect(Set(executions.map(\.job)).count == 30)
        #expect(Set(events.filter { $0.type == EventType.jobStarted.rawValue }.compactMap(\.worker)).count == 2, "both engines ran jobs")
    }

    @Test func limitsThatCannotApplyAreRefusedAtStart() async throws {
        let dir = TemporaryDirectory()
        for (limits, message) in [
            ([RateLimit(executor: "nope", maxInflight: 1)], "does not register"),
            ([RateLimit(executor: "echo")], "sets none"),
            ([RateLimit(executor: "echo", requestsPerMinute: -1)], "must be positive"),
            ([RateLimit(executor: "echo", maxInflight: 1), RateLimit(executor: "echo", maxInflight: 2)], "two rate limits"),
        ] {
            let error = await #expect(throws: ActyError.self) {
                try await ActyEngine(database: .file(dir.file()), configuration: EngineConfiguration(rateLimits: limits), executors: [EchoExecutor()])
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message.contains(message) == true, "\(error?.message ?? "")")
        }
    }

    @Test func anEngineSetsTheBudgetsOfItsExecutorsAndDropsOnesItNoLongerHas() async throws {
        let dir = TemporaryDirectory()
        let database = dir.file()
        let limits = [RateLimit(executor: "echo", requestsPerMinute: 60), RateLimit(executor: "echo", lane: "bulk", maxInflight: 3)]
        try await withEngine(dir, EngineConfiguration(rateLimits: limits)) { _ in }
        let store = try Store(.file(database))
        #expect(try await store.rateLimits().map { "\($0.limit.executor)/\($0.limit.lane ?? "*")" } == ["echo/*", "echo/bulk"])
        try await withEngine(dir, EngineConfiguration(rateLimits: [RateLimit(executor: "echo", requestsPerMinute: 120)])) { _ in }
        let after = try await store.rateLimits()
        #expect(after.map(\.limit.requestsPerMinute) == [120])
        try await store.close()
    }
}
