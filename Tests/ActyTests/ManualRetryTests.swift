import ActyTestSupport
@testable import Acty
import ActyStore
import Foundation
import Testing

/// Retrying failed jobs by hand: `retry(job:)` and `retryFailedJobs(inGroup:)`.
@Suite(.timeLimit(.minutes(1)))
struct ManualRetryTests {
    /// A switch the test flips to mend a broken dependency.
    final class Switch: Sendable {
        private let state: Locked<Bool>
        init(_ on: Bool) { state = Locked(on) }
        var isOn: Bool { state.withLock { $0 } }
        func set(_ on: Bool) { state.withLock { $0 = on } }
    }

    /// An executor named `work` that fails `"flaky"` jobs while `broken` is on, `"gated"` ones wait for `gate`.
    static func executor(broken: Switch, gate: Gate = Gate()) -> ClosureExecutor {
        ClosureExecutor(name: "work") { job in
            if job.payload == "flaky", broken.isOn { throw PlannedFailure("still broken") }
            if job.payload == "gated" { try await gate.wait() }
            return job.payload
        }
    }

    @Test func retryingAFailedJobRunsItAgainAndTheGroupEndsSucceeded() async throws {
        let dir = TemporaryDirectory()
        let broken = Switch(true)
        let engine = try await makeEngine(dir, executors: [Self.executor(broken: broken)])
        let job = try await engine.submitGroup("manual", primer: nil, followers: ["flaky"]).followers[0]
        let failed = try await job.boundedResult()
        #expect(failed.status == .failed)
        #expect(failed.attempts == 1)
        #expect(try await engine.store.group(key: "manual")?.state == .failed)

        broken.set(false)
        try await engine.retry(job: job.id)
        let result = try await engine.handle(for: job.id).boundedResult()
        #expect(result.status == .succeeded)
        #expect(result.attempts == 2)
        #expect(result.output == "flaky")

        let row = try #require(try await engine.store.job(job.id))
        #expect(row.state == .succeeded)
        #expect(row.maxAttempts == 2, "the retry gave the job one more attempt")
        #expect(row.error == nil)
        #expect(try await engine.store.attempts(of: job.id).map(\.outcome) == ["failed", "succeeded"])
        #expect(try await engine.waitForGroup("manual", state: .succeeded))
        let group = try #require(try await engine.store.group(key: "manual"))
        #expect(group.error == nil)
        #expect(group.finishedAt != nil)

        let events = try await engine.allEvents().filter { $0.groupID == group.id }
        let queued = events.forJob(job.id).ofType(.jobQueued)
        #expect(queued.count == 2)
        #expect(try JSONValue(jsonString: queued.last?.data ?? "")["retry"] == true)
        // Done twice: once failed, once succeeded.
        #expect(try events.ofType(.groupDone).map { try JSONValue(jsonString: $0.data ?? "")["state"] } == ["failed", "succeeded"])
        try await engine.boundedShutdown()
    }

