import ActyTestSupport
@testable import Acty
@testable import ActyStore
import Foundation
import GRDB
import Metrics
import MetricsTestKit
import Testing

/// The engine's swift-metrics, recorded by a `TestMetrics` of the test's own (the global system is never
/// bootstrapped): after a run with failures, retries, a timeout, a cancellation and a rescue, every counter equals
/// what the database says.
@Suite(.timeLimit(.minutes(1)))
struct MetricsTests {
    /// Sums a counter's values over the label sets that have every label of `matching`.
    static func total(_ metrics: TestMetrics, _ label: String, _ matching: [String: String] = [:]) -> Int {
        metrics.counters(label: label).filter { counter in
            matching.allSatisfy { name, value in counter.dimensions.contains { $0 == (name, value) } }
        }.reduce(0) { $0 + Int($1.totalValue) }
    }

    @Test func countersEqualTheDatabaseAfterFailuresRetriesACancellationAndARescue() async throws {
        let dir = TemporaryDirectory()
        let metrics = TestMetrics()
        let gate = Gate()
        let failedOnce = Locked<Set<String>>([])
        let executor = ClosureExecutor(name: "work") { job in
            job.recordUsage(TokenUsage(promptTokens: 10, completionTokens: 3, cachedPromptTokens: 2))
            switch job.payload["do"]?.stringValue {
            case "fail": throw PlannedFailure()
            case "flaky":
                let first = failedOnce.withLock { $0.insert("\(job.id)").inserted }
                if first { throw PlannedFailure("first try") }
            case "hang":
                try await gate.wait()
            case "slow":
                try await Task.sleep(for: .seconds(20))
            default: break
            }
            return job.payload
        }
        var configuration = LeaseTests.heldLane(leaseDuration: .seconds(30))
        configuration.followerFailurePolicy = .continueGroup
        configuration.retryPolicy = RetryPolicy(maxAttempts: 2, initialDelay: .milliseconds(10), jitter: .none)
        configuration.metricsFactory = metrics
        configuration.queueMetricsInterval = .milliseconds(50)
        try await withEngine(dir, configuration, executors: [executor]) { engine in
            let mixed = try await engine.submitGroup(
                "mixed", primer: ["do": "ok"],
                followers: [["do": "ok"], ["do": "fail"], ["do": "flaky"], ["do": "ok"]], lane: "batch"
            )
            let timedOut = try await engine.submitGroup(
                "timed-out", primer: ["do": "slow"], options: GroupOptions(retryPolicy: RetryPolicy.none, jobTimeout: .milliseconds(100))
            )
            let cancelled = try await engine.submitGroup("stopped", primer: ["do": "hang"], followers: [["do": "ok"]])
            try await require("the hanging primer to run") {
                try await engine.store.job(cancelled.primer!.id)?.state == .running
            }
            #expect(try await engine.cancelGroup("stopped"))
            // A job left running by a worker that is gone: this engine's rescuer takes it back and runs it.
            let rescued = try await LeaseTests.submitAbandoned(engine, key: "rescued", owner: "w-gone", leaseUntil: WallClock.now - 1, maxAttempts: 2)
            for handle in mixed.jobs + timedOut.jobs + rescued.jobs { _ = try await handle.boundedResult() }
            for handle in cancelled.jobs { _ = try await handle.boundedResult() }
            gate.open()
            // Metrics of a batch are recorded once it committed, before its results resolve; the gauges need a read.

            let store = engine.store
            let jobStates = try await store.jobCountsByState()
            for state in [JobState.succeeded, .failed, .cancelled] {
                #expect(Self.total(metrics, "acty_jobs_finished_total", ["outcome": state.rawValue]) == jobStates[state, default: 0], "\(state)")
            }
            #expect(jobStates[.succeeded, default: 0] == 5 && jobStates[.failed, default: 0] == 2 && jobStates[.cancelled, default: 0] == 2)
            // Per label set too: the lane and role of each finished job.
            #expect(Self.total(metrics, "acty_jobs_finished_total", ["lane": "batch", "role": "follower", "executor": "work"]) == 4)

            let attempts = try await store.attempts()
            // This engine's attempts: the rescued one ran elsewhere; the cancelled one was ended by the cancellation.
            let mine = attempts.filter { $0.worker == engine.workerID && $0.outcome != "cancelled" }
            #expect(attempts.count { $0.outcome == "cancelled" } == 1)
            for outcome in ["succeeded", "failed", "timed_out"] {
                #expect(Self.total(metrics, "acty_attempts_total", ["outcome": outcome]) == mine.count { $0.outcome == outcome }, "\(outcome)")
            }
            let events = try await engine.allEvents()
            #expect(Self.total(metrics, "acty_job_retries_total") == events.ofType(.jobRetrying).count)
            #expect(events.ofType(.jobRetrying).count == 2)  // the failing follower and the flaky one
            #expect(Self.total(metrics, "acty_attempts_timed_out_total") == mine.count { $0.outcome == "timed_out" })
            #expect(Self.total(metrics, "acty_jobs_rescued_total") == events.ofType(.jobRescued).count)
            #expect(events.ofType(.jobRescued).count == 1)
            let prompt = mine.reduce(0) { $0 + ($1.usage?.promptTokens ?? 0) }
            #expect(prompt > 0)
            #expect(Self.total(metrics, "acty_tokens_total", ["kind": "prompt"]) == prompt)
            #expect(Self.total(metrics, "acty_tokens_total", ["kind": "cached_prompt"]) == mine.reduce(0) { $0 + ($1.usage?.cachedPromptTokens ?? 0) })
            #expect(Self.total(metrics, "acty_jobs_started_total") == mine.count + 1)  // and the cancelled primer's attempt

            // One execution time per recorded attempt, one queue wait per start; a batch size and commit time per batch.
            #expect(metrics.timers(label: "acty_job_execution_duration_seconds").reduce(0) { $0 + $1.values.count } == mine.count)
            #expect(metrics.timers(label: "acty_job_queue_wait_seconds").reduce(0) { $0 + $1.values.count } == mine.count + 1)
            #expect(try metrics.expectTimer("acty_writer_commit_duration_seconds").values.count > 0)
            #expect(try metrics.expectRecorder("acty_writer_batch_size").values.contains { $0 >= 1 })
            // No label carries a group key or a job id.
            let labels = metrics.counters.flatMap(\.dimensions).map(\.1)
            #expect(!labels.contains { ["mixed", "timed-out", "stopped", "rescued"].contains($0) })
        }
    }

