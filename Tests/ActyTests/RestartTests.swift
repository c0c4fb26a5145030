import ActyTestSupport
@testable import Acty
import ActyStore
import Foundation
import Testing

/// Shutdown, restarts, and several engines on one file.
@Suite(.timeLimit(.minutes(1)))
struct RestartTests {
    /// An executor whose `hold` jobs run until their engine starts shutting down.
    private static func holdingUntilShutdown(_ engine: @escaping @Sendable () -> ActyEngine?) -> ClosureExecutor {
        ClosureExecutor(name: "work") { job in
            if job.payload["hold"] == true {
                try await require("the engine to start shutting down") {
                    guard let engine = engine() else { return false }
                    do {
                        try engine.checkRunning()
                        return false
                    } catch {
                        return true
                    }
                }
            }
            return job.payload
        }
    }

    @Test func shutdownLetsRunningJobsFinishAndKeepsQueuedWorkForTheNextEngine() async throws {
        let dir = TemporaryDirectory()
        let holder = EngineBox()
        // One worker: while it holds the first job, everything else stays queued.
        let configuration = EngineConfiguration(primerWorkers: 1, followerWorkers: 0)
        let engine = try await makeEngine(dir, configuration, executors: [Self.holdingUntilShutdown { holder.engine }])
        holder.engine = engine
        let running = try await engine.submitGroup("running", primer: ["hold": true])
        #expect(try await waitUntil { try await engine.store.job(running.primer!.id)?.state == .running })
        let queued = try await engine.submitGroup("queued", primer: "p", followers: ["a", "b"])
        let waiter = Task { try await queued.primer!.boundedResult() }

        try await engine.boundedShutdown()
        // The running job finished and was recorded before shutdown returned.
        let store = try Store(.file(dir.file()))
        let held = try #require(try await store.job(running.primer!.id))
        #expect(held.state == .succeeded)
        #expect(try await store.attempts(of: running.primer!.id).first?.outcome == "succeeded")
        #expect(try await running.primer!.boundedResult().status == .succeeded)
        // Queued work stays in the file, and waiting for it fails with engineStopped.
        let jobs = try await store.jobs(inGroup: queued.groupID)
        #expect(jobs.map(\.state) == [.ready, .blocked, .blocked])
        #expect(jobs.allSatisfy { $0.attempts == 0 && $0.leaseOwner == nil })
        try await store.close()
        let error = await #expect(throws: ActyError.self) { try await waiter.value }
        #expect(error?.code == .engineStopped)

        let next = try await makeEngine(dir, executors: [failingOnRequest(name: "work")])
        #expect(try await next.waitForGroup("queued", state: .succeeded))
        let attempts = try await next.store.attempts().filter { jobs.map(\.id).contains($0.jobID) }
        #expect(attempts.count == 3)
        #expect(attempts.allSatisfy { $0.worker == next.workerID })
        let output = try #require(try await next.store.job(queued.followers[1].id)?.result)
        #expect(output == #""b""#)
        try await next.boundedShutdown()
    }

