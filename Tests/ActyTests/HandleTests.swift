import ActyTestSupport
@testable import Acty
import ActyStore
import Foundation
import Testing

/// Handles by job id (`handle(for:)`) and waiting for groups (`waitForGroup(_:)`), across engines on one file.
@Suite(.timeLimit(.minutes(1)))
struct HandleTests {
    @Test func aHandleForAJobOfAnotherEngineResolvesWhenThatEngineFinishesIt() async throws {
        let dir = TemporaryDirectory()
        let gate = Gate()
        let gated = ClosureExecutor(name: "work") { job in
            try await gate.wait()
            return ["done": job.payload]
        }
        let runner = try await makeEngine(dir, executors: [gated])
        let submission = try await runner.submitGroup("elsewhere", primer: "p", followers: ["f"])
        let primer = try #require(submission.primer)
        #expect(try await waitUntil { try await runner.store.job(primer.id)?.state == .running })

        // The watcher has no executor for these jobs: it only waits for them.
        let watcher = try await makeEngine(dir, executors: [NoopExecutor()])
        let primerHandle = try await watcher.handle(for: primer.id)
        let followerHandle = try await watcher.handle(for: submission.followers[0].id)
        #expect(primerHandle.id == primer.id)
        #expect(primerHandle.role == .primer)
        #expect(primerHandle.groupKey == "elsewhere")
        #expect(followerHandle.role == .follower)
        let waiting = Task { try await followerHandle.boundedResult() }
        // Still running: the handle does not resolve.
        let early = await #expect(throws: WaitTimedOut.self) { try await primerHandle.boundedResult(timeout: .milliseconds(300)) }
        #expect(early != nil)

        gate.open()
        let result = try await primerHandle.boundedResult(timeout: .seconds(10))
        #expect(result.status == .succeeded)
        #expect(result.output == ["done": "p"])
        #expect(result.attempts == 1)
        #expect(result.jobID == primer.id)
        #expect(result.groupKey == "elsewhere")
        let followerResult = try await waiting.value
        #expect(followerResult.status == .succeeded)
        #expect(followerResult.output == ["done": "f"])
        // The watcher ran nothing.
        #expect(try await watcher.store.attempts().allSatisfy { $0.worker == runner.workerID })
        try await watcher.boundedShutdown()
        try await runner.boundedShutdown()
    }

    @Test func aHandleForAFinishedJobResolvesAtOnceFromItsRow() async throws {
        let dir = TemporaryDirectory()
        let first = try await makeEngine(dir, executors: [failingOnRequest()])
        let good = try await first.submitGroup("good", primer: ["answer": 42]).primer!
        let bad = try await first.submitGroup("bad", primer: ["fail": true], followers: ["never"])
        #expect(try await good.boundedResult().status == .succeeded)
        #expect(try await bad.followers[0].boundedResult().status == .cancelled)
        try await first.boundedShutdown()

        // A new engine knows these jobs only from the database. Its poll timer is far slower than the waits
        // below, so the handles can only resolve from the row read when they are made.
        let second = try await makeEngine(dir, EngineConfiguration(pollInterval: .seconds(120)), executors: [failingOnRequest()])
        let goodResult = try await second.handle(for: good.id).boundedResult(timeout: .seconds(20))
        #expect(goodResult.status == .succeeded)
        #expect(goodResult.output == ["answer": 42])
        #expect(goodResult.error == nil)
        #expect(goodResult.attempts == 1)
        #expect(goodResult.role == .primer)

        let badResult = try await second.handle(for: bad.primer!.id).boundedResult(timeout: .seconds(20))
        #expect(badResult.status == .failed)
        #expect(badResult.output == nil)
        #expect(badResult.error?.type == "PlannedFailure")
        #expect(badResult.error?.message == "job \(bad.primer!.id) was asked to fail")

        let cancelledResult = try await second.handle(for: bad.followers[0].id).boundedResult(timeout: .seconds(20))
        #expect(cancelledResult.status == .cancelled)
        #expect(cancelledResult.attempts == 0)
        #expect(cancelledResult.role == .follower)
        // Asking twice gives the same answer.
        #expect(try await second.handle(for: good.id).boundedResult(timeout: .seconds(20)) == goodResult)
        try await second.boundedShutdown()
    }

