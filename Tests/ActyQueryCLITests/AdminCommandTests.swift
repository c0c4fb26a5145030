@testable import Acty
import ActyStore
import ActyTestSupport
import Foundation
import Testing

/// The admin subcommands against databases written by real engines, also while an engine is running on them.
@Suite(.timeLimit(.minutes(1)))
struct AdminCommandTests {
    @Test func retryQueuesAFailedGroupAgainAndAnEngineRunsIt() async throws {
        let folder = TemporaryDirectory()
        let database = try await EngineDatabase.make(in: folder)
        let run = try await QueryTool.run(["retry", database.path, "--group", "doomed"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("queued 2 jobs of group 'doomed' again"), "\(run.stdout)")

        // An engine whose executor now lets the primer through runs the group to success.
        let engine = try await ActyEngine(database: .file(database.path), executors: [ClosureExecutor(name: "work") { $0.payload }])
        #expect(try await engine.waitForGroup("doomed") == .succeeded)
        try await engine.shutdown()

        let nothing = try await QueryTool.run(["retry", database.path, "--all-failed"])
        #expect(nothing.stdout.contains("queued 0 failed jobs again"))
        let refused = try await QueryTool.run(["retry", database.path, "--job", String(database.ok.primer!.id.rawValue)])
        #expect(refused.status == 1)
        #expect(refused.stderr.hasPrefix("error: job"))
    }

    @Test func retryingTheCancelledPrimerOfACancelledGroupBringsBackItsFollowers() async throws {
        let folder = TemporaryDirectory()
        let path = folder.file()
        // The primer runs until it is cancelled, which cancels the group; the tool then retries the primer.
        let slow = ClosureExecutor(name: "work") { job in
            try await Task.sleep(for: .seconds(30))
            return job.payload
        }
        let first = try await ActyEngine(database: .file(path), executors: [slow])
        let submission = try await first.submitGroup("called-off", primer: "p", followers: ["a", "b"])
        #expect(try await first.cancel(job: submission.primer!.id))
        #expect(try await first.waitForGroup("called-off") == .cancelled)
        try await first.shutdown()

        let follower = try await QueryTool.run(["retry", path, "--job", String(submission.followers[0].id.rawValue)])
        #expect(follower.status == 1)
        #expect(follower.stderr.contains("retry the primer"), "\(follower.stderr)")
        let run = try await QueryTool.run(["retry", path, "--job", String(submission.primer!.id.rawValue)])
        #expect(run.status == 0, "\(run.stderr)")
        let primer = submission.primer!.id.rawValue
        #expect(run.stdout.contains("queued job \(primer) again with the 2 followers cancelled because of it"), "\(run.stdout)")

        let engine = try await ActyEngine(database: .file(path), executors: [ClosureExecutor(name: "work") { $0.payload }])
        #expect(try await engine.waitForGroup("called-off") == .succeeded)
        for job in submission.jobs { #expect(try await engine.handle(for: job.id).result().status == .succeeded) }
        try await engine.shutdown()
    }

    @Test func cancelStopsAGroupARunningEngineIsWorkingOn() async throws {
        let folder = TemporaryDirectory()
        let path = folder.file()
        let cancelled = Locked(0)
        let slow = ClosureExecutor(name: "work") { job in
            do {
                try await Task.sleep(for: .seconds(30))
            } catch {
                cancelled.withLock { $0 += 1 }
                throw error
            }
            return job.payload
        }
        let engine = try await ActyEngine(
            database: .file(path), configuration: EngineConfiguration(pollInterval: .milliseconds(20)), executors: [slow]
        )
        let submission = try await engine.submitGroup("long", primer: "p", followers: ["f"])
        let primer = try #require(submission.primer)
        while try await engine.store.job(primer.id)?.state != .running { try await Task.sleep(for: .milliseconds(10)) }

        let run = try await QueryTool.run(["cancel", path, "--group", "long"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("cancelled group 'long'"))
        #expect(try await primer.result().status == .cancelled)
        #expect(try await engine.waitForGroup("long") == .cancelled)
        let deadline = ContinuousClock.now + .seconds(10)
        while cancelled.withLock({ $0 }) == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(cancelled.withLock { $0 } == 1, "the running executor was not cancelled")
        try await engine.shutdown()

        let again = try await QueryTool.run(["cancel", path, "--group", "long"])
        #expect(again.stdout.contains("had already finished"))
        let unknown = try await QueryTool.run(["cancel", path, "--group", "nope"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr == "error: no group with key 'nope' exists in this database\n")
    }

    @Test func aPausedLaneWaitsInARunningEngineUntilResumed() async throws {
        let folder = TemporaryDirectory()
        let path = folder.file()
        let engine = try await ActyEngine(
            database: .file(path), configuration: EngineConfiguration(lanes: ["held": LaneConfiguration()], pollInterval: .milliseconds(20)),
            executors: [ClosureExecutor(name: "work") { $0.payload }]
        )
        let pause = try await QueryTool.run(["pause-lane", path, "held"])
        #expect(pause.status == 0, "\(pause.stderr)")
        #expect(pause.stdout.contains("paused lane 'held'"))
        let submission = try await engine.submitGroup("waiting", primer: "p", lane: "held")
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await engine.store.job(submission.primer!.id)?.state == .ready)

        let resume = try await QueryTool.run(["resume-lane", path, "held"])
        #expect(resume.stdout.contains("resumed lane 'held'"))
        #expect(try await submission.primer!.result().status == .succeeded)
        try await engine.shutdown()

        let unknown = try await QueryTool.run(["pause-lane", path, "nope"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("no lane named 'nope'"))
    }

    @Test func setWeightChangesTheLaneRow() async throws {
        let folder = TemporaryDirectory()
        let database = try await EngineDatabase.make(in: folder)
        let run = try await QueryTool.run(["set-weight", database.path, "fast", "5", "--max-inflight", "3"])
        #expect(run.status == 0, "\(run.stderr)")
        let store = try Store(.file(database.path))
        let lane = try #require(try await store.lanes().first { $0.name == "fast" })
        #expect(lane.weight == 5)
        #expect(lane.maxInflight == 3)
        try await store.close()
        let bad = try await QueryTool.run(["set-weight", database.path, "fast", "0"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("greater than 0"))
    }

    @Test func pruneRemovesFinishedGroupsAndRefusesMalformedDurations() async throws {
        let folder = TemporaryDirectory()
        let database = try await EngineDatabase.make(in: folder)
        let keep = try await QueryTool.run(["prune", database.path, "--older-than", "1h"])
        #expect(keep.stdout.contains("removed 0 groups"))
        let prune = try await QueryTool.run(["prune", database.path, "--older-than", "0s"])
        #expect(prune.status == 0, "\(prune.stderr)")
        #expect(prune.stdout.contains("removed 2 groups, 5 jobs"), "\(prune.stdout)")
        let groups = try await QueryTool.run(["groups", database.path, "--format", "json"])
        #expect(try groups.json().arrayValue?.isEmpty == true)
        let malformed = try await QueryTool.run(["prune", database.path, "--older-than", "soon"])
        #expect(malformed.status != 0)
        #expect(malformed.stderr.contains("--older-than takes a number and a unit"))
    }

    @Test func checkpointAndAMissingFile() async throws {
        let folder = TemporaryDirectory()
        let database = try await EngineDatabase.make(in: folder)
        let run = try await QueryTool.run(["checkpoint", database.path])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("log frames"))
        let missing = folder.file("missing.db")
        let refused = try await QueryTool.run(["retry", missing, "--all-failed"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("no database file"))
        #expect(!FileManager.default.fileExists(atPath: missing))
    }
}

@Suite(.timeLimit(.minutes(1)))
struct LaneFilterTests {
    @Test func anUnknownLaneFilterIsAnErrorNotAnEmptyList() async throws {
        let folder = TemporaryDirectory()
        let database = try await EngineDatabase.make(in: folder)
        for subcommand in ["groups", "jobs"] {
            let run = try await QueryTool.run([subcommand, database.path, "--lane", "nope"])
            #expect(run.status == 1)
            #expect(run.stderr == "error: no lane named 'nope' exists in this database\n")
        }
        let known = try await QueryTool.run(["jobs", database.path, "--lane", "fast", "--format", "json"])
        #expect(try known.json().arrayValue?.count == 3)
    }
}
