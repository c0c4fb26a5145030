import ActyTestSupport
@testable import Acty
import ActyStore
import Foundation
import Testing

/// Cancelling jobs and groups: queued ones at once, running ones through their executor task, in any process.
@Suite(.timeLimit(.minutes(1)))
struct CancellationTests {
    /// What the executors of these tests saw.
    final class Observed: Sendable {
        let started = Recorder<JSONValue>()
        let cancelled = Recorder<JSONValue>()
    }

    /// An executor named `work`: payloads `"long"` sleep for a minute (recording a `CancellationError` in
    /// `observed.cancelled`), `"gated"` wait for `gate`, others return at once.
    static func executor(_ observed: Observed, gate: Gate = Gate()) -> ClosureExecutor {
        ClosureExecutor(name: "work") { job in
            observed.started.append(job.payload)
            do {
                if job.payload == "long" { try await Task.sleep(for: .seconds(60)) }
                if job.payload == "gated" { try await gate.wait() }
            } catch let error as CancellationError {
                observed.cancelled.append(job.payload)
                throw error
            }
            return job.payload
        }
    }

    static func data(_ event: EventRecord) throws -> JSONValue {
        try JSONValue(jsonString: event.data ?? "null")
    }

    @Test func cancellingAQueuedJobCancelsItAtOnce() async throws {
        let dir = TemporaryDirectory()
        let observed = Observed()
        let gate = Gate()
        // One worker, held by a gated primer: everything else stays queued.
        let engine = try await makeEngine(dir, EngineConfiguration(primerWorkers: 1, followerWorkers: 0), executors: [Self.executor(observed, gate: gate)])
        let busy = try await engine.submitGroup("busy", primer: "gated", followers: ["blocked"])
        let fanOut = try await engine.submitGroup("fan-out", primer: nil, followers: ["x", "y"])
        try await require("the gated primer to run") { observed.started.count == 1 }

        // A ready follower and a blocked one.
        #expect(try await engine.cancel(job: fanOut.followers[0].id))
        #expect(try await engine.cancel(job: busy.followers[0].id))
        for handle in [fanOut.followers[0], busy.followers[0]] {
            let result = try await handle.boundedResult(timeout: .seconds(5))
            #expect(result.status == .cancelled)
            #expect(result.attempts == 0)
            #expect(result.error?.type == "cancelled")
            let row = try #require(try await engine.store.job(handle.id))
            #expect(row.state == .cancelled)
            #expect(row.finishedAt != nil)
            let events = try await engine.allEvents().forJob(handle.id).ofType(.jobCancelled)
            #expect(events.count == 1)
            #expect(try events.first.map(Self.data)?["phase"] == "queued")
            #expect(try events.first.map(Self.data)?["reason"] == "explicit_cancel")
        }

        gate.open()
        #expect(try await fanOut.followers[1].boundedResult().status == .succeeded)
        #expect(try await busy.primer!.boundedResult().status == .succeeded)
        // Both groups finish (cancelling one job does not cancel a follower's group).
        #expect(try await waitUntil { try await engine.store.group(key: "busy")?.finishedAt != nil })
        #expect(try await waitUntil { try await engine.store.group(key: "fan-out")?.finishedAt != nil })
        // The cancelled jobs never ran.
        #expect(Set(observed.started.values) == ["gated", "y"])
        #expect(try await engine.store.attempts(of: fanOut.followers[0].id).isEmpty)
        try await engine.boundedShutdown()
    }

    @Test func cancellingARunningJobCancelsItsExecutorTask() async throws {
        let dir = TemporaryDirectory()
        let observed = Observed()
        let engine = try await makeEngine(dir, executors: [Self.executor(observed)])
        let submission = try await engine.submitGroup("running", primer: nil, followers: ["long", "quick"])
        let long = submission.followers[0]
        #expect(try await waitUntil { try await engine.store.job(long.id)?.state == .running })

        #expect(try await engine.cancel(job: long.id))
        let result = try await long.boundedResult(timeout: .seconds(5))
        #expect(result.status == .cancelled)
        #expect(result.attempts == 1)
        try await require("the executor to see the cancellation", timeout: .seconds(5)) { observed.cancelled.values == ["long"] }
        #expect(try await submission.followers[1].boundedResult().status == .succeeded)
        #expect(try await waitUntil { try await engine.store.group(key: "running")?.finishedAt != nil })
        // Shutting down records whatever the cancelled executor reported; it must not change the job.
        try await engine.boundedShutdown()

        let store = try Store(.file(dir.file()))
        let row = try #require(try await store.job(long.id))
        #expect(row.state == .cancelled)
        #expect(row.leaseOwner == nil)
        let attempts = try await store.attempts(of: long.id)
        #expect(attempts.map(\.outcome) == ["cancelled"])
        #expect(attempts.first?.number == 1)
        let events = try await store.events(after: 0, limit: 10_000).forJob(long.id)
        #expect(try events.ofType(.jobCancelled).map { try Self.data($0)["phase"] } == ["running"])
        #expect(events.ofType(.jobFailed).isEmpty)
        #expect(events.ofType(.jobRetrying).isEmpty)
        try await store.close()
    }

