import ActyTestSupport
@testable import Acty
import ActyStore
import Foundation
import ServiceLifecycle
import Testing

/// Graceful shutdown: the grace period, handing unfinished jobs back, and running as a ServiceLifecycle service.
@Suite(.timeLimit(.minutes(1)))
struct ShutdownTests {
    /// An executor named `work`: a job sleeps `payload.sleep_ms` on its attempt `payload.slow_attempt` (1 when
    /// missing) and fails its attempts before that one; `started` gets each attempt's number.
    static func sleeping(started: Recorder<Int>) -> ClosureExecutor {
        ClosureExecutor(name: "work") { job in
            started.append(job.attempt)
            let slowAttempt = job.payload["slow_attempt"]?.intValue ?? 1
            if job.attempt < slowAttempt { throw PlannedFailure("attempt \(job.attempt) fails") }
            if job.attempt == slowAttempt, let milliseconds = job.payload["sleep_ms"]?.intValue {
                try await Task.sleep(for: .milliseconds(milliseconds))
            }
            return job.payload
        }
    }

    @Test func aJobFinishingWithinTheGracePeriodIsRecordedSucceeded() async throws {
        let dir = TemporaryDirectory()
        let started = Recorder<Int>()
        let engine = try await makeEngine(dir, EngineConfiguration(gracefulShutdownTimeout: .seconds(10)), executors: [Self.sleeping(started: started)])
        let job = try await engine.submitGroup("finishes", primer: ["sleep_ms": 400]).primer!
        try await require("the job to start") { started.count == 1 }

        let shutdownStarted = ContinuousClock.now
        try await engine.boundedShutdown()
        #expect(ContinuousClock.now - shutdownStarted < .seconds(8), "shutdown waited for the job, not for the whole grace period")
        #expect(try await job.boundedResult().status == .succeeded)

        let store = try Store(.file(dir.file()))
        let row = try #require(try await store.job(job.id))
        #expect(row.state == .succeeded)
        #expect(row.result == #"{"sleep_ms":400}"#)
        #expect(try await store.attempts(of: job.id).map(\.outcome) == ["succeeded"])
        #expect(try await store.events(after: 0, limit: 10_000).ofType(.jobReleased).isEmpty)
        try await store.close()
    }

    @Test func aJobRunningPastTheGracePeriodIsHandedBackWithoutUsingAnAttempt() async throws {
        let dir = TemporaryDirectory()
        let started = Recorder<Int>()
        // The first attempt fails; the second runs past the grace period.
        let configuration = EngineConfiguration(
            retryPolicy: RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(10), jitter: .none), gracefulShutdownTimeout: .milliseconds(300)
        )
        let engine = try await makeEngine(dir, configuration, executors: [Self.sleeping(started: started)])
        let job = try await engine.submitGroup("interrupted", primer: ["sleep_ms": 60_000, "slow_attempt": 2]).primer!
        try await require("the second attempt to start") { started.values == [1, 2] }
        let waiter = Task { try await job.boundedResult() }

        let shutdownStarted = ContinuousClock.now
        try await engine.boundedShutdown(timeout: .seconds(40))
        let shutdownTook = ContinuousClock.now - shutdownStarted
        #expect(shutdownTook >= .milliseconds(290))
        // Well before the attempt's 60 s: the grace period cut it off (a loaded machine took 7.6 s to get there).
        #expect(shutdownTook < .seconds(30))
        let error = await #expect(throws: ActyError.self) { try await waiter.value }
        #expect(error?.code == .engineStopped)

        let store = try Store(.file(dir.file()))
        let row = try #require(try await store.job(job.id))
        #expect(row.state == .ready)
        #expect(row.attempts == 1, "the interrupted attempt was given back")
        #expect(row.leaseOwner == nil)
        #expect(row.leaseUntil == nil)
        #expect(row.finishedAt == nil)
        // Only the failed first attempt has a row.
        #expect(try await store.attempts(of: job.id).map(\.outcome) == ["failed"])
        let events = try await store.events(after: 0, limit: 10_000).forJob(job.id)
        let released = events.ofType(.jobReleased)
        #expect(released.count == 1)
        #expect(try JSONValue(jsonString: released.first?.data ?? "")["attempt"] == 2)
        #expect(events.last?.type == EventType.jobReleased.rawValue)
        #expect(events.ofType(.jobFailed).isEmpty)
        try await store.close()

