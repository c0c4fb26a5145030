import ActyTestSupport
@testable import Acty
import ActyStore
import Foundation
import Testing

/// Job timeouts: the executor task is cancelled at the deadline and the attempt recorded `timed_out`.
@Suite(.timeLimit(.minutes(1)))
struct TimeoutTests {
    /// An executor named `work` that sleeps `payload.sleep_ms` (0 when missing) on the attempts listed in
    /// `payload.slow_attempts` (every attempt when missing), recording in `cancelled` the attempts whose sleep was
    /// cancelled.
    static func sleeping(cancelled: Recorder<Int>) -> ClosureExecutor {
        ClosureExecutor(name: "work") { job in
            let slowAttempts = job.payload["slow_attempts"]?.arrayValue?.compactMap(\.intValue)
            if let milliseconds = job.payload["sleep_ms"]?.intValue, slowAttempts?.contains(job.attempt) ?? true {
                do {
                    try await Task.sleep(for: .milliseconds(milliseconds))
                } catch {
                    if error is CancellationError { cancelled.append(job.attempt) }
                    throw error
                }
            }
            return job.payload
        }
    }

    @Test func anAttemptPastTheEngineTimeoutIsCancelledAndRecordedTimedOut() async throws {
        let dir = TemporaryDirectory()
        let cancelled = Recorder<Int>()
        let engine = try await makeEngine(dir, EngineConfiguration(jobTimeout: .milliseconds(200)), executors: [Self.sleeping(cancelled: cancelled)])
        let submission = try await engine.submitGroup("slow", primer: ["sleep_ms": 30_000], followers: ["f"])
        let primer = try #require(submission.primer)

        // The executor sleeps 30 s: a result within the bound, with a timeout error, means the deadline ended it.
        let result = try await primer.boundedResult(timeout: .seconds(25))
        #expect(result.status == .failed)
        #expect(result.attempts == 1)
        #expect(result.error?.type == "timeout")
        #expect(result.error?.message.contains("0.2 s") == true, "\(result.error?.message ?? "")")
        #expect(try await submission.followers[0].boundedResult().status == .cancelled)
        // The executor's task saw the cancellation.
        try await require("the executor to see its cancellation") { cancelled.values == [1] }

        let attempt = try #require(try await engine.store.attempts(of: primer.id).first)
        #expect(attempt.outcome == "timed_out")
        #expect(try JobError(stored: #require(attempt.error)).type == "timeout")
        #expect(try #require(attempt.duration) >= 0.19)
        #expect(try #require(attempt.duration) < 5)
        let failed = try #require(try await engine.allEvents().forJob(primer.id).ofType(.jobFailed).first)
        #expect(try JSONValue(jsonString: failed.data ?? "")["outcome"] == "timed_out")
        #expect(try await engine.store.group(key: "slow")?.state == .failed)
        try await engine.boundedShutdown()
    }

    @Test func groupOptionsSetATimeoutForTheirGroupOnly() async throws {
        let dir = TemporaryDirectory()
        let cancelled = Recorder<Int>()
        let engine = try await makeEngine(dir, executors: [Self.sleeping(cancelled: cancelled)])
        let limited = try await engine.submitGroup(
            "limited", primer: ["sleep_ms": 30_000], options: GroupOptions(jobTimeout: .milliseconds(150))
        ).primer!
        let unlimited = try await engine.submitGroup("unlimited", primer: ["sleep_ms": 400]).primer!

        let limitedResult = try await limited.boundedResult(timeout: .seconds(10))
        #expect(limitedResult.status == .failed)
        #expect(limitedResult.error?.type == "timeout")
        let unlimitedResult = try await unlimited.boundedResult(timeout: .seconds(10))
        #expect(unlimitedResult.status == .succeeded)
        #expect(unlimitedResult.output == ["sleep_ms": 400])
        #expect(try await engine.store.attempts(of: limited.id).map(\.outcome) == ["timed_out"])
        #expect(try await engine.store.attempts(of: unlimited.id).map(\.outcome) == ["succeeded"])
        #expect(try await engine.store.group(key: "limited")?.jobTimeout == 0.15)
        #expect(try await engine.store.group(key: "unlimited")?.jobTimeout == nil)
        try await engine.boundedShutdown()
    }

