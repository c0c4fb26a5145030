import ActyTestSupport
@testable import Acty
@testable import ActyStore
import Foundation
import Testing

/// Result handlers: what their decisions do to jobs, attempts and events, and how they survive restarts and share a
/// file with engines that lack them.
@Suite(.timeLimit(.minutes(1)))
struct ResultHandlerTests {
    /// A handler that decides by a closure, counting its calls.
    struct Deciding: ResultHandler {
        var name = "deciding"
        let calls = Recorder<JSONValue>()
        let decide: @Sendable (JSONValue, Job) throws -> ResultAction

        func handle(output: JSONValue, of job: Job) async throws -> ResultAction {
            calls.append(job.payload)
            return try decide(output, job)
        }
    }

    /// Resubmits a job whose payload is `"orig"` with `"repair"`; accepts everything else.
    static func repairing(name: String = "deciding") -> Deciding {
        Deciding(name: name) { _, job in job.payload == "orig" ? .resubmit("repair", reason: "the answer was broken") : .accept }
    }

    /// An executor named `work` that records each payload it runs and returns it.
    static func recording(_ payloads: Recorder<JSONValue>) -> ClosureExecutor {
        ClosureExecutor(name: "work") { job in
            payloads.append(job.payload)
            return job.payload
        }
    }

