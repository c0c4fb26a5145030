import ActyTestSupport
@testable import Acty
import ActyStore
import Foundation
import Testing

/// Automatic retries: backoff as a `scheduled` row, the attempt limit, what is not retried, and overrides.
@Suite(.timeLimit(.minutes(1)))
struct RetryTests {
    /// An executor named `work` that fails a job's first `payload.failures` attempts (0 when missing) and returns
    /// the payload after; `payload.fatal` makes it throw ``NonRetryableError`` instead.
    static func failingFirstAttempts(name: String = "work") -> ClosureExecutor {
        ClosureExecutor(name: name) { job in
            let failures = job.payload["failures"]?.intValue ?? 0
            if job.attempt <= failures {
                if job.payload["fatal"] == true { throw NonRetryableError(PlannedFailure("attempt \(job.attempt) cannot be fixed")) }
                throw PlannedFailure("attempt \(job.attempt) failed")
            }
            return job.payload
        }
    }

    /// The `data` of an event as JSON.
    static func data(_ event: EventRecord) throws -> JSONValue {
        try JSONValue(jsonString: event.data ?? "null")
    }

    @Test func failedAttemptsAreRetriedAfterTheirBackoffUntilOneSucceeds() async throws {
        let dir = TemporaryDirectory()
        let policy = RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(20), jitter: .none)
        let engine = try await makeEngine(dir, EngineConfiguration(retryPolicy: policy), executors: [Self.failingFirstAttempts()])
        let submission = try await engine.submitGroup("flaky", primer: ["failures": 2])
        let primer = try #require(submission.primer)

        let result = try await primer.boundedResult()
        #expect(result.status == .succeeded)
        #expect(result.attempts == 3)
        #expect(result.output == ["failures": 2])
        #expect(result.error == nil)

        let attempts = try await engine.store.attempts(of: primer.id)
        #expect(attempts.map(\.number) == [1, 2, 3])
        #expect(attempts.map(\.outcome) == ["failed", "failed", "succeeded"])
        #expect(attempts.allSatisfy { $0.worker == engine.workerID })
        #expect(try JobError(stored: #require(attempts[0].error)).type == "PlannedFailure")
        // Each retry waited for its backoff: 20 ms, then 40 ms (multiplier 2, no jitter).
        #expect(attempts[1].startedAt >= attempts[0].finishedAt! + 0.020)
        #expect(attempts[2].startedAt >= attempts[1].finishedAt! + 0.040)

        let events = try await engine.allEvents().forJob(primer.id)
        let retrying = events.ofType(.jobRetrying)
        #expect(retrying.count == 2)
        let first = try Self.data(retrying[0])
        let second = try Self.data(retrying[1])
        #expect(first["attempt"] == 1)
        #expect(first["delay"]?.doubleValue.map { abs($0 - 0.020) < 1e-9 } == true)
        #expect(first["outcome"] == "failed")
        #expect(first["error"]?["type"] == "PlannedFailure")
        #expect(second["attempt"] == 2)
        #expect(second["delay"]?.doubleValue.map { abs($0 - 0.040) < 1e-9 } == true)
        // The order of the log: start, retrying, start, retrying, start, succeeded; no job_failed.
        let lifecycle = events.map(\.type).filter { ["job_started", "job_retrying", "job_succeeded", "job_failed"].contains($0) }
        #expect(lifecycle == ["job_started", "job_retrying", "job_started", "job_retrying", "job_started", "job_succeeded"])
        #expect(try events.ofType(.jobStarted).map { try Self.data($0)["attempt"] } == [1, 2, 3])

