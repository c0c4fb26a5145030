import ActyTestSupport
@testable import Acty
@testable import ActyStore
import Foundation
import GRDB
import ServiceLifecycle
import Testing

/// The engine as a swift-service-lifecycle `Service`: its work runs in `run()`, which returns once the engine has
/// shut down and throws when the shutdown failed; scripts keep an engine that runs in the background.
@Suite(.timeLimit(.minutes(1)))
struct ServiceTests {
    init() {
        WriteFaults.install()
    }

    @Test func runInAServiceGroupRunsJobsAndReturnsAfterAGracefulShutdown() async throws {
        let dir = TemporaryDirectory()
        let started = Recorder<Int>()
        let engine = try await makeEngine(
            dir, EngineConfiguration(gracefulShutdownTimeout: .seconds(10)), executors: [ShutdownTests.sleeping(started: started)],
            runsInBackground: false
        )
        let services = ServiceGroup(services: [engine], logger: engine.configuration.logger)
        let early = try await engine.submitGroup("early", primer: ["n": 1]).primer!
        // Without workers nothing claims it: an engine running in the background could have run it already.
        #expect(try await engine.store.job(early.id)?.state == .ready, "nothing runs before run()")
        let group = Task { try await services.run() }
        let finishing = try await shuttingDownOnError(engine) {
            #expect(try await early.boundedResult().status == .succeeded)
            // A job still running when the group shuts down gets its grace period.
            let finishing = try await engine.submitGroup("finishing", primer: ["sleep_ms": 300]).primer!
            try await require("the second job to start") { started.count == 2 }
            await services.triggerGracefulShutdown()
            try await bounded("the service group to return", timeout: .seconds(10)) { try await group.value }
            return finishing
        }
        #expect(try await finishing.boundedResult().status == .succeeded)
        let error = await #expect(throws: ActyError.self) { try await engine.submitGroup("late", primer: ["n": 2]) }
        #expect(error?.code == .engineStopped)

        let store = try Store(.file(dir.file()))
        #expect(try await store.job(finishing.id)?.state == .succeeded)
        #expect(try await store.activeWorkers().isEmpty)
        try await store.close()
    }

    @Test func cancellingTheTaskRunningRunShutsTheEngineDownWithoutAGracePeriod() async throws {
        let dir = TemporaryDirectory()
        let gate = Gate()
        let engine = try await makeEngine(
            dir, EngineConfiguration(gracefulShutdownTimeout: .seconds(60)), executors: [gated(by: gate)], runsInBackground: false
        )
        let running = Task { try await engine.run() }
        let job = try await shuttingDownOnError(engine) {
            let job = try await engine.submitGroup("held", primer: ["n": 1]).primer!
            try await require("the job to run") { try await engine.store.job(job.id)?.state == .running }
            running.cancel()
            // Well within the minute of grace a graceful shutdown would give the job.
            try await bounded("run() to return", timeout: .seconds(10)) { try await running.value }
            return job
        }
        let error = await #expect(throws: ActyError.self) { try await engine.submitGroup("late", primer: ["n": 2]) }
        #expect(error?.code == .engineStopped)

        let store = try Store(.file(dir.file()))
        let row = try #require(try await store.job(job.id))
        #expect(row.state == .ready, "the interrupted job was handed back")
        #expect(row.attempts == 0, "without using up an attempt")
        #expect(try await store.events(after: 0, limit: 10_000).forJob(job.id).ofType(.jobReleased).count == 1)
        #expect(try await store.activeWorkers().isEmpty)
        try await store.close()
    }

    @Test func housekeepingHasEndedWhenRunReturns() async throws {
        let dir = TemporaryDirectory()
        let log = LogCapture()
        // Heartbeats every 100 ms, polls every 10 ms, rescues every 150 ms.
        let configuration = EngineConfiguration(leaseDuration: .milliseconds(300), pollInterval: .milliseconds(10), logger: log.logger)
        let engine = try await makeEngine(dir, configuration, runsInBackground: false)
        let running = Task { try await engine.run() }
        try await shuttingDownOnError(engine) {
            #expect(try await engine.submitGroup("done", primer: ["n": 1]).primer!.boundedResult().status == .succeeded)
            let firstBeat = try await Self.heartbeat(of: engine.workerID, in: engine.store)
            try await require("a heartbeat") { try await Self.heartbeat(of: engine.workerID, in: engine.store) > firstBeat }
            try await engine.boundedShutdown()
            try await bounded("run() to return", timeout: .seconds(10)) { try await running.value }
        }
        let loggedUntilReturn = log.all.count
        // The engine closed its database: nothing it runs could still write to it.
        await #expect(throws: (any Error).self) { try await engine.store.activeWorkers() }

        let store = try Store(.file(dir.file()))
        let workers = try await Self.workerRows(store)
        let lastEvent = try await store.events(after: 0, limit: 10_000).last?.seq
        #expect(try await store.activeWorkers().isEmpty)
        // An absence can only be watched for a while: several heartbeat, poll and rescue periods.
        try await Task.sleep(for: .milliseconds(600))
        #expect(try await Self.workerRows(store) == workers, "no heartbeat after run() returned: the worker stays stopped")
        #expect(try await store.events(after: 0, limit: 10_000).last?.seq == lastEvent)
        #expect(log.all.dropFirst(loggedUntilReturn).map(\.message) == [], "nothing of the engine ran after run() returned")
        try await store.close()
    }

