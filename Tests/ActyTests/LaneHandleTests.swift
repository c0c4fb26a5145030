import ActyTestSupport
@testable import Acty
@testable import ActyStore
import Foundation
import Testing

/// `engine.lane(_:weight:)` and the `Lane` handle: settings stored in the file, applied by every engine.
@Suite(.timeLimit(.minutes(1)))
struct LaneHandleTests {
    /// The `lane_configs_updated` events that name `lane`.
    static func updates(of lane: String, in engine: ActyEngine) async throws -> [EventRecord] {
        try await engine.allEvents().ofType(.laneConfigsUpdated).filter { $0.data?.contains(#""lane":"\#(lane)""#) == true }
    }

    @Test func aNewLaneGetsTheDefaultSettingsOrTheGivenWeightAndIsRecordedOnce() async throws {
        let dir = TemporaryDirectory()
        var configuration = EngineConfiguration()
        configuration.defaultLane = LaneConfiguration(weight: 0.5, maxInflight: 7)
        configuration.lanes = ["configured": LaneConfiguration(weight: 4)]
        try await withEngine(dir, configuration) { engine in
            let plain = try await engine.lane("plain")
            #expect(try await plain.settings().configuration == LaneConfiguration(weight: 0.5, maxInflight: 7))
            #expect(try await Self.updates(of: "plain", in: engine).count == 1)

            // Asking again without a weight changes nothing and records nothing.
            _ = try await engine.lane("plain")
            #expect(try await Self.updates(of: "plain", in: engine).count == 1)

            // A weight replaces the stored one; the cap stays.
            _ = try await engine.lane("plain", weight: 2)
            #expect(try await plain.settings().configuration == LaneConfiguration(weight: 2, maxInflight: 7))
            #expect(try await Self.updates(of: "plain", in: engine).count == 2)

            let weighted = try await engine.lane("tenant-a", weight: 3)
            #expect(try await weighted.settings().configuration == LaneConfiguration(weight: 3, maxInflight: 7))
            #expect(try await engine.lane("configured").settings().configuration.weight == 4)
        }
    }

    @Test func updatesReachEveryEngineOnTheFileAndSurviveARestart() async throws {
        let dir = TemporaryDirectory()
        try await withEngine(dir) { engine in
            let lane = try await engine.lane("tenant-b")
            try await lane.update(weight: 3, maxInflight: 4)
            let seenByOther = try await withEngine(dir) { other in try await Lane(engine: other, name: "tenant-b").settings() }
            #expect(seenByOther.configuration == LaneConfiguration(weight: 3, maxInflight: 4))
            try await lane.update(weight: 5)
            #expect(try await lane.settings().configuration == LaneConfiguration(weight: 5, maxInflight: 4), "the cap stays")
            try await lane.update(weight: 5, maxInflight: nil)
            #expect(try await lane.settings().configuration.maxInflight == nil)
        }
        let afterRestart = try await withEngine(dir) { engine in try await engine.lane("tenant-b").settings() }
        #expect(afterRestart.configuration == LaneConfiguration(weight: 5))
    }

    @Test func invalidWeightsCapsAndNamesAreRefusedAndChangeNothing() async throws {
        let dir = TemporaryDirectory()
        try await withEngine(dir) { engine in
            for weight in [0, -1, Double.nan, .infinity] {
                await expectError(.invalidArgument) { try await engine.lane("bad", weight: weight) }
            }
            await expectError(.invalidArgument) { try await engine.lane("") }
            #expect(try await engine.store.lanes().contains { $0.name == "bad" } == false)
            let lane = try await engine.lane("good", weight: 2)
            await expectError(.invalidArgument) { try await lane.update(weight: 1, maxInflight: 0) }
            await expectError(.invalidArgument) { try await lane.update(weight: -2) }
            #expect(try await lane.settings().configuration == LaneConfiguration(weight: 2))
        }
    }

    @Test func aPausedLaneHoldsItsJobsWhileOtherLanesRunAndResumeReleasesThem() async throws {
        let dir = TemporaryDirectory()
        try await withEngine(dir) { engine in
            let held = try await engine.lane("held")
            #expect(try await held.pause())
            #expect(try await held.settings().isPaused)
            let waiting = try await engine.submitGroup("waits", primer: "p", followers: [], lane: "held")
            let running = try await engine.submitGroup("runs", primer: "p", followers: [])
            // Claims have run since the held group was queued: the other lane's group went through them.
            #expect(try await running.primer!.boundedResult().status == .succeeded)
            #expect(try await engine.store.job(waiting.primer!.id)?.state == .ready)
            #expect(try await held.resume())
            #expect(try await waiting.primer!.boundedResult().status == .succeeded)
        }
    }
}
