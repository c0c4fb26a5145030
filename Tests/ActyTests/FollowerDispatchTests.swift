import ActyTestSupport
@testable import Acty
@testable import ActyStore
import Foundation
import Testing

/// When followers start: a cap on a group's unfinished followers, and a warm-up from the primer's start.
@Suite(.timeLimit(.minutes(1)))
struct FollowerDispatchTests {
    /// An executor that measures how many followers of each group run at once and records the order they start in.
    static func measuring(_ gauge: ConcurrencyGauge, _ starts: Recorder<String>) -> ClosureExecutor {
        ClosureExecutor(name: "work") { job in
            if job.role == .follower { starts.append("\(job.groupKey):\(job.followerIndex ?? -1)") }
            return try await gauge.measure(job.role == .follower ? job.groupKey : "primers") {
                try await Task.sleep(for: .milliseconds(5))
                if job.payload["fail"]?.boolValue == true { throw NonRetryableError(PlannedFailure()) }
                return job.payload
            }
        }
    }

    @Test func aCapOfOneRunsAGroupsFollowersOneAfterTheOtherInOrder() async throws {
        let dir = TemporaryDirectory()
        let (gauge, starts) = (ConcurrencyGauge(), Recorder<String>())
        var configuration = EngineConfiguration(followerWorkers: 8)
        configuration.followerFailurePolicy = .continueGroup
        try await withEngine(dir, configuration, executors: [Self.measuring(gauge, starts)]) { engine in
            let followers: [JSONValue] = (0..<6).map { $0 == 2 ? ["fail": true] : .number(Double($0)) }
            let serial = try await engine.submitGroup(
                "serial", primer: "p", followers: followers, options: GroupOptions(maxFollowersInflight: 1)
            )
            let free = try await engine.submitGroup("free", primer: "p", followers: Array(repeating: "f", count: 6))
            for job in serial.jobs + free.jobs { _ = try await job.boundedResult() }
            #expect(gauge.peak("serial") == 1)
            #expect(gauge.peak("free") > 1, "an uncapped group runs its followers side by side")
            // A failed follower finishes too: the next one starts after it.
            #expect(starts.values.filter { $0.hasPrefix("serial:") } == (0..<6).map { "serial:\($0)" })
            #expect(try await engine.store.group(key: "serial")?.state == .succeeded)
        }
    }

    @Test func aCapHoldsAcrossTwoEnginesAndFollowersAddedToAnOpenGroup() async throws {
        let dir = TemporaryDirectory()
        let (gauge, starts) = (ConcurrencyGauge(), Recorder<String>())
        let configuration = EngineConfiguration(followerWorkers: 6)
        try await withEngine(dir, configuration, executors: [Self.measuring(gauge, starts)]) { first in
            try await withEngine(dir, configuration, executors: [Self.measuring(gauge, starts)]) { _ in
                let group = try await first.openGroup("open", options: GroupOptions(maxFollowersInflight: 2))
                let primer = try await group.submitPrimer("p")
                let early = try await group.addFollowers(Array(repeating: "early", count: 5))
                _ = try await primer.boundedResult()
                let late = try await group.addFollowers(Array(repeating: "late", count: 5))
                try await group.close()
                for job in early + late { #expect(try await job.boundedResult().status == .succeeded) }
                #expect(gauge.peak("open") <= 2)
                #expect(gauge.peak("open") == 2, "the cap is used")
                #expect(try await first.waitForGroup("open", state: .succeeded))
            }
        }
    }

    @Test func followersStartAfterTheWarmUpMeasuredFromThePrimersStart() async throws {
        let dir = TemporaryDirectory()
        let warmup = Duration.milliseconds(300)
        try await withEngine(dir) { engine in
            let submission = try await engine.submitGroup(
                "warm", primer: "p", followers: ["a", "b"], options: GroupOptions(followersStart: .afterWarmup(warmup))
            )
            for job in submission.jobs { _ = try await job.boundedResult() }
            let jobs = try await engine.store.jobs(inGroup: submission.groupID)
            let primerStart = try #require(jobs.first { $0.role == .primer }?.startedAt)
            for follower in jobs where follower.role == .follower {
                #expect(try #require(follower.startedAt) >= primerStart + warmup.seconds - 0.001)
            }
            let events = try await engine.allEvents()
            let start = try #require(events.ofType(.warmDelayStart).first)
            #expect(start.data?.contains(#""delay_s":0.3"#) == true)
            // Released while the warm-up ran, they waited `scheduled` for it (a slow commit may release them after).
            let ready = try #require(events.ofType(.followersReady).first)
            #expect(ready.data?.contains("warm_until") == true || ready.at >= primerStart + warmup.seconds - 0.001)
        }
    }

    @Test func aWarmUpAndACapSurviveARestart() async throws {
        let dir = TemporaryDirectory()
        let gate = Gate()
        let gatedFollowers = ClosureExecutor(name: "work") { job in
            if job.role == .follower { try await gate.wait() }
            return job.payload
        }
        var configuration = EngineConfiguration()
        configuration.gracefulShutdownTimeout = .milliseconds(50)
        let id = try await withEngine(dir, configuration, executors: [gatedFollowers]) { engine in
            let submission = try await engine.submitGroup(
                "paced", primer: "p", followers: Array(repeating: "f", count: 4),
                options: GroupOptions(followersStart: .afterWarmup(.milliseconds(200)), maxFollowersInflight: 1)
            )
            _ = try await submission.primer!.boundedResult()
            return submission.groupID
        }
        let store = try Store(.file(dir.file()))
        let states = try await store.jobs(inGroup: id).filter { $0.role == .follower }.map(\.state)
        try await store.close()
        #expect(states.filter { $0 == .scheduled || $0 == .ready || $0 == .running }.count <= 1, "\(states)")
        #expect(states.filter { $0 == .blocked }.count >= 3, "\(states)")
        gate.open()
        let finished = try await withEngine(dir, executors: [gatedFollowers]) { engine in
            try await engine.waitForGroup("paced", state: .succeeded)
        }
        #expect(finished)
    }

    @Test func invalidSettingsAreRefused() async throws {
        let dir = TemporaryDirectory()
        try await withEngine(dir) { engine in
            await expectError(.invalidArgument) { try await engine.submitGroup("x", primer: "p", options: GroupOptions(maxFollowersInflight: 0)) }
            await expectError(.invalidArgument) {
                try await engine.submitGroup("y", primer: "p", options: GroupOptions(followersStart: .afterWarmup(.seconds(-1))))
            }
            let stored = try await engine.store.allGroups()
            #expect(stored.isEmpty)
        }
    }
}
