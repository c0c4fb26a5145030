import ActyTestSupport
@testable import Acty
import ActyStore
import Foundation
import Testing

/// What a failed primer or follower does to its group under each failure policy.
@Suite(.timeLimit(.minutes(1)))
struct FailurePolicyTests {
    @Test func failedPrimerFailsTheGroupAndCancelsItsFollowers() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir, executors: [failingOnRequest()])
        let submission = try await engine.submitGroup("doomed", primer: ["fail": true], followers: ["a", "b", "c"])
        #expect(try await submission.primer!.boundedResult().status == .failed)
        for follower in submission.followers {
            let result = try await follower.boundedResult()
            #expect(result.status == .cancelled)
            #expect(result.attempts == 0)
            #expect(result.error?.type == "cancelled")
            #expect(result.output == nil)
        }
        let group = try #require(try await engine.store.group(key: "doomed"))
        #expect(group.state == .failed)
        #expect(group.primerState == .failed)
        #expect(group.finishedAt != nil)
        #expect(try JSONValue(jsonString: group.error ?? "")["reason"] == "primer_failed")
        #expect(try await engine.store.jobs(inGroup: group.id).filter { $0.role == .follower }.allSatisfy { $0.state == .cancelled })

        let events = try await engine.allEvents().filter { $0.groupID == group.id }
        let followerIDs = Set(submission.followers.map(\.id))
        #expect(events.ofType(.jobStarted).allSatisfy { $0.jobID == submission.primer!.id }, "no follower started")
        let primerFailed = try #require(events.ofType(.primerFailed).first?.seq)
        let groupFailed = try #require(events.ofType(.groupFailed).first?.seq)
        let cancelled = events.ofType(.jobCancelled)
        #expect(Set(cancelled.compactMap(\.jobID)) == followerIDs)
        let done = try #require(events.ofType(.groupDone).first)
        #expect(events.ofType(.groupDone).count == 1)
        #expect(primerFailed < groupFailed)
        #expect(cancelled.allSatisfy { $0.seq > groupFailed && $0.seq < done.seq })
        let summary = try JSONValue(jsonString: done.data ?? "")
        #expect(summary["ok"] == false)
        #expect(summary["state"] == "failed")
        #expect(summary["followers_cancelled"] == 3)
        #expect(try await engine.store.attempts().map(\.jobID) == [submission.primer!.id])
        try await engine.boundedShutdown()
    }

    @Test func failedPrimerFailsAnOpenGroupAtOnceAndRefusesLaterFollowers() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir, executors: [failingOnRequest()])
        let group = try await engine.openGroup("open-doomed")
        let early = try await group.addFollower("early")
        let primer = try await group.submitPrimer(["fail": true])
        #expect(try await primer.boundedResult().status == .failed)
        #expect(try await early.boundedResult().status == .cancelled)
        // Failed at once, without being closed.
        let record = try #require(try await engine.store.group(group.id))
        #expect(record.state == .failed)
        #expect(record.closedAt == nil)
        let error = await #expect(throws: ActyError.self) { try await group.addFollower("late") }
        #expect(error?.code == .groupClosed)
        #expect(try await engine.store.jobs(inGroup: group.id).count == 2)
        try await group.close()
        #expect(try await engine.store.group(group.id)?.state == .failed)
        try await engine.boundedShutdown()
    }

    @Test func skipFollowersCancelsFollowersAndKeepsTheOpenGroupAcceptingThem() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir, EngineConfiguration(primerFailurePolicy: .skipFollowers), executors: [failingOnRequest()])
        let group = try await engine.openGroup("skipping")
        let early = try await group.addFollower("early")
        let primer = try await group.submitPrimer(["fail": true])
        #expect(try await primer.boundedResult().status == .failed)
        #expect(try await early.boundedResult().status == .cancelled)
        #expect(try await engine.store.group(group.id)?.state == .open)

        let late = try await group.addFollower("late")
        let lateResult = try await late.boundedResult()
        #expect(lateResult.status == .cancelled)
        #expect(lateResult.attempts == 0)
        #expect(try await engine.store.job(late.id)?.state == .cancelled)
        #expect(try await engine.store.group(group.id)?.state == .open)

        try await group.close()
        let record = try #require(try await engine.store.group(group.id))
        #expect(record.state == .failed)
        #expect(record.finishedAt != nil)
        let events = try await engine.allEvents().filter { $0.groupID == group.id }
        #expect(events.ofType(.primerFailed).count == 1)
        #expect(events.ofType(.groupFailed).count == 1)
        #expect(events.ofType(.groupDone).count == 1)
        #expect(events.ofType(.jobStarted).map(\.jobID) == [primer.id])
        try await engine.boundedShutdown()
    }

    @Test func skipFollowersFailsAClosedGroupOnceItsFollowersAreCancelled() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir, EngineConfiguration(primerFailurePolicy: .skipFollowers), executors: [failingOnRequest()])
        let submission = try await engine.submitGroup("skip-closed", primer: ["fail": true], followers: ["a", "b"])
        #expect(try await submission.primer!.boundedResult().status == .failed)
        for follower in submission.followers { #expect(try await follower.boundedResult().status == .cancelled) }
        #expect(try await engine.store.group(key: "skip-closed")?.state == .failed)
        try await engine.boundedShutdown()
    }

    @Test func runFollowersRunsFollowersAfterAFailedPrimerAndTheGroupCanSucceed() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir, EngineConfiguration(primerFailurePolicy: .runFollowers), executors: [failingOnRequest()])
        let submission = try await engine.submitGroup("run-anyway", primer: ["fail": true], followers: ["a", "b", "c"])
        #expect(try await submission.primer!.boundedResult().status == .failed)
        for follower in submission.followers {
            let result = try await follower.boundedResult()
            #expect(result.status == .succeeded)
            #expect(result.attempts == 1)
        }
        let group = try #require(try await engine.store.group(key: "run-anyway"))
        #expect(group.state == .succeeded)
        #expect(group.primerState == .failed)
        let events = try await engine.allEvents().filter { $0.groupID == group.id }
        let primerFailed = try #require(events.ofType(.primerFailed).first?.seq)
        let released = try #require(events.ofType(.followersReady).first)
        #expect(released.seq > primerFailed)
        #expect(released.data == #"{"followers":3,"primer":false}"#)
        #expect(events.ofType(.groupFailed).isEmpty)
        try await engine.boundedShutdown()
    }

    @Test func failedFollowerFailsTheGroupAndCancelsJobsThatHadNotStarted() async throws {
        let dir = TemporaryDirectory()
        // One follower worker and no stealing: followers run one at a time, in order, so follower 0 fails before
        // any other follower starts.
        let configuration = EngineConfiguration(primerWorkers: 1, followerWorkers: 1, workStealing: false)
        let engine = try await makeEngine(dir, configuration, executors: [failingOnRequest()])
        let submission = try await engine.submitGroup("follower-fails", primer: "p", followers: [["fail": true], "b", "c", "d"])
        #expect(try await submission.primer!.boundedResult().status == .succeeded)
        let results = try await submission.followers.asyncMap { try await $0.boundedResult() }
        #expect(results.map(\.status) == [.failed, .cancelled, .cancelled, .cancelled])
        #expect(results[0].error?.type == "PlannedFailure")

        let group = try #require(try await engine.store.group(key: "follower-fails"))
        #expect(group.state == .failed)
        let reason = try JSONValue(jsonString: group.error ?? "")
        #expect(reason["reason"] == "follower_failed")
        #expect(reason["follower_index"] == 0)
        let events = try await engine.allEvents().filter { $0.groupID == group.id }
        let followerFailed = try #require(events.ofType(.followerFailed).first?.seq)
        let groupFailed = try #require(events.ofType(.groupFailed).first?.seq)
        #expect(followerFailed < groupFailed)
        #expect(Set(events.ofType(.jobCancelled).compactMap(\.jobID)) == Set(submission.followers.dropFirst().map(\.id)))
        #expect(events.ofType(.groupDone).count == 1)
        try await engine.boundedShutdown()
    }

    @Test func runningFollowersFinishNormallyAfterTheGroupFailed() async throws {
        let dir = TemporaryDirectory()
        let secondStarted = Gate()
        let release = Gate()
        let executor = ClosureExecutor(name: "pair") { job in
            switch job.followerIndex {
            case 0:
                try await secondStarted.wait()
                throw PlannedFailure("follower 0 fails while follower 1 runs")
            case 1:
                secondStarted.open()
                try await release.wait()
                return "finished"
            default:
                return job.payload
            }
        }
        let configuration = EngineConfiguration(primerWorkers: 1, followerWorkers: 2, workStealing: false)
        let engine = try await makeEngine(dir, configuration, executors: [executor])
        let submission = try await engine.submitGroup("partly-running", primer: "p", followers: ["a", "b", "c", "d"])
        #expect(try await engine.waitForGroup("partly-running", state: .failed))
        // The group failed while follower 1 was still running; the followers that had not started are cancelled.
        #expect(try await engine.store.job(submission.followers[1].id)?.state == .running)
        #expect(try await submission.followers[2].boundedResult().status == .cancelled)
        #expect(try await submission.followers[3].boundedResult().status == .cancelled)
        #expect(try await engine.store.group(key: "partly-running")?.finishedAt == nil)

        release.open()
        let running = try await submission.followers[1].boundedResult()
        #expect(running.status == .succeeded)
        #expect(running.output == "finished")
        #expect(try await submission.followers[0].boundedResult().status == .failed)
        let group = try #require(try await engine.store.group(key: "partly-running"))
        #expect(group.state == .failed)
        #expect(group.finishedAt != nil)
        let events = try await engine.allEvents().filter { $0.groupID == group.id }
        let done = try #require(events.ofType(.groupDone).first?.seq)
        #expect(try #require(events.onlySeq(.jobSucceeded, job: submission.followers[1].id)) < done)
        try await engine.boundedShutdown()
    }

    @Test func continueGroupRecordsTheFailedFollowerAndTheGroupSucceeds() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir, EngineConfiguration(followerFailurePolicy: .continueGroup), executors: [failingOnRequest()])
        let submission = try await engine.submitGroup("carry-on", primer: "p", followers: ["a", ["fail": true], "c"])
        let results = try await submission.jobs.asyncMap { try await $0.boundedResult() }
        #expect(results.map(\.status) == [.succeeded, .succeeded, .failed, .succeeded])
        let group = try #require(try await engine.store.group(key: "carry-on"))
        #expect(group.state == .succeeded)
        let events = try await engine.allEvents().filter { $0.groupID == group.id }
        #expect(events.ofType(.followerFailed).count == 1)
        #expect(events.ofType(.groupFailed).isEmpty)
        let summary = try JSONValue(jsonString: try #require(events.ofType(.groupDone).first?.data))
        #expect(summary["ok"] == true)
        #expect(summary["followers_failed"] == 1)
        #expect(summary["followers_succeeded"] == 2)
        try await engine.boundedShutdown()
    }
}