    @Test func cancellingAPrimerCancelsItsGroup() async throws {
        let dir = TemporaryDirectory()
        let observed = Observed()
        let engine = try await makeEngine(dir, executors: [Self.executor(observed)])
        let submission = try await engine.submitGroup("primer-cancelled", primer: "long", followers: ["a", "b"])
        let primer = try #require(submission.primer)
        #expect(try await waitUntil { try await engine.store.job(primer.id)?.state == .running })

        #expect(try await engine.cancel(job: primer.id))
        for handle in submission.jobs {
            #expect(try await handle.boundedResult(timeout: .seconds(5)).status == .cancelled)
        }
        try await require("the primer's executor to see the cancellation", timeout: .seconds(5)) { observed.cancelled.values == ["long"] }
        let group = try #require(try await engine.store.group(key: "primer-cancelled"))
        #expect(group.state == .cancelled)
        #expect(group.finishedAt != nil)
        let events = try await engine.allEvents().filter { $0.groupID == group.id }
        #expect(events.ofType(.groupCancelled).count == 1)
        #expect(events.ofType(.groupDone).count == 1)
        #expect(events.ofType(.jobStarted).map(\.jobID) == [primer.id])
        #expect(observed.started.values == ["long"])
        try await engine.boundedShutdown()
    }

    @Test func cancellingAGroupCancelsQueuedAndRunningJobs() async throws {
        let dir = TemporaryDirectory()
        let observed = Observed()
        // One follower worker: one follower runs, the others wait.
        let engine = try await makeEngine(dir, EngineConfiguration(primerWorkers: 0, followerWorkers: 1), executors: [Self.executor(observed)])
        let submission = try await engine.submitGroup("whole-group", primer: nil, followers: ["long", "a", "b"])
        #expect(try await waitUntil { try await engine.store.job(submission.followers[0].id)?.state == .running })

        #expect(try await engine.cancelGroup("whole-group"))
        let results = try await submission.followers.asyncMap { try await $0.boundedResult(timeout: .seconds(5)) }
        #expect(results.map(\.status) == [.cancelled, .cancelled, .cancelled])
        #expect(results.map(\.attempts) == [1, 0, 0])
        try await require("the running executor to see the cancellation", timeout: .seconds(5)) { observed.cancelled.values == ["long"] }

        let group = try #require(try await engine.store.group(key: "whole-group"))
        #expect(group.state == .cancelled)
        #expect(group.finishedAt != nil)
        #expect(group.jobsFinished == 3)
        let events = try await engine.allEvents().filter { $0.groupID == group.id }
        let cancelledSeq = try #require(events.ofType(.groupCancelled).first?.seq)
        let done = try #require(events.ofType(.groupDone).first)
        #expect(events.ofType(.groupCancelled).count == 1)
        #expect(events.ofType(.groupDone).count == 1)
        #expect(cancelledSeq < done.seq)
        #expect(try Self.data(done)["state"] == "cancelled")
        #expect(try Self.data(done)["followers_cancelled"] == 3)
        let phases = try events.ofType(.jobCancelled).map { try Self.data($0)["phase"]?.stringValue ?? "" }
        #expect(phases.sorted() == ["queued", "queued", "running"])
        #expect(try await engine.store.attempts(of: submission.followers[0].id).map(\.outcome) == ["cancelled"])

        // A finished group cannot be cancelled again; the key is free for a new group.
        #expect(try await engine.cancelGroup("whole-group") == false)
        #expect(try await engine.submitGroup("whole-group", primer: nil, followers: ["again"]).followers[0].boundedResult().status == .succeeded)
        #expect(observed.started.values == ["long", "again"])
        try await engine.boundedShutdown()
    }

