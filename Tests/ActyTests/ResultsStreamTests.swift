import ActyTestSupport
@testable import Acty
@testable import ActyStore
import Foundation
import Testing

/// `engine.results()`: every outcome recorded after the call, from any engine on the file, read from the event log.
@Suite(.timeLimit(.minutes(1)))
struct ResultsStreamTests {
    /// The first `count` results of `results`, or ``WaitTimedOut`` when they do not come in time.
    static func first(_ count: Int, of results: JobResults, timeout: Duration = .seconds(20)) async throws -> [JobResult] {
        try await bounded("\(count) results", timeout: timeout) {
            var collected: [JobResult] = []
            for try await result in results {
                collected.append(result)
                if collected.count == count { break }
            }
            return collected
        }
    }

    @Test func everyOutcomeComesOnceWithItsOutputOrErrorInTheOrderItWasRecorded() async throws {
        let dir = TemporaryDirectory()
        var configuration = EngineConfiguration()
        configuration.retryPolicy = RetryPolicy(maxAttempts: 2, initialDelay: .milliseconds(1))
        let calls = Recorder<JobID>()
        // Fails every job whose payload asks for it; fails "flaky" jobs only on their first attempt.
        let work = ClosureExecutor(name: "work") { job in
            calls.append(job.id)
            if job.payload["fail"]?.boolValue == true { throw PlannedFailure() }
            if job.payload["flaky"]?.boolValue == true, job.attempt == 1 { throw PlannedFailure("first attempt") }
            return ["echo": job.payload]
        }
        try await withEngine(dir, configuration, executors: [work]) { engine in
            let results = engine.results()
            let ok = try await engine.submitGroup("ok", primer: ["n": 0], followers: [["n": 1], ["flaky": true]])
            let failing = try await engine.submitGroup(
                "failing", primer: ["n": 2], followers: [["fail": true], ["n": 3]],
                options: GroupOptions(followerFailurePolicy: .continueGroup)
            )
            let handles = ok.jobs + failing.jobs
            let streamed = try await Self.first(handles.count, of: results)

            #expect(Set(streamed.map(\.jobID)) == Set(handles.map(\.id)), "each job once")
            for handle in handles {
                let result = try await handle.boundedResult()
                let fromStream = try #require(streamed.first { $0.jobID == handle.id })
                #expect(fromStream.status == result.status)
                #expect(fromStream.output == result.output)
                #expect(fromStream.error == result.error)
                #expect(fromStream.attempts == result.attempts)
                #expect(fromStream.groupKey == handle.groupKey)
                #expect(fromStream.role == handle.role)
            }
            #expect(streamed.filter { $0.status == .failed }.count == 1)
            #expect(streamed.first { $0.status == .failed }?.error?.type == "PlannedFailure")
            // The flaky job's failed first attempt is not a result: it comes once, succeeded after its retry.
            let flaky = ok.followers[1].id
            #expect(calls.values.filter { $0 == flaky }.count == 2)
            #expect(streamed.first { $0.jobID == flaky }?.status == .succeeded)
            let seqs = streamed.compactMap(\.eventSeq)
            #expect(seqs.count == streamed.count)
            #expect(seqs == seqs.sorted() && Set(seqs).count == seqs.count, "in the order recorded: \(seqs)")
            let events = try await engine.allEvents()
            for result in streamed {
                let type = events.first { $0.seq == result.eventSeq }?.type
                #expect(type == (result.status == .succeeded ? "job_succeeded" : "job_failed"))
            }
        }
    }

    @Test func outcomesRecordedBeforeTheCallAreNotIncluded() async throws {
        let dir = TemporaryDirectory()
        try await withEngine(dir) { engine in
            let before = try await engine.submitGroup("before", primer: "p", followers: ["f"])
            for job in before.jobs { _ = try await job.boundedResult() }
            let results = engine.results()
            let after = try await engine.submitGroup("after", primer: "p", followers: ["f"])
            let streamed = try await Self.first(2, of: results)
            #expect(streamed.map(\.jobID).sorted() == after.jobs.map(\.id).sorted())
            #expect(streamed.allSatisfy { $0.groupKey == "after" })
        }
    }

