import ActyTestSupport
@testable import Acty
@testable import ActyStore
import Foundation
import Testing

/// What a result handler can ask beyond a plain resubmit (a delay, another context), and handler calls that throw
/// being called again (Python acty's `result_handler_retry_policy`).
@Suite(.timeLimit(.minutes(1)))
struct ResultHandlerRetryTests {
    typealias Deciding = ResultHandlerTests.Deciding

    /// A handler that throws for its first `failures` calls, then accepts.
    static func throwing(first failures: Int, error: @escaping @Sendable () -> any Error = { PlannedFailure("handler boom") }) -> Deciding {
        let count = Locked(0)
        return Deciding(name: "flaky") { _, _ in
            let call = count.withLock { count in
                count += 1
                return count
            }
            if call <= failures { throw error() }
            return .accept
        }
    }

    static func data(_ event: EventRecord) throws -> JSONValue { try JSONValue(jsonString: event.data ?? "null") }

    @Test func aDelayedResubmitWaitsScheduledHoldingNoWorker() async throws {
        let dir = TemporaryDirectory()
        let handler = Deciding { _, job in job.payload == "orig" ? .resubmit("repair", reason: "later", delay: .seconds(60)) : .accept }
        let configuration = EngineConfiguration(primerWorkers: 1, followerWorkers: 0, resultHandler: handler)
        try await withEngine(dir, configuration) { engine in
            let delayed = try #require(try await engine.submitGroup("delayed", primer: "orig").primer)
            try await require("the resubmit to be recorded") { try await engine.store.job(delayed.id)?.state == .scheduled }
            // The only worker is free meanwhile: another group's job runs while the resubmit waits.
            let other = try await #require(try await engine.submitGroup("other", primer: "fine").primer).boundedResult()
            #expect(other.status == .succeeded)
            let row = try #require(try await engine.store.job(delayed.id))
            #expect(row.state == .scheduled)
            let resubmittedAt = try #require(try await engine.store.attempts(of: delayed.id).first?.finishedAt)
            #expect(row.runAt.map { abs($0 - (resubmittedAt + 60)) < 0.001 } == true)
        }
    }