    @Test func cancellingAJobWaitingForItsRetryKeepsItFromRunningAgain() async throws {
        let dir = TemporaryDirectory()
        // A backoff long enough that the cancel surely comes first, even on a loaded machine.
        let policy = RetryPolicy(maxAttempts: 3, initialDelay: .seconds(5), jitter: .none)
        let engine = try await makeEngine(dir, EngineConfiguration(retryPolicy: policy), executors: [failingOnRequest()])
        let job = try await engine.submitGroup("backing-off", primer: nil, followers: [["fail": true]]).followers[0]
        #expect(try await waitUntil { try await engine.store.job(job.id)?.state == .scheduled })
        let runAt = try #require(try await engine.store.job(job.id)?.runAt)

        #expect(try await engine.cancel(job: job.id))
        #expect(Date().timeIntervalSince1970 < runAt, "cancelled during the backoff")
        let result = try await job.boundedResult(timeout: .seconds(5))
        #expect(result.status == .cancelled)
        #expect(result.attempts == 1)
        let row = try #require(try await engine.store.job(job.id))
        #expect(row.state == .cancelled)
        #expect(row.runAt == nil)
        let cancelled = try #require(try await engine.allEvents().forJob(job.id).ofType(.jobCancelled).first)
        #expect(try Self.data(cancelled)["phase"] == "queued")
        // Once the retry would have been due, a claim (the one that runs a later job) does not bring it back.
        #expect(try await waitUntil { Date().timeIntervalSince1970 > runAt + 0.05 })
        #expect(try await engine.submitGroup("later", primer: "p").primer!.boundedResult().status == .succeeded)
        #expect(try await engine.store.job(job.id)?.state == .cancelled)
        #expect(try await engine.store.attempts(of: job.id).map(\.outcome) == ["failed"])
        #expect(try await engine.allEvents().forJob(job.id).ofType(.jobStarted).count == 1)
        try await engine.boundedShutdown()
    }

    @Test func cancellingAFinishedJobReturnsFalseAndChangesNothing() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir, executors: [failingOnRequest()])
        let submission = try await engine.submitGroup("finished", primer: "p", followers: [["fail": true]])
        #expect(try await submission.primer!.boundedResult().status == .succeeded)
        #expect(try await submission.followers[0].boundedResult().status == .failed)

        #expect(try await engine.cancel(job: submission.primer!.id) == false)
        #expect(try await engine.cancel(job: submission.followers[0].id) == false)
        #expect(try await engine.cancelGroup("finished") == false)
        #expect(try await engine.store.job(submission.primer!.id)?.state == .succeeded)
        #expect(try await engine.store.job(submission.followers[0].id)?.state == .failed)
        #expect(try await engine.store.group(key: "finished")?.state == .failed)
        #expect(try await engine.allEvents().ofType(.jobCancelled).isEmpty)
        try await engine.boundedShutdown()
    }

    @Test func cancellingUnknownJobsAndGroupsThrows() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir)
        let jobError = await #expect(throws: ActyError.self) { try await engine.cancel(job: JobID(987_654)) }
        #expect(jobError?.code == .unknownJob)
        let groupError = await #expect(throws: ActyError.self) { try await engine.cancelGroup("no-such-group") }
        #expect(groupError?.code == .unknownGroup)
        try await engine.boundedShutdown()
    }

    @Test func anotherEngineOnTheFileCancelsAJobThisEngineRuns() async throws {
        let dir = TemporaryDirectory()
        let observed = Observed()
        let runner = try await makeEngine(dir, executors: [Self.executor(observed)])
        let submission = try await runner.submitGroup("remote-cancel", primer: nil, followers: ["long"])
        let job = submission.followers[0]
        #expect(try await waitUntil { try await runner.store.job(job.id)?.state == .running })

        // The second engine registers no executor the job uses, so it never runs it itself.
        let canceller = try await makeEngine(dir, executors: [NoopExecutor()])
        let cancelledAt = ContinuousClock.now
        #expect(try await canceller.cancel(job: job.id))
        try await require("the running executor to see the cancellation", timeout: .seconds(5)) { observed.cancelled.values == ["long"] }
        #expect(ContinuousClock.now - cancelledAt < .seconds(3), "the heartbeat checks leases about every 200 ms")

        // Both engines' handles see the cancellation.
        let fromCanceller = try await canceller.handle(for: job.id).boundedResult(timeout: .seconds(5))
        #expect(fromCanceller.status == .cancelled)
        let fromRunner = try await job.boundedResult(timeout: .seconds(5))
        #expect(fromRunner.status == .cancelled)
        try await canceller.boundedShutdown()
        try await runner.boundedShutdown()

        let store = try Store(.file(dir.file()))
        #expect(try await store.job(job.id)?.state == .cancelled)
        #expect(try await store.attempts(of: job.id).map(\.outcome) == ["cancelled"])
        #expect(try await store.group(key: "remote-cancel")?.finishedAt != nil)
        try await store.close()
    }
}
