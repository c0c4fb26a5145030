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

/// Admission across real engine processes: groups submitted past the cap wait in the file, an engine process killed
/// with SIGKILL while holding slots leaves them to the next, and the cap holds throughout.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct AdmissionProcessTests {
    private static let groups = 24
    private static let followers = 3
    private static let cap = 3

    private static func work(_ database: String, _ log: String) -> [String] {
        [
            "work", "--database", database, "--log", log, "--primer-workers", "2", "--follower-workers", "4", "--lease-ms", "3000",
            "--min-sleep-ms", "5", "--max-sleep-ms", "20", "--max-active-groups", "\(cap)",
        ]
    }

    @Test func aProcessKilledWhileHoldingSlotsLeavesThemToTheNextAndTheCapHolds() async throws {
        let dir = TemporaryDirectory()
        let database = dir.file()
        let log = dir.file("executions.log")
        _ = try await TestWorkerProcess.run(
            ["submit", "--database", database, "--groups", "\(Self.groups)", "--followers", "\(Self.followers)", "--max-active-groups", "\(Self.cap)"],
            in: dir, name: "submit"
        )
        let store = try Store(.file(database))
        let submitted = try await (0..<Self.groups).asyncMap { try await store.group(key: "crash-\($0)")?.admission }
        #expect(submitted.count(where: { $0 == "admitted" }) == Self.cap)
        #expect(submitted.count(where: { $0 == "pending" }) == Self.groups - Self.cap)
        try await store.close()

        let victim = try TestWorkerProcess(Self.work(database, log), in: dir, name: "victim")
        try await require("the victim to run a third of the jobs", timeout: .seconds(30)) {
            try Execution.read(log).count >= Self.groups * (1 + Self.followers) / 3 || victim.ended != nil
        }
        victim.kill()
        #expect(try await victim.waitForExit(timeout: .seconds(10)) == .signal(SIGKILL), "the run outlasts a third of it")
        let last = try TestWorkerProcess(Self.work(database, log), in: dir, name: "final")
        #expect(try await last.waitForExit(timeout: .seconds(60)) == .status(0), "final: \(last.stderr)")

        let audit = try await RunAudit.load(database: database, log: log)
        #expect(audit.jobs.count == Self.groups * (1 + Self.followers))
        CrashTests.expectEachJobSucceededOnce(audit, killed: [victim])
        let reader = try Store(.file(database))
        let events = try await reader.events(after: 0, limit: 1_000_000)
        let admitted = events.filter { $0.type == EventType.groupAdmitted.rawValue }
        #expect(admitted.count == Self.groups)
        let active = admitted.compactMap { event -> Int? in
            let data: JSONValue? = try? JSONValue(jsonString: event.data ?? "")
            return data?["active"]?.intValue
        }
        #expect(active.count == Self.groups && active.allSatisfy { $0 <= Self.cap }, "\(active)")
        // Submission order: pending groups are admitted oldest first (ids follow the submission transactions).
        let admittedIDs = admitted.compactMap(\.groupID).map(\.rawValue)
        #expect(admittedIDs.dropFirst(Self.cap) == admittedIDs.dropFirst(Self.cap).sorted()[...], "\(admittedIDs)")
        let left = try await (0..<Self.groups).asyncMap { try await reader.group(key: "crash-\($0)")?.admission }
        #expect(left.allSatisfy { $0 == "retired" }, "\(left)")
        try await reader.close()
    }
}
