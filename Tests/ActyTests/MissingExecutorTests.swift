import ActyTestSupport
@testable import Acty
@testable import ActyStore
import Foundation
import Testing

/// A process that resumes a file with a renamed executor does not wait in silence: the jobs no live engine can run
/// are logged and recorded once, and they run as soon as an engine that has their executor comes.
@Suite(.timeLimit(.minutes(1)))
struct MissingExecutorTests {
    @Test func jobsOfAnExecutorNoEngineHasAreReportedOnceAndRunWhenOneComes() async throws {
        let dir = TemporaryDirectory()
        // Work submitted under the old executor name, as by a process that has since stopped.
        let store = try Store(.file(dir.file()))
        var submitted: [SubmittedGroup] = []
        for key in ["a", "b"] {
            let group = NewGroup(
                key: key, lane: "default", primer: NewJob(executor: "review-v1", payload: "1"),
                followers: [NewJob(executor: "review-v1", payload: "2")], isClosed: true
            )
            submitted.append(try await store.submitGroup(group, worker: nil).0)
        }
        try await store.close()

        let log = LogCapture()
        let configuration = EngineConfiguration(pollInterval: .milliseconds(20), logger: log.logger)
        let renamed = try await makeEngine(dir, configuration, executors: [ClosureExecutor(name: "review-v2") { $0.payload }])
        try await require("the missing executor to be recorded") {
            try await !renamed.allEvents().ofType(.executorMissing).isEmpty
        }
        let event = try #require(try await renamed.allEvents().ofType(.executorMissing).first)
        #expect(try JSONValue(jsonString: event.data ?? "") == ["executor": "review-v1", "jobs": 2, "registered": ["review-v2"]])
        #expect(event.worker == renamed.workerID)
        let warnings = log.warnings.filter { $0.metadata["executor"] != nil }
        #expect(warnings.count == 1)
        #expect(warnings.first?.metadata == ["executor": "review-v1", "jobs": "2", "registered": "review-v2"])

        // Looking again reports nothing new: once per executor name.
        await renamed.reportMissingExecutors()
        #expect(log.warnings.filter { $0.metadata["executor"] != nil }.count == 1)
        #expect(try await renamed.allEvents().ofType(.executorMissing).count == 1)

        // The handles keep waiting; drain says why it cannot finish.
        let handle = try await renamed.handle(for: submitted[0].followers[0])
        let waiter = Task { try await handle.boundedResult() }
        let error = await #expect(throws: ActyError.self) { try await renamed.boundedDrain() }
        #expect(error?.code == .unknownExecutor)
        #expect(error?.message.contains("2 need executor 'review-v1'") == true, "\(String(describing: error))")

        // An engine that registers the old name runs the jobs, and the waiting handle gets the result.
        let old = try await makeEngine(dir, EngineConfiguration(pollInterval: .milliseconds(20)), executors: [EchoExecutor(name: "review-v1")])
        #expect(try await waiter.value.status == .succeeded)
        try await renamed.boundedDrain()
        #expect(try await renamed.store.allJobs().allSatisfy { $0.state == .succeeded })
        try await old.boundedShutdown()
        try await renamed.boundedShutdown()
    }

    @Test func anExecutorAnotherLiveEngineHasIsNotMissing() async throws {
        let dir = TemporaryDirectory()
        let gate = Gate()
        // One worker, held: the second group's primer stays ready, waiting for this engine.
        let other = try await makeEngine(dir, EngineConfiguration(primerWorkers: 1, followerWorkers: 0), executors: [gated(by: gate)])
        let held = try await other.submitGroup("held", primer: "p")
        #expect(try await waitUntil { try await other.store.job(held.primer!.id)?.state == .running })
        let queued = try await other.submitGroup("queued", primer: "p")

        let log = LogCapture()
        let echo = try await makeEngine(dir, EngineConfiguration(logger: log.logger))
        #expect(try await echo.store.jobsWaitingForExecutors(notIn: ["echo"]) == ["gated": 1])
        await echo.reportMissingExecutors()
        #expect(log.warnings.isEmpty)
        #expect(try await echo.allEvents().ofType(.executorMissing).isEmpty)
        gate.open()
        for job in held.jobs + queued.jobs { #expect(try await job.boundedResult().status == .succeeded) }
        try await other.boundedShutdown()
        try await echo.boundedShutdown()
    }
}