    @Test func aShutdownThatFailsMakesRunThrow() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir, EngineConfiguration(busyTimeout: .milliseconds(500)), runsInBackground: false)
        let services = ServiceGroup(services: [engine], logger: engine.configuration.logger)
        let group = Task { try await services.run() }
        try await shuttingDownOnError(engine) {
            #expect(try await engine.submitGroup("done", primer: ["n": 1]).primer!.boundedResult().status == .succeeded)
            let ongoing = try Outage.fault(.diskFull).start(on: dir.file())
            defer { ongoing.end() }
            // Recording that the worker stopped fails: the group's graceful shutdown ends in run() throwing it.
            await services.triggerGracefulShutdown()
            let error = await #expect(throws: ActyError.self) {
                try await bounded("the service group to return", timeout: .seconds(10)) { try await group.value }
            }
            #expect(error?.code == .databaseFull)
            // Asked again, the engine reports the same failed shutdown instead of success.
            let again = await #expect(throws: ActyError.self) { try await engine.boundedShutdown() }
            #expect(again?.code == .databaseFull)
        }
        let store = try Store(.file(dir.file()))
        #expect(try await store.group(key: "done")?.state == .succeeded)
        try await store.close()
    }

    @Test func anEngineRunningInTheBackgroundWorksAsSoonAsItIsCreated() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir)
        try await shuttingDownOnError(engine) {
            #expect(try await engine.submitGroup("script", primer: ["n": 1]).primer!.boundedResult().status == .succeeded)
            try await engine.boundedShutdown()
        }
        // The engine has shut down: run() has nothing to run.
        try await bounded("run() to return", timeout: .seconds(10)) { try await engine.run() }
        let store = try Store(.file(dir.file()))
        #expect(try await store.activeWorkers().isEmpty)
        try await store.close()
    }

    @Test func anEngineThatNeverRanShutsDownAndDeliversItsEvents() async throws {
        let dir = TemporaryDirectory()
        let path = dir.file("events.jsonl")
        let engine = try await makeEngine(dir, EngineConfiguration(eventSinks: [try JSONLEventSink(path: path)]), runsInBackground: false)
        let job = try await shuttingDownOnError(engine) {
            let job = try await engine.submitGroup("queued", primer: ["n": 1]).primer!
            try await engine.boundedShutdown()
            return job
        }
        try await bounded("run() to return", timeout: .seconds(10)) { try await engine.run() }
        let error = await #expect(throws: ActyError.self) { try await job.boundedResult() }
        #expect(error?.code == .engineStopped)

        let store = try Store(.file(dir.file()))
        #expect(try await store.job(job.id)?.state == .ready, "the job stays queued for the next engine")
        #expect(try await store.activeWorkers().isEmpty)
        let events = try await store.events(after: 0, limit: 10_000)
        try await store.close()
        #expect(events.ofType(.workerStopped).count == 1)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        let delivered = try lines.map { try JSONValue(jsonString: String($0))["seq"]?.intValue }
        #expect(delivered == events.map { Int($0.seq) }, "the sink got every event, the shutdown's too")
    }

    /// When a worker last heartbeat, in Unix epoch seconds.
    static func heartbeat(of worker: String, in store: Store) async throws -> Double {
        try await store.read { try Double.fetchOne($0, sql: "SELECT heartbeat_at FROM workers WHERE id = ?", arguments: [worker]) } ?? 0
    }

    /// The `workers` table, one line a row.
    static func workerRows(_ store: Store) async throws -> [String] {
        try await store.read { try Row.fetchAll($0, sql: "SELECT * FROM workers ORDER BY id").map(\.description) }
    }
}
