import ActyCore
import ActyProcess
import ActyStore
import ActyTestSupport
@testable import Acty
import Foundation
import Testing

/// The process executor through a real engine and real Python workers (`Fixtures/test_worker.py`).
/// Serialized: each test starts Python workers, and one at a time spreads their start-up CPU over the run instead of
/// loading the machine in a burst while the other suites run timing-sensitive tests.
@Suite(.serialized, .timeLimit(.minutes(1)), .enabled(if: Bridge.python != nil, "python3 is not on PATH: the process executor tests need it"))
struct ProcessExecutorTests {
    static let retries = EngineConfiguration(retryPolicy: RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(10), jitter: .none))

    /// The errors of a job's attempts, oldest first (`nil` for an attempt without one).
    static func attemptErrors(_ job: JobHandle, on engine: ActyEngine) async throws -> [JobError?] {
        try await engine.store.attempts(of: job.id).map { $0.error.map { JobError(stored: $0) } }
    }

    @Test func jobsRoundTripThroughAWorkerWithEverythingTheJobCarries() async throws {
        let dir = TemporaryDirectory()
        let executor = ProcessExecutor(Bridge.configuration())
        try await withBridgeEngine(dir, executor: executor) { engine in
            let submission = try await engine.submitGroup(
                "round-trip", primer: ["action": "job", "text": "héllo ✓", "n": [1, 2.5, nil, true]],
                followers: [["action": "job"], ["action": "print"]], lane: "batch", groupContext: ["tenant": "acme"],
                cacheKey: "prefix-1"
            )
            let primer = try await #require(submission.primer).result(within: .seconds(20))
            #expect(primer.status == .succeeded, "\(String(describing: primer.error))")
            let seen = try #require(primer.output)
            #expect(seen["id"] == .string(primer.jobID.description))
            #expect(seen["group_key"] == "round-trip")
            #expect(seen["role"] == "primer")
            #expect(seen["follower_index"] == .null)
            #expect(seen["lane"] == "batch")
            #expect(seen["attempt"] == 1)
            #expect(seen["payload"] == ["action": "job", "text": "héllo ✓", "n": [1, 2.5, nil, true]])
            #expect(seen["group_context"] == ["tenant": "acme"])
            #expect(seen["cache"]?["key"] == "prefix-1")
            #expect(seen["primer"] == .null)

            let follower = try await submission.followers[0].result(within: .seconds(20))
            #expect(follower.output?["role"] == "follower")
            #expect(follower.output?["follower_index"] == 0)
            // A handler printing to standard output does not break the protocol.
            let printer = try await submission.followers[1].result(within: .seconds(20))
            #expect(printer.status == .succeeded)
            #expect(printer.output == ["printed": true])
        }
    }

    @Test func theBridgesEchoModeAnswersLargePayloadsWhole() async throws {
        let executor = ProcessExecutor(
            ProcessExecutorConfiguration(name: "echo", command: try #require(Bridge.python), arguments: [Bridge.root + "/Python/acty_bridge.py", "--echo"])
        )
        // 1 MiB: more than the socket buffer takes at once, so the request is written in pieces as the worker reads.
        let big = String(repeating: "ünïcödé ✓ ", count: 1 << 20 / 16)
        let payloads: [JSONValue] = [["text": .string(big)], [1, "two", nil, ["three": 3.5]], "plain"]
        for (index, payload) in payloads.enumerated() {
            let output = try await executor.execute(Job(id: JobID(Int64(index + 1)), groupKey: "echo", role: .primer, payload: payload))
            #expect(output == payload)
        }
        let pids = executor.workerProcessIDs
        #expect(pids.count == 1)
        await executor.shutdown()
        #expect(pids.allSatisfy { isGone(Int($0)) })
    }

    @Test func aWorkerWritingMegabytesToStandardErrorNeverBlocks() async throws {
        let dir = TemporaryDirectory()
        let executor = ProcessExecutor(Bridge.configuration())
        try await withBridgeEngine(dir, executor: executor) { engine in
            let submission = try await engine.submitGroup("noisy", primer: nil, followers: Array(repeating: ["action": "noisy", "kib": 2048], count: 3))
            for job in submission.followers {
                let result = try await job.result(within: .seconds(20))
                #expect(result.output == ["noisy": true], "\(String(describing: result.error))")
            }
        }
    }

    @Test func usageTheWorkerReportsIsRecordedOnTheAttemptAlsoWhenItFails() async throws {
        let dir = TemporaryDirectory()
        let executor = ProcessExecutor(Bridge.configuration())
        try await withBridgeEngine(dir, Self.retries, executor: executor) { engine in
            let used = try #require(try await engine.submitGroup("usage", primer: ["action": "usage"]).primer)
            #expect(try await used.result(within: .seconds(20)).status == .succeeded)
            #expect(try await engine.store.attempts(of: used.id).map(\.usage) == [TokenUsage(promptTokens: 11, completionTokens: 5, cachedPromptTokens: 3)])
            let event = try #require(try await engine.store.events(after: 0, limit: 10_000).filter { $0.jobID == used.id && $0.type == "job_succeeded" }.first)
            #expect(try JSONValue(jsonString: event.data ?? "null")["usage"] == ["prompt_tokens": 11, "completion_tokens": 5, "cached_prompt_tokens": 3])

            // An error response's usage goes on its failed attempt.
            let failing = try #require(try await engine.submitGroup("failing", primer: ["action": "fail"]).primer)
            #expect(try await failing.result(within: .seconds(20)).status == .succeeded)
            #expect(try await engine.store.attempts(of: failing.id).map(\.usage) == [TokenUsage(promptTokens: 2), nil])
        }
    }

    @Test func retryAfterFromTheWorkerDelaysTheRetry() async throws {
        let dir = TemporaryDirectory()
        let executor = ProcessExecutor(Bridge.configuration())
        // The policy's backoff is 10 ms; the worker asks for 400 ms.
        try await withBridgeEngine(dir, Self.retries, executor: executor) { engine in
            let job = try #require(try await engine.submitGroup("later", primer: ["action": "fail", "retry_after": 0.4]).primer)
            let result = try await job.result(within: .seconds(20))
            #expect(result.status == .succeeded)
            #expect(result.output == ["attempt": 2])
            let attempts = try await engine.store.attempts(of: job.id)
            #expect(attempts.count == 2)
            #expect(attempts[1].startedAt >= attempts[0].finishedAt! + 0.4)
            #expect(attempts[0].error.map { JobError(stored: $0) } == JobError(type: "RetryableError", message: "busy, try later"))
        }
    }

    @Test func aRateLimitedAnswerCountsAsA429ForTheEnginesRateLimit() async throws {
        let dir = TemporaryDirectory()
        let executor = ProcessExecutor(Bridge.configuration())
        let configuration = EngineConfiguration(
            retryPolicy: RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(10), jitter: .none),
            rateLimits: [RateLimit(executor: "bridge", maxInflight: 4, cooldown: .milliseconds(500))]
        )
        try await withBridgeEngine(dir, configuration, executor: executor) { engine in
            let job = try #require(
                try await engine.submitGroup("limited", primer: ["action": "fail", "retry_after": 0.2, "rate_limited": true]).primer
            )
            #expect(try await job.result(within: .seconds(20)).status == .succeeded)
            let events = try await engine.store.events(after: 0, limit: 10_000)
            let refusal = try #require(events.first { $0.type == EventType.rateLimited.rawValue })
            #expect(refusal.jobID == job.id)
            #expect(try JSONValue(jsonString: refusal.data ?? "null")["executor"] == "bridge")
        }
    }

    @Test func followersGetTheirPrimerWhenTheExecutorSendsIt() async throws {
        let dir = TemporaryDirectory()
        var configuration = Bridge.configuration()
        configuration.sendsPrimer = true
        let executor = ProcessExecutor(configuration)
        try await withBridgeEngine(dir, executor: executor) { engine in
            let submission = try await engine.submitGroup("primed", primer: ["action": "echo", "messages": ["hi"]], followers: [["action": "job"]])
            let follower = try await submission.followers[0].result(within: .seconds(20))
            #expect(follower.status == .succeeded, "\(String(describing: follower.error))")
            #expect(follower.output?["primer"] == ["payload": ["action": "echo", "messages": ["hi"]], "output": ["action": "echo", "messages": ["hi"]]])
            let primer = try await #require(submission.primer).result(within: .seconds(20))
            #expect(primer.status == .succeeded)
        }
    }

    @Test func aWorkerThatCrashesMidJobFailsTheAttemptRetryablyAndAFreshWorkerRunsTheRetry() async throws {
        let dir = TemporaryDirectory()
        let executor = ProcessExecutor(Bridge.configuration())
        try await withBridgeEngine(dir, Self.retries, executor: executor) { engine in
            let submission = try await engine.submitGroup("crash", primer: ["action": "crash"])
            let job = try #require(submission.primer)
            let result = try await job.result(within: .seconds(20))
            #expect(result.status == .succeeded, "\(String(describing: result.error))")
            #expect(result.attempts == 2)

            let errors = try await Self.attemptErrors(job, on: engine)
            let error = try #require(errors.first ?? nil)
            #expect(error.type == "ProcessExecutorError")
            #expect(error.message.contains("worker exited: the worker exited with status 3 before answering"), "\(error.message)")
            // Its standard error is in the message, the key in it redacted.
            #expect(error.message.contains("dying on attempt 1"), "\(error.message)")
            #expect(error.message.contains("[REDACTED]"), "\(error.message)")
            #expect(!error.message.contains("0123456789abcdef"))

            // The crashed worker is gone; the retry ran in another process.
            let crashed = try #require(Int(error.message.split(separator: "worker ").last?.split(separator: " ").first ?? ""))
            #expect(try await waitUntil { isGone(crashed) })
            let retryPID = try #require(result.output?["pid"]?.intValue)
            #expect(retryPID != crashed)
            #expect(executor.workerProcessIDs == [Int32(retryPID)])
        }
        // The secret never reached the database file.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: dir.file()))
        #expect(bytes.range(of: Data("sk-test-0123456789abcdef".utf8)) == nil)
    }

    /// Retries with room for a fresh worker that starts slowly on a loaded machine (a timeout counts its start).
    static let patientRetries = RetryPolicy(maxAttempts: 4, initialDelay: .milliseconds(10), jitter: .none)

    /// Runs one job to its end, so the pool's worker has started before a test times a request.
    static func warmUp(_ engine: ActyEngine) async throws {
        let job = try #require(try await engine.submitGroup("warm-up", primer: ["n": 0]).primer)
        #expect(try await job.result(within: .seconds(20)).status == .succeeded)
    }

    @Test func aHangingWorkerIsKilledAtTheRequestTimeoutAndTheRetrySucceeds() async throws {
        let dir = TemporaryDirectory()
        let pidFile = dir.file("hang.pid")
        let executor = ProcessExecutor(Bridge.configuration(requestTimeout: .seconds(3)))
        try await withBridgeEngine(dir, EngineConfiguration(retryPolicy: Self.patientRetries), executor: executor) { engine in
            try await Self.warmUp(engine)
            let submission = try await engine.submitGroup("hang", primer: ["action": "hang", "pid_file": .string(pidFile)])
            let job = try #require(submission.primer)
            let result = try await job.result(within: .seconds(40))
            #expect(result.status == .succeeded, "\(String(describing: result.error))")
            #expect(result.attempts >= 2)
            let error = try #require(try await Self.attemptErrors(job, on: engine).first ?? nil)
            #expect(error.type == "ProcessExecutorError")
            #expect(error.message.contains("timed out: the request took longer than 3 s; the worker was killed"), "\(error.message)")

            let hung = try #require(Int(String(contentsOfFile: pidFile, encoding: .utf8)))
            #expect(try await waitUntil { isGone(hung) })
            #expect(result.output?["pid"]?.intValue != hung)
        }
    }

    @Test func theEnginesJobTimeoutKillsTheWorkerOfTheCancelledAttempt() async throws {
        let dir = TemporaryDirectory()
        let pidFile = dir.file("hang.pid")
        let executor = ProcessExecutor(Bridge.configuration())
        try await withBridgeEngine(dir, executor: executor) { engine in
            try await Self.warmUp(engine)
            let submission = try await engine.submitGroup(
                "timeout", primer: ["action": "hang", "pid_file": .string(pidFile)],
                options: GroupOptions(retryPolicy: Self.patientRetries, jobTimeout: .seconds(3))
            )
            let job = try #require(submission.primer)
            #expect(try await waitUntil { FileManager.default.fileExists(atPath: pidFile) })
            let hung = try #require(Int(String(contentsOfFile: pidFile, encoding: .utf8)))
            let result = try await job.result(within: .seconds(40))
            #expect(result.status == .succeeded, "\(String(describing: result.error))")
            #expect(try await Self.attemptErrors(job, on: engine).first??.type == "timeout")
            #expect(try await waitUntil { isGone(hung) })
            #expect(result.output?["pid"]?.intValue != hung)
        }
    }

    @Test func cancellingARunningJobKillsItsWorkerAtOnce() async throws {
        let dir = TemporaryDirectory()
        let pidFile = dir.file("hang.pid")
        let executor = ProcessExecutor(Bridge.configuration())
        try await withBridgeEngine(dir, executor: executor) { engine in
            let job = try #require(try await engine.submitGroup("cancel", primer: ["action": "hang", "pid_file": .string(pidFile)]).primer)
            #expect(try await waitUntil { FileManager.default.fileExists(atPath: pidFile) })
            let hung = try #require(Int(String(contentsOfFile: pidFile, encoding: .utf8)))
            #expect(try await engine.cancelGroup("cancel"))
            #expect(try await job.result(within: .seconds(20)).status == .cancelled)
            #expect(try await waitUntil { isGone(hung) })
            #expect(executor.workerProcessIDs.isEmpty)
        }
    }

    @Test(arguments: [("malformed", "malformed response: the worker wrote a line that is not JSON"), ("wrong-id", "unexpected response: the worker answered request")])
    func aWorkerThatAnswersNonsenseIsReplacedAndTheRetrySucceeds(mode: String, expected: String) async throws {
        let dir = TemporaryDirectory()
        let executor = ProcessExecutor(Bridge.configuration(mode))
        try await withBridgeEngine(dir, Self.retries, executor: executor) { engine in
            let job = try #require(try await engine.submitGroup("nonsense", primer: ["n": 1]).primer)
            let result = try await job.result(within: .seconds(20))
            #expect(result.status == .succeeded, "\(String(describing: result.error))")
            #expect(result.output?["attempt"] == 2)
            let error = try #require(try await Self.attemptErrors(job, on: engine).first ?? nil)
            #expect(error.type == "ProcessExecutorError")
            #expect(error.message.contains(expected), "\(error.message)")
            #expect(executor.workerProcessIDs == [Int32(try #require(result.output?["pid"]?.intValue))])
        }
    }

    @Test func workerErrorsKeepTheirTypeAndANonRetryableOneFailsTheJobAtOnce() async throws {
        let dir = TemporaryDirectory()
        let executor = ProcessExecutor(Bridge.configuration())
        try await withBridgeEngine(dir, Self.retries, executor: executor) { engine in
            let fatal = try #require(try await engine.submitGroup("fatal", primer: ["action": "fail", "retryable": false, "why": "empty prompt"]).primer)
            let failed = try await fatal.result(within: .seconds(20))
            #expect(failed.status == .failed)
            #expect(failed.attempts == 1)
            #expect(failed.error == JobError(type: "NonRetryableError", message: "the input cannot be processed: empty prompt"))

            let plain = try #require(try await engine.submitGroup("plain", primer: ["action": "raise"]).primer)
            let exhausted = try await plain.result(within: .seconds(20))
            #expect(exhausted.status == .failed)
            #expect(exhausted.attempts == 3)
            #expect(exhausted.error == JobError(type: "ValueError", message: "plain failure on attempt 3"))

            // An error response leaves the worker in service: one process answered all of it.
            #expect(executor.workerProcessIDs.count == 1)
        }
    }

    @Test func thePoolRunsAtMostPoolSizeWorkersAtOnceAndReusesThem() async throws {
        let dir = TemporaryDirectory()
        let executor = ProcessExecutor(Bridge.configuration(poolSize: 2))
        let spans: [JSONValue] = try await withBridgeEngine(dir, EngineConfiguration(followerWorkers: 6), executor: executor) { engine in
            let followers = [JSONValue](repeating: ["action": "span", "seconds": 0.15], count: 8)
            let submission = try await engine.submitGroup("pool", primer: nil, followers: followers)
            var outputs: [JSONValue] = []
            for job in submission.followers {
                let result = try await job.result(within: .seconds(20))
                #expect(result.status == .succeeded, "\(String(describing: result.error))")
                outputs.append(result.output ?? .null)
            }
            #expect(executor.workerProcessIDs.count == 2)
            return outputs
        }
        let pids = Set(spans.compactMap { $0["pid"]?.intValue })
        #expect(pids.count == 2)
        // The most spans that overlapped, by the system-wide monotonic clock the workers read.
        let intervals = spans.compactMap { span -> (Double, Double)? in
            guard let start = span["start"]?.doubleValue, let end = span["end"]?.doubleValue else { return nil }
            return (start, end)
        }
        #expect(intervals.count == 8)
        let peak = intervals.map { interval in intervals.filter { $0.0 <= interval.0 && interval.0 < $0.1 }.count }.max() ?? 0
        // Never more than the pool at once (both workers did run, above; whether their spans overlap depends on how
        // fast the second one starts on a loaded machine).
        #expect(peak >= 1 && peak <= 2, "\(peak)")
    }

    @Test func shutdownLeavesNoWorkerBehind() async throws {
        let dir = TemporaryDirectory()
        let executor = ProcessExecutor(Bridge.configuration(poolSize: 3))
        let pids = try await withBridgeEngine(dir, executor: executor) { engine in
            let submission = try await engine.submitGroup("many", primer: nil, followers: Array(repeating: ["action": "span", "seconds": 0.1], count: 6))
            for job in submission.followers { _ = try await job.result(within: .seconds(20)) }
            return executor.workerProcessIDs
        }
        #expect(pids.count == 3)
        // withBridgeEngine returned after executor.shutdown(), which waits for the workers to exit.
        #expect(pids.allSatisfy { isGone(Int($0)) })
        #expect(executor.workerProcessIDs.isEmpty)
    }

    @Test func droppingTheExecutorStopsItsWorkers() async throws {
        var executor: ProcessExecutor? = ProcessExecutor(Bridge.configuration(poolSize: 2))
        try await withThrowingTaskGroup(of: JSONValue.self) { group in
            for index in 0..<4 {
                let job = Job(id: JobID(Int64(index + 1)), groupKey: "drop", role: .follower, payload: ["action": "span", "seconds": 0.1])
                group.addTask { [executor] in try await executor!.execute(job) }
            }
            try await group.waitForAll()
        }
        let pids = executor!.workerProcessIDs
        #expect(pids.count == 2)
        executor = nil
        #expect(try await waitUntil { pids.allSatisfy { isGone(Int($0)) } })
    }

    @Test func aProgramThatCannotStartFailsTheAttemptWithTheReason() async throws {
        let dir = TemporaryDirectory()
        let executor = ProcessExecutor(ProcessExecutorConfiguration(name: "bridge", command: dir.file("no-such-program")))
        try await withBridgeEngine(dir, executor: executor) { engine in
            let job = try #require(try await engine.submitGroup("missing", primer: ["n": 1]).primer)
            let result = try await job.result(within: .seconds(20))
            #expect(result.status == .failed)
            #expect(result.error?.type == "ProcessExecutorError")
            #expect(result.error?.message.contains("spawn failed: could not start") == true, "\(String(describing: result.error))")
            #expect(result.error?.message.contains("No such file or directory") == true, "\(String(describing: result.error))")
        }
    }
}
