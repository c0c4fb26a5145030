import ActyTestSupport
@testable import Acty
import ActyStore
import Testing

/// A lane name that was never configured is most likely a typo: it is warned about once, or refused in strict mode.
@Suite(.timeLimit(.minutes(1)))
struct UnknownLaneTests {
    @Test func anUnknownLaneIsWarnedAboutOncePerNameAndStillRuns() async throws {
        let dir = TemporaryDirectory()
        let log = LogCapture()
        let engine = try await makeEngine(dir, EngineConfiguration(lanes: ["priority": LaneConfiguration(weight: 2)], logger: log.logger))
        try await engine.submitGroup("configured", primer: "p", lane: "priority")
        try await engine.submitGroup("default", primer: "p")
        #expect(log.warnings.isEmpty)

        let first = try await engine.submitGroup("typo-1", primer: "p", lane: "prority")
        try await engine.submitGroup("typo-2", primer: "p", lane: "prority")
        _ = try await engine.openGroup("typo-3", lane: "backgruond")
        let warnings = log.warnings
        #expect(warnings.map { $0.metadata["lane"] } == ["prority", "backgruond"])
        #expect(warnings.first?.metadata["known_lanes"] == "'default', 'priority'")
        #expect(try await first.primer!.boundedResult().status == .succeeded)
        try await engine.boundedShutdown()
    }

    @Test func aLaneThatExistsInTheDatabaseIsKnown() async throws {
        let dir = TemporaryDirectory()
        let first = try await makeEngine(dir)
        try await first.setLane("tenant-a", LaneConfiguration(weight: 3))
        try await first.boundedShutdown()

        let log = LogCapture()
        let second = try await makeEngine(dir, EngineConfiguration(strictLanes: true, logger: log.logger))
        let submission = try await second.submitGroup("a", primer: "p", lane: "tenant-a")
        #expect(try await submission.primer!.boundedResult().status == .succeeded)
        #expect(log.warnings.isEmpty)
        try await second.boundedShutdown()
    }

    @Test func strictLanesRefuseAnUnknownLaneAndStoreNothing() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir, EngineConfiguration(lanes: ["priority": LaneConfiguration()], strictLanes: true))
        let error = await #expect(throws: ActyError.self) {
            try await engine.submitGroup("typo", primer: "p", followers: ["f"], lane: "prority")
        }
        #expect(error?.code == .unknownLane)
        #expect(error?.message.contains("'prority'") == true)
        #expect(error?.message.contains("known lanes: 'default', 'priority'") == true)
        let open = await #expect(throws: ActyError.self) { try await engine.openGroup("typo-open", lane: "prority") }
        #expect(open?.code == .unknownLane)
        #expect(try await engine.store.allGroups().isEmpty)
        #expect(try await engine.store.lanes().map(\.name) == ["priority"])

        // A lane created on purpose is known from then on.
        try await engine.setLane("prority", LaneConfiguration())
        #expect(try await engine.submitGroup("now-known", primer: "p", lane: "prority").primer!.boundedResult().status == .succeeded)
        try await engine.boundedShutdown()
    }
}