    @Test func aDelayedResubmitRunsOnceItsDelayPassed() async throws {
        let dir = TemporaryDirectory()
        let handler = Deciding { _, job in job.payload == "orig" ? .resubmit("repair", reason: "later", delay: .milliseconds(300)) : .accept }
        try await withEngine(dir, EngineConfiguration(resultHandler: handler)) { engine in
            let delayed = try #require(try await engine.submitGroup("delayed", primer: "orig").primer)
            let result = try await delayed.boundedResult()
            #expect(result.status == .succeeded && result.output == "repair")
            let attempts = try await engine.store.attempts(of: delayed.id)
            #expect(attempts[1].startedAt >= attempts[0].finishedAt! + 0.3)
            let resubmitted = try Self.data(#require(try await engine.allEvents().forJob(delayed.id).ofType(.jobResubmitted).first))
            #expect(resubmitted["delay"]?.doubleValue.map { abs($0 - 0.3) < 1e-6 } == true)
        }
    }

    @Test func aResubmitCanDropTheCacheHandleOrReplaceTheGroupContextForLaterAttempts() async throws {
        let dir = TemporaryDirectory()
        let seen = Recorder<JSONValue>()
        let probe = ClosureExecutor(name: "probe") { job in
            seen.append(["cache": job.cache.map { .string($0.key) } ?? .null, "context": job.groupContext ?? .null])
            return job.payload
        }
        let handler = Deciding { _, job in
            switch job.payload {
            case "first": .resubmit("second", reason: "no cache", context: .dropCache)
            case "second": .resubmit("third", reason: "other context", context: .replaceGroupContext(["tenant": "other"]))
            case "third": .resubmit("fourth", reason: "nothing", context: .dropAll)
            case "fourth": .resubmit("fifth", reason: "as the group", context: .keep)
            default: .accept
            }
        }
        let engine = try await ActyEngine(
            database: .file(dir.file()), configuration: EngineConfiguration(resultHandler: handler, maxResultHandlerAttempts: 5),
            executors: [probe], cacheProvider: ScriptedCacheProvider()
        )
        do {
            let primer = try #require(
                try await engine.submitGroup("g", primer: "first", groupContext: ["tenant": "acme"], cacheKey: "k").primer
            )
            #expect(try await primer.boundedResult().output == "fifth")
            #expect(
                seen.values == [
                    ["cache": "k", "context": ["tenant": "acme"]],
                    ["cache": nil, "context": ["tenant": "acme"]],
                    ["cache": "k", "context": ["tenant": "other"]],
                    ["cache": nil, "context": nil],
                    ["cache": "k", "context": ["tenant": "acme"]],
                ]
            )
            let policies = try await engine.allEvents().forJob(primer.id).ofType(.jobResubmitted).map { try Self.data($0)["context_policy"] }
            #expect(policies == ["drop_cache", "override", "drop_all", nil])
        } catch {
            try? await engine.boundedShutdown()
            throw error
        }
        try await engine.boundedShutdown()
    }

    @Test func aThrowingHandlerIsCalledAgainAsTheJobsRetryPolicyAllows() async throws {
        let dir = TemporaryDirectory()
        let handler = Self.throwing(first: 2)
        let policy = RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(1), jitter: .none)
        try await withEngine(dir, EngineConfiguration(retryPolicy: policy, resultHandler: handler)) { engine in
            let primer = try #require(try await engine.submitGroup("g", primer: "p").primer)
            let result = try await primer.boundedResult()
            #expect(result.status == .succeeded)
            #expect(handler.calls.count == 3)
            #expect(result.attempts == 1, "handler calls are not attempts")
        }
    }

    @Test func disabledRetryCallsTheHandlerOnceAndExhaustionIsReportedWithTheCalls() async throws {
        let dir = TemporaryDirectory()
        for (retry, calls) in [(ResultHandlerRetry.disabled, 1), (.policy(RetryPolicy(maxAttempts: 2, initialDelay: .zero)), 2)] {
            let handler = Self.throwing(first: 5)
            let policy = RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(1), jitter: .none)
            try await withEngine(dir, EngineConfiguration(retryPolicy: policy, resultHandler: handler, resultHandlerRetry: retry)) { engine in
                let primer = try #require(try await engine.submitGroup("g-\(calls)", primer: "p").primer)
                let result = try await primer.boundedResult()
                #expect(result.status == .failed)
                #expect(result.error?.message.contains("handler boom") == true)
                #expect(handler.calls.count == calls)
                let failed = try Self.data(#require(try await engine.allEvents().forJob(primer.id).ofType(.jobResultHandlerFailed).first))
                #expect(failed["calls"] == .number(Double(calls)))
                #expect(failed["error"]?["message"] == "handler boom")
            }
        }
    }

    @Test func whenExhaustedDecidesInsteadOfTheErrorPolicy() async throws {
        let dir = TemporaryDirectory()
        let handler = Self.throwing(first: 5)
        let retry = ResultHandlerRetry.policy(RetryPolicy(maxAttempts: 2, initialDelay: .zero)) { _, calls in
            .fail(JobError(type: "HandlerRetryExhausted", message: "gave up after \(calls) calls"))
        }
        try await withEngine(dir, EngineConfiguration(resultHandler: handler, resultHandlerRetry: retry)) { engine in
            let primer = try #require(try await engine.submitGroup("g", primer: "p").primer)
            let result = try await primer.boundedResult()
            #expect(result.status == .failed)
            #expect(result.error == JobError(type: "HandlerRetryExhausted", message: "gave up after 2 calls"))
            let events = try await engine.allEvents().forJob(primer.id)
            #expect(events.ofType(.jobResultHandlerFailed).isEmpty)
            #expect(try events.ofType(.jobResultHandled).map { try Self.data($0)["action"] } == ["fail"])
        }
    }

    @Test func aNonRetryableErrorFromTheHandlerIsNotCalledAgain() async throws {
        let dir = TemporaryDirectory()
        let handler = Self.throwing(first: 5) { NonRetryableError("schema is wrong") }
        let retry = ResultHandlerRetry.policy(RetryPolicy(maxAttempts: 4, initialDelay: .zero))
        try await withEngine(dir, EngineConfiguration(resultHandler: handler, resultHandlerRetry: retry)) { engine in
            let result = try await #require(try await engine.submitGroup("g", primer: "p").primer).boundedResult()
            #expect(result.status == .failed)
            #expect(handler.calls.count == 1)
        }
    }
}
