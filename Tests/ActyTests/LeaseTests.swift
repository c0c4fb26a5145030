import ActyTestSupport
@testable import Acty
@testable import ActyStore
import Foundation
import GRDB
import Testing

/// Leases in one process: heartbeats renew them; expired ones and those of dead workers are rescued; a completion
/// that arrives after a rescue does not count. (Crashes of real processes are tested elsewhere.)
@Suite(.timeLimit(.minutes(1)))
struct LeaseTests {
    static var now: Double { Date().timeIntervalSince1970 }

    /// Runs SQL on the engine's database through its own writer connection.
    static func write(_ engine: ActyEngine, _ sql: String, _ arguments: StatementArguments = []) async throws {
        try await engine.store.database.write { try $0.execute(sql: sql, arguments: arguments) }
    }

    /// A configuration whose lane `held` is created at start, so a test can pause it before submitting.
    static func heldLane(leaseDuration: Duration, primerWorkers: Int = 2) -> EngineConfiguration {
        EngineConfiguration(primerWorkers: primerWorkers, lanes: ["held": LaneConfiguration()], leaseDuration: leaseDuration)
    }

    /// Submits a group in the paused lane `held`, then makes its primer look like attempt `abandoned + 1` of
    /// `maxAttempts`, after `abandoned` abandoned ones, run by `owner` since 20 s with its lease ending at `leaseUntil`,
    /// and unpauses the lane, all in one transaction.
    static func submitAbandoned(
        _ engine: ActyEngine, key: String, followers: [JSONValue] = [], owner: String, leaseUntil: Double, maxAttempts: Int = 1,
        abandoned: Int = 0
    ) async throws -> GroupSubmission {
        try await write(engine, "UPDATE lanes SET paused = 1 WHERE name = 'held'")
        let submission = try await engine.submitGroup(key, primer: "p", followers: followers, lane: "held")
        let started = now - 20
        try await write(
            engine,
            """
            UPDATE jobs SET state = 'running', attempts = ?, abandoned = ?, max_attempts = ?, lease_owner = ?, lease_until = ?,
                started_at = ?, pool = 'primer'
            WHERE id = ?;
            UPDATE lanes SET paused = 0 WHERE name = 'held';
            """,
            [abandoned + 1, abandoned, maxAttempts, owner, leaseUntil, started, submission.primer!.id.rawValue]
        )
        return submission
    }

    /// The engine's latest heartbeat, from its `workers` row.
    static func heartbeatAt(_ engine: ActyEngine) async throws -> Double {
        let id = engine.workerID
        let beat = try await engine.store.database.read { db in
            try Double.fetchOne(db, sql: "SELECT heartbeat_at FROM workers WHERE id = ?", arguments: [id])
        }
        return try #require(beat)
    }

    @Test func heartbeatsKeepARunningJobsLeaseMovingForward() async throws {
        let dir = TemporaryDirectory()
        let gate = Gate()
        let executor = ClosureExecutor(name: "work") { job in
            try await gate.wait()
            return job.payload
        }
        // A short lease, renewed every second: a 2-core machine running the whole suite (child processes included)
        // can stall a task for over a second, so 3 s keeps the test about heartbeats rather than scheduling delays.
        let engine = try await makeEngine(dir, EngineConfiguration(leaseDuration: .seconds(3)), executors: [executor])
        let job = try await engine.submitGroup("beating", primer: "p").primer!
        #expect(try await waitUntil { try await engine.store.job(job.id)?.state == .running })
        let first = try #require(try await engine.store.job(job.id)?.leaseUntil)
        let firstBeat = try await Self.heartbeatAt(engine)

        // Over longer than the lease duration, the lease never lapses and keeps moving.
        var latest = first
        let deadline = ContinuousClock.now + .milliseconds(4000)
        while ContinuousClock.now < deadline {
            let row = try #require(try await engine.store.job(job.id))
            #expect(row.state == .running)
            #expect(row.leaseOwner == engine.workerID)
            let leaseUntil = try #require(row.leaseUntil)
            #expect(leaseUntil > Self.now, "the lease has not expired")
            #expect(leaseUntil >= latest)
            latest = leaseUntil
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(latest >= first + 1.5, "the lease was extended several times: \(first) → \(latest)")
        #expect(try await Self.heartbeatAt(engine) >= firstBeat + 1.5)

        gate.open()
        let result = try await job.boundedResult()
        #expect(result.status == .succeeded)
        #expect(result.attempts == 1)
        #expect(try await engine.allEvents().ofType(.jobRescued).isEmpty, "the engine did not rescue its own job")
        try await engine.boundedShutdown()
    }

    @Test func aJobWhoseLeaseExpiredIsRescuedAndRunsAgain() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir, Self.heldLane(leaseDuration: .seconds(1)), executors: [failingOnRequest()])
        let submission = try await Self.submitAbandoned(
            engine, key: "expired", followers: ["f"], owner: "w-gone", leaseUntil: Self.now - 5, maxAttempts: 3
        )
        let primer = submission.primer!

