import ActyTestSupport
@testable import Acty
@testable import ActyStore
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `drain()` waits for everything queued in the file, wherever it was submitted, and `groups(state:)` lists the
/// groups a resumed process may re-attach; neither hangs on work that no engine can run.
@Suite(.timeLimit(.minutes(1)))
struct DrainTests {
    @Test func drainWaitsForRetriesAndTheFollowersBlockedBehindThem() async throws {
        let dir = TemporaryDirectory()
        let attempts = Recorder<JobID>()
        // Primers fail their first attempt: while they wait for their retry, their followers are blocked.
        let flaky = ClosureExecutor(name: "flaky") { job in
            attempts.append(job.id)
            if job.role == .primer, job.attempt == 1 { throw PlannedFailure() }
            return job.payload
        }
        let policy = RetryPolicy(maxAttempts: 2, initialDelay: .milliseconds(300), jitter: .none)
        let engine = try await makeEngine(dir, EngineConfiguration(retryPolicy: policy), executors: [flaky])
        for index in 0..<5 {
            try await engine.submitGroup("g\(index)", primer: ["n": .number(Double(index))], followers: ["a", "b"])
        }
        try await engine.boundedDrain()

        let jobs = try await engine.store.allJobs()
        #expect(jobs.count == 15)
        #expect(jobs.allSatisfy { $0.state == .succeeded }, "\(jobs.map(\.state))")
        #expect(attempts.count == 20)
        #expect(try await engine.groups(state: .succeeded).count == 5)
        try await engine.boundedShutdown()
    }

