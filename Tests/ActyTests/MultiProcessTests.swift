import Acty
@testable import ActyStore
import ActyTestSupport
import Foundation
import GRDB
import Testing

/// Several engine processes on one database file at the same time.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct MultiProcessTests {
    @Test func twoProcessesShareTheWorkAndRunEachJobOnce() async throws {
        let dir = TemporaryDirectory()
        let database = dir.file()
        let log = dir.file("executions.log")
        _ = try await TestWorkerProcess.run(["submit", "--database", database, "--groups", "60", "--followers", "4"], in: dir, name: "submit")
        // Each process holds its executor runs until both are registered, so that neither can finish the work
        // alone; the long lease keeps a process stalled by a busy machine from being rescued while it lives.
        let work = [
            "work", "--database", database, "--log", log, "--primer-workers", "1", "--follower-workers", "3", "--lease-ms", "30000",
            "--min-sleep-ms", "1", "--max-sleep-ms", "10", "--await-peers", "2",
        ]
        let children = try (0..<2).map { try TestWorkerProcess(work, in: dir, name: "work-\($0)") }
        for child in children {
            let exit = try await child.waitForExit(timeout: .seconds(60))
            #expect(exit == .status(0), "pid \(child.pid): \(child.stderr)")
            #expect(!child.stderr.contains("locked"), "pid \(child.pid): \(child.stderr)")
        }

        let audit = try await RunAudit.load(database: database, log: log)
        #expect(audit.jobs.count == 300)
        #expect(audit.unfinishedJobs.isEmpty, "jobs not succeeded: \(audit.unfinishedJobs.prefix(10))")
        #expect(audit.groups.allSatisfy { $0.state == .succeeded })
        #expect(audit.jobs.allSatisfy { $0.attempts == 1 }, "jobs with more than one attempt: \(audit.jobs.filter { $0.attempts != 1 }.map(\.id).prefix(10))")
        #expect(audit.jobsWithBadAttempts.isEmpty)
        #expect(audit.executions.count == audit.jobs.count, "without kills every job runs once")
        #expect(audit.reExecutedJobs.isEmpty, "re-executed: \(audit.reExecutedJobs.keys.sorted().prefix(10))")
        #expect(audit.unexplainedExecutions.isEmpty)
        #expect(audit.followersStartedEarly.isEmpty)

        let workers = children.compactMap { audit.workerByPid[$0.pid] }
        #expect(workers.count == 2)
        let attemptsPerWorker = audit.attempts.values.joined().reduce(into: [String: Int]()) { $0[$1.worker, default: 0] += 1 }
        for worker in workers {
            #expect(attemptsPerWorker[worker, default: 0] > 0, "worker \(worker) ran no job: \(attemptsPerWorker)")
        }
        #expect(audit.workers.allSatisfy { $0.stopReason == "shutdown" }, "\(audit.workers)")
        print("MultiProcessTests: attempts per process \(attemptsPerWorker.values.sorted())")
    }

    /// Opening a file whose lock another process holds for a moment (recovering the WAL of a killed process, or
    /// checkpointing it on close) waits up to the busy timeout. The read-only connection that checks the schema
    /// once failed at once with "database is locked" when two processes started together after a kill.
    @Test func openingTheFileWaitsForAnotherConnectionsLockInsteadOfFailing() async throws {
        let dir = TemporaryDirectory()
        let path = dir.file()
        try await Store(.file(path)).close()
        var configuration = Configuration()
        configuration.prepareDatabase { try $0.execute(sql: "PRAGMA locking_mode = EXCLUSIVE") }
        let holder = try DatabaseQueue(path: path, configuration: configuration)
        // In exclusive locking mode the connection keeps the lock its first write took until it closes.
        try holder.inDatabase { try $0.execute(sql: "BEGIN EXCLUSIVE; UPDATE lanes SET weight = weight; COMMIT") }

        let opened = Recorder<Result<Void, any Error>>()
        Thread.detachNewThread {
            opened.append(Result { try Store(.file(path), busyTimeout: .seconds(20)).close() })
        }
        // The lock is held this long on purpose: the store must still be waiting, not have failed.
        try await Task.sleep(for: .milliseconds(300))
        #expect(opened.count == 0, "the store gave up while the lock was held: \(opened.values)")
        try holder.close()
        try await require("the store to open once the lock is released") { opened.count > 0 }
        try opened.values[0].get()
    }
}