    @Test func retryingAFailedPrimerBringsBackTheFollowersItsFailureCancelled() async throws {
        let dir = TemporaryDirectory()
        let broken = Switch(true)
        let engine = try await makeEngine(dir, executors: [Self.executor(broken: broken)])
        let submission = try await engine.submitGroup("revive", primer: "flaky", followers: ["a", "b"])
        let primer = try #require(submission.primer)
        #expect(try await primer.boundedResult().status == .failed)
        for follower in submission.followers { #expect(try await follower.boundedResult().status == .cancelled) }
        #expect(try await engine.store.group(key: "revive")?.state == .failed)

        broken.set(false)
        try await engine.retry(job: primer.id)
        // Until the primer succeeds again, the followers wait for it.
        let primerResult = try await engine.handle(for: primer.id).boundedResult()
        #expect(primerResult.status == .succeeded)
        #expect(primerResult.attempts == 2)
        for follower in submission.followers {
            let result = try await engine.handle(for: follower.id).boundedResult()
            #expect(result.status == .succeeded)
            #expect(result.attempts == 1)
        }
        #expect(try await engine.waitForGroup("revive", state: .succeeded))
        let group = try #require(try await engine.store.group(key: "revive"))
        #expect(group.primerState == .succeeded)
        #expect(group.jobsFinished == 3)
        let events = try await engine.allEvents().filter { $0.groupID == group.id }
        for follower in submission.followers {
            let followerEvents = events.forJob(follower.id)
            let requeued = try #require(followerEvents.ofType(.jobQueued).last)
            #expect(try JSONValue(jsonString: requeued.data ?? "") == ["retry": true, "blocked": true])
            let started = try #require(followerEvents.ofType(.jobStarted).first)
            let primerSucceeded = try #require(events.forJob(primer.id).ofType(.jobSucceeded).first)
            #expect(started.seq > primerSucceeded.seq, "followers ran after the retried primer succeeded")
        }
        try await engine.boundedShutdown()
    }

    @Test func retryFailedJobsRetriesTheFailedJobsAndRevivesTheCancelledOnes() async throws {
        let dir = TemporaryDirectory()
        let broken = Switch(true)
        // One follower worker and no stealing: follower 0 fails before the others start, failing the group.
        let configuration = EngineConfiguration(primerWorkers: 1, followerWorkers: 1, workStealing: false)
        let engine = try await makeEngine(dir, configuration, executors: [Self.executor(broken: broken)])
        let submission = try await engine.submitGroup("batch", primer: "p", followers: ["flaky", "b", "c"])
        let before = try await submission.followers.asyncMap { try await $0.boundedResult().status }
        #expect(before == [.failed, .cancelled, .cancelled])

        broken.set(false)
        #expect(try await engine.retryFailedJobs(inGroup: "batch") == 3)
        for follower in submission.followers {
            #expect(try await engine.handle(for: follower.id).boundedResult().status == .succeeded)
        }
        #expect(try await engine.waitForGroup("batch", state: .succeeded))
        #expect(try await engine.store.job(submission.primer!.id)?.attempts == 1, "the primer had succeeded: it did not run again")
        #expect(try await engine.store.attempts(of: submission.followers[0].id).map(\.outcome) == ["failed", "succeeded"])
        // Nothing left to retry.
        #expect(try await engine.retryFailedJobs(inGroup: "batch") == 0)
        let error = await #expect(throws: ActyError.self) { try await engine.retryFailedJobs(inGroup: "no-such-group") }
        #expect(error?.code == .unknownGroup)
        try await engine.boundedShutdown()
    }

    @Test func aCancelledJobCanBeRetried() async throws {
        let dir = TemporaryDirectory()
        let gate = Gate()
        // One worker, held by a gated job, so the other one stays queued until it is cancelled.
        let configuration = EngineConfiguration(primerWorkers: 0, followerWorkers: 1)
        let engine = try await makeEngine(dir, configuration, executors: [Self.executor(broken: Switch(false), gate: gate)])
        let submission = try await engine.submitGroup("second-thoughts", primer: nil, followers: ["gated", "queued"])
        #expect(try await waitUntil { try await engine.store.job(submission.followers[0].id)?.state == .running })
        #expect(try await engine.cancel(job: submission.followers[1].id))
        #expect(try await submission.followers[1].boundedResult().status == .cancelled)

        try await engine.retry(job: submission.followers[1].id)
        #expect(try await engine.store.job(submission.followers[1].id)?.state == .ready)
        gate.open()
        let result = try await engine.handle(for: submission.followers[1].id).boundedResult()
        #expect(result.status == .succeeded)
        #expect(result.attempts == 1)
        #expect(try await engine.waitForGroup("second-thoughts", state: .succeeded))
        try await engine.boundedShutdown()
    }

    @Test func retryingARunningOrSucceededJobIsRefused() async throws {
        let dir = TemporaryDirectory()
        let gate = Gate()
        let engine = try await makeEngine(dir, executors: [Self.executor(broken: Switch(false), gate: gate)])
        let submission = try await engine.submitGroup("busy", primer: "gated", followers: ["f"])
        let primer = try #require(submission.primer)
        #expect(try await waitUntil { try await engine.store.job(primer.id)?.state == .running })

        let running = await #expect(throws: ActyError.self) { try await engine.retry(job: primer.id) }
        #expect(running?.code == .invalidArgument)
        // A blocked follower is not retryable either.
        let blocked = await #expect(throws: ActyError.self) { try await engine.retry(job: submission.followers[0].id) }
        #expect(blocked?.code == .invalidArgument)

        gate.open()
        #expect(try await primer.boundedResult().status == .succeeded)
        #expect(try await submission.followers[0].boundedResult().status == .succeeded)
        let succeeded = await #expect(throws: ActyError.self) { try await engine.retry(job: primer.id) }
        #expect(succeeded?.code == .invalidArgument)
        #expect(try await engine.store.job(primer.id)?.attempts == 1)
        #expect(try await engine.store.group(key: "busy")?.state == .succeeded)

        let unknown = await #expect(throws: ActyError.self) { try await engine.retry(job: JobID(424_242)) }
        #expect(unknown?.code == .unknownJob)
        try await engine.boundedShutdown()
    }

    @Test func retryingAJobOfAnOldGroupWhoseKeyANewerLiveGroupTookIsRefused() async throws {
        let dir = TemporaryDirectory()
        let gate = Gate()
        let engine = try await makeEngine(dir, executors: [Self.executor(broken: Switch(true), gate: gate)])
        let old = try await engine.submitGroup("reused", primer: "flaky")
        #expect(try await old.primer!.boundedResult().status == .failed)
        #expect(try await engine.store.group(key: "reused")?.state == .failed)
        // A new group takes the key and stays live while its primer waits.
        let newer = try await engine.submitGroup("reused", primer: "gated")
        #expect(newer.groupID != old.groupID)

        let error = await #expect(throws: ActyError.self) { try await engine.retry(job: old.primer!.id) }
        #expect(error?.code == .groupKeyInUse)
        let row = try #require(try await engine.store.job(old.primer!.id))
        #expect(row.state == .failed, "the refused retry changed nothing")
        #expect(row.maxAttempts == 1)
        #expect(try await engine.store.group(old.groupID)?.state == .failed)

        gate.open()
        #expect(try await newer.primer!.boundedResult().status == .succeeded)
        // Once the newer group has finished, the old one can be retried: it runs again (and fails again).
        try await engine.retry(job: old.primer!.id)
        let again = try await engine.handle(for: old.primer!.id).boundedResult()
        #expect(again.attempts == 2)
        #expect(again.status == .failed)
        try await engine.boundedShutdown()
    }

    @Test func theOldHandleOfARetriedJobReturnsTheOutcomeOfItsNewRun() async throws {
        let dir = TemporaryDirectory()
        let broken = Switch(true)
        let engine = try await makeEngine(dir, executors: [Self.executor(broken: broken)])
        let job = try await engine.submitGroup("rerun", primer: nil, followers: ["flaky"]).followers[0]
        let failed = try await job.boundedResult()
        #expect(failed.status == .failed)

        broken.set(false)
        try await engine.retry(job: job.id)
        // The handle resolved with the failure; it now waits for the rerun and returns its success.
        let result = try await job.boundedResult()
        #expect(result.status == .succeeded)
        #expect(result.attempts == 2)
        #expect(result.output == "flaky")
        #expect(result.error == nil, "the first attempt's error belongs to its attempt row, not to the new outcome")
        #expect(try await job.boundedResult() == result, "and keeps returning it")
        try await engine.boundedShutdown()
    }

    @Test func aHandleWaitsForAJobAnotherWriterQueuedAgain() async throws {
        let dir = TemporaryDirectory()
        let gate = Gate()
        let configuration = EngineConfiguration(primerWorkers: 0, followerWorkers: 1, pollInterval: .milliseconds(20))
        let engine = try await makeEngine(dir, configuration, executors: [Self.executor(broken: Switch(false), gate: gate)])
        let submission = try await engine.submitGroup("elsewhere", primer: nil, followers: ["gated", "queued"])
        let queued = submission.followers[1]
        #expect(try await waitUntil { try await engine.store.job(submission.followers[0].id)?.state == .running })
        #expect(try await engine.cancel(job: queued.id))
        #expect(try await queued.boundedResult().status == .cancelled)

        // Another writer (as `acty-query retry` is) queues the job again; the engine learns it only from the file.
        let other = try Store(.file(dir.file()))
        _ = try await other.retryJob(queued.id, worker: nil)
        try await other.close()
        let waiting = Task { try await queued.boundedResult() }
        gate.open()
        let result = try await waiting.value
        #expect(result.status == .succeeded, "not the stale cancelled result")
        #expect(result.output == "queued")
        try await engine.boundedShutdown()
    }

    @Test func retryingTheCancelledPrimerOfACancelledGroupRunsTheWholeGroupAgain() async throws {
        let dir = TemporaryDirectory()
        let gate = Gate()
        let engine = try await makeEngine(dir, executors: [Self.executor(broken: Switch(false), gate: gate)])
        let submission = try await engine.submitGroup("called-off", primer: "gated", followers: ["a", "b", "c"])
        let primer = try #require(submission.primer)
        #expect(try await waitUntil { try await engine.store.job(primer.id)?.state == .running })
        // Follower c is cancelled on its own first; then cancelling the primer cancels the group.
        #expect(try await engine.cancel(job: submission.followers[2].id))
        #expect(try await engine.cancel(job: primer.id))
        #expect(try await engine.waitForGroup("called-off", state: .cancelled))
        for job in submission.jobs { #expect(try await job.boundedResult().status == .cancelled) }

        // A follower cannot be retried alone: it would wait for a primer that never runs.
        let refused = await #expect(throws: ActyError.self) { try await engine.retry(job: submission.followers[0].id) }
        #expect(refused?.code == .invalidArgument)
        #expect(refused?.message.contains("retry the primer") == true)

        try await engine.retry(job: primer.id)
        let group = try #require(try await engine.store.group(key: "called-off"))
        #expect(group.state == .closed, "the group is live again")
        let states = try await engine.store.jobs(inGroup: group.id).map(\.state)
        #expect(states[1...] == [.blocked, .blocked, .cancelled], "the followers the group's cancellation took wait for the primer")

        gate.open()
        for job in submission.jobs.prefix(3) { #expect(try await job.boundedResult().status == .succeeded) }
        #expect(try await submission.followers[2].boundedResult().status == .cancelled, "cancelled on its own: stays cancelled")
        // Done with one follower cancelled by hand: the group succeeds, as a group with a cancelled follower does.
        #expect(try await engine.waitForGroup("called-off", state: .succeeded))
        let events = try await engine.allEvents().filter { $0.groupID == group.id }
        let primerSucceeded = try #require(events.forJob(primer.id).ofType(.jobSucceeded).first)
        for follower in submission.followers.prefix(2) {
            #expect(try #require(events.forJob(follower.id).ofType(.jobStarted).first).seq > primerSucceeded.seq)
        }
        try await engine.boundedShutdown()
    }
}
