import ActyCore
@testable import ActyStore
import Foundation
import GRDB
import Testing

@Suite(.timeLimit(.minutes(1)))
struct StoreStateRuleTests {
    static func claim(
        _ store: Store, primers: Int = 0, followers: Int = 0, executors: [String] = ["echo"], worker: String = "w1",
        stealing: Bool = false
    ) async throws -> [ClaimedJob] {
        let request = ClaimRequest(
            planner: ClaimPlanner(workStealing: stealing), dataVersion: nil, freePrimerWorkers: primers,
            freeFollowerWorkers: followers, worker: worker, leaseDuration: 30, executors: executors
        )
        return try await store.dispatch(DispatchWork(worker: worker, claim: request)).0.claimed
    }

    @discardableResult
    static func complete(
        _ store: Store, _ jobs: [ClaimedJob], failing: Bool = false, worker: String = "w1"
    ) async throws -> WriteEffects {
        let completions = jobs.map { job in
            Completion(
                job: job, outcome: failing ? .failed(.init(error: JobError(type: "Boom", message: "no"))) : .succeeded(output: #"{"ok":1}"#),
                finishedAt: now
            )
        }
        return try await store.dispatch(DispatchWork(worker: worker, completions: completions)).1
    }

    static func eventTypes(_ store: Store) async throws -> [String] {
        try await store.events().map(\.type)
    }

    static func setLane(_ store: Store, _ sql: String) async throws {
        try await store.database.write { try $0.execute(sql: sql) }
    }

    // MARK: - Claims

    @Test func claimLeasesJobsAndReturnsThem() async throws {
        try await withStore { store, _ in
            let (submitted, _) = try await store.submitGroup(.closed("g", followers: 2), worker: "w1")
            let before = now
            let claimed = try await Self.claim(store, primers: 4, followers: 4)
            #expect(claimed.map(\.id) == [submitted.primer])
            let job = try #require(claimed.first)
            #expect(job.role == .primer && job.pool == .primer)
            #expect(job.attempt == 1)
            #expect(job.groupKey == "g" && job.groupID == submitted.id && job.lane == "default")
            #expect(job.executor == "echo" && job.payload == #"{"primer":true}"#)

            let record = try #require(try await store.job(job.id))
            #expect(record.state == .running)
            #expect(record.leaseOwner == "w1")
            #expect(record.attempts == 1)
            #expect(try #require(record.startedAt) >= before - 1)
            #expect(abs(try #require(record.leaseUntil) - (job.startedAt + 30)) < 0.001)
            #expect(try await Self.eventTypes(store).last == "job_started")

            // Followers are blocked and the primer is taken: nothing more to claim.
            #expect(try await Self.claim(store, primers: 4, followers: 4, stealing: true).isEmpty)
        }
    }

    @Test func claimTakesHigherPriorityFirstThenOlder() async throws {
        try await withStore { store, _ in
            let followers: [NewJob] = [.echo(priority: 0), .echo(priority: 5), .echo(priority: 5), .echo(priority: 1)]
            let (submitted, _) = try await store.submitGroup(
                NewGroup(key: "g", lane: "default", primer: nil, followers: followers, isClosed: true), worker: "w1"
            )
            let order = submitted.followers
            var claimed: [JobID] = []
            for _ in 0..<4 { claimed += try await Self.claim(store, followers: 1).map(\.id) }
            #expect(claimed == [order[1], order[2], order[3], order[0]])
        }
    }

    @Test func claimsOnlyJobsOfRegisteredExecutors() async throws {
        try await withStore { store, _ in
            _ = try await store.submitGroup(.closed("a", followers: 0, executor: "alpha"), worker: "w1")
            _ = try await store.submitGroup(.closed("b", followers: 0, executor: "beta"), worker: "w1")
            #expect(try await Self.claim(store, primers: 5, executors: []).isEmpty)
            #expect(try await Self.claim(store, primers: 5, executors: ["gamma"]).isEmpty)
            let alpha = try await Self.claim(store, primers: 5, executors: ["alpha", "gamma"])
            #expect(alpha.map(\.groupKey) == ["a"])
            let beta = try await Self.claim(store, primers: 5, executors: ["beta"])
            #expect(beta.map(\.groupKey) == ["b"])
        }
    }

    @Test func pausedLaneIsNotClaimed() async throws {
        try await withStore { store, _ in
            _ = try await store.submitGroup(.closed("slow-1", lane: "slow", followers: 0), worker: "w1")
            _ = try await store.submitGroup(.closed("fast-1", lane: "fast", followers: 0), worker: "w1")
            try await Self.setLane(store, "UPDATE lanes SET paused = 1 WHERE name = 'slow'")
            let claimed = try await Self.claim(store, primers: 5, followers: 5, stealing: true)
            #expect(claimed.map(\.lane) == ["fast"])

            try await Self.setLane(store, "UPDATE lanes SET paused = 0 WHERE name = 'slow'")
            #expect(try await Self.claim(store, primers: 5).map(\.lane) == ["slow"])
        }
    }

    @Test func maxInflightCapsRunningJobsOfALane() async throws {
        try await withStore { store, _ in
            for index in 0..<5 {
                _ = try await store.submitGroup(.closed("capped-\(index)", lane: "capped", followers: 0, laneMaxInflight: 2), worker: "w1")
            }
            let first = try await Self.claim(store, primers: 10)
            #expect(first.count == 2)
            #expect(try await Self.claim(store, primers: 10).isEmpty)

            try await Self.complete(store, [first[0]])
            let second = try await Self.claim(store, primers: 10)
            #expect(second.count == 1)
            let running = try await store.allJobs().filter { $0.state == .running }
            #expect(running.count == 2)
        }
    }

    @Test func stolenJobRecordsThePoolThatRanIt() async throws {
        try await withStore { store, _ in
            _ = try await store.submitGroup(
                NewGroup(key: "g", lane: "default", primer: nil, followers: [.echo()], isClosed: true), worker: "w1"
            )
            let claimed = try await Self.claim(store, primers: 1, stealing: true)
            #expect(claimed.map(\.pool) == [.primer])
            #expect(claimed.map(\.role) == [.follower])
            #expect(try await store.events().last?.data?.contains(#""stolen":true"#) == true)
        }
    }

    // MARK: - Completions

    static let staleCompletions: [(String, Int)] = [("w2", 0), ("w1", 1), ("w1", -1)]

    @Test(arguments: staleCompletions)
    func completionOfAnotherLeaseIsIgnored(worker: String, attemptOffset: Int) async throws {
        try await withStore { store, _ in
            _ = try await store.submitGroup(.closed("g", followers: 1), worker: "w1")
            var job = try #require(try await Self.claim(store, primers: 1).first)
            job.attempt += attemptOffset
            let effects = try await Self.complete(store, [job], worker: worker)
            #expect(effects.finishedJobs.isEmpty && effects.readyWork.isEmpty)

            let record = try #require(try await store.job(job.id))
            #expect(record.state == .running && record.leaseOwner == "w1" && record.result == nil)
            #expect(try await store.attempts(of: job.id).isEmpty)
            #expect(try await store.group(key: "g")?.jobsFinished == 0)
        }
    }

    @Test func completionIsRecordedOnce() async throws {
        try await withStore { store, _ in
            _ = try await store.submitGroup(.closed("g", followers: 0), worker: "w1")
            let job = try #require(try await Self.claim(store, primers: 1).first)
            let first = try await Self.complete(store, [job])
            let second = try await Self.complete(store, [job], failing: true)
            #expect(first.finishedJobs.map(\.state) == [.succeeded])
            #expect(second.finishedJobs.isEmpty)
            let record = try #require(try await store.job(job.id))
            #expect(record.state == .succeeded && record.result == #"{"ok":1}"# && record.leaseOwner == nil)
            let attempts = try await store.attempts(of: job.id)
            #expect(attempts.map(\.outcome) == ["succeeded"])
            #expect(attempts.first?.number == 1 && attempts.first?.worker == "w1" && attempts.first?.pool == .primer)
        }
    }

    @Test func primerSuccessReleasesBlockedFollowers() async throws {
        try await withStore { store, _ in
            let (submitted, _) = try await store.submitGroup(.closed("g", lane: "bulk", followers: 3), worker: "w1")
            #expect(try await store.jobs(inGroup: submitted.id).filter { $0.role == .follower }.allSatisfy { $0.state == .blocked })

            let primer = try #require(try await Self.claim(store, primers: 1).first)
            let effects = try await Self.complete(store, [primer])
            #expect(effects.readyWork == [WorkKind(role: .follower, lane: "bulk")])
            #expect(effects.finishedJobs.map(\.id) == [primer.id])
            let followers = try await store.jobs(inGroup: submitted.id).filter { $0.role == .follower }
            #expect(followers.map(\.state) == [.ready, .ready, .ready])
            #expect(try await store.group(submitted.id)?.primerState == .succeeded)
            let released = try #require(try await store.events().first { $0.type == "followers_ready" })
            #expect(released.data == #"{"followers":3,"primer":true}"#)

            let claimed = try await Self.claim(store, followers: 5)
            #expect(Set(claimed.map(\.id)) == Set(submitted.followers))
        }
    }

    @Test func groupCountsJobsAndSucceedsWhenAllJobsSucceeded() async throws {
        try await withStore { store, _ in
            let (submitted, _) = try await store.submitGroup(.closed("g", followers: 2), worker: "w1")
            var group = try #require(try await store.group(submitted.id))
            #expect(group.state == .closed && group.jobsTotal == 3 && group.jobsFinished == 0 && group.followersTotal == 2)

            try await Self.complete(store, try await Self.claim(store, primers: 1))
            group = try #require(try await store.group(submitted.id))
            #expect(group.jobsFinished == 1 && group.state == .closed && group.finishedAt == nil)

            try await Self.complete(store, try await Self.claim(store, followers: 2))
            group = try #require(try await store.group(submitted.id))
            #expect(group.jobsFinished == 3 && group.state == .succeeded && group.finishedAt != nil && group.error == nil)
            let done = try #require(try await store.events().last)
            #expect(done.type == "group_done")
            #expect(try JSONValue(jsonString: try #require(done.data)) == [
                "ok": true, "state": "succeeded", "primer": "succeeded", "followers_total": 2,
                "followers_succeeded": 2, "followers_failed": 0, "followers_cancelled": 0,
            ])
        }
    }

    @Test func primerFailureUnderFailGroupCancelsFollowersAndFailsGroup() async throws {
        try await withStore { store, _ in
            let (submitted, _) = try await store.submitGroup(.closed("g", followers: 2), worker: "w1")
            let effects = try await Self.complete(store, try await Self.claim(store, primers: 1), failing: true)
            let jobs = try await store.jobs(inGroup: submitted.id)
            #expect(jobs.map(\.state) == [.failed, .cancelled, .cancelled])
            let group = try #require(try await store.group(submitted.id))
            #expect(group.state == .failed && group.primerState == .failed && group.jobsFinished == 3 && group.finishedAt != nil)
            #expect(Set(effects.finishedJobs.map(\.state)) == [.failed, .cancelled])
            let done = try #require(try await store.events().last { $0.type == "group_done" }?.data)
            #expect(try JSONValue(jsonString: done)["followers_cancelled"] == 2)
            #expect(try JSONValue(jsonString: done)["primer"] == "failed")
        }
    }

    static let followerPolicies: [(FollowerFailurePolicy, GroupState)] = [(.failGroup, .failed), (.continueGroup, .succeeded)]

    @Test(arguments: followerPolicies)
    func followerFailureFollowsTheGroupPolicy(policy: FollowerFailurePolicy, final: GroupState) async throws {
        try await withStore { store, _ in
            let (submitted, _) = try await store.submitGroup(.closed("g", followers: 2, followerPolicy: policy), worker: "w1")
            try await Self.complete(store, try await Self.claim(store, primers: 1))
            let followers = try await Self.claim(store, followers: 2)
            try await Self.complete(store, [followers[0]], failing: true)
            try await Self.complete(store, [followers[1]])
            let group = try #require(try await store.group(submitted.id))
            #expect(group.state == final && group.jobsFinished == 3 && group.finishedAt != nil)
            #expect(try await store.jobs(inGroup: submitted.id).map(\.state) == [.succeeded, .failed, .succeeded])
        }
    }

    // MARK: - Open groups

    @Test func openGroupReleasesFollowersAddedBeforeAndAfterItsPrimer() async throws {
        try await withStore { store, _ in
            let (submitted, _) = try await store.submitGroup(
                NewGroup(key: "open", lane: "default", primer: nil, followers: [], isClosed: false), worker: "w1"
            )
            let (early, earlyEffects) = try await store.addJob(.echo(), role: .follower, toGroup: submitted.id, worker: "w1")
            #expect(earlyEffects.readyWork.isEmpty)
            #expect(try await store.job(early)?.state == .blocked)
            #expect(try await store.job(early)?.followerIndex == 0)

            let (primer, primerEffects) = try await store.addJob(.echo(), role: .primer, toGroup: submitted.id, worker: "w1")
            #expect(primerEffects.readyWork == [WorkKind(role: .primer, lane: "default")])
            let secondPrimer = await #expect(throws: ActyError.self) {
                try await store.addJob(.echo(), role: .primer, toGroup: submitted.id, worker: "w1")
            }
            #expect(secondPrimer?.code == .invalidArgument)

            let claimed = try await Self.claim(store, primers: 1)
            #expect(claimed.map(\.id) == [primer])
            try await Self.complete(store, claimed)
            #expect(try await store.job(early)?.state == .ready)

            let (late, lateEffects) = try await store.addJob(.echo(), role: .follower, toGroup: submitted.id, worker: "w1")
            #expect(lateEffects.readyWork == [WorkKind(role: .follower, lane: "default")])
            #expect(try await store.job(late)?.state == .ready)
            #expect(try await store.group(submitted.id)?.jobsTotal == 3)

            _ = try await store.closeGroup(submitted.id, worker: "w1")
            #expect(try await store.group(submitted.id)?.state == .closed)
            try await Self.complete(store, try await Self.claim(store, followers: 2))
            #expect(try await store.group(submitted.id)?.state == .succeeded)
        }
    }

    @Test func closingGroupWithoutPrimerReleasesFollowers() async throws {
        try await withStore { store, _ in
            let (submitted, _) = try await store.submitGroup(
                NewGroup(key: "g", lane: "default", primer: nil, followers: [.echo(), .echo()], isClosed: false), worker: "w1"
            )
            #expect(try await store.jobs(inGroup: submitted.id).allSatisfy { $0.state == .blocked })
            let effects = try await store.closeGroup(submitted.id, worker: "w1")
            #expect(effects.readyWork == [WorkKind(role: .follower, lane: "default")])
            #expect(try await store.jobs(inGroup: submitted.id).allSatisfy { $0.state == .ready })
            #expect(try await store.closeGroup(submitted.id, worker: "w1").readyWork.isEmpty)
        }
    }

    @Test func closedGroupAcceptsNoJobs() async throws {
        try await withStore { store, _ in
            let (submitted, _) = try await store.submitGroup(.closed("g"), worker: "w1")
            let error = await #expect(throws: ActyError.self) {
                try await store.addJob(.echo(), role: .follower, toGroup: submitted.id, worker: "w1")
            }
            #expect(error?.code == .groupClosed)
            #expect(try await store.group(submitted.id)?.jobsTotal == 3)
        }
    }

    @Test func closedEmptyGroupSucceedsAtOnce() async throws {
        try await withStore { store, _ in
            let (submitted, _) = try await store.submitGroup(
                NewGroup(key: "empty", lane: "default", primer: nil, followers: [], isClosed: true), worker: "w1"
            )
            #expect(try await store.group(submitted.id)?.state == .succeeded)
        }
    }

    @Test func liveKeyIsUniqueUntilTheGroupFinishes() async throws {
        try await withStore { store, _ in
            _ = try await store.submitGroup(.closed("k", followers: 0), worker: "w1")
            let error = await #expect(throws: ActyError.self) { try await store.submitGroup(.closed("k"), worker: "w1") }
            #expect(error?.code == .groupKeyInUse)
            #expect(try await store.allGroups().count == 1)

            try await Self.complete(store, try await Self.claim(store, primers: 1))
            let (again, _) = try await store.submitGroup(.closed("k"), worker: "w1")
            #expect(try await store.liveGroup(key: "k")?.id == again.id)
            #expect(try await store.group(key: "k")?.id == again.id)
        }
    }
}