        // The next engine runs it, as attempt 2 again.
        let next = try await makeEngine(dir, executors: [failingOnRequest(name: "work")])
        let result = try await next.handle(for: job.id).boundedResult()
        #expect(result.status == .succeeded)
        #expect(result.attempts == 2)
        let attempts = try await next.store.attempts(of: job.id)
        #expect(attempts.map(\.number) == [1, 2])
        #expect(attempts.map(\.outcome) == ["failed", "succeeded"])
        #expect(attempts[1].worker == next.workerID)
        try await next.boundedShutdown()
    }

    @Test func anExecutorIgnoringCancellationDoesNotHoldShutdownPastTheGracePeriod() async throws {
        let dir = TemporaryDirectory()
        let gate = Gate()
        let returned = Recorder<Bool>()
        let stubborn = ClosureExecutor(name: "work") { _ in
            await Task.detached { try? await gate.wait(timeout: .seconds(30)) }.value
            returned.append(Task.isCancelled)
            return "late"
        }
        let engine = try await makeEngine(dir, EngineConfiguration(gracefulShutdownTimeout: .milliseconds(200)), executors: [stubborn])
        let job = try await engine.submitGroup("stubborn", primer: "p").primer!
        #expect(try await waitUntil { try await engine.store.job(job.id)?.state == .running })

        let shutdownStarted = ContinuousClock.now
        // Well under the stuck executor's 30 s, with room for a loaded machine.
        try await engine.boundedShutdown(timeout: .seconds(15))
        #expect(ContinuousClock.now - shutdownStarted < .seconds(15))
        #expect(returned.count == 0, "shutdown returned while the executor was still stuck")
        gate.open()
        try await require("the stuck executor to return") { returned.count == 1 }
        #expect(returned.values == [true], "the executor task was cancelled")
        let store = try Store(.file(dir.file()))
        let row = try #require(try await store.job(job.id))
        #expect(row.state == .ready)
        #expect(row.attempts == 0)
        #expect(try await store.attempts(of: job.id).isEmpty)
        try await store.close()
    }

    @Test func shuttingDownTwiceIsSafe() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir)
        #expect(try await engine.submitGroup("once", primer: "p").primer!.boundedResult().status == .succeeded)
        // Concurrently, then once more after it finished.
        async let first: Void = engine.boundedShutdown()
        async let second: Void = engine.boundedShutdown()
        _ = try await (first, second)
        try await engine.boundedShutdown()

        let error = await #expect(throws: ActyError.self) { try await engine.submitGroup("after", primer: "p") }
        #expect(error?.code == .engineStopped)
        let store = try Store(.file(dir.file()))
        #expect(try await store.activeWorkers().isEmpty)
        let events = try await store.events(after: 0, limit: 10_000)
        #expect(events.ofType(.workerStopped).count == 1)
        #expect(events.ofType(.runFinished).count == 1)
        try await store.close()
    }

    @Test func aServiceGroupGracefulShutdownShutsTheEngineDown() async throws {
        let dir = TemporaryDirectory()
        let started = Recorder<Int>()
        let engine = try await makeEngine(dir, EngineConfiguration(gracefulShutdownTimeout: .seconds(10)), executors: [Self.sleeping(started: started)])
        let services = ServiceGroup(services: [engine], logger: engine.configuration.logger)
        let returned = Recorder<Bool>()
        Task {
            do {
                try await services.run()
                returned.append(true)
            } catch {
                returned.append(false)
            }
        }

        #expect(try await engine.submitGroup("served", primer: "p").primer!.boundedResult().status == .succeeded)
        // A job still running when the group shuts down gets its grace period.
        let finishing = try await engine.submitGroup("finishing", primer: ["sleep_ms": 300]).primer!
        try await require("the second job to start") { started.count == 2 }
        #expect(returned.count == 0, "the engine runs until the group shuts down")
        await services.triggerGracefulShutdown()
        try await require("run() to return", timeout: .seconds(10)) { returned.count == 1 }
        #expect(returned.values == [true], "the service group ended without an error")
        #expect(try await finishing.boundedResult().status == .succeeded)
        let error = await #expect(throws: ActyError.self) { try await engine.submitGroup("late", primer: "p") }
        #expect(error?.code == .engineStopped)
        // Shutting down again after the service group did it is harmless.
        try await engine.boundedShutdown()

        let store = try Store(.file(dir.file()))
        #expect(try await store.activeWorkers().isEmpty)
        #expect(try await store.job(finishing.id)?.state == .succeeded)
        try await store.close()
    }

    @Test func cancellingTheServiceGroupShutsTheEngineDown() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir)
        let services = ServiceGroup(services: [engine], logger: engine.configuration.logger)
        let running = Task { try await services.run() }
        #expect(try await engine.submitGroup("served", primer: "p").primer!.boundedResult().status == .succeeded)
        running.cancel()
        try await require("the engine to stop", timeout: .seconds(10)) {
            do {
                try engine.checkRunning()
                return false
            } catch {
                return true
            }
        }
        try await engine.boundedShutdown()
        let store = try Store(.file(dir.file()))
        #expect(try await store.activeWorkers().isEmpty)
        try await store.close()
    }
}
