import ActyTestSupport
@testable import Acty
import ActyStore
import Foundation
import Testing

/// Closed groups submitted in one call: the primer runs first, followers once it succeeded, the group finishes.
@Suite(.timeLimit(.minutes(1)))
struct GroupLifecycleTests {
    @Test func runsPrimerAndFollowersAndReturnsTheirOutputs() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir)
        let submission = try await engine.submitGroup(
            "release-readiness", primer: ["agent": "coordinator"], followers: [["agent": "ops"], ["agent": "perf"], ["agent": "sec"]]
        )
        #expect(submission.groupKey == "release-readiness")
        #expect(submission.followers.count == 3)
        #expect(submission.jobs.map(\.id) == [submission.primer!.id] + submission.followers.map(\.id))
        #expect(submission.jobs.map(\.role) == [.primer, .follower, .follower, .follower])

        let primer = try await submission.primer!.boundedResult()
        #expect(primer.status == .succeeded)
        #expect(primer.output == ["agent": "coordinator"])
        #expect(primer.role == .primer)
        #expect(primer.groupKey == "release-readiness")
        #expect(primer.attempts == 1)
        #expect(primer.error == nil)
        let outputs = try await submission.followers.asyncMap { try await $0.boundedResult() }
        #expect(outputs.map(\.status) == [.succeeded, .succeeded, .succeeded])
        #expect(outputs.map(\.output) == [["agent": "ops"], ["agent": "perf"], ["agent": "sec"]])

        // The group's last job finishing and the group finishing are one transaction, so this holds at once.
        let group = try #require(try await engine.store.group(key: "release-readiness"))
        #expect(group.state == .succeeded)
        #expect(group.primerState == .succeeded)
        #expect(group.jobsTotal == 4)
        #expect(group.jobsFinished == 4)
        #expect(group.finishedAt != nil)
        let jobs = try await engine.store.jobs(inGroup: submission.groupID)
        #expect(jobs.map(\.state) == Array(repeating: .succeeded, count: 4))
        #expect(jobs.map(\.followerIndex) == [nil, 0, 1, 2])
        #expect(try JSONValue(jsonString: jobs[1].result!) == ["agent": "ops"])
        try await engine.boundedShutdown()
    }

    @Test func followersStartOnlyAfterThePrimerSucceeded() async throws {
        let dir = TemporaryDirectory()
        let executor = ClosureExecutor(name: "slow-primer") { job in
            if job.role == .primer { try await Task.sleep(for: .milliseconds(30)) }
            return job.payload
        }
        let engine = try await makeEngine(dir, EngineConfiguration(primerWorkers: 2, followerWorkers: 4), executors: [executor])
        var submissions: [GroupSubmission] = []
        for index in 0..<3 {
            submissions.append(try await engine.submitGroup("g\(index)", primer: ["p": .number(Double(index))], followers: [1, 2, 3, 4, 5]))
        }
        for submission in submissions {
            for job in submission.jobs { #expect(try await job.boundedResult().status == .succeeded) }
        }

        let attempts = try await engine.store.attempts()
        let events = try await engine.allEvents()
        for submission in submissions {
            let primerID = submission.primer!.id
            let primerAttempt = try #require(attempts.first { $0.jobID == primerID })
            #expect(primerAttempt.outcome == "succeeded")
            let primerFinished = try #require(primerAttempt.finishedAt)
            let primerSucceededSeq = try #require(events.onlySeq(.jobSucceeded, job: primerID))
            let releasedSeq = try #require(events.ofType(.followersReady).first { $0.groupID == submission.groupID }?.seq)
            #expect(releasedSeq > primerSucceededSeq)
            for follower in submission.followers {
                let attempt = try #require(attempts.first { $0.jobID == follower.id })
                #expect(attempt.startedAt >= primerFinished, "follower \(follower.id) started before its primer finished")
                let startedSeq = try #require(events.onlySeq(.jobStarted, job: follower.id))
                #expect(startedSeq > releasedSeq)
            }
        }
        try await engine.boundedShutdown()
    }

    @Test func followersStayBlockedWhileThePrimerRuns() async throws {
        let dir = TemporaryDirectory()
        let gate = Gate()
        let executor = ClosureExecutor(name: "gated") { job in
            if job.role == .primer { try await gate.wait() }
            return job.payload
        }
        let engine = try await makeEngine(dir, executors: [executor])
        let submission = try await engine.submitGroup("gated", primer: "setup", followers: ["a", "b"])
        #expect(try await waitUntil { try await engine.store.job(submission.primer!.id)?.state == .running })

        let group = try #require(try await engine.store.group(key: "gated"))
        #expect(group.state == .closed)
        #expect(group.primerState == .pending)
        for follower in submission.followers {
            #expect(try await engine.store.job(follower.id)?.state == .blocked)
        }
        #expect(try await engine.store.attempts().isEmpty)

        gate.open()
        for job in submission.jobs { #expect(try await job.boundedResult().status == .succeeded) }
        #expect(try await engine.store.group(key: "gated")?.state == .succeeded)
        try await engine.boundedShutdown()
    }

    @Test func groupWithoutPrimerRunsItsFollowersAtOnce() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir)
        let submission = try await engine.submitGroup("fan-out", primer: nil, followers: ["x", "y", "z"])
        #expect(submission.primer == nil)
        #expect(submission.jobs.count == 3)
        for follower in submission.followers { #expect(try await follower.boundedResult().status == .succeeded) }

        let jobs = try await engine.store.jobs(inGroup: submission.groupID)
        #expect(jobs.allSatisfy { $0.role == .follower })
        let group = try #require(try await engine.store.group(key: "fan-out"))
        #expect(group.state == .succeeded)
        #expect(group.primerState == PrimerState.none)
        let events = try await engine.allEvents()
        let released = events.ofType(.followersReady).filter { $0.groupID == submission.groupID }
        #expect(released.count == 1)
        #expect(released.first?.data == #"{"followers":3,"primer":false}"#)
        // The followers were ready from their insert: released in the submitting transaction, not by a primer.
        let queuedSeqs = submission.followers.compactMap { events.onlySeq(.jobQueued, job: $0.id) }
        #expect(queuedSeqs.count == 3)
        #expect(released.first!.seq > queuedSeqs.max()!)
        #expect(released.first!.seq < submission.followers.compactMap { events.onlySeq(.jobStarted, job: $0.id) }.min()!)
        try await engine.boundedShutdown()
    }

    @Test func submitReturnsOnceTheWholeGroupIsCommitted() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir)
        let followers: [JSONValue] = (0..<25).map { .number(Double($0)) }
        let submission = try await engine.submitGroup("committed", primer: "p", followers: followers)

        // A second connection on the file sees every row as soon as the call returned.
        let reader = try Store(.file(dir.file()))
        let group = try #require(try await reader.group(key: "committed"))
        #expect(group.id == submission.groupID)
        #expect(group.jobsTotal == 26)
        #expect(group.followersTotal == 25)
        let jobs = try await reader.jobs(inGroup: submission.groupID)
        #expect(jobs.count == 26)
        #expect(Set(jobs.map(\.id)) == Set(submission.jobs.map(\.id)))
        try await reader.close()
        for job in submission.jobs { _ = try await job.boundedResult() }
        try await engine.boundedShutdown()
    }

    @Test func emptyClosedGroupSucceedsAtOnce() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir)
        let submission = try await engine.submitGroup("empty", primer: nil, followers: [])
        #expect(submission.jobs.isEmpty)
        let group = try #require(try await engine.store.group(key: "empty"))
        #expect(group.state == .succeeded)
        #expect(group.finishedAt != nil)
        let done = try await engine.allEvents().ofType(.groupDone).filter { $0.groupID == submission.groupID }
        #expect(done.count == 1)
        #expect(try JSONValue(jsonString: done[0].data ?? "")["ok"] == true)
        try await engine.boundedShutdown()
    }

    @Test func executorSeesTheJobsPlaceInItsGroup() async throws {
        let dir = TemporaryDirectory()
        let executor = ClosureExecutor(name: "introspect") { job in
            [
                "id": .number(Double(job.id.rawValue)), "group": .string(job.groupKey), "role": .string(job.role.rawValue),
                "index": job.followerIndex.map { .number(Double($0)) } ?? .null, "lane": .string(job.lane),
                "attempt": .number(Double(job.attempt)), "context": job.groupContext ?? .null, "payload": job.payload,
            ]
        }
        let engine = try await makeEngine(dir, EngineConfiguration(lanes: ["docs": LaneConfiguration(weight: 2)]), executors: [executor])
        let submission = try await engine.submitGroup(
            "context", primer: ["step": "prime"], followers: ["first", "second"], lane: "docs", groupContext: ["tenant": "acme"]
        )
        let primer = try #require(try await submission.primer!.boundedResult().output)
        #expect(primer["role"] == "primer")
        #expect(primer["index"] == .null)
        #expect(primer["group"] == "context")
        #expect(primer["lane"] == "docs")
        #expect(primer["attempt"] == 1)
        #expect(primer["context"] == ["tenant": "acme"])
        #expect(primer["payload"] == ["step": "prime"])
        #expect(primer["id"]?.intValue == Int(submission.primer!.id.rawValue))
        for (index, follower) in submission.followers.enumerated() {
            let output = try #require(try await follower.boundedResult().output)
            #expect(output["role"] == "follower")
            #expect(output["index"]?.intValue == index)
            #expect(output["context"] == ["tenant": "acme"])
        }
        #expect(try await engine.store.jobs(inGroup: submission.groupID).allSatisfy { $0.lane == "docs" })
        try await engine.boundedShutdown()
    }

    @Test func recordsOneAttemptRowPerFinishedJob() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir, executors: [failingOnRequest()])
        let ok = try await engine.submitGroup("ok", primer: ["fail": false], followers: [["n": 1], ["n": 2]])
        let failing = try await engine.submitGroup("failing", primer: ["fail": true])
        for job in ok.jobs + failing.jobs { _ = try await job.boundedResult() }

        let attempts = try await engine.store.attempts()
        #expect(attempts.count == 4)
        #expect(Set(attempts.map(\.jobID)) == Set((ok.jobs + failing.jobs).map(\.id)))
        for attempt in attempts {
            #expect(attempt.number == 1)
            #expect(attempt.worker == engine.workerID)
            #expect((attempt.finishedAt ?? 0) >= attempt.startedAt)
            #expect((attempt.duration ?? -1) >= 0)
        }
        let failed = try #require(attempts.first { $0.jobID == failing.primer!.id })
        #expect(failed.outcome == "failed")
        #expect(failed.error?.contains("asked to fail") == true)
        #expect(attempts.filter { $0.outcome == "succeeded" }.count == 3)
        try await engine.boundedShutdown()
    }

    @Test func failedJobResultCarriesTheErrorAndTheRowKeepsIt() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir, executors: [failingOnRequest()])
        let submission = try await engine.submitGroup("boom", primer: ["fail": true])
        let result = try await submission.primer!.boundedResult()
        #expect(result.status == .failed)
        #expect(result.output == nil)
        #expect(result.attempts == 1)
        #expect(result.error?.type == "PlannedFailure")
        #expect(result.error?.message.contains("asked to fail") == true)
        let row = try #require(try await engine.store.job(submission.primer!.id))
        #expect(row.state == .failed)
        #expect(row.result == nil)
        let stored = try JSONValue(jsonString: row.error ?? "")
        #expect(stored["type"] == "PlannedFailure")
        try await engine.boundedShutdown()
    }
}