    @Test func aResubmitRunsTheJobAgainWithTheNewPayloadAsANewAttempt() async throws {
        let dir = TemporaryDirectory()
        let payloads = Recorder<JSONValue>()
        let handler = Self.repairing()
        let configuration = EngineConfiguration(resultHandler: handler, maxResultHandlerAttempts: 2)
        try await withEngine(dir, configuration, executors: [Self.recording(payloads)]) { engine in
            let primer = try #require(try await engine.submitGroup("g", primer: "orig").primer)
            let result = try await primer.boundedResult()
            #expect(result.status == .succeeded)
            #expect(result.output == "repair")
            #expect(result.attempts == 2)
            #expect(payloads.values == ["orig", "repair"])
            #expect(handler.calls.values == ["orig", "repair"])

            let attempts = try await engine.store.attempts(of: primer.id)
            #expect(attempts.map(\.outcome) == ["resubmitted", "succeeded"])
            #expect(attempts[0].reason == "the answer was broken")
            #expect(attempts[0].payload == #""repair""#)
            #expect(attempts[1].reason == nil && attempts[1].payload == nil)
            let job = try #require(try await engine.store.job(primer.id))
            #expect(job.payload == #""repair""#)
            #expect(job.originalPayload == #""orig""#)
            #expect(job.resubmits == 1)
            #expect(job.resultHandler == "deciding")

            let events = try await engine.allEvents().forJob(primer.id)
            #expect(events.map(\.type) == ["job_queued", "job_started", "job_resubmitted", "job_started", "job_succeeded"])
            let data = try JSONValue(jsonString: try #require(events[2].data))
            #expect(data["handler"] == "deciding")
            #expect(data["reason"] == "the answer was broken")
            #expect(data["attempt"] == 1)
            #expect(data["result_handler_attempt"] == 1)
        }
    }

    @Test func aResubmittedPrimerKeepsItsFollowersWaitingAndFollowersCanBeResubmittedToo() async throws {
        let dir = TemporaryDirectory()
        let gate = Gate()
        let executor = ClosureExecutor(name: "work") { job in
            if job.role == .primer, job.payload == "repair" { try await gate.wait() }
            return job.payload
        }
        let configuration = EngineConfiguration(resultHandler: Self.repairing())
        try await withEngine(dir, configuration, executors: [executor]) { engine in
            let submission = try await engine.submitGroup("g", primer: "orig", followers: ["orig", "plain"])
            let primer = try #require(submission.primer)
            // The primer's second attempt is running: its first output was not accepted, so followers still wait.
            #expect(try await waitUntil { try await engine.store.job(primer.id)?.attempts == 2 })
            #expect(try await engine.store.jobs(inGroup: submission.groupID).map(\.state) == [.running, .blocked, .blocked])
            #expect(try await engine.store.group(key: "g")?.primerState == .pending)
            gate.open()

            #expect(try await engine.waitForGroup("g", state: .succeeded))
            let results = try await submission.jobs.asyncMap { try await $0.boundedResult() }
            #expect(results.map(\.output) == ["repair", "repair", "plain"])
            #expect(results.map(\.attempts) == [2, 2, 1])
            let events = try await engine.allEvents()
            #expect(events.ofType(.jobResubmitted).compactMap(\.jobID) == [primer.id, submission.followers[0].id])
            // Followers were released once, by the accepted output.
            #expect(events.ofType(.followersReady).count == 1)
            let released = try #require(events.ofType(.followersReady).first?.seq)
            #expect(released > (try #require(events.onlySeq(.jobSucceeded, job: primer.id))))
        }
    }

    @Test func aReplacementIsTheJobsOutput() async throws {
        let dir = TemporaryDirectory()
        let handler = Deciding { output, _ in .replace(["wrapped": output]) }
        try await withEngine(dir, EngineConfiguration(resultHandler: handler), executors: [EchoExecutor()]) { engine in
            let primer = try #require(try await engine.submitGroup("g", primer: "answer").primer)
            let result = try await primer.boundedResult()
            #expect(result.status == .succeeded)
            #expect(result.output == ["wrapped": "answer"])
            #expect(try await engine.store.job(primer.id)?.result == #"{"wrapped":"answer"}"#)
            let handled = try await engine.allEvents().forJob(primer.id).ofType(.jobResultHandled)
            #expect(handled.count == 1)
            #expect(try handled.first?.data.map { try JSONValue(jsonString: $0) } == ["action": "replace", "handler": "deciding"])
        }
    }

    @Test func aFailDecisionFailsTheJobWithoutARetry() async throws {
        let dir = TemporaryDirectory()
        let payloads = Recorder<JSONValue>()
        let handler = Deciding { _, _ in .fail(JobError(type: "Unusable", message: "the answer says nothing")) }
        let configuration = EngineConfiguration(retryPolicy: RetryPolicy(maxAttempts: 3), resultHandler: handler)
        try await withEngine(dir, configuration, executors: [Self.recording(payloads)]) { engine in
            let primer = try #require(try await engine.submitGroup("g", primer: "p").primer)
            let result = try await primer.boundedResult()
            #expect(result.status == .failed)
            #expect(result.error == JobError(type: "Unusable", message: "the answer says nothing"))
            #expect(payloads.count == 1)
            #expect(try await engine.waitForGroup("g", state: .failed))
            let handled = try await engine.allEvents().forJob(primer.id).ofType(.jobResultHandled)
            #expect(try handled.first?.data.map { try JSONValue(jsonString: $0) }?["action"] == "fail")
        }
    }

    @Test func resubmitsBeyondTheBudgetFailTheJob() async throws {
        let dir = TemporaryDirectory()
        let payloads = Recorder<JSONValue>()
        let handler = Deciding { _, job in .resubmit(.string("r\(job.resubmits + 1)"), reason: "again") }
        let configuration = EngineConfiguration(resultHandler: handler, maxResultHandlerAttempts: 2)
        try await withEngine(dir, configuration, executors: [Self.recording(payloads)]) { engine in
            let primer = try #require(try await engine.submitGroup("g", primer: "p").primer)
            let result = try await primer.boundedResult()
            #expect(result.status == .failed)
            #expect(result.error?.type == "ResultHandlerFailed")
            #expect(result.error?.message.contains("asked for resubmit 3 (again), but maxResultHandlerAttempts allows 2") == true)
            #expect(result.attempts == 3)
            #expect(payloads.values == ["p", "r1", "r2"])
            let attempts = try await engine.store.attempts(of: primer.id)
            #expect(attempts.map(\.outcome) == ["resubmitted", "resubmitted", "failed"])
            #expect(attempts.compactMap(\.payload) == [#""r1""#, #""r2""#])
            #expect(try await engine.store.job(primer.id)?.resubmits == 2)
        }
    }

    /// With a retry budget of 2 attempts, a job resubmitted once may still fail once and be retried: the resubmitted
    /// attempt does not count in the budget.
    @Test func resubmitsDoNotUseUpTheRetryBudget() async throws {
        let dir = TemporaryDirectory()
        let payloads = Recorder<JSONValue>()
        let executor = ClosureExecutor(name: "work") { job in
            payloads.append(job.payload)
            if payloads.count == 2 { throw PlannedFailure() }
            return job.payload
        }
        let handler = Deciding { _, job in job.payload == "p" ? .resubmit("r", reason: "again") : .accept }
        let configuration = EngineConfiguration(retryPolicy: RetryPolicy(maxAttempts: 2, initialDelay: .milliseconds(1)), resultHandler: handler)
        try await withEngine(dir, configuration, executors: [executor]) { engine in
            let primer = try #require(try await engine.submitGroup("g", primer: "p").primer)
            let result = try await primer.boundedResult()
            #expect(result.status == .succeeded)
            #expect(payloads.values == ["p", "r", "r"])
            #expect(try await engine.store.attempts(of: primer.id).map(\.outcome) == ["resubmitted", "failed", "succeeded"])
        }
    }

    @Test(arguments: [ResultHandlerErrorPolicy.fail, .passThrough])
    func aThrowingHandlerFollowsTheErrorPolicy(_ policy: ResultHandlerErrorPolicy) async throws {
        let dir = TemporaryDirectory()
        let handler = Deciding { _, _ in throw PlannedFailure("handler boom") }
        let configuration = EngineConfiguration(resultHandler: handler, resultHandlerErrorPolicy: policy)
        try await withEngine(dir, configuration, executors: [EchoExecutor()]) { engine in
            let primer = try #require(try await engine.submitGroup("g", primer: "p").primer)
            let result = try await primer.boundedResult()
            switch policy {
            case .fail:
                #expect(result.status == .failed)
                #expect(result.error == JobError(type: "PlannedFailure", message: "handler boom"))
            case .passThrough:
                #expect(result.status == .succeeded)
                #expect(result.output == "p")
            }
            let failed = try await engine.allEvents().forJob(primer.id).ofType(.jobResultHandlerFailed)
            let data = try JSONValue(jsonString: try #require(failed.first?.data))
            #expect(data["policy"] == .string(policy.rawValue))
            #expect(data["error"]?["message"] == "handler boom")
        }
    }

    @Test func theHandlerIsNotCalledWhenTheExecutorThrows() async throws {
        let dir = TemporaryDirectory()
        let handler = Self.repairing()
        try await withEngine(dir, EngineConfiguration(resultHandler: handler), executors: [failingOnRequest()]) { engine in
            let primer = try #require(try await engine.submitGroup("g", primer: ["fail": true]).primer)
            #expect(try await primer.boundedResult().status == .failed)
            #expect(handler.calls.count == 0)
        }
    }

    @Test func aNonStorablePayloadFailsTheJobAndKeepsItsPayload() async throws {
        let dir = TemporaryDirectory()
        let handler = Deciding { _, _ in .resubmit(["score": .number(.nan)], reason: "bad") }
        try await withEngine(dir, EngineConfiguration(resultHandler: handler), executors: [EchoExecutor()]) { engine in
            let primer = try #require(try await engine.submitGroup("g", primer: "p").primer)
            let result = try await primer.boundedResult()
            #expect(result.error?.type == "ResultHandlerFailed")
            #expect(result.error?.message.contains("resubmitted a payload that") == true)
            let job = try #require(try await engine.store.job(primer.id))
            #expect(job.payload == #""p""#)
            #expect(job.resubmits == 0)
        }
    }

    @Test func aGroupsOwnHandlerOverridesTheEngines() async throws {
        let dir = TemporaryDirectory()
        let engineHandler = Deciding(name: "engine-wide") { _, _ in .replace("engine") }
        let groupHandler = Deciding(name: "group-only") { _, _ in .replace("group") }
        try await withEngine(dir, EngineConfiguration(resultHandler: engineHandler), executors: [EchoExecutor()]) { engine in
            let plain = try await engine.submitGroup("plain", primer: "p")
            let own = try await engine.submitGroup("own", primer: "p", options: GroupOptions(resultHandler: groupHandler))
            #expect(try await plain.primer?.boundedResult().output == "engine")
            #expect(try await own.primer?.boundedResult().output == "group")
            #expect(try await engine.store.group(key: "own")?.resultHandler == "group-only")
            let registered = try await engine.store.activeWorkers().first { $0.id == engine.workerID }
            #expect(registered?.resultHandlers == #"["engine-wide","group-only"]"#)
        }
    }

    /// A job whose group names a handler an engine lacks waits for an engine that has it; meanwhile the engine runs
    /// the jobs it can, and the job's row says which handler it waits for.
    @Test func anEngineWithoutTheGroupsHandlerDoesNotClaimItsJobs() async throws {
        let dir = TemporaryDirectory()
        // Stores the group without running it: the submitting engine never runs.
        let submitter = try await makeEngine(dir, EngineConfiguration(resultHandler: Self.repairing()), runsInBackground: false)
        let waiting = try await submitter.submitGroup("needs-handler", primer: "orig")
        try await submitter.boundedShutdown()

        let payloads = Recorder<JSONValue>()
        let recordingEcho = ClosureExecutor(name: "echo") { job in
            payloads.append(job.payload)
            return job.payload
        }
        try await withEngine(dir, EngineConfiguration(), executors: [recordingEcho]) { engine in
            // Submitted later to the same lane: claimed after the waiting job, were that one claimable.
            let later = try await engine.submitGroup("plain", primer: "later")
            #expect(try await later.primer?.boundedResult().status == .succeeded)
            let job = try #require(try await engine.store.job(waiting.primer!.id))
            #expect(job.state == .ready)
            #expect(job.attempts == 0)
            #expect(job.resultHandler == "deciding")
            #expect(payloads.values == ["later"])
        }

        try await withEngine(dir, EngineConfiguration(additionalResultHandlers: [Self.repairing()]), executors: [EchoExecutor()]) { engine in
            #expect(try await engine.waitForGroup("needs-handler", state: .succeeded))
            let job = try #require(try await engine.store.job(waiting.primer!.id))
            #expect(job.result == #""repair""#)
            #expect(job.resubmits == 1)
        }
    }

    @Test func drainThrowsWhenOnlyJobsWaitingForAMissingHandlerRemain() async throws {
        let dir = TemporaryDirectory()
        let submitter = try await makeEngine(dir, EngineConfiguration(resultHandler: Self.repairing()), runsInBackground: false)
        _ = try await submitter.submitGroup("needs-handler", primer: "orig", followers: ["f"])
        try await submitter.boundedShutdown()
        try await withEngine(dir, EngineConfiguration(), executors: [EchoExecutor()]) { engine in
            let error = await #expect(throws: ActyError.self) { try await engine.boundedDrain() }
            #expect(error?.code == .unknownResultHandler)
            #expect(error?.message.contains("(1 need result handler 'deciding')") == true)
        }
    }

    /// The resubmitted payload is stored before the next attempt: an engine stopped between the attempts leaves the
    /// job with it, and the next engine runs it.
    @Test func aRestartBetweenAttemptsResumesWithTheResubmittedPayload() async throws {
        let dir = TemporaryDirectory()
        let first = Recorder<JSONValue>()
        // The second attempt never finishes in the first engine: it is cut off by the shutdown (no grace period).
        let stalling = ClosureExecutor(name: "work") { job in
            first.append(job.payload)
            if job.payload == "repair" { try await Task.sleep(for: .seconds(60)) }
            return job.payload
        }
        let configuration = EngineConfiguration(gracefulShutdownTimeout: .zero, resultHandler: Self.repairing())
        let engine = try await makeEngine(dir, configuration, executors: [stalling])
        let primer = try #require(try await engine.submitGroup("g", primer: "orig").primer)
        #expect(try await waitUntil { first.values == ["orig", "repair"] })
        try await engine.boundedShutdown()

        let second = Recorder<JSONValue>()
        try await withEngine(dir, EngineConfiguration(resultHandler: Self.repairing()), executors: [Self.recording(second)]) { next in
            #expect(try await next.waitForGroup("g", state: .succeeded))
            #expect(second.values == ["repair"])
            let job = try #require(try await next.store.job(primer.id))
            #expect(job.result == #""repair""#)
            #expect(job.originalPayload == #""orig""#)
            #expect(try await next.store.attempts(of: primer.id).first?.outcome == "resubmitted")
        }
    }

    /// A process killed (SIGKILL) between a resubmit and the attempt it asked for loses nothing: the next engine
    /// rescues the job and runs it with the resubmitted payload, and its followers, still waiting, run after it.
    @Test func aProcessKilledAfterAResubmitLeavesTheResubmittedPayloadForTheNextEngine() async throws {
        let dir = TemporaryDirectory()
        let database = dir.file()
        let victim = try TestWorkerProcess(["repair-work", "--database", database], in: dir, name: "victim")
        let watcher = try Store(.file(database))
        do {
            try await require("the resubmitted attempt to run in the victim") {
                let primer = try await watcher.allJobs().first { $0.role == .primer }
                return primer?.resubmits == 1 && primer?.state == .running
            }
            try await watcher.close()
        } catch {
            try? await watcher.close()
            victim.kill()
            throw error
        }
        victim.kill()
        #expect(try await victim.waitForExit(timeout: .seconds(10)) == .signal(SIGKILL))

        let payloads = Recorder<JSONValue>()
        let executor = ClosureExecutor(name: "repairable") { job in
            payloads.append(job.payload)
            return job.payload
        }
        let handler = Deciding(name: "ResubmitOnce") { output, _ in output == "orig" ? .resubmit("repair", reason: "again") : .accept }
        try await withEngine(dir, EngineConfiguration(resultHandler: handler), executors: [executor]) { engine in
            #expect(try await engine.waitForGroup("repaired", state: .succeeded))
            #expect(payloads.values == ["repair", "f"])
            let primer = try #require(try await engine.store.allJobs().first { $0.role == .primer })
            #expect(primer.result == #""repair""#)
            #expect(primer.originalPayload == #""orig""#)
            #expect(try await engine.store.attempts(of: primer.id).map(\.outcome) == ["resubmitted", "abandoned", "succeeded"])
        }
    }
}
