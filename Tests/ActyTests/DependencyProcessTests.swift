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

/// A chain of dependent groups (`acty-test-worker submit --chain`) run by real engine processes: two sharing the
/// file, and one killed with SIGKILL in the middle of the chain.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct DependencyProcessTests {
    private static let groups = 40
    /// More followers per group than one process has workers: the other process takes some.
    private static let followers = 6

    private static func submitChain(_ dir: TemporaryDirectory) async throws -> (database: String, log: String) {
        let database = dir.file()
        _ = try await TestWorkerProcess.run(
            ["submit", "--database", database, "--groups", "\(groups)", "--followers", "\(followers)", "--chain"], in: dir, name: "submit"
        )
        return (database, dir.file("executions.log"))
    }

    private static func work(_ database: String, _ log: String, peers: Int) -> [String] {
        [
            "work", "--database", database, "--log", log, "--primer-workers", "1", "--follower-workers", "3", "--lease-ms", "5000",
            "--min-sleep-ms", "5", "--max-sleep-ms", "20", "--await-peers", "\(peers)",
        ]
    }

    @Test func twoProcessesRunAChainInOrderAndEachJobOnce() async throws {
        let dir = TemporaryDirectory()
        let (database, log) = try await Self.submitChain(dir)
        let children = try (0..<2).map { try TestWorkerProcess(Self.work(database, log, peers: 2), in: dir, name: "work-\($0)") }
        for child in children {
            let exit = try await child.waitForExit(timeout: .seconds(60))
            #expect(exit == .status(0), "pid \(child.pid): \(child.stderr)")
        }
        let audit = try await RunAudit.load(database: database, log: log)
        #expect(audit.jobs.count == Self.groups * (1 + Self.followers))
        CrashTests.expectEachJobSucceededOnce(audit, killed: [])
        #expect(audit.executions.count == audit.jobs.count, "without kills every job runs once")
        let early = audit.jobsStartedBeforeTheirDependency
        #expect(early.isEmpty, "started before their dependency finished: \(early.prefix(10))")
        let attemptsPerWorker = audit.attempts.values.joined().reduce(into: [String: Int]()) { $0[$1.worker, default: 0] += 1 }
        #expect(attemptsPerWorker.count == 2, "both processes run jobs of the chain: \(attemptsPerWorker)")
        print("DependencyProcessTests: attempts per process \(attemptsPerWorker.values.sorted())")
    }

    @Test func aProcessKilledInTheMiddleOfAChainLeavesItForTheNextToFinishInOrder() async throws {
        let dir = TemporaryDirectory()
        let (database, log) = try await Self.submitChain(dir)
        let victim = try TestWorkerProcess(Self.work(database, log, peers: 0), in: dir, name: "victim")
        // Kill once a third of the chain ran: the victim then most likely holds jobs of the group in progress.
        try await require("the victim to run a third of the chain", timeout: .seconds(30)) {
            try Execution.read(log).count >= Self.groups * (1 + Self.followers) / 3 || victim.ended != nil
        }
        victim.kill()
        #expect(try await victim.waitForExit(timeout: .seconds(10)) == .signal(SIGKILL), "the chain outlasts a third of it")
        let killed = [victim]
        let last = try TestWorkerProcess(Self.work(database, log, peers: 0), in: dir, name: "final")
        #expect(try await last.waitForExit(timeout: .seconds(60)) == .status(0), "final: \(last.stderr)")

        let audit = try await RunAudit.load(database: database, log: log)
        #expect(audit.jobs.count == Self.groups * (1 + Self.followers))
        CrashTests.expectEachJobSucceededOnce(audit, killed: killed)
        let early = audit.jobsStartedBeforeTheirDependency
        #expect(early.isEmpty, "started before their dependency finished: \(early.prefix(10))")
        let blocked = audit.groups.filter { $0.dependenciesWaiting > 0 }
        #expect(blocked.isEmpty, "groups still counting waiting dependencies: \(blocked.map(\.key))")
    }
}
