import ActyTestSupport
@testable import Acty
import ActyStore
import Foundation
import Testing

/// Requests the engine refuses, each with its `ActyError` code, and what they leave behind (nothing).
@Suite(.timeLimit(.minutes(1)))
struct BadInputTests {
    @Test func addingToAClosedGroupThrowsGroupClosed() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir)
        let group = try await engine.openGroup("closed")
        let primer = try await group.submitPrimer("p")
        try await group.close()
        let follower = await #expect(throws: ActyError.self) { try await group.addFollower("late") }
        #expect(follower?.code == .groupClosed)
        _ = try await primer.boundedResult()
        let finished = await #expect(throws: ActyError.self) { try await group.addFollower("later") }
        #expect(finished?.code == .groupClosed)
        #expect(try await engine.store.jobs(inGroup: group.id).count == 1)
        try await engine.boundedShutdown()
    }

    @Test func liveKeyIsRefusedAndAFinishedGroupsKeyCanBeReused() async throws {
        let dir = TemporaryDirectory()
        let gate = Gate()
        let executor = gated(by: gate)
        let engine = try await makeEngine(dir, executors: [executor])
        let first = try await engine.submitGroup("weekly", primer: "p", followers: ["f"])
        let error = await #expect(throws: ActyError.self) { try await engine.submitGroup("weekly", primer: "again") }
        #expect(error?.code == .groupKeyInUse)
        #expect(try await engine.store.allGroups().count == 1)
        #expect(try await engine.store.allJobs().count == 2)

        gate.open()
        for job in first.jobs { _ = try await job.boundedResult() }
        let second = try await engine.submitGroup("weekly", primer: "again")
        #expect(second.groupID != first.groupID)
        #expect(try await second.primer!.boundedResult().output == "again")
        let groups = try await engine.store.allGroups().filter { $0.key == "weekly" }
        #expect(groups.map(\.state) == [.succeeded, .succeeded])
        try await engine.boundedShutdown()
    }

    @Test func unregisteredExecutorIsRefused() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir)
        let submit = await #expect(throws: ActyError.self) { try await engine.submitGroup("g", primer: "p", executor: "missing") }
        #expect(submit?.code == .unknownExecutor)
        let open = await #expect(throws: ActyError.self) { try await engine.openGroup("o", executor: "missing") }
        #expect(open?.code == .unknownExecutor)
        #expect(try await engine.store.allGroups().isEmpty)
        try await engine.boundedShutdown()
    }

    @Test(arguments: [0, -1, Double.nan, Double.infinity])
    func invalidLaneWeightInTheConfigurationIsRefused(weight: Double) async throws {
        let dir = TemporaryDirectory()
        let error = await #expect(throws: ActyError.self) {
            try await makeEngine(dir, EngineConfiguration(lanes: ["bad": LaneConfiguration(weight: weight)]))
        }
        #expect(error?.code == .invalidArgument)
        #expect(!FileManager.default.fileExists(atPath: dir.file()))
    }

    @Test(arguments: [0, -1, Double.nan, Double.infinity])
    func invalidLaneWeightInSetLaneIsRefused(weight: Double) async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir, EngineConfiguration(lanes: ["lane": LaneConfiguration(weight: 2)]))
        let error = await #expect(throws: ActyError.self) { try await engine.setLane("lane", LaneConfiguration(weight: weight)) }
        #expect(error?.code == .invalidArgument)
        #expect(try await engine.store.lanes().first { $0.name == "lane" }?.weight == 2)
        try await engine.boundedShutdown()
    }

    @Test func zeroMaxInflightIsRefused() async throws {
        let dir = TemporaryDirectory()
        let configured = await #expect(throws: ActyError.self) {
            try await makeEngine(dir, EngineConfiguration(lanes: ["lane": LaneConfiguration(maxInflight: 0)]))
        }
        #expect(configured?.code == .invalidArgument)
        let defaultLane = await #expect(throws: ActyError.self) {
            try await makeEngine(dir, EngineConfiguration(defaultLane: LaneConfiguration(maxInflight: 0)))
        }
        #expect(defaultLane?.code == .invalidArgument)
        let engine = try await makeEngine(dir)
        let set = await #expect(throws: ActyError.self) { try await engine.setLane("lane", LaneConfiguration(maxInflight: 0)) }
        #expect(set?.code == .invalidArgument)
        #expect(try await engine.store.lanes().isEmpty)
        try await engine.boundedShutdown()
    }

    @Test func databaseInAMissingFolderIsUnavailable() async throws {
        let dir = TemporaryDirectory()
        let path = dir.path + "/no/such/folder/acty.db"
        let error = await #expect(throws: ActyError.self) {
            try await ActyEngine(database: .file(path), executors: [EchoExecutor()])
        }
        #expect(error?.code == .databaseUnavailable)
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/no"))
    }

    @Test func databaseOfANewerSchemaIsRefusedUnchanged() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir)
        try await engine.boundedShutdown()
        try executeSQL(dir.file(), "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'from_the_future', 0)")
        let before = try #require(fileBytes(dir.file()))

        let error = await #expect(throws: ActyError.self) { try await makeEngine(dir) }
        #expect(error?.code == .incompatibleSchema)
        #expect(fileBytes(dir.file()) == before)
    }

    @Test func sqliteFileThatIsNotAnActyDatabaseIsRefusedUnchanged() async throws {
        let dir = TemporaryDirectory()
        try executeSQL(dir.file(), "CREATE TABLE people (name TEXT); INSERT INTO people VALUES ('ada')")
        let before = try #require(fileBytes(dir.file()))

        let error = await #expect(throws: ActyError.self) { try await makeEngine(dir) }
        #expect(error?.code == .incompatibleSchema)
        #expect(fileBytes(dir.file()) == before)
    }

    @Test func nonFiniteNumberInAPayloadIsRefusedAndNothingIsInserted() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir)
        let primer = await #expect(throws: ActyError.self) { try await engine.submitGroup("nan", primer: ["x": .number(.nan)]) }
        #expect(primer?.code == .encodingFailed)
        let follower = await #expect(throws: ActyError.self) {
            try await engine.submitGroup("inf", primer: "p", followers: ["ok", ["deep": [1, .number(.infinity)]]])
        }
        #expect(follower?.code == .encodingFailed)
        let context = await #expect(throws: ActyError.self) {
            try await engine.submitGroup("ctx", primer: "p", groupContext: ["x": .number(-.infinity)])
        }
        #expect(context?.code == .encodingFailed)
        #expect(try await engine.store.allGroups().isEmpty)
        #expect(try await engine.store.allJobs().isEmpty)

        let group = try await engine.openGroup("open")
        let added = await #expect(throws: ActyError.self) { try await group.addFollower(["x": .number(.nan)]) }
        #expect(added?.code == .encodingFailed)
        #expect(try await engine.store.jobs(inGroup: group.id).isEmpty)
        try await group.close()
        try await engine.boundedShutdown()
    }

    @Test func usingTheEngineAfterShutdownThrowsEngineStopped() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir)
        let group = try await engine.openGroup("open")
        try await engine.boundedShutdown()
        try await engine.boundedShutdown()
        let submit = await #expect(throws: ActyError.self) { try await engine.submitGroup("g", primer: "p") }
        #expect(submit?.code == .engineStopped)
        let open = await #expect(throws: ActyError.self) { try await engine.openGroup("o") }
        #expect(open?.code == .engineStopped)
        let add = await #expect(throws: ActyError.self) { try await group.addFollower("f") }
        #expect(add?.code == .engineStopped)
        let lane = await #expect(throws: ActyError.self) { try await engine.setLane("l", LaneConfiguration()) }
        #expect(lane?.code == .engineStopped)
    }

    @Test func missingOrDuplicateExecutorsAreRefused() async throws {
        let dir = TemporaryDirectory()
        let none = await #expect(throws: ActyError.self) { try await makeEngine(dir, executors: []) }
        #expect(none?.code == .invalidArgument)
        let twice = await #expect(throws: ActyError.self) {
            try await makeEngine(dir, executors: [EchoExecutor(), NoopExecutor(), ClosureExecutor(name: "echo") { $0.payload }])
        }
        #expect(twice?.code == .invalidArgument)
        #expect(!FileManager.default.fileExists(atPath: dir.file()))
    }

    @Test(arguments: [
        ("upstream said: Authorization: Bearer abc.def", "abc.def"),
        ("request failed with api_key=sk-1234567890abcdef", "sk-1234567890abcdef"),
    ])
    func secretsInExecutorErrorsAreRedacted(message: String, secret: String) async throws {
        let dir = TemporaryDirectory()
        let executor = ClosureExecutor(name: "leaky") { _ in throw PlannedFailure(message) }
        let engine = try await makeEngine(dir, executors: [executor])
        let submission = try await engine.submitGroup("leak", primer: "p")
        let result = try await submission.primer!.boundedResult()
        #expect(result.status == .failed)
        let returned = try #require(result.error?.message)
        #expect(!returned.contains(secret))
        #expect(returned.contains("[REDACTED]"))

        let row = try #require(try await engine.store.job(submission.primer!.id))
        let attempt = try #require(try await engine.store.attempts(of: submission.primer!.id).first)
        let failed = try #require(try await engine.allEvents().ofType(.jobFailed).first)
        for stored in [row.error, attempt.error, failed.data] {
            let text = try #require(stored)
            #expect(!text.contains(secret), "secret stored in \(text)")
            #expect(text.contains("REDACTED"))
        }
        try await engine.boundedShutdown()
    }
}
