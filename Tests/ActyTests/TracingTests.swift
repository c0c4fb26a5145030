import ActyTestSupport
@testable import Acty
@testable import ActyStore
import Foundation
import GRDB
import InMemoryTracing
import Logging
import Testing
import Tracing

/// Spans per attempt through swift-distributed-tracing, recorded by an in-memory tracer given to each engine (the
/// global system is never bootstrapped): one `acty.job` span per attempt, a child of the span that submitted the
/// group, also when another engine runs the job after a restart; the executor runs inside it.
@Suite(.timeLimit(.minutes(1)))
struct TracingTests {
    static func attribute(_ span: FinishedInMemorySpan, _ name: String) -> SpanAttribute? {
        span.attributes[name]?.toSpanAttribute()
    }

    @Test func eachAttemptHasASpanUnderTheSubmittersSpan() async throws {
        let dir = TemporaryDirectory()
        let tracer = InMemoryTracer()
        let failedOnce = Locked(false)
        let childSpans = Recorder<String>()
        let executor = ClosureExecutor(name: "work") { job in
            // The executor's own instrumented calls join the attempt's trace.
            let call = tracer.startSpan("http.call", context: ServiceContext.current ?? .topLevel)
            childSpans.append(call.spanID)
            call.end()
            let flaky = job.payload["do"]?.stringValue == "flaky"
            if flaky, failedOnce.withLock({ failed in
                defer { failed = true }
                return !failed
            }) {
                throw PlannedFailure("first try")
            }
            return job.payload
        }
        var configuration = EngineConfiguration(retryPolicy: RetryPolicy(maxAttempts: 2, initialDelay: .milliseconds(10), jitter: .none))
        configuration.tracer = tracer
        try await withEngine(dir, configuration, executors: [executor]) { engine in
            let submitting = tracer.startSpan("submit orders")
            let submission = try await ServiceContext.withValue(submitting.context) {
                try await engine.submitGroup("orders", primer: ["do": "ok"], followers: [["do": "flaky"]], lane: "traced")
            }
            submitting.end()
            for job in submission.jobs { #expect(try await job.boundedResult().status == .succeeded) }
            let submitter = try #require(tracer.finishedSpans.first { $0.operationName == "submit orders" })

            let spans = tracer.finishedSpans.filter { $0.operationName == "acty.job" }
            let attempts = try await engine.store.attempts()
            #expect(spans.count == 3 && attempts.count == 3)
            for span in spans {
                #expect(span.traceID == submitter.traceID)
                #expect(span.parentSpanID == submitter.spanID)
                #expect(Self.attribute(span, "acty.group") == .string("orders"))
                #expect(Self.attribute(span, "acty.lane") == .string("traced"))
                #expect(Self.attribute(span, "acty.executor") == .string("work"))
                let job = try #require(Self.attribute(span, "acty.job"))
                let attempt = try #require(Self.attribute(span, "acty.attempt"))
                let row = try #require(attempts.first { .int64(Int64($0.jobID.rawValue)) == job && .int64(Int64($0.number)) == attempt })
                #expect(Self.attribute(span, "acty.outcome") == .string(row.outcome ?? ""))
                #expect(Self.attribute(span, "acty.role") == .string(row.jobID == submission.primer!.id ? "primer" : "follower"))
            }
            // The failed attempt carries its error and an error status.
            let failed = try #require(spans.first { Self.attribute($0, "acty.outcome") == .string("failed") })
            #expect(failed.errors.count == 1)
            #expect(failed.status?.code == .error)
            #expect(spans.filter { $0.errors.isEmpty }.count == 2)
            // Each executor call is a child of its attempt's span.
            let calls = tracer.finishedSpans.filter { $0.operationName == "http.call" }
            #expect(calls.count == 3 && childSpans.count == 3)
            #expect(Set(calls.compactMap(\.parentSpanID)) == Set(spans.map(\.spanID)))
        }
    }

    @Test func theParentSurvivesARestartIntoAnotherEngine() async throws {
        let dir = TemporaryDirectory()
        let tracer = InMemoryTracer()
        var configuration = EngineConfiguration()
        configuration.tracer = tracer
        // The first engine stores the group and never runs: the second one, on the same file, runs its jobs.
        let first = try await makeEngine(dir, configuration, runsInBackground: false)
        let submitting = tracer.startSpan("submit")
        let submission = try await ServiceContext.withValue(submitting.context) {
            try await first.submitGroup("later", primer: 1, followers: [2])
        }
        submitting.end()
        try await first.boundedShutdown()
        #expect(tracer.finishedSpans.filter { $0.operationName == "acty.job" }.isEmpty)

        try await withEngine(dir, configuration) { second in
            for job in submission.jobs {
                let handle = try await second.handle(for: job.id)
                #expect(try await handle.boundedResult().status == .succeeded)
            }
            let spans = tracer.finishedSpans.filter { $0.operationName == "acty.job" }
            #expect(spans.count == 2)
            #expect(spans.allSatisfy { $0.traceID == submitting.traceID && $0.parentSpanID == submitting.spanID })
        }
    }

    @Test func withoutASubmittingSpanAttemptsStartTheirOwnTraces() async throws {
        let dir = TemporaryDirectory()
        let tracer = InMemoryTracer()
        var configuration = EngineConfiguration()
        configuration.tracer = tracer
        try await withEngine(dir, configuration) { engine in
            let submission = try await engine.submitGroup("untraced", primer: 1)
            _ = try await submission.primer!.boundedResult()
            let stored = try await engine.store.database.read {
                try String?.fetchOne($0, sql: "SELECT trace_context FROM groups WHERE key = 'untraced'")
            }
            #expect(stored == .some(nil))
            let spans = tracer.finishedSpans.filter { $0.operationName == "acty.job" }
            #expect(spans.count == 1 && spans[0].parentSpanID == nil)
        }
    }

    @Test func attemptLogLinesCarryTheSpanKeysAndNoSecretReachesLogsOrSpans() async throws {
        let dir = TemporaryDirectory()
        let tracer = InMemoryTracer()
        let logs = LogCapture()
        let key = "sk-1234567890abcdef"
        let executor = ClosureExecutor(name: "work") { job in
            if job.payload["fail"]?.boolValue == true { throw PlannedFailure("request failed with api_key=\(key)") }
            return job.payload
        }
        var configuration = EngineConfiguration(logger: logs.logger)
        configuration.tracer = tracer
        try await withEngine(dir, configuration, executors: [executor]) { engine in
            let submission = try await engine.submitGroup("secretive", primer: ["fail": true, "token": .string(key)], lane: "logged")
            #expect(try await submission.primer!.boundedResult().status == .failed)
            let id = "\(submission.primer!.id.rawValue)"
            let line = try #require(logs.all.first { $0.message == "attempt finished" && $0.metadata["acty.job"] == id })
            #expect(line.level == .debug)
            #expect(line.metadata["acty.group"] == "secretive" && line.metadata["acty.lane"] == "logged")
            #expect(line.metadata["acty.attempt"] == "1" && line.metadata["acty.outcome"] == "failed")
            #expect(line.metadata["error.type"] == "PlannedFailure")
            // Neither the payload's token nor the error's key is in any log line or span.
            #expect(!logs.all.contains { "\($0.message) \($0.metadata)".contains(key) })
            let span = try #require(tracer.finishedSpans.first { $0.operationName == "acty.job" })
            #expect(!"\(span.attributes) \(span.errors.map(\.error)) \(String(describing: span.status))".contains(key))
            #expect(span.errors.count == 1)
        }
    }

    @Test func writeBatchesHaveSpansOnlyWhenAskedFor() async throws {
        for asked in [false, true] {
            let dir = TemporaryDirectory()
            let tracer = InMemoryTracer()
            var configuration = EngineConfiguration()
            configuration.tracer = tracer
            configuration.tracesWriteBatches = asked
            try await withEngine(dir, configuration) { engine in
                let submission = try await engine.submitGroup("batched", primer: 1, followers: [2, 3])
                for job in submission.jobs { _ = try await job.boundedResult() }
            }
            let batches = tracer.finishedSpans.filter { $0.operationName == "acty.batch" }
            #expect(batches.isEmpty == !asked)
            guard asked else { continue }
            // Every job was claimed and finished in some batch; the submission was a request of one.
            func sum(_ name: String) -> Int64 {
                batches.reduce(0) { total, span in
                    if case .int64(let value)? = span.attributes[name]?.toSpanAttribute() { return total + value }
                    return total
                }
            }
            #expect(sum("acty.batch.claimed") == 3 && sum("acty.batch.recorded") == 3 && sum("acty.batch.finished") == 3)
            #expect(sum("acty.batch.requests") >= 1)
            #expect(batches.allSatisfy { $0.parentSpanID == nil })
        }
    }
}
