import ActyTestSupport
@testable import Acty
import ActyStore
import Foundation
import Testing

/// Groups whose work arrives over time: `openGroup`, `withOpenGroup`, deferred primers and closing.
@Suite(.timeLimit(.minutes(1)))
struct OpenGroupTests {
    @Test func followersAddedBeforeThePrimerWaitUntilItSucceeded() async throws {
        let dir = TemporaryDirectory()
        let gate = Gate()
        let executor = ClosureExecutor(name: "gated") { job in
            if job.role == .primer, job.payload["wait"] == true { try await gate.wait() }
            return job.payload
        }
        let engine = try await makeEngine(dir, executors: [executor])
        let group = try await engine.openGroup("deferred")
        let early = [try await group.addFollower(["n": 1]), try await group.addFollower(["n": 2])]
        for follower in early { #expect(try await engine.store.job(follower.id)?.state == .blocked) }

        // The engine is idle and working: another group runs to the end while the followers keep waiting.
        let other = try await engine.submitGroup("other", primer: "p", followers: ["f"])
        for job in other.jobs { #expect(try await job.boundedResult().status == .succeeded) }
        for follower in early { #expect(try await engine.store.job(follower.id)?.state == .blocked) }
        #expect(try await engine.store.group(key: "deferred")?.state == .open)

        let primer = try await group.submitPrimer(["wait": true])
        #expect(try await waitUntil { try await engine.store.job(primer.id)?.state == .running })
        for follower in early { #expect(try await engine.store.job(follower.id)?.state == .blocked) }

        gate.open()
        #expect(try await primer.boundedResult().status == .succeeded)
        for follower in early { #expect(try await follower.boundedResult().status == .succeeded) }
        let attempts = try await engine.store.attempts()
        let primerFinished = try #require(attempts.first { $0.jobID == primer.id }?.finishedAt)
        for follower in early {
            let started = try #require(attempts.first { $0.jobID == follower.id }?.startedAt)
            #expect(started >= primerFinished)
        }
        // Still open: the group waits for more followers until it is closed.
        #expect(try await engine.store.group(key: "deferred")?.state == .open)
        try await group.close()
        #expect(try await engine.store.group(key: "deferred")?.state == .succeeded)
        try await engine.boundedShutdown()
    }

    @Test func followerAddedAfterThePrimerSucceededRunsAtOnce() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir)
        let group = try await engine.openGroup("late")
        let primer = try await group.submitPrimer("p")
        #expect(try await primer.boundedResult().status == .succeeded)
        let follower = try await group.addFollower("late-follower")
        #expect(try await follower.boundedResult().output == "late-follower")
        let queued = try #require(try await engine.allEvents().ofType(.jobQueued).first { $0.jobID == follower.id })
        #expect(queued.data == nil, "a follower of a succeeded primer is queued ready, not blocked")
        try await group.close()
        #expect(try await engine.store.group(key: "late")?.state == .succeeded)
        try await engine.boundedShutdown()
    }

    @Test func closingWithoutAPrimerReleasesWaitingFollowers() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir)
        let group = try await engine.openGroup("no-primer")
        let followers = [try await group.addFollower("a"), try await group.addFollower("b")]
        for follower in followers { #expect(try await engine.store.job(follower.id)?.state == .blocked) }
        try await group.close()
        for follower in followers { #expect(try await follower.boundedResult().status == .succeeded) }

        let record = try #require(try await engine.store.group(key: "no-primer"))
        #expect(record.state == .succeeded)
        #expect(record.primerState == PrimerState.none)
        let events = try await engine.allEvents().filter { $0.groupID == group.id }
        let closed = try #require(events.ofType(.groupClosed).first)
        let released = try #require(events.ofType(.followersReady).first)
        #expect(released.seq > closed.seq)
        #expect(released.data == #"{"followers":2,"primer":false}"#)
        try await engine.boundedShutdown()
    }

    @Test func withOpenGroupClosesTheGroupWhenTheBodyReturns() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir)
        let (handles, id) = try await engine.withOpenGroup("scoped", groupContext: ["tenant": "acme"]) { group in
            let primer = try await group.submitPrimer(["prefix_id": "v3"])
            let billing = try await group.addFollower(["agent": "billing"])
            let refunds = try await group.addFollower(["agent": "refunds"])
            #expect(try await engine.store.group(key: "scoped")?.state == .open)
            return ([primer, billing, refunds], group.id)
        }
        #expect(try await engine.store.group(id)?.closedAt != nil)
        for handle in handles { #expect(try await handle.boundedResult().status == .succeeded) }
        #expect(try await engine.store.group(id)?.state == .succeeded)
        #expect(try await engine.store.group(id)?.groupContext == #"{"tenant":"acme"}"#)
        try await engine.boundedShutdown()
    }

    @Test func withOpenGroupClosesTheGroupAndRethrowsWhenTheBodyThrows() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir)
        let follower = Recorder<JobHandle>()
        await #expect(throws: PlannedFailure.self) {
            try await engine.withOpenGroup("throwing") { group in
                follower.append(try await group.addFollower("orphan"))
                throw PlannedFailure("body gave up")
            }
        }
        let record = try #require(try await engine.store.group(key: "throwing"))
        #expect(record.state != .open)
        #expect(record.closedAt != nil)
        // Closed without a primer: its follower is released and runs.
        #expect(try await follower.values[0].boundedResult().status == .succeeded)
        #expect(try await engine.store.group(key: "throwing")?.state == .succeeded)
        try await engine.boundedShutdown()
    }

    @Test func openGroupReattachesToTheOpenGroupWithTheSameKey() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir)
        let first = try await engine.openGroup("shared")
        let a = try await first.addFollower("a")
        let second = try await engine.openGroup("shared")
        #expect(second.id == first.id)
        let b = try await second.addFollower("b")
        #expect(try await engine.store.allGroups().count == 1)
        #expect(try await engine.store.group(key: "shared")?.followersTotal == 2)
        try await second.close()
        #expect(try await a.boundedResult().status == .succeeded)
        #expect(try await b.boundedResult().status == .succeeded)
        let indexes = try await engine.store.jobs(inGroup: first.id).map(\.followerIndex)
        #expect(indexes == [0, 1])
        try await engine.boundedShutdown()
    }

    @Test func openGroupOnAClosedLiveGroupThrowsGroupClosed() async throws {
        let dir = TemporaryDirectory()
        let gate = Gate()
        let executor = gated(by: gate)
        let engine = try await makeEngine(dir, executors: [executor])
        let submission = try await engine.submitGroup("busy", primer: "p", followers: ["f"])
        let error = await #expect(throws: ActyError.self) { try await engine.openGroup("busy") }
        #expect(error?.code == .groupClosed)
        gate.open()
        for job in submission.jobs { _ = try await job.boundedResult() }
        // Once the group finished the key is free: openGroup starts a new group.
        let reopened = try await engine.openGroup("busy")
        #expect(reopened.id != submission.groupID)
        try await reopened.close()
        try await engine.boundedShutdown()
    }

    @Test func closingTwiceDoesNothing() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir)
        let group = try await engine.openGroup("twice")
        let primer = try await group.submitPrimer("p")
        try await group.close()
        try await group.close()
        #expect(try await primer.boundedResult().status == .succeeded)
        try await group.close()
        let events = try await engine.allEvents().filter { $0.groupID == group.id }
        #expect(events.ofType(.groupClosed).count == 1)
        #expect(events.ofType(.groupDone).count == 1)
        #expect(try await engine.store.group(group.id)?.state == .succeeded)
        try await engine.boundedShutdown()
    }

    @Test func groupMovesFromOpenToClosedToSucceeded() async throws {
        let dir = TemporaryDirectory()
        let gate = Gate()
        let executor = gated(by: gate)
        let engine = try await makeEngine(dir, executors: [executor])
        let group = try await engine.openGroup("states")
        #expect(try await engine.store.group(group.id)?.state == .open)
        let primer = try await group.submitPrimer("p")
        #expect(try await engine.store.group(group.id)?.state == .open)
        try await group.close()
        #expect(try await engine.store.group(group.id)?.state == .closed)
        gate.open()
        #expect(try await primer.boundedResult().status == .succeeded)
        #expect(try await engine.store.group(group.id)?.state == .succeeded)

        let empty = try await engine.openGroup("empty-open")
        try await empty.close()
        #expect(try await engine.store.group(empty.id)?.state == .succeeded)
        try await engine.boundedShutdown()
    }

    @Test func secondPrimerIsRefused() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir)
        let group = try await engine.openGroup("one-primer")
        let primer = try await group.submitPrimer("first")
        let error = await #expect(throws: ActyError.self) { try await group.submitPrimer("second") }
        #expect(error?.code == .invalidArgument)
        #expect(try await engine.store.jobs(inGroup: group.id).count == 1)
        try await group.close()
        #expect(try await primer.boundedResult().status == .succeeded)
        try await engine.boundedShutdown()
    }
}
