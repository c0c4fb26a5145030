import Acty
@testable import ActyStore
import ActyTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs resumed after crashes, with the default configuration (one attempt per job): a process dying is not the
/// job's failure, so a run killed again and again still ends with every job succeeded once; only a job that crashes
/// its process each time fails, after `maxAbandonedAttempts`.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct KillLoopTests {
    /// The kill moments come from this seed (`ACTY_KILL_SEED` replays another one).
    static let seed = Int(ProcessInfo.processInfo.environment["ACTY_KILL_SEED"] ?? "") ?? 20_261_205

    @Test func aRunKilledAgainAndAgainWithTheDefaultConfigurationFinishesEveryJobOnce() async throws {
        let dir = TemporaryDirectory()
        let database = dir.file()
        let log = dir.file("executions.log")
        _ = try await TestWorkerProcess.run(
            ["submit", "--database", database, "--groups", "200", "--followers", "4", "--max-attempts", "1"], in: dir, name: "submit"
        )
        // Jobs of 10-40 ms: about 4 s of work for one process, so none finishes it all before its kill comes, also
        // when the test's own tasks wait for a thread on a loaded machine.
        let work = [
            "work", "--database", database, "--log", log, "--default-configuration", "--primer-workers", "2", "--follower-workers", "4",
            "--min-sleep-ms", "10", "--max-sleep-ms", "40",
        ]
        srand48(Self.seed)
        var killed: [TestWorkerProcess] = []
        for round in 0..<6 {
            let executed = Self.size(of: log)
            let child = try TestWorkerProcess(work, in: dir, name: "kill-\(round)")
            // Killed while it runs jobs: once it has logged an execution of its own, at a random moment after that.
            try await require("kill-\(round) to run jobs") { Self.size(of: log) > executed || child.ended != nil }
            try await Task.sleep(for: .milliseconds(Int(drand48() * 150)))
            child.kill()
            let exit = try await child.waitForExit(timeout: .seconds(10))
            if exit == .signal(SIGKILL) {
                killed.append(child)
            } else {
                #expect(exit == .status(0), "kill-\(round) (seed \(Self.seed)): \(child.stderr)")
            }
        }
        let last = try TestWorkerProcess(work, in: dir, name: "final")
        #expect(try await last.waitForExit(timeout: .seconds(60)) == .status(0), "final: \(last.stderr)")

        let audit = try await RunAudit.load(database: database, log: log)
        #expect(audit.jobs.count == 1000)
        #expect(audit.jobs.allSatisfy { $0.maxAttempts == 1 && $0.maxAbandonedAttempts == 3 })
        CrashTests.expectEachJobSucceededOnce(audit, killed: killed)
        let abandoned = audit.abandonedByWorker.values.reduce(0, +)
        #expect(abandoned > 0, "the kills caught jobs running (seed \(Self.seed))")
        #expect(audit.jobs.allSatisfy { $0.error == nil }, "succeeded jobs carry no error of their abandoned attempts")
        print("KillLoopTests: seed \(Self.seed), \(killed.count) kills, \(abandoned) abandoned attempts, all \(audit.jobs.count) jobs succeeded once")
    }

    static func size(of path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? Int) ?? 0
    }

    @Test func aJobThatKillsItsProcessEachTimeFailsAfterMaxAbandonedAttemptsAndFailsItsGroup() async throws {
        let dir = TemporaryDirectory()
        let database = dir.file()
        let log = dir.file("executions.log")
        _ = try await TestWorkerProcess.run(
            ["submit", "--database", database, "--groups", "1", "--followers", "3", "--max-attempts", "1", "--poison-group", "0"],
            in: dir, name: "submit"
        )
        // One worker: the poison pill is the only job running when it kills the process.
        let work = ["work", "--database", database, "--log", log, "--default-configuration", "--primer-workers", "0", "--follower-workers", "1"]
        var crashes = 0
        for run in 0..<5 {
            let child = try TestWorkerProcess(work, in: dir, name: "run-\(run)")
            let exit = try await child.waitForExit(timeout: .seconds(30))
            if exit == .signal(SIGKILL) {
                crashes += 1
                continue
            }
            #expect(exit == .status(0), "run-\(run): \(child.stderr)")
            break
        }
        #expect(crashes == 3, "the poison pill ran (and crashed its process) maxAbandonedAttempts times")

        let audit = try await RunAudit.load(database: database, log: log)
        let jobs = audit.jobs.sorted { $0.id < $1.id }
        try #require(jobs.count == 4)
        let (primer, poison) = (jobs[0], jobs[1])
        #expect(primer.state == .succeeded)
        #expect(audit.attempts[primer.id]?.map(\.outcome) == ["succeeded"])
        #expect(poison.state == .failed)
        #expect(poison.attempts == 3)
        #expect(poison.abandonedAttempts == 3)
        #expect(audit.attempts[poison.id]?.map(\.outcome) == ["abandoned", "abandoned", "abandoned"])
        #expect(audit.executionsByJob[poison.id.rawValue]?.count == 3)
        let error = JobError(stored: try #require(poison.error))
        #expect(error.type == "abandoned")
        #expect(error.message.contains("abandoned 3 times"))
        #expect(error.message.contains("may be crashing its process"))
        // The default follower policy fails the group. The other followers ran once and succeeded (a new process
        // may claim them before its rescue pass returns the poison pill to the queue), or never ran and were cancelled.
        #expect(audit.groups.first?.state == .failed)
        for follower in jobs[2...] {
            let runs = audit.executionsByJob[follower.id.rawValue]?.count ?? 0
            let ranOnce = follower.state == .succeeded && runs == 1 && audit.attempts[follower.id]?.map(\.outcome) == ["succeeded"]
            #expect(ranOnce || (follower.state == .cancelled && runs == 0), "follower \(follower.id): \(follower.state), \(runs) runs")
        }
    }
}