    @Test func drainLeavesOpenGroupsWithoutAPrimerToTheUser() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir)
        let group = try await engine.openGroup("awaiting-primer")
        let waiting = try await group.addFollower("f")
        let done = try await engine.submitGroup("done", primer: "p", followers: ["f"])
        try await engine.boundedDrain()

        for job in done.jobs { #expect(try await job.boundedResult().status == .succeeded) }
        #expect(try await engine.store.job(waiting.id)?.state == .blocked)
        #expect(try await engine.groups(state: .open).map(\.key) == ["awaiting-primer"])
        try await engine.boundedShutdown()
    }

    @Test func drainWaitsForJobsAnotherEngineRuns() async throws {
        let dir = TemporaryDirectory()
        let gate = Gate()
        let configuration = EngineConfiguration(pollInterval: .milliseconds(20))
        let echo = try await makeEngine(dir, configuration)
        let gatedEngine = try await makeEngine(dir, configuration, executors: [gated(by: gate)])
        let held = try await gatedEngine.submitGroup("held", primer: "p", followers: ["f"])
        #expect(try await waitUntil { try await echo.store.job(held.primer!.id)?.state == .running })

        let drained = Recorder<Bool>()
        let drain = Task {
            try await echo.boundedDrain()
            drained.append(true)
        }
        // While the other engine holds the primer (and its follower waits behind it), drain cannot return.
        let live = try await echo.liveExecutors()
        #expect(live == ["echo", "gated"])
        #expect(try await echo.store.unfinishedWork(executors: live).isRunning)
        #expect(drained.count == 0)
        gate.open()
        try await drain.value
        #expect(try await echo.store.jobs(inGroup: held.groupID).allSatisfy { $0.state == .succeeded })
        try await gatedEngine.boundedShutdown()
        try await echo.boundedShutdown()
    }

    @Test func drainThrowsWhenOnlyJobsOfAMissingExecutorRemain() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir, EngineConfiguration(pollInterval: .milliseconds(20)))
        let lost = NewGroup(key: "lost", lane: "default", primer: NewJob(executor: "renamed-away", payload: "1"), followers: [], isClosed: true)
        _ = try await engine.store.submitGroup(lost, worker: nil)
        let echoed = try await engine.submitGroup("echoed", primer: "p", followers: ["f", "g"])

        let error = await #expect(throws: ActyError.self) { try await engine.boundedDrain() }
        #expect(error?.code == .unknownExecutor)
        #expect(error?.message.contains("1 need executor 'renamed-away'") == true, "\(String(describing: error))")
        #expect(error?.message.contains("running engines have: echo") == true, "\(String(describing: error))")
        // The work the engine could run is done first.
        for job in echoed.jobs { #expect(try await job.boundedResult().status == .succeeded) }
        try await engine.boundedShutdown()
    }

    /// An engine whose only job waits in the paused lane `frozen`, and a drain that has started waiting for it.
    private static func drainingAPausedLane(_ dir: TemporaryDirectory) async throws -> (ActyEngine, LogCapture, JobHandle, Task<Void, any Error>) {
        let log = LogCapture()
        let engine = try await makeEngine(
            dir, EngineConfiguration(lanes: ["frozen": LaneConfiguration()], pollInterval: .milliseconds(20), logger: log.logger)
        )
        _ = try await engine.store.setLanePaused("frozen", paused: true, worker: nil)
        let frozen = try await engine.submitGroup("frozen", primer: "p", lane: "frozen")
        let drain = Task { try await engine.boundedDrain() }
        try await require("drain to warn about the paused lane") { log.warnings.contains { $0.message.contains("paused lanes") } }
        return (engine, log, frozen.primer!, drain)
    }

    @Test func drainWaitsForAPausedLaneWithAWarning() async throws {
        let dir = TemporaryDirectory()
        let (engine, log, primer, drain) = try await Self.drainingAPausedLane(dir)
        #expect(try await engine.store.job(primer.id)?.state == .ready)
        _ = try await engine.store.setLanePaused("frozen", paused: false, worker: nil)
        try await drain.value
        #expect(try await engine.store.job(primer.id)?.state == .succeeded)
        #expect(log.warnings.filter { $0.message.contains("paused lanes") }.count == 1)
        try await engine.boundedShutdown()
    }

    @Test func drainEndsWithEngineStoppedWhenTheEngineShutsDown() async throws {
        let dir = TemporaryDirectory()
        let (engine, _, _, drain) = try await Self.drainingAPausedLane(dir)
        try await engine.boundedShutdown()
        let error = await #expect(throws: ActyError.self) { try await drain.value }
        #expect(error?.code == .engineStopped)
    }

    @Test func groupsListsOpenGroupsForAResumedProcessToReattach() async throws {
        let dir = TemporaryDirectory()
        let first = try await makeEngine(dir)
        for key in ["a", "b", "c"] { _ = try await first.openGroup(key) }
        try await first.openGroup("b").close()
        try await first.boundedShutdown()

        let second = try await makeEngine(dir)
        let open = try await second.groups(state: .open)
        #expect(open.map(\.key) == ["c", "a"])
        #expect(open.allSatisfy { $0.state == .open && $0.lane == "default" && $0.jobs == 0 && $0.finishedAt == nil })
        #expect(try await second.groups(state: .open, limit: 1).map(\.key) == ["c"])
        let badLimit = await #expect(throws: ActyError.self) { try await second.groups(state: .open, limit: 0) }
        #expect(badLimit?.code == .invalidArgument)

        for info in open {
            let group = try await second.openGroup(info.key)
            try await group.submitPrimer("p")
            try await group.addFollower("f")
            try await group.close()
        }
        try await second.boundedDrain()
        #expect(try await second.groups(state: .open).isEmpty)
        let succeeded = try await second.groups(state: .succeeded)
        #expect(Set(succeeded.map(\.key)) == ["a", "b", "c"])
        #expect(succeeded.first { $0.key == "a" }.map { ($0.jobs, $0.finishedJobs, $0.followers) } ?? (0, 0, 0) == (2, 2, 1))
        try await second.boundedShutdown()
    }

    /// A process killed mid-run leaves running and queued work; a new process that knows none of its keys drains
    /// the file to the end.
    @Test func drainFinishesTheWorkOfAKilledProcess() async throws {
        let dir = TemporaryDirectory()
        let database = dir.file()
        let log = dir.file("executions.log")
        _ = try await TestWorkerProcess.run(["submit", "--database", database, "--groups", "30", "--followers", "3"], in: dir, name: "submit")
        // Waiting for a peer that never comes, the victim's executors hold the jobs it claimed: it is killed
        // with jobs running and every other job queued, however slow the machine.
        let victim = try TestWorkerProcess(
            ["work", "--database", database, "--log", log, "--lease-ms", "30000", "--await-peers", "2"], in: dir, name: "victim"
        )
        let watcher = try Store(.file(database))
        try await require("the victim to claim jobs") { try await watcher.jobCountsByState()[.running, default: 0] >= 4 }
        try await watcher.close()
        victim.kill()
        #expect(try await victim.waitForExit(timeout: .seconds(10)) == .signal(SIGKILL))

        let resumed = try await makeEngine(
            dir, EngineConfiguration(pollInterval: .milliseconds(20)),
            executors: [ClosureExecutor(name: "crash") { $0.payload }]
        )
        // Its leases last 30 s: drain returns this soon only because the rescuer sees the victim's pid is gone.
        try await resumed.boundedDrain()
        let jobs = try await resumed.store.allJobs()
        #expect(jobs.count == 120)
        #expect(jobs.allSatisfy { $0.state == .succeeded }, "\(jobs.filter { $0.state != .succeeded }.prefix(5))")
        #expect(try await resumed.groups(state: .closed).isEmpty)
        #expect(try await resumed.groups(state: .succeeded, limit: 1_000).count == 30)
        let abandoned = try await resumed.store.attempts().filter { $0.outcome == "abandoned" }
        #expect(abandoned.count >= 4)
        try await resumed.boundedShutdown()
    }
}

extension ActyEngine {
    /// ``drain()``, throwing ``WaitTimedOut`` instead of hanging when it does not return in time.
    func boundedDrain(timeout: Duration = .seconds(30)) async throws {
        try await bounded("drain", timeout: timeout) { try await self.drain() }
    }
}
