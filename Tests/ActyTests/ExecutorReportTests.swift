import ActyTestSupport
@testable import Acty
import ActyStore
import Foundation
import Testing

/// What an executor reports beyond its output: tokens used, a retry's earliest time, its group's primer.
@Suite(.timeLimit(.minutes(1)))
struct ExecutorReportTests {
    static func data(_ event: EventRecord) throws -> JSONValue { try JSONValue(jsonString: event.data ?? "null") }

    @Test func usageIsSummedPerAttemptAndStoredOnTheAttemptAndItsEvent() async throws {
        let dir = TemporaryDirectory()
        let policy = RetryPolicy(maxAttempts: 2, initialDelay: .milliseconds(1), jitter: .none)
        let llm = ClosureExecutor(name: "llm") { job in
            job.recordUsage(TokenUsage(promptTokens: 100, completionTokens: 20, cachedPromptTokens: 64))
            job.recordUsage(TokenUsage(promptTokens: 10, completionTokens: 2))
            if job.attempt == 1 { throw PlannedFailure("the stream broke") }
            return "answer"
        }
        let plain = ClosureExecutor(name: "plain") { _ in "no tokens" }
        try await withEngine(dir, EngineConfiguration(retryPolicy: policy), executors: [llm, plain]) { engine in
            let primer = try #require(try await engine.submitGroup("g", primer: ["q": 1], executor: "llm").primer)
            let other = try #require(try await engine.submitGroup("h", primer: ["q": 2], executor: "plain").primer)
            #expect(try await primer.boundedResult().status == .succeeded)
            #expect(try await other.boundedResult().status == .succeeded)

            let expected = TokenUsage(promptTokens: 110, completionTokens: 22, cachedPromptTokens: 64)
            let attempts = try await engine.store.attempts(of: primer.id)
            #expect(attempts.map(\.outcome) == ["failed", "succeeded"])
            #expect(attempts.map(\.usage) == [expected, expected])
            #expect(try await engine.store.attempts(of: other.id).map(\.usage) == [nil])

            let events = try await engine.allEvents()
            let retrying = try Self.data(#require(events.forJob(primer.id).ofType(.jobRetrying).first))
            let succeeded = try Self.data(#require(events.forJob(primer.id).ofType(.jobSucceeded).first))
            let usage: JSONValue = ["prompt_tokens": 110, "completion_tokens": 22, "cached_prompt_tokens": 64]
            #expect(retrying["usage"] == usage)
            #expect(succeeded["usage"] == usage)
            let plainEvent = try Self.data(#require(events.forJob(other.id).ofType(.jobSucceeded).first))
            #expect(plainEvent["usage"] == nil)
        }
    }

    @Test func retryAfterReplacesTheBackoffAndIsRecordedAsTheDelay() async throws {
        let dir = TemporaryDirectory()
        // The policy would wait ten minutes: the provider's Retry-After of 50 ms wins.
        let policy = RetryPolicy(maxAttempts: 3, initialDelay: .seconds(600), maximumDelay: .seconds(600), jitter: .none)
        let limited = ClosureExecutor(name: "limited") { job in
            if job.attempt == 1 { throw RetryAfterError(PlannedFailure("429 too many requests"), after: .milliseconds(50), isRateLimit: true) }
            return "ok"
        }
        try await withEngine(dir, EngineConfiguration(retryPolicy: policy), executors: [limited]) { engine in
            let primer = try #require(try await engine.submitGroup("g", primer: [:]).primer)
            let result = try await primer.boundedResult()
            #expect(result.status == .succeeded)
            #expect(result.attempts == 2)
            let attempts = try await engine.store.attempts(of: primer.id)
            #expect(attempts[1].startedAt >= attempts[0].finishedAt! + 0.050)
            let retrying = try Self.data(#require(try await engine.allEvents().forJob(primer.id).ofType(.jobRetrying).first))
            #expect(retrying["delay"]?.doubleValue.map { abs($0 - 0.050) < 1e-9 } == true)
            // The stored error is the provider's, not the wrapper's.
            #expect(retrying["error"]?["type"] == "PlannedFailure")
        }
    }

    @Test func retryAfterWithNoAttemptsLeftFailsTheJob() async throws {
        let dir = TemporaryDirectory()
        let limited = ClosureExecutor(name: "limited") { _ in
            throw RetryAfterError(PlannedFailure("503 unavailable"), after: .milliseconds(1))
        }
        let configuration = EngineConfiguration(retryPolicy: RetryPolicy(maxAttempts: 2, initialDelay: .seconds(600), maximumDelay: .seconds(600)))
        try await withEngine(dir, configuration, executors: [limited]) { engine in
            let primer = try #require(try await engine.submitGroup("g", primer: [:]).primer)
            let result = try await primer.boundedResult()
            #expect(result.status == .failed)
            #expect(result.attempts == 2)
            #expect(result.error?.message.contains("503 unavailable") == true)
        }
    }

    @Test func followersReadTheirPrimerAsItRan() async throws {
        let dir = TemporaryDirectory()
        let seen = Recorder<PrimerOutcome?>()
        let chat = ClosureExecutor(name: "chat") { job in
            seen.append(try await job.primer())
            return job.role == .primer ? ["answer": "primed"] : "followed"
        }
        try await withEngine(dir, executors: [chat]) { engine in
            let submission = try await engine.submitGroup("g", primer: ["messages": ["hello"]], followers: [["n": 1], ["n": 2]])
            for follower in submission.followers { #expect(try await follower.boundedResult().status == .succeeded) }
            let outcomes = seen.values
            #expect(outcomes.count == 3)
            #expect(outcomes.first == .some(nil))  // the primer has no primer
            let primed = PrimerOutcome(payload: ["messages": ["hello"]], output: ["answer": "primed"])
            #expect(outcomes.dropFirst().allSatisfy { $0 == primed })
        }
        // A job made outside an engine reports into nothing and has no primer.
        let loose = Job(id: JobID(1), groupKey: "g", role: .follower, payload: [:])
        loose.recordUsage(TokenUsage(promptTokens: 1))
        #expect(try await loose.primer() == nil)
    }
}