    @Test func aHandleForAnUnknownJobThrows() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir)
        let error = await #expect(throws: ActyError.self) { try await engine.handle(for: JobID(31_337)) }
        #expect(error?.code == .unknownJob)
        try await engine.boundedShutdown()
        let stopped = await #expect(throws: ActyError.self) { try await engine.handle(for: JobID(1)) }
        #expect(stopped?.code == .engineStopped)
    }

    @Test func waitForGroupReturnsTheFinalState() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir, executors: [failingOnRequest(delay: .milliseconds(50))])
        try await engine.submitGroup("will-succeed", primer: "p", followers: ["a", "b"])
        try await engine.submitGroup("will-fail", primer: "p", followers: [["fail": true]])
        let succeeded = try await bounded("will-succeed to finish", timeout: .seconds(20)) { try await engine.waitForGroup("will-succeed") }
        #expect(succeeded == .succeeded)
        let failed = try await bounded("will-fail to finish", timeout: .seconds(20)) { try await engine.waitForGroup("will-fail") }
        #expect(failed == .failed)
        #expect(try await engine.store.group(key: "will-succeed")?.finishedAt != nil)
        // A finished group answers at once.
        #expect(try await bounded("a finished group", timeout: .seconds(10)) { try await engine.waitForGroup("will-succeed") } == .succeeded)

        let error = await #expect(throws: ActyError.self) { try await engine.waitForGroup("no-such-group") }
        #expect(error?.code == .unknownGroup)
        try await engine.boundedShutdown()
    }

    @Test func waitForGroupSeesAGroupFinishedByAnotherEngine() async throws {
        let dir = TemporaryDirectory()
        let runner = try await makeEngine(dir, executors: [failingOnRequest(delay: .milliseconds(100))])
        try await runner.submitGroup("shared", primer: "p", followers: ["a"])
        let watcher = try await makeEngine(dir, executors: [NoopExecutor()])
        let state = try await bounded("the shared group to finish", timeout: .seconds(20)) { try await watcher.waitForGroup("shared") }
        #expect(state == .succeeded)
        try await watcher.boundedShutdown()
        try await runner.boundedShutdown()
    }
}

@Suite(.timeLimit(.minutes(1)))
struct ForeignCompletionTests {
    @Test func aSubmittersHandleResolvesWhenAnotherEngineRunsTheJob() async throws {
        let dir = TemporaryDirectory()
        let gate = Gate()
        let busy = ClosureExecutor(name: "work") { job in
            try await gate.wait(timeout: .seconds(30))
            return job.payload
        }
        // Engine A has a single worker, kept busy by its first job, so engine B runs the second.
        let a = try await makeEngine(
            dir, EngineConfiguration(primerWorkers: 1, followerWorkers: 0, pollInterval: .milliseconds(20)), executors: [busy]
        )
        let blocker = try await a.submitGroup("blocker", primer: "hold")
        try await require("engine A to run its first job") { try await a.store.job(blocker.primer!.id)?.state == .running }
        let b = try await makeEngine(dir, EngineConfiguration(pollInterval: .milliseconds(20)), executors: [ClosureExecutor(name: "work") { $0.payload }])
        let remote = try await a.submitGroup("remote", primer: "elsewhere")
        let result = try await remote.primer!.boundedResult()
        #expect(result.status == .succeeded)
        #expect(result.output == "elsewhere")
        let attempt = try #require(try await a.store.attempts(of: remote.primer!.id).first)
        #expect(attempt.worker == b.workerID)
        gate.open()
        try await a.boundedShutdown()
        try await b.boundedShutdown()
    }
}