    @Test func aGroupTimeoutOverridesTheEngineTimeout() async throws {
        let dir = TemporaryDirectory()
        let cancelled = Recorder<Int>()
        // The engine allows 150 ms; the group allows 20 s, so its 400 ms job succeeds.
        let engine = try await makeEngine(dir, EngineConfiguration(jobTimeout: .milliseconds(150)), executors: [Self.sleeping(cancelled: cancelled)])
        let patient = try await engine.submitGroup("patient", primer: ["sleep_ms": 400], options: GroupOptions(jobTimeout: .seconds(20))).primer!
        let strict = try await engine.submitGroup("strict", primer: ["sleep_ms": 400]).primer!
        #expect(try await patient.boundedResult().status == .succeeded)
        #expect(try await strict.boundedResult().status == .failed)
        #expect(try await engine.store.attempts(of: strict.id).map(\.outcome) == ["timed_out"])
        try await engine.boundedShutdown()
    }

    @Test func aTimedOutAttemptIsRetriedAndAFastAttemptSucceeds() async throws {
        let dir = TemporaryDirectory()
        let cancelled = Recorder<Int>()
        let configuration = EngineConfiguration(
            retryPolicy: RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(10), jitter: .none), jobTimeout: .milliseconds(200)
        )
        let engine = try await makeEngine(dir, configuration, executors: [Self.sleeping(cancelled: cancelled)])
        let primer = try await engine.submitGroup("second-time-lucky", primer: ["sleep_ms": 30_000, "slow_attempts": [1]]).primer!

        let result = try await primer.boundedResult(timeout: .seconds(10))
        #expect(result.status == .succeeded)
        #expect(result.attempts == 2)
        #expect(try await engine.store.attempts(of: primer.id).map(\.outcome) == ["timed_out", "succeeded"])
        let retrying = try #require(try await engine.allEvents().forJob(primer.id).ofType(.jobRetrying).first)
        let data = try JSONValue(jsonString: retrying.data ?? "")
        #expect(data["outcome"] == "timed_out")
        #expect(data["attempt"] == 1)
        try await require("the first attempt's executor to see its cancellation") { cancelled.values == [1] }
        try await engine.boundedShutdown()
    }

    @Test func anExecutorThatIgnoresCancellationDoesNotHoldTheWorker() async throws {
        let dir = TemporaryDirectory()
        let gate = Gate()
        let sawCancellation = Recorder<Bool>()
        let stubborn = ClosureExecutor(name: "work") { job in
            guard job.payload == "stubborn" else { return job.payload }
            // Waits on a task of its own: cancelling this one does not end the wait.
            await Task.detached { try? await gate.wait(timeout: .seconds(30)) }.value
            sawCancellation.append(Task.isCancelled)
            return "late"
        }
        // One worker in all: B can only run once A's attempt let go of it.
        let configuration = EngineConfiguration(primerWorkers: 1, followerWorkers: 0, jobTimeout: .milliseconds(300))
        let engine = try await makeEngine(dir, configuration, executors: [stubborn])
        let a = try await engine.submitGroup("a", primer: "stubborn").primer!
        let b = try await engine.submitGroup("b", primer: "quick").primer!

        let aResult = try await a.boundedResult(timeout: .seconds(10))
        #expect(aResult.status == .failed)
        #expect(aResult.error?.type == "timeout")
        let bResult = try await b.boundedResult(timeout: .seconds(10))
        #expect(bResult.status == .succeeded)
        #expect(bResult.output == "quick")
        // B ran right after A's deadline, while A's executor was still stuck.
        #expect(!gate.isOpen)
        #expect(sawCancellation.count == 0)
        let aAttempt = try #require(try await engine.store.attempts(of: a.id).first)
        let bAttempt = try #require(try await engine.store.attempts(of: b.id).first)
        #expect(aAttempt.outcome == "timed_out")
        #expect(bAttempt.startedAt >= aAttempt.finishedAt! - 0.001)
        #expect(bAttempt.startedAt - aAttempt.finishedAt! < 2)

        // When the stuck executor finally returns, it finds itself cancelled and its output counts for nothing.
        gate.open()
        try await require("the stuck executor to return") { sawCancellation.count == 1 }
        #expect(sawCancellation.values == [true])
        try await engine.boundedShutdown()
        let store = try Store(.file(dir.file()))
        let row = try #require(try await store.job(a.id))
        #expect(row.state == .failed)
        #expect(row.result == nil)
        #expect(try await store.attempts(of: a.id).count == 1)
        try await store.close()
    }
}
