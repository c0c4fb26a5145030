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

/// Engine processes killed with SIGKILL at random moments, then one that runs the rest to the end: no job is lost
/// or recorded twice, and each extra execution is explained by an attempt abandoned by a killed process.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct CrashTests {
    private static let groups = 160
    private static let followers = 4
    private static let rounds = 8

    @Test func jobsOfKilledProcessesAreRescuedAndEachSucceedsExactlyOnce() async throws {
        let dir = TemporaryDirectory()
        let database = dir.file()
        let log = dir.file("executions.log")
        _ = try await TestWorkerProcess.run(
            ["submit", "--database", database, "--groups", "\(Self.groups)", "--followers", "\(Self.followers)"], in: dir, name: "submit"
        )
        // A lease far longer than the test's kills: jobs of a killed process must come back because the next process
        // sees its pid is gone, not because its leases ran out.
        let work = [
            "work", "--database", database, "--log", log, "--primer-workers", "1", "--follower-workers", "3", "--lease-ms", "5000",
            "--min-sleep-ms", "2", "--max-sleep-ms", "20",
        ]

        var killed: [TestWorkerProcess] = []
        var finishedOnTheirOwn: [TestWorkerProcess] = []
        for round in 0..<Self.rounds {
            // Every third round starts two processes together on the file the previous round's kill left behind,
            // and kills them one after the other: the survivor rescues its sibling's jobs while it runs.
            let children = try (0..<(round % 3 == 2 ? 2 : 1)).map { try TestWorkerProcess(work, in: dir, name: "work-\(round)-\($0)") }
            for (index, child) in children.enumerated() {
                // Kill at any moment, start-up included, or once the engine runs, when it most likely holds jobs (a
                // busy machine can make start-up longer than the first range). The kill's moment is the point of
                // the test, so these sleeps decide nothing about its outcome.
                if (round + index).isMultiple(of: 2) {
                    try await Task.sleep(for: .milliseconds(Int.random(in: 50...400)))
                } else {
                    try await require("work-\(round)-\(index) to start its engine", timeout: .seconds(20)) {
                        child.stdout.contains("engine worker=") || child.ended != nil
                    }
                    try await Task.sleep(for: .milliseconds(Int.random(in: 0...300)))
                }
                child.kill()
                let exit = try await child.waitForExit(timeout: .seconds(10))
                if exit == .signal(SIGKILL) {
                    killed.append(child)
                } else {
                    // All the work was done before the kill came.
                    #expect(exit == .status(0), "work-\(round)-\(index): \(child.stderr)")
                    finishedOnTheirOwn.append(child)
                }
            }
        }
        let last = try TestWorkerProcess(work, in: dir, name: "final")
        let lastExit = try await last.waitForExit(timeout: .seconds(60))
        #expect(lastExit == .status(0), "final: \(last.stderr)")

        let audit = try await RunAudit.load(database: database, log: log)
        #expect(audit.jobs.count == Self.groups * (1 + Self.followers))
        Self.expectEachJobSucceededOnce(audit, killed: killed)
        for child in finishedOnTheirOwn + [last] {
            let row = audit.workers.first { $0.pid == child.pid }
            #expect(row?.stopReason == "shutdown", "worker of pid \(child.pid): \(String(describing: row))")
        }

        report(audit, killed: killed, last: last)
    }

    @Test func aSurvivingProcessRescuesTheJobsOfAKilledSiblingWithoutWaitingForItsLeases() async throws {
        let dir = TemporaryDirectory()
        let database = dir.file()
        let log = dir.file("executions.log")
        _ = try await TestWorkerProcess.run(["submit", "--database", database, "--groups", "100", "--followers", "4"], in: dir, name: "submit")
        // The rescuer looks every half lease (2 s); the leases, renewed every third of one, would run out 2.7–4 s after the kill.
        let work = [
            "work", "--database", database, "--log", log, "--primer-workers", "1", "--follower-workers", "3", "--lease-ms", "4000",
            "--min-sleep-ms", "2", "--max-sleep-ms", "20", "--await-peers", "2",
        ]
        let victim = try TestWorkerProcess(work, in: dir, name: "victim")
        let survivor = try TestWorkerProcess(work, in: dir, name: "survivor")
        try await require("both processes to run jobs") {
            let runs = try Execution.read(log)
            return runs.filter { $0.pid == victim.pid }.count >= 20 && runs.contains { $0.pid == survivor.pid }
        }
        victim.kill()
        let killedAt = victim.killedAt!.timeIntervalSince1970
        #expect(try await victim.waitForExit(timeout: .seconds(10)) == .signal(SIGKILL))
        let exit = try await survivor.waitForExit(timeout: .seconds(60))
        #expect(exit == .status(0), "survivor: \(survivor.stderr)")

        let audit = try await RunAudit.load(database: database, log: log)
        #expect(audit.jobs.count == 500)
        Self.expectEachJobSucceededOnce(audit, killed: [victim])
        #expect(audit.workers.first { $0.pid == survivor.pid }?.stopReason == "shutdown")
        let victimWorker = try #require(audit.workerByPid[victim.pid])
        let rescued = Set(audit.attempts.filter { $0.value.contains { $0.outcome == "abandoned" } }.keys.map(\.rawValue))
        let firstRescuedRun = audit.executions.filter { $0.pid == survivor.pid && rescued.contains($0.job) }.map(\.at).min()
        print(
            """
            CrashTests: sibling killed holding \(audit.abandonedByWorker[victimWorker, default: 0]) jobs; the survivor re-ran the first \
            \(firstRescuedRun.map { String(format: "%.0f ms", ($0 - killedAt) * 1000) } ?? "never") after the kill \
            (rescue pass every 2 s, leases 4 s)
            """
        )
    }

    /// The invariants of any run, killed or not: every job and group succeeded; each job's attempts are 1…n, all
    /// abandoned by killed processes but the last, which succeeded; every run in the log matches an attempt row of
    /// the worker of the process that logged it, no attempt ran twice and every success was logged, so a job's
    /// extra runs are exactly its abandoned attempts that got to run; followers started after their primer
    /// succeeded; and each killed process that registered is recorded as lost.
    static func expectEachJobSucceededOnce(_ audit: RunAudit, killed: [TestWorkerProcess]) {
        #expect(audit.unfinishedJobs.isEmpty, "jobs not succeeded: \(audit.unfinishedJobs.prefix(10))")
        #expect(audit.groups.allSatisfy { $0.state == .succeeded && $0.jobsFinished == $0.jobsTotal })
        #expect(audit.jobsWithBadAttempts.isEmpty, "attempts not 1…n, abandoned then one success: \(audit.jobsWithBadAttempts.prefix(10))")
        #expect(audit.followersStartedEarly.isEmpty, "followers started before their primer succeeded: \(audit.followersStartedEarly.prefix(10))")
        #expect(audit.unexplainedExecutions.isEmpty, "runs without a matching attempt: \(audit.unexplainedExecutions.prefix(10))")
        #expect(audit.attemptsRunTwice.isEmpty, "attempts run twice: \(audit.attemptsRunTwice.prefix(10))")
        #expect(audit.successesWithoutExecution.isEmpty, "successes never executed: \(audit.successesWithoutExecution.prefix(10))")

        let killedWorkers = Set(killed.compactMap { audit.workerByPid[$0.pid] })
        #expect(Set(audit.abandonedByWorker.keys).isSubset(of: killedWorkers), "abandoned by: \(audit.abandonedByWorker)")
        for child in killed {
            guard let row = audit.workers.first(where: { $0.pid == child.pid }) else { continue }  // killed before it registered
            // A kill that lands after a graceful shutdown committed (all work done, process exiting) leaves
            // 'shutdown', and then nothing of the worker can have been abandoned.
            let cleanExit = row.stopReason == "shutdown" && audit.abandonedByWorker[row.id] == nil
            #expect((row.stopReason == "lost" || cleanExit) && row.stoppedAt != nil, "killed worker \(row.id): \(row)")
            // Rescued after the kill, never while the process lived.
            let killedAt = child.killedAt!.timeIntervalSince1970
            let early = audit.attempts.values.joined().filter { $0.worker == row.id && $0.outcome == "abandoned" && $0.finishedAt! < killedAt }
            #expect(early.isEmpty, "attempts of \(row.id) abandoned before it was killed: \(early.prefix(5).map { "\($0.jobID)#\($0.number)" })")
        }
    }

    /// Prints what the test measured; nothing here is asserted.
    private func report(_ audit: RunAudit, killed: [TestWorkerProcess], last: TestWorkerProcess) {
        func milliseconds(_ child: TestWorkerProcess, _ run: Execution?) -> String {
            run.map { String(format: "%.0f ms", ($0.at - child.launchedAt.timeIntervalSince1970) * 1000) } ?? "none"
        }
        let reExecutions = audit.reExecutedJobs.values.reduce(0, +)
        let abandoned = audit.abandonedByWorker.values.reduce(0, +)
        let rescued = Set(audit.attempts.filter { $0.value.contains { $0.outcome == "abandoned" } }.keys.map(\.rawValue))
        let firstRescuedRun = audit.executions.filter { $0.pid == last.pid && rescued.contains($0.job) }.min { $0.at < $1.at }
        print(
            """
            CrashTests: \(audit.jobs.count) jobs, \(killed.count) kills (\(killed.filter { audit.workerByPid[$0.pid] != nil }.count) registered), \
            \(audit.executions.count) executions, \(reExecutions) re-executions (\(String(format: "%.1f", Double(reExecutions) / Double(max(1, killed.count)))) per kill), \
            \(abandoned) abandoned attempts (per killed worker: \(audit.abandonedByWorker.values.sorted()))
            CrashTests: executions per process (killed ones, then the final one): \
            \((killed + [last]).map { child in audit.executions.filter { $0.pid == child.pid }.count })
            CrashTests: launch to first execution per killed process: \(killed.map { milliseconds($0, audit.firstExecution(ofPid: $0.pid)) })
            CrashTests: final process: launch to first execution \(milliseconds(last, audit.firstExecution(ofPid: last.pid))), \
            to first re-execution of a rescued job \(milliseconds(last, firstRescuedRun))
            """
        )
    }
}