    @Test func resultOfAJobStillQueuedAtShutdownThrowsEngineStopped() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir, EngineConfiguration(lanes: ["frozen": LaneConfiguration()]))
        // A paused lane is never claimed from, so its job is certain to be queued when the engine stops.
        try executeSQL(dir.file(), "UPDATE lanes SET paused = 1 WHERE name = 'frozen'")
        let submission = try await engine.submitGroup("frozen", primer: "p", lane: "frozen")
        let other = try await engine.submitGroup("thawed", primer: "p")
        #expect(try await other.primer!.boundedResult().status == .succeeded)
        let waiter = Task { try await submission.primer!.boundedResult() }
        try await engine.boundedShutdown()

        let error = await #expect(throws: ActyError.self) { try await waiter.value }
        #expect(error?.code == .engineStopped)
        let later = await #expect(throws: ActyError.self) { try await submission.primer!.boundedResult() }
        #expect(later?.code == .engineStopped)
        let store = try Store(.file(dir.file()))
        #expect(try await store.job(submission.primer!.id)?.state == .ready)
        try await store.close()
    }

    @Test func engineClaimsOnlyJobsOfItsRegisteredExecutors() async throws {
        let dir = TemporaryDirectory()
        let gate = Gate()
        let blocker = ClosureExecutor(name: "blocker") { job in
            try await gate.wait()
            return job.payload
        }
        let special = ClosureExecutor(name: "special") { _ in "special done" }
        // Engine 1 has one worker, held by a blocking job.
        let first = try await makeEngine(
            dir, EngineConfiguration(primerWorkers: 1, followerWorkers: 0, pollInterval: .milliseconds(10)),
            executors: [EchoExecutor(), special, blocker]
        )
        let blocking = try await first.submitGroup("blocking", primer: "b", executor: "blocker")
        #expect(try await waitUntil { try await first.store.job(blocking.primer!.id)?.state == .running })
        let specialGroup = try await first.submitGroup("special", primer: "s", followers: ["t"], executor: "special")
        let echoGroup = try await first.submitGroup("echo", primer: "e", followers: ["f"])

        // Engine 2 knows only echo: it runs the echo group, submitted after the special one, and skips the latter.
        let second = try await makeEngine(
            dir, EngineConfiguration(primerWorkers: 1, followerWorkers: 1, pollInterval: .milliseconds(10)), executors: [EchoExecutor()]
        )
        #expect(try await second.waitForGroup("echo", state: .succeeded))
        let echoAttempts = try await second.store.attempts().filter { Set(echoGroup.jobs.map(\.id)).contains($0.jobID) }
        #expect(echoAttempts.count == 2)
        #expect(echoAttempts.allSatisfy { $0.worker == second.workerID })
        #expect(try await second.store.job(specialGroup.primer!.id)?.state == .ready)
        try await second.boundedShutdown()

        gate.open()
        #expect(try await specialGroup.primer!.boundedResult().output == "special done")
        #expect(try await specialGroup.followers[0].boundedResult().status == .succeeded)
        let specialAttempts = try await first.store.attempts().filter { Set(specialGroup.jobs.map(\.id)).contains($0.jobID) }
        #expect(specialAttempts.count == 2)
        #expect(specialAttempts.allSatisfy { $0.worker == first.workerID })
        #expect(try await first.store.allJobs().allSatisfy { $0.attempts <= 1 })
        try await first.boundedShutdown()
    }

    @Test func openGroupReattachesAfterARestart() async throws {
        let dir = TemporaryDirectory()
        let first = try await makeEngine(dir)
        let group = try await first.openGroup("long-lived")
        let early = try await group.addFollower("early")
        try await first.boundedShutdown()

        let second = try await makeEngine(dir)
        let again = try await second.openGroup("long-lived")
        #expect(again.id == group.id)
        #expect(try await second.store.job(early.id)?.state == .blocked)
        let primer = try await again.submitPrimer("p")
        let late = try await again.addFollower("late")
        try await again.close()
        #expect(try await primer.boundedResult().status == .succeeded)
        #expect(try await late.boundedResult().status == .succeeded)
        #expect(try await second.waitForGroup("long-lived", state: .succeeded))
        #expect(try await second.store.job(early.id)?.state == .succeeded)
        try await second.boundedShutdown()
    }

    @Test func finishedResultsSurviveARestart() async throws {
        let dir = TemporaryDirectory()
        let first = try await makeEngine(dir)
        let submission = try await first.submitGroup("kept", primer: ["n": 1], followers: [["n": 2]])
        for job in submission.jobs { _ = try await job.boundedResult() }
        try await first.boundedShutdown()

        let second = try await makeEngine(dir)
        let jobs = try await second.store.jobs(inGroup: submission.groupID)
        #expect(jobs.map(\.state) == [.succeeded, .succeeded])
        #expect(try jobs.map { try JSONValue(jsonString: $0.result ?? "") } == [["n": 1], ["n": 2]])
        #expect(try await second.store.group(key: "kept")?.state == .succeeded)
        #expect(try await second.store.allGroups().count == 1)
        try await second.boundedShutdown()
    }
}
