import ActyTestSupport
@testable import Acty
import ActyStore
import Foundation
import Testing

/// Lanes share the workers by weight (stride scheduling) and never exceed their `maxInflight` cap.
@Suite(.timeLimit(.minutes(1)))
struct LaneSchedulingTests {
    /// Jobs that take a little time, so both lanes stay backlogged while the starts are counted.
    private static let briefWork = ClosureExecutor(name: "brief") { job in
        try await Task.sleep(for: .milliseconds(2))
        return job.payload
    }

    private static func followers(_ count: Int) -> [JSONValue] {
        (0..<count).map { .number(Double($0)) }
    }

    /// The lanes of the first `count` `job_started` events after `seq`, once there are that many.
    private static func lanesOfStarts(_ engine: ActyEngine, after seq: Int64, count: Int) async throws -> [String] {
        var starts: [EventRecord] = []
        let enough = try await waitUntil {
            starts = try await engine.store.events(after: seq).ofType(.jobStarted)
            return starts.count >= count
        }
        try #require(enough, "only \(starts.count) of \(count) jobs started")
        return starts.prefix(count).map { $0.lane ?? "?" }
    }

    /// How many jobs of each lane started up to and including the event `seq`.
    private static func startsPerLane(_ engine: ActyEngine, through seq: Int64) async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for event in try await engine.allEvents().ofType(.jobStarted) where event.seq <= seq {
            counts[event.lane ?? "?", default: 0] += 1
        }
        return counts
    }

    @Test func lanesShareFollowerStartsByWeightUnderSaturation() async throws {
        let dir = TemporaryDirectory()
        let configuration = EngineConfiguration(
            primerWorkers: 1, followerWorkers: 4,
            lanes: ["a": LaneConfiguration(weight: 3), "b": LaneConfiguration(weight: 1)], workStealing: false
        )
        let engine = try await makeEngine(dir, configuration, executors: [Self.briefWork])
        let backlog = 300
        _ = try await engine.submitGroup("lane-a", primer: nil, followers: Self.followers(backlog), lane: "a")
        let b = try await engine.submitGroup("lane-b", primer: nil, followers: Self.followers(backlog), lane: "b")

        // Count from the moment both lanes have ready work: lane a may have had a head start.
        let windowStart = try #require(try await engine.allEvents().ofType(.followersReady).first { $0.groupID == b.groupID }?.seq)
        let window = 100
        let lanes = try await Self.lanesOfStarts(engine, after: windowStart, count: window)
        let lastSeq = try #require(try await engine.store.events(after: windowStart).ofType(.jobStarted).dropFirst(window - 1).first?.seq)
        let perLane = try await Self.startsPerLane(engine, through: lastSeq)
        try await engine.boundedShutdown()
        // Both lanes were still backlogged during the whole window.
        try #require(perLane["a", default: 0] < backlog && perLane["b", default: 0] < backlog, "a lane ran dry: \(perLane)")

        let shareA = Double(lanes.filter { $0 == "a" }.count) / Double(window)
        #expect(abs(shareA - 0.75) <= 0.05, "lane a got \(shareA) of the starts, expected 0.75")
    }

    @Test func changingALanesWeightWhileRunningChangesItsShare() async throws {
        let dir = TemporaryDirectory()
        let configuration = EngineConfiguration(
            primerWorkers: 1, followerWorkers: 4,
            lanes: ["a": LaneConfiguration(weight: 1), "b": LaneConfiguration(weight: 1)], workStealing: false
        )
        let engine = try await makeEngine(dir, configuration, executors: [Self.briefWork])
        let backlog = 300
        _ = try await engine.submitGroup("lane-a", primer: nil, followers: Self.followers(backlog), lane: "a")
        let b = try await engine.submitGroup("lane-b", primer: nil, followers: Self.followers(backlog), lane: "b")
        let windowStart = try #require(try await engine.allEvents().ofType(.followersReady).first { $0.groupID == b.groupID }?.seq)

        let before = try await Self.lanesOfStarts(engine, after: windowStart, count: 40)
        try await engine.setLane("b", LaneConfiguration(weight: 3))
        let changed = try #require(try await engine.allEvents().ofType(.laneConfigsUpdated).last)
        #expect(changed.seq > windowStart)
        let after = try await Self.lanesOfStarts(engine, after: changed.seq, count: 80)
        let lastSeq = try #require(try await engine.store.events(after: changed.seq).ofType(.jobStarted).dropFirst(79).first?.seq)
        let perLane = try await Self.startsPerLane(engine, through: lastSeq)
        try #require(perLane["a", default: 0] < backlog && perLane["b", default: 0] < backlog, "a lane ran dry: \(perLane)")
        #expect(try await engine.store.lanes().first { $0.name == "b" }?.weight == 3)
        try await engine.boundedShutdown()

        let shareBBefore = Double(before.filter { $0 == "b" }.count) / Double(before.count)
        let shareBAfter = Double(after.filter { $0 == "b" }.count) / Double(after.count)
        #expect(abs(shareBBefore - 0.5) <= 0.1, "lane b got \(shareBBefore) at weight 1:1")
        #expect(abs(shareBAfter - 0.75) <= 0.07, "lane b got \(shareBAfter) at weight 1:3")
    }

    @Test func maxInflightIsAHardCapWhileOtherWorkersAreFree() async throws {
        let dir = TemporaryDirectory()
        let gauge = ConcurrencyGauge()
        let gate = Gate()
        let executor = ClosureExecutor(name: "counted") { job in
            try await gauge.measure(job.lane) {
                if job.payload["wait"] == true { try await gate.wait() }
                return job.payload
            }
        }
        let configuration = EngineConfiguration(
            primerWorkers: 2, followerWorkers: 4, lanes: ["capped": LaneConfiguration(weight: 5, maxInflight: 2)]
        )
        let engine = try await makeEngine(dir, configuration, executors: [executor])
        let capped = try await engine.submitGroup(
            "capped", primer: nil, followers: Array(repeating: ["wait": true], count: 6), lane: "capped"
        )
        #expect(try await waitUntil { gauge.current("capped") == 2 })

        // Free workers run other work meanwhile; the capped lane stays at its cap.
        let free = try await engine.submitGroup("free", primer: nil, followers: Array(repeating: ["wait": false], count: 8))
        for job in free.jobs { #expect(try await job.boundedResult().status == .succeeded) }
        #expect(gauge.current("capped") == 2)
        let running = try await engine.store.jobs(inGroup: capped.groupID).filter { $0.state == .running }
        #expect(running.count == 2)

        gate.open()
        for job in capped.jobs { #expect(try await job.boundedResult().status == .succeeded) }
        #expect(gauge.peak("capped") == 2)
        #expect(gauge.peak("default") >= 1)
        try await engine.boundedShutdown()
    }

    @Test func raisingALanesCapWhileRunningLetsMoreJobsStart() async throws {
        let dir = TemporaryDirectory()
        let gauge = ConcurrencyGauge()
        let gate = Gate()
        let executor = ClosureExecutor(name: "counted") { job in
            try await gauge.measure(job.lane) {
                try await gate.wait()
                return job.payload
            }
        }
        let configuration = EngineConfiguration(
            primerWorkers: 1, followerWorkers: 4, lanes: ["capped": LaneConfiguration(maxInflight: 1)]
        )
        let engine = try await makeEngine(dir, configuration, executors: [executor])
        let capped = try await engine.submitGroup("capped", primer: nil, followers: Array(repeating: "x", count: 5), lane: "capped")
        #expect(try await waitUntil { gauge.current("capped") == 1 })
        try await engine.setLane("capped", LaneConfiguration(maxInflight: 3))
        #expect(try await waitUntil { gauge.current("capped") == 3 })
        #expect(try await engine.store.lanes().first { $0.name == "capped" }?.maxInflight == 3)
        gate.open()
        for job in capped.jobs { #expect(try await job.boundedResult().status == .succeeded) }
        #expect(gauge.peak("capped") == 3)
        try await engine.boundedShutdown()
    }

    @Test func unlistedLaneGetsTheDefaultLaneSettings() async throws {
        let dir = TemporaryDirectory()
        let configuration = EngineConfiguration(defaultLane: LaneConfiguration(weight: 2.5, maxInflight: 7))
        let engine = try await makeEngine(dir, configuration)
        let submission = try await engine.submitGroup("adhoc", primer: "p", lane: "adhoc")
        #expect(try await submission.primer!.boundedResult().status == .succeeded)
        let lane = try #require(try await engine.store.lanes().first { $0.name == "adhoc" })
        #expect(lane.weight == 2.5)
        #expect(lane.maxInflight == 7)
        try await engine.boundedShutdown()
    }
}