    @Test func aConsumerRestartedWithTheLastSeqItHandledMissesNothingAndRepeatsNothing() async throws {
        let dir = TemporaryDirectory()
        let start = try await withEngine(dir) { engine in
            let start = engine.store.lastKnownEventSeq
            let submission = try await engine.submitGroup("first", primer: "p", followers: ["a", "b", "c", "d"])
            for job in submission.jobs { _ = try await job.boundedResult() }
            return start
        }
        // A consumer that handled two results, then its process stopped.
        let handled = try await withEngine(dir) { engine in try await Self.first(2, of: engine.results(after: start)) }
        let lastSeq = try #require(handled.last?.eventSeq)

        try await withEngine(dir) { engine in
            let rest = engine.results(after: lastSeq)
            let more = try await engine.submitGroup("second", primer: "p", followers: [])
            let streamed = try await Self.first(4, of: rest)
            #expect(Set(streamed.map(\.jobID)).isDisjoint(with: handled.map(\.jobID)))
            #expect(streamed.filter { $0.groupKey == "first" }.count == 3)
            #expect(streamed.last?.jobID == more.primer?.id)
        }
    }

    @Test func outcomesOfJobsAnotherEngineRunsComeToo() async throws {
        let dir = TemporaryDirectory()
        let work = ClosureExecutor(name: "work") { job in job.payload }
        try await withEngine(dir, executors: [work]) { runner in
            // The watcher cannot run `work` jobs: their outcomes reach it only through the file.
            try await withEngine(dir, executors: [NoopExecutor()]) { watcher in
                let results = watcher.results()
                let submission = try await runner.submitGroup("elsewhere", primer: "p", followers: ["f"], executor: "work")
                let streamed = try await Self.first(2, of: results)
                #expect(streamed.map(\.jobID).sorted() == submission.jobs.map(\.id).sorted())
                #expect(streamed.allSatisfy { $0.status == .succeeded })
                #expect(Set(streamed.compactMap(\.output)) == ["p", "f"])
            }
        }
    }

    @Test func cancelledJobsComeAsCancelled() async throws {
        let dir = TemporaryDirectory()
        let gate = Gate()
        try await withEngine(dir, executors: [gated(by: gate)]) { engine in
            let results = engine.results()
            let submission = try await engine.submitGroup("doomed", primer: "p", followers: ["a", "b"])
            try await engine.cancelGroup("doomed")
            gate.open()
            let streamed = try await Self.first(3, of: results)
            #expect(streamed.map(\.jobID).sorted() == submission.jobs.map(\.id).sorted())
            #expect(streamed.filter { $0.role == .follower }.allSatisfy { $0.status == .cancelled })
        }
    }

    @Test func aSlowConsumerGetsEveryResultAPageAtATime() async throws {
        let dir = TemporaryDirectory()
        try await withEngine(dir, executors: [NoopExecutor()]) { engine in
            let results = engine.results()
            // More outcomes than one page, all recorded before the consumer reads the first.
            let specs = (0..<120).map { GroupSpec("g\($0)", primer: "p", followers: Array(repeating: "f", count: 9)) }
            let submissions = try await engine.submitGroups(specs)
            for job in submissions.flatMap(\.jobs) { _ = try await job.boundedResult() }
            #expect(submissions.flatMap(\.jobs).count > JobResults.Iterator.pageSize)
            let streamed = try await Self.first(1_200, of: results)
            #expect(Set(streamed.map(\.jobID)) == Set(submissions.flatMap(\.jobs).map(\.id)))
        }
    }

    @Test func theSequenceEndsWhenTheEngineShutsDown() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir)
        let results = engine.results()
        let seen = Recorder<JobID>()
        let consumer = Task {
            for try await result in results { seen.append(result.jobID) }
        }
        _ = try await engine.submitGroup("one", primer: "p", followers: [])
        try await require("the consumer to take the result and wait for more") {
            seen.count == 1 && engine.registry.feed.waiterCount == 1
        }
        try await engine.boundedShutdown()
        try await bounded("the iteration to end", timeout: .seconds(10)) { try await consumer.value }
        #expect(seen.count == 1)
    }

    @Test func cancellingTheConsumingTaskEndsTheIteration() async throws {
        let dir = TemporaryDirectory()
        try await withEngine(dir) { engine in
            let results = engine.results()
            let consumer = Task {
                for try await _ in results {}
            }
            try await require("the consumer to wait for results") { engine.registry.feed.waiterCount == 1 }
            consumer.cancel()
            let outcome = try await bounded("the cancelled iteration to end", timeout: .seconds(10)) { await consumer.result }
            #expect(throws: CancellationError.self) { try outcome.get() }
        }
    }
}