        let result = try await engine.handle(for: primer.id).boundedResult(timeout: .seconds(10))
        #expect(result.status == .succeeded)
        #expect(result.attempts == 2)
        #expect(try await submission.followers[0].boundedResult().status == .succeeded)
        let attempts = try await engine.store.attempts(of: primer.id)
        #expect(attempts.map(\.number) == [1, 2])
        #expect(attempts.map(\.outcome) == ["abandoned", "succeeded"])
        #expect(attempts[0].worker == "w-gone")
        #expect(try JobError(stored: #require(attempts[0].error)).type == "abandoned")
        #expect(attempts[1].worker == engine.workerID)

        let events = try await engine.allEvents().forJob(primer.id)
        let rescued = try #require(events.ofType(.jobRescued).first)
        #expect(events.ofType(.jobRescued).count == 1)
        let data = try JSONValue(jsonString: rescued.data ?? "")
        #expect(data["attempt"] == 1)
        #expect(data["worker"] == "w-gone")
        #expect(rescued.worker == engine.workerID)
        #expect(try #require(events.ofType(.jobStarted).last).seq > rescued.seq)
        #expect(try await engine.store.group(key: "expired")?.state == .succeeded)
        try await engine.boundedShutdown()
    }

    @Test func aRescuedJobAbandonedMaxAbandonedTimesFailsAndTheGroupPolicyApplies() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir, Self.heldLane(leaseDuration: .seconds(1)), executors: [failingOnRequest()])
        // Abandoned twice already (no attempt rows needed for the bound): the third abandonment is the last.
        let submission = try await Self.submitAbandoned(
            engine, key: "exhausted", followers: ["a", "b"], owner: "w-gone", leaseUntil: Self.now - 5, maxAttempts: 5, abandoned: 2
        )
        let primer = submission.primer!

        let result = try await engine.handle(for: primer.id).boundedResult(timeout: .seconds(10))
        #expect(result.status == .failed)
        #expect(result.attempts == 3)
        #expect(result.error?.type == "abandoned")
        #expect(result.error?.message.contains("abandoned 3 times") == true)
        #expect(result.error?.message.contains("may be crashing its process") == true)
        for follower in submission.followers {
            #expect(try await follower.boundedResult().status == .cancelled)
        }
        #expect(try await engine.store.attempts(of: primer.id).map(\.outcome) == ["abandoned"])
        #expect(try await engine.store.job(primer.id)?.abandonedAttempts == 3)
        let group = try #require(try await engine.store.group(key: "exhausted"))
        #expect(group.state == .failed)
        #expect(group.primerState == .failed)
        #expect(group.finishedAt != nil)
        let events = try await engine.allEvents().filter { $0.groupID == group.id }
        let failed = try #require(events.forJob(primer.id).ofType(.jobFailed).first)
        #expect(try JSONValue(jsonString: failed.data ?? "")["outcome"] == "abandoned")
        #expect(events.ofType(.primerFailed).count == 1)
        #expect(events.ofType(.groupDone).count == 1)
        #expect(events.ofType(.jobStarted).isEmpty, "nothing ran")
        try await engine.boundedShutdown()
    }

    @Test func aWorkerWhoseProcessIsGoneIsMarkedLostAndItsJobsRescuedAtOnce() async throws {
        let dir = TemporaryDirectory()
        // The first engine only prepares the file: a job leased for another hour to a worker whose pid is unused.
        let setup = try await makeEngine(dir, Self.heldLane(leaseDuration: .seconds(30)), executors: [failingOnRequest()])
        let submission = try await Self.submitAbandoned(setup, key: "ghost", owner: "w-ghost", leaseUntil: Self.now + 3600)
        let heartbeat = Self.now - 1
        try await Self.write(
            setup,
            """
            INSERT INTO workers (id, pid, host, started_at, heartbeat_at, stopped_at, primer_workers, follower_workers, executors)
            VALUES ('w-ghost', 999999, ?, ?, ?, NULL, 1, 0, '["work"]')
            """,
            [ProcessInfo.processInfo.hostName, heartbeat - 60, heartbeat]
        )
        try await setup.boundedShutdown()

        // The lease would last an hour, and the worker heartbeat a second ago: only its missing process gives it away.
        let engine = try await makeEngine(dir, EngineConfiguration(leaseDuration: .seconds(30)), executors: [failingOnRequest()])
        let result = try await engine.handle(for: submission.primer!.id).boundedResult(timeout: .seconds(10))
        #expect(result.status == .succeeded, "one attempt allowed, and the ghost's abandoned attempt did not use it")
        #expect(result.attempts == 2)
        #expect(result.error == nil)
        let attempts = try await engine.store.attempts(of: submission.primer!.id)
        #expect(attempts.map(\.outcome) == ["abandoned", "succeeded"])
        #expect(attempts.first?.worker == "w-ghost")

        let ghost = try engine.store.database.read { db in
            try Row.fetchOne(db, sql: "SELECT stopped_at, stop_reason, heartbeat_at FROM workers WHERE id = 'w-ghost'")
        }
        let row = try #require(ghost)
        #expect(row["stop_reason"] as String? == "lost")
        #expect(row["stopped_at"] as Double? == heartbeat)
        #expect(try await engine.store.activeWorkers().map(\.id) == [engine.workerID])
        try await engine.boundedShutdown()
    }

    @Test func aDeadWorkersJobWithAttemptsLeftRunsOnTheRescuer() async throws {
        let dir = TemporaryDirectory()
        let setup = try await makeEngine(dir, Self.heldLane(leaseDuration: .seconds(30)), executors: [failingOnRequest()])
        let submission = try await Self.submitAbandoned(setup, key: "ghost-retry", owner: "w-ghost2", leaseUntil: Self.now + 3600, maxAttempts: 2)
        try await Self.write(
            setup,
            """
            INSERT INTO workers (id, pid, host, started_at, heartbeat_at, primer_workers, follower_workers, executors)
            VALUES ('w-ghost2', 999999, ?, ?, ?, 1, 0, '["work"]')
            """,
            [ProcessInfo.processInfo.hostName, Self.now - 60, Self.now]
        )
        try await setup.boundedShutdown()

        let started = ContinuousClock.now
        let engine = try await makeEngine(dir, EngineConfiguration(leaseDuration: .seconds(30)), executors: [failingOnRequest()])
        let result = try await engine.handle(for: submission.primer!.id).boundedResult(timeout: .seconds(60))
        #expect(result.status == .succeeded)
        #expect(result.attempts == 2)
        #expect(ContinuousClock.now - started < .seconds(60), "no waiting for the hour-long lease")
        #expect(try await engine.store.attempts(of: submission.primer!.id).map(\.outcome) == ["abandoned", "succeeded"])
        try await engine.boundedShutdown()
    }

    @Test func aFailureAfterAnAbandonedAttemptIsRetriedWithinTheRetryBudget() async throws {
        let dir = TemporaryDirectory()
        // Attempt 2 fails, attempt 3 succeeds: with the abandoned attempt 1 counted, two attempts allowed would
        // have failed the job at attempt 2.
        let executor = ClosureExecutor(name: "work") { job in
            if job.attempt == 2 { throw PlannedFailure("attempt 2 fails") }
            return .number(Double(job.attempt))
        }
        var configuration = Self.heldLane(leaseDuration: .seconds(1))
        configuration.retryPolicy = RetryPolicy(maxAttempts: 2, initialDelay: .zero)
        let engine = try await makeEngine(dir, configuration, executors: [executor])
        let submission = try await Self.submitAbandoned(engine, key: "budget", owner: "w-gone", leaseUntil: Self.now - 5, maxAttempts: 2)
        let primer = submission.primer!

        let result = try await engine.handle(for: primer.id).boundedResult(timeout: .seconds(10))
        #expect(result.status == .succeeded)
        #expect(result.attempts == 3)
        #expect(result.output == 3)
        #expect(result.error == nil, "the failed attempt's error stays in its attempt row")
        #expect(try await engine.store.attempts(of: primer.id).map(\.outcome) == ["abandoned", "failed", "succeeded"])
        let row = try #require(try await engine.store.job(primer.id))
        #expect(row.error == nil)
        #expect(row.abandonedAttempts == 1)
        try await engine.boundedShutdown()
    }

    @Test func aCompletionArrivingAfterARescueDoesNotCount() async throws {
        let dir = TemporaryDirectory()
        let gate = Gate()
        let firstReturned = Recorder<Bool>()
        // Attempt 1 waits for the gate whatever happens (it ignores cancellation), then claims success.
        let executor = ClosureExecutor(name: "work") { job in
            guard job.attempt == 1 else { return "rescuer" }
            await Task.detached { try? await gate.wait(timeout: .seconds(30)) }.value
            firstReturned.append(true)
            return "late"
        }
        // Long leases: nothing renews or rescues on its own during the test; one worker, busy with attempt 1.
        let configuration = EngineConfiguration(primerWorkers: 1, followerWorkers: 0, retryPolicy: RetryPolicy(maxAttempts: 3), leaseDuration: .seconds(60))
        let slow = try await makeEngine(dir, configuration, executors: [executor])
        let job = try await slow.submitGroup("late-completion", primer: "p").primer!
        #expect(try await waitUntil { try await slow.store.job(job.id)?.state == .running })
        try await Self.write(slow, "UPDATE jobs SET lease_until = ? WHERE id = ?", [Self.now - 1, job.id.rawValue])

        // A second engine rescues the job at start and runs it.
        let rescuer = try await makeEngine(dir, configuration, executors: [executor])
        let rescued = try await rescuer.handle(for: job.id).boundedResult(timeout: .seconds(10))
        #expect(rescued.status == .succeeded)
        #expect(rescued.output == "rescuer")
        #expect(rescued.attempts == 2)

        // Now the first attempt finishes and reports success.
        gate.open()
        try await require("the first attempt to return") { firstReturned.count == 1 }
        // Its engine's own handle reports what the database says.
        let seenBySlow = try await job.boundedResult(timeout: .seconds(5))
        #expect(seenBySlow.status == .succeeded)
        #expect(seenBySlow.output == "rescuer")
        try await slow.boundedShutdown()

        let row = try #require(try await rescuer.store.job(job.id))
        #expect(row.state == .succeeded)
        #expect(row.result == #""rescuer""#)
        #expect(row.attempts == 2)
        let attempts = try await rescuer.store.attempts(of: job.id)
        #expect(attempts.map(\.outcome) == ["abandoned", "succeeded"])
        #expect(attempts.map(\.worker) == [slow.workerID, rescuer.workerID])
        let events = try await rescuer.allEvents().forJob(job.id)
        #expect(events.ofType(.jobSucceeded).count == 1)
        #expect(events.ofType(.jobSucceeded).first?.worker == rescuer.workerID)
        #expect(events.ofType(.jobFailed).isEmpty)
        try await rescuer.boundedShutdown()
    }
}
