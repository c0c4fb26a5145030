import ActyTestSupport
@testable import Acty
import ActyStore
import Foundation
import Testing

/// The primer and follower pools, and work stealing between them.
@Suite(.timeLimit(.minutes(1)))
struct PoolTests {
    @Test func primersStartWhileAFollowerBurstHoldsEveryFollowerWorker() async throws {
        let dir = TemporaryDirectory()
        let gate = Gate()
        let executor = ClosureExecutor(name: "burst") { job in
            if job.groupKey == "burst", job.role == .follower { try await gate.wait() }
            return job.payload
        }
        let configuration = EngineConfiguration(primerWorkers: 1, followerWorkers: 3, workStealing: false)
        let engine = try await makeEngine(dir, configuration, executors: [executor])
        let burst = try await engine.submitGroup("burst", primer: "p", followers: Array(repeating: "slow", count: 12))
        #expect(try await waitUntil {
            try await engine.store.jobs(inGroup: burst.groupID).filter { $0.state == .running }.count == 3
        })

        // Every follower worker is held by the burst; the primer pool still runs the next group's primer.
        let next = try await engine.submitGroup("next", primer: "urgent", followers: ["after"])
        let primer = try await next.primer!.boundedResult()
        #expect(primer.status == .succeeded)
        let burstJobs = try await engine.store.jobs(inGroup: burst.groupID)
        #expect(burstJobs.filter { $0.state == .ready }.count == 9)
        #expect(try await engine.store.job(next.followers[0].id)?.state == .ready)

        gate.open()
        for job in burst.jobs + next.jobs { #expect(try await job.boundedResult().status == .succeeded) }
        let attempts = try await engine.store.attempts()
        #expect(attempts.first { $0.jobID == next.primer!.id }?.pool == .primer)
        try await engine.boundedShutdown()
    }

    @Test func primersStartLongBeforeAFollowerBurstEndsWithWorkStealingOn() async throws {
        let dir = TemporaryDirectory()
        let executor = ClosureExecutor(name: "burst") { job in
            if job.role == .follower { try await Task.sleep(for: .milliseconds(15)) }
            return job.payload
        }
        let engine = try await makeEngine(dir, EngineConfiguration(primerWorkers: 1, followerWorkers: 2), executors: [executor])
        let burst = try await engine.submitGroup("burst", primer: "p", followers: Array(repeating: "slow", count: 40))
        #expect(try await waitUntil {
            try await engine.store.jobs(inGroup: burst.groupID).filter { $0.state == .running }.count == 3
        })
        let next = try await engine.submitGroup("next", primer: "urgent")
        #expect(try await next.primer!.boundedResult().status == .succeeded)
        // A stolen follower holds the primer worker for one follower's time at most: most of the burst is still
        // waiting when the primer is done.
        let unfinished = try await engine.store.jobs(inGroup: burst.groupID).filter { !$0.state.isTerminal }.count
        #expect(unfinished >= 20, "only \(unfinished) of the burst's 40 followers were left")
        for job in burst.jobs { _ = try await job.boundedResult() }
        let events = try await engine.allEvents()
        let primerStarted = try #require(events.onlySeq(.jobStarted, job: next.primer!.id))
        let lastBurstStart = try #require(burst.followers.compactMap { events.onlySeq(.jobStarted, job: $0.id) }.max())
        #expect(primerStarted < lastBurstStart)
        try await engine.boundedShutdown()
    }

    @Test func idlePrimerWorkersStealFollowersAndTheStartEventSaysSo() async throws {
        let dir = TemporaryDirectory()
        let gauge = ConcurrencyGauge()
        let executor = ClosureExecutor(name: "pairs") { job in
            try await gauge.measure("followers") {
                // Two followers must run at once, and there is only one follower worker.
                try await require("two followers running at once") { gauge.current("followers") >= 2 || gauge.peak("followers") >= 2 }
                return job.payload
            }
        }
        let engine = try await makeEngine(dir, EngineConfiguration(primerWorkers: 1, followerWorkers: 1), executors: [executor])
        let submission = try await engine.submitGroup("fan-out", primer: nil, followers: ["a", "b", "c", "d"])
        for job in submission.jobs { #expect(try await job.boundedResult().status == .succeeded) }

        let attempts = try await engine.store.attempts()
        let stolen = attempts.filter { $0.pool == .primer }
        #expect(!stolen.isEmpty)
        #expect(attempts.contains { $0.pool == .follower })
        let starts = try await engine.allEvents().ofType(.jobStarted)
        for attempt in attempts {
            let start = try #require(starts.first { $0.jobID == attempt.jobID })
            #expect(start.pool == attempt.pool)
            let data = try JSONValue(jsonString: start.data ?? "")
            #expect(data["pool"]?.stringValue == attempt.pool.rawValue)
            #expect(data["stolen"] == (attempt.pool == .primer ? true : nil))
        }
        try await engine.boundedShutdown()
    }

    @Test func followerWorkersStealPrimersWhenNoFollowerIsReady() async throws {
        let dir = TemporaryDirectory()
        let gauge = ConcurrencyGauge()
        let executor = ClosureExecutor(name: "pairs") { job in
            try await gauge.measure("primers") {
                try await require("two primers running at once") { gauge.current("primers") >= 2 || gauge.peak("primers") >= 2 }
                return job.payload
            }
        }
        let engine = try await makeEngine(dir, EngineConfiguration(primerWorkers: 1, followerWorkers: 2), executors: [executor])
        let first = try await engine.submitGroup("one", primer: "p1")
        let second = try await engine.submitGroup("two", primer: "p2")
        #expect(try await first.primer!.boundedResult().status == .succeeded)
        #expect(try await second.primer!.boundedResult().status == .succeeded)
        let pools = try await engine.store.attempts().map(\.pool)
        #expect(pools.contains(.follower))
        try await engine.boundedShutdown()
    }

    @Test func withoutWorkStealingEachPoolRunsOnlyItsOwnRole() async throws {
        let dir = TemporaryDirectory()
        let gauge = ConcurrencyGauge()
        let executor = ClosureExecutor(name: "counted") { job in
            try await gauge.measure(job.role.rawValue) {
                try await Task.sleep(for: .milliseconds(2))
                return job.payload
            }
        }
        let configuration = EngineConfiguration(primerWorkers: 2, followerWorkers: 1, workStealing: false)
        let engine = try await makeEngine(dir, configuration, executors: [executor])
        var handles: [JobHandle] = []
        handles += try await engine.submitGroup("fan-out", primer: nil, followers: Array(repeating: "f", count: 8)).jobs
        for index in 0..<3 {
            handles += try await engine.submitGroup("g\(index)", primer: "p", followers: ["f1", "f2"]).jobs
        }
        for job in handles { #expect(try await job.boundedResult().status == .succeeded) }

        let attempts = try await engine.store.attempts()
        let jobs = try await engine.store.allJobs()
        #expect(attempts.count == jobs.count)
        for attempt in attempts {
            let job = try #require(jobs.first { $0.id == attempt.jobID })
            #expect(attempt.pool == job.role, "job \(job.id) (\(job.role)) ran on the \(attempt.pool) pool")
        }
        #expect(gauge.peak("follower") == 1)
        let starts = try await engine.allEvents().ofType(.jobStarted)
        #expect(starts.allSatisfy { $0.data?.contains("stolen") == false })
        try await engine.boundedShutdown()
    }
}