        let row = try #require(try await engine.store.job(primer.id))
        #expect(row.state == .succeeded)
        #expect(row.attempts == 3)
        #expect(row.maxAttempts == 3)
        #expect(row.runAt == nil)
        #expect(try await engine.store.group(key: "flaky")?.state == .succeeded)
        try await engine.boundedShutdown()
    }

    @Test func aJobFailsOnceItsAttemptsAreUsedUpAndTheGroupPolicyApplies() async throws {
        let dir = TemporaryDirectory()
        let policy = RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(5), jitter: .none)
        let engine = try await makeEngine(dir, EngineConfiguration(retryPolicy: policy), executors: [Self.failingFirstAttempts()])
        let submission = try await engine.submitGroup("hopeless", primer: ["failures": 10], followers: ["a", "b"])
        let primer = try #require(submission.primer)

        let result = try await primer.boundedResult()
        #expect(result.status == .failed)
        #expect(result.attempts == 3)
        #expect(result.error?.type == "PlannedFailure")
        #expect(result.error?.message == "attempt 3 failed")
        for follower in submission.followers {
            let followerResult = try await follower.boundedResult()
            #expect(followerResult.status == .cancelled)
            #expect(followerResult.attempts == 0)
        }
        #expect(try await engine.store.attempts(of: primer.id).map(\.outcome) == ["failed", "failed", "failed"])
        let group = try #require(try await engine.store.group(key: "hopeless"))
        #expect(group.state == .failed)
        #expect(group.primerState == .failed)
        #expect(try JSONValue(jsonString: group.error ?? "")["reason"] == "primer_failed")

        let events = try await engine.allEvents()
        #expect(events.forJob(primer.id).ofType(.jobRetrying).count == 2)
        let failed = try #require(events.forJob(primer.id).ofType(.jobFailed).first)
        #expect(try Self.data(failed)["attempt"] == 3)
        #expect(events.filter { $0.groupID == group.id }.ofType(.primerFailed).count == 1)
        #expect(events.filter { $0.groupID == group.id }.ofType(.groupDone).count == 1)
        try await engine.boundedShutdown()
    }

    @Test func nonRetryableErrorFailsAtOnceDespiteAttemptsLeft() async throws {
        let dir = TemporaryDirectory()
        let policy = RetryPolicy(maxAttempts: 5, initialDelay: .milliseconds(5), jitter: .none)
        let engine = try await makeEngine(dir, EngineConfiguration(retryPolicy: policy), executors: [Self.failingFirstAttempts()])
        let submission = try await engine.submitGroup("fatal", primer: ["failures": 3, "fatal": true])
        let result = try await submission.primer!.boundedResult()
        #expect(result.status == .failed)
        #expect(result.attempts == 1)
        // The underlying error is what gets recorded.
        #expect(result.error?.type == "PlannedFailure")
        #expect(result.error?.message == "attempt 1 cannot be fixed")
        #expect(try await engine.store.attempts(of: submission.primer!.id).map(\.outcome) == ["failed"])
        #expect(try await engine.allEvents().ofType(.jobRetrying).isEmpty)
        #expect(try await engine.store.job(submission.primer!.id)?.maxAttempts == 5)
        try await engine.boundedShutdown()
    }

    @Test func nonRetryableErrorWithAMessageIsRecordedUnderItsOwnType() async throws {
        let dir = TemporaryDirectory()
        let executor = ClosureExecutor(name: "work") { _ in throw NonRetryableError("the payload has no prompt") }
        let engine = try await makeEngine(dir, EngineConfiguration(retryPolicy: RetryPolicy(maxAttempts: 4)), executors: [executor])
        let result = try await engine.submitGroup("no-prompt", primer: "p").primer!.boundedResult()
        #expect(result.status == .failed)
        #expect(result.attempts == 1)
        #expect(result.error == JobError(type: "NonRetryableError", message: "the payload has no prompt"))
        try await engine.boundedShutdown()
    }

    @Test func theIsRetryableClassifierDecidesWhichErrorsAreRetried() async throws {
        let dir = TemporaryDirectory()
        let classified = Recorder<String>()
        let configuration = EngineConfiguration(
            retryPolicy: RetryPolicy(maxAttempts: 4, initialDelay: .milliseconds(5), jitter: .none),
            isRetryable: { error in
                classified.append(String(describing: type(of: error)))
                return !(error is PlannedFailure)
            }
        )
        let executor = ClosureExecutor(name: "work") { job in
            guard job.attempt == 1 else { return job.payload }
            if job.payload == "permanent" { throw PlannedFailure("permanent trouble") }
            throw JobError(type: "Transient", message: "try again")
        }
        let engine = try await makeEngine(dir, configuration, executors: [executor])
        let permanent = try await engine.submitGroup("permanent", primer: "permanent").primer!
        let transient = try await engine.submitGroup("transient", primer: "transient").primer!

        let permanentResult = try await permanent.boundedResult()
        #expect(permanentResult.status == .failed)
        #expect(permanentResult.attempts == 1)
        #expect(permanentResult.error?.type == "PlannedFailure")
        let transientResult = try await transient.boundedResult()
        #expect(transientResult.status == .succeeded)
        #expect(transientResult.attempts == 2)
        #expect(Set(classified.values) == ["PlannedFailure", "JobError"])
        let events = try await engine.allEvents()
        #expect(events.forJob(permanent.id).ofType(.jobRetrying).isEmpty)
        #expect(events.forJob(transient.id).ofType(.jobRetrying).count == 1)
        try await engine.boundedShutdown()
    }

    @Test func groupOptionsOverrideTheEngineRetryPolicy() async throws {
        let dir = TemporaryDirectory()
        // The engine does not retry; one group does.
        let engine = try await makeEngine(dir, executors: [Self.failingFirstAttempts()])
        let override = RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(10), multiplier: 1, maximumDelay: .milliseconds(10), jitter: .none)
        let retried = try await engine.submitGroup("retried", primer: ["failures": 2], options: GroupOptions(retryPolicy: override))
        let plain = try await engine.submitGroup("plain", primer: ["failures": 2])

        let retriedResult = try await retried.primer!.boundedResult()
        #expect(retriedResult.status == .succeeded)
        #expect(retriedResult.attempts == 3)
        let plainResult = try await plain.primer!.boundedResult()
        #expect(plainResult.status == .failed)
        #expect(plainResult.attempts == 1)

        #expect(try await engine.store.group(key: "retried")?.retryPolicy == override)
        #expect(try await engine.store.group(key: "plain")?.retryPolicy == RetryPolicy.none)
        #expect(try await engine.store.job(retried.primer!.id)?.maxAttempts == 3)
        #expect(try await engine.store.job(plain.primer!.id)?.maxAttempts == 1)
        let delays = try await engine.allEvents().forJob(retried.primer!.id).ofType(.jobRetrying).map { try Self.data($0)["delay"] }
        #expect(delays == [0.01, 0.01])
        try await engine.boundedShutdown()
    }

    @Test func aJobCanHaveMoreAttemptsThanItsGroup() async throws {
        let dir = TemporaryDirectory()
        // The group's policy gives one attempt, with short delays for jobs that ask for more.
        let policy = RetryPolicy(maxAttempts: 1, initialDelay: .milliseconds(5), jitter: .none)
        let engine = try await makeEngine(dir, EngineConfiguration(retryPolicy: policy), executors: [Self.failingFirstAttempts()])
        let (stubborn, fragile, primer) = try await engine.withOpenGroup(
            "per-job", options: GroupOptions(followerFailurePolicy: .continueGroup)
        ) { group in
            let primer = try await group.submitPrimer("p", maxAttempts: 2)
            let stubborn = try await group.addFollower(["failures": 2], maxAttempts: 3)
            let fragile = try await group.addFollower(["failures": 1])
            return (stubborn, fragile, primer)
        }
        let stubbornResult = try await stubborn.boundedResult()
        #expect(stubbornResult.status == .succeeded)
        #expect(stubbornResult.attempts == 3)
        let fragileResult = try await fragile.boundedResult()
        #expect(fragileResult.status == .failed)
        #expect(fragileResult.attempts == 1)
        #expect(try await primer.boundedResult().attempts == 1)

        #expect(try await engine.store.job(stubborn.id)?.maxAttempts == 3)
        #expect(try await engine.store.job(fragile.id)?.maxAttempts == 1)
        #expect(try await engine.store.job(primer.id)?.maxAttempts == 2)
        #expect(try await engine.store.attempts(of: stubborn.id).map(\.outcome) == ["failed", "failed", "succeeded"])
        // A per-job limit below 1 is refused.
        let group = try await engine.openGroup("per-job-bad")
        let error = await #expect(throws: ActyError.self) { try await group.addFollower("x", maxAttempts: 0) }
        #expect(error?.code == .invalidArgument)
        try await group.close()
        try await engine.boundedShutdown()
    }

    @Test func aJobWaitingForItsBackoffHoldsNoWorker() async throws {
        let dir = TemporaryDirectory()
        // One worker in all. Job A fails once and waits 8 s; job B must run meanwhile.
        let engine = try await makeEngine(dir, EngineConfiguration(primerWorkers: 0, followerWorkers: 1), executors: [Self.failingFirstAttempts()])
        let slow = RetryPolicy(maxAttempts: 2, initialDelay: .seconds(8), jitter: .none)
        let a = try await engine.submitGroup("a", primer: nil, followers: [["failures": 1]], options: GroupOptions(retryPolicy: slow)).followers[0]
        #expect(try await waitUntil(timeout: .seconds(10)) { try await engine.store.job(a.id)?.state == .scheduled })
        let scheduled = try #require(try await engine.store.job(a.id))
        let firstAttempt = try #require(try await engine.store.attempts(of: a.id).first)
        #expect(firstAttempt.outcome == "failed")
        #expect(scheduled.leaseOwner == nil)
        let runAt = try #require(scheduled.runAt)
        #expect(abs(runAt - (firstAttempt.finishedAt! + 8)) < 0.001, "run_at is the failure time plus the backoff")

        let b = try await engine.submitGroup("b", primer: nil, followers: ["b"]).followers[0]
        let bResult = try await b.boundedResult(timeout: .seconds(10))
        #expect(bResult.status == .succeeded)
        // B ran during A's backoff.
        let bAttempt = try #require(try await engine.store.attempts(of: b.id).first)
        #expect(bAttempt.finishedAt! < runAt)

        let aResult = try await a.boundedResult(timeout: .seconds(30))
        #expect(aResult.status == .succeeded)
        #expect(aResult.attempts == 2)
        let secondAttempt = try #require(try await engine.store.attempts(of: a.id).last)
        #expect(secondAttempt.startedAt >= runAt)
        try await engine.boundedShutdown()
    }

    @Test func aRetryScheduledBeforeARestartRunsAfterItAtItsTime() async throws {
        let dir = TemporaryDirectory()
        // Long enough that the first engine surely shuts down before the retry is due, even on a loaded machine.
        let backoff = 4.0
        let policy = RetryPolicy(maxAttempts: 2, initialDelay: .seconds(backoff), jitter: .none)
        let first = try await makeEngine(dir, EngineConfiguration(retryPolicy: policy), executors: [Self.failingFirstAttempts()])
        let submission = try await first.submitGroup("across-restart", primer: ["failures": 1])
        let id = try #require(submission.primer?.id)
        #expect(try await waitUntil(timeout: .seconds(10)) { try await first.store.job(id)?.state == .scheduled })
        try await first.boundedShutdown()

        // The retry is a row: it survived the shutdown with its time.
        let store = try Store(.file(dir.file()))
        let row = try #require(try await store.job(id))
        let failedAttempt = try #require(try await store.attempts(of: id).first)
        try await store.close()
        #expect(row.state == .scheduled)
        #expect(row.attempts == 1)
        let runAt = try #require(row.runAt)
        #expect(abs(runAt - (failedAttempt.finishedAt! + backoff)) < 0.001)

        let secondOpened = Date().timeIntervalSince1970
        let second = try await makeEngine(dir, executors: [Self.failingFirstAttempts()])
        let result = try await second.handle(for: id).boundedResult(timeout: .seconds(30))
        #expect(result.status == .succeeded)
        #expect(result.attempts == 2)
        let attempts = try await second.store.attempts(of: id)
        #expect(attempts.map(\.outcome) == ["failed", "succeeded"])
        #expect(attempts[0].worker == first.workerID)
        #expect(attempts[1].worker == second.workerID)
        // Not before its time, and not much after it or after the new engine opened, if that was later (a loaded
        // machine can take seconds to shut one engine down and open the next).
        #expect(attempts[1].startedAt >= attempts[0].finishedAt! + backoff - 0.005)
        #expect(attempts[1].startedAt <= max(attempts[0].finishedAt! + backoff, secondOpened) + 5)
        #expect(try await second.store.group(key: "across-restart")?.state == .succeeded)
        try await second.boundedShutdown()
    }
}