    @Test func queueGaugesFollowTheDatabase() async throws {
        let dir = TemporaryDirectory()
        let metrics = TestMetrics()
        let gate = Gate()
        var configuration = EngineConfiguration(primerWorkers: 1, followerWorkers: 1, workStealing: false)
        configuration.metricsFactory = metrics
        configuration.queueMetricsInterval = .milliseconds(20)
        try await withEngine(dir, configuration, executors: [gated(by: gate)]) { engine in
            let submission = try await engine.submitGroup("g", primer: 1, followers: [2, 3, 4], lane: "gauged")
            // The primer runs (one in flight in the primer pool); its three followers wait for it, blocked.
            try await require("the gauges to show the running primer and its blocked followers") {
                let inFlight = try? metrics.expectGauge("acty_jobs_in_flight", [("lane", "gauged"), ("pool", "primer")]).lastValue
                let blocked = try? metrics.expectGauge("acty_queue_depth", [("lane", "gauged"), ("state", "blocked")]).lastValue
                return inFlight == 1 && blocked == 3
            }
            gate.open()
            for job in submission.jobs { _ = try await job.boundedResult() }
            try await require("the gauges to drop to 0") {
                let inFlight = try? metrics.expectGauge("acty_jobs_in_flight", [("lane", "gauged"), ("pool", "primer")]).lastValue
                let blocked = try? metrics.expectGauge("acty_queue_depth", [("lane", "gauged"), ("state", "blocked")]).lastValue
                return inFlight == 0 && blocked == 0
            }
        }
    }

    @Test func cacheHitsMissesAndCreationsAreCounted() async throws {
        let dir = TemporaryDirectory()
        let metrics = TestMetrics()
        var configuration = EngineConfiguration(primerWorkers: 1)
        configuration.metricsFactory = metrics
        let engine = try await ActyEngine(
            database: .file(dir.file()), configuration: configuration, executors: [EchoExecutor()], cacheProvider: CountingProvider()
        )
        do {
            for key in ["a", "b"] {
                let submission = try await engine.submitGroup(key, primer: "p", cacheKey: "shared")
                _ = try await submission.primer!.boundedResult()
            }
            let entries = try await engine.store.database.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM cache_entries") }
            #expect(entries == 1)
            #expect(Self.total(metrics, "acty_cache_events_total", ["event": "miss"]) == 1)
            #expect(Self.total(metrics, "acty_cache_events_total", ["event": "creation"]) == 1)
            #expect(Self.total(metrics, "acty_cache_events_total", ["event": "hit"]) == 1)
        } catch {
            try? await engine.boundedShutdown()
            throw error
        }
        try await engine.boundedShutdown()
    }
}

/// A cache provider that makes a new reference for each creation.
private struct CountingProvider: CacheProvider {
    var name: String { "counting" }
    func fingerprint(primer: JSONValue, context: JSONValue?) -> String { "f" }
    func create(primer: JSONValue, context: JSONValue?) async throws -> String? { UUID().uuidString }
}
