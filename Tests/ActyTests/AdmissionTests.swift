import ActyTestSupport
@testable import Acty
@testable import ActyStore
import Foundation
import GRDB
import Testing

/// Admission control (`maxActiveGroups`): groups past the cap wait in FIFO order in the database, open groups hold
/// their slot until closed, a group blocked by a dependency holds none, and engines sharing a file share one cap.
@Suite(.timeLimit(.minutes(1)))
struct AdmissionTests {
    static func capped(_ cap: Int) -> EngineConfiguration {
        EngineConfiguration(primerWorkers: 2, followerWorkers: 2, maxActiveGroups: cap)
    }

    @Test func groupsPastTheCapWaitAndAreAdmittedInSubmissionOrder() async throws {
        let dir = TemporaryDirectory()
        let gates = KeyedGates()
        let running = GroupGauge()
        for index in 0..<5 { gates.close("g\(index)") }
        try await withEngine(dir, Self.capped(2), executors: [running.executor(gates)]) { engine in
            var submissions: [GroupSubmission] = []
            for index in 0..<5 { submissions.append(try await engine.submitGroup("g\(index)", primer: ["p": 1], followers: [["f": 1]])) }
            #expect(try await admissions(engine, ["g0", "g1", "g2", "g3", "g4"]) == ["admitted", "admitted", "pending", "pending", "pending"])
            #expect(try await engine.store.jobs(inGroup: submissions[2].groupID).allSatisfy { $0.state == .blocked })
            #expect(try await pendingCounter(engine) == (3, 3))

            gates.open("g0")
            try await require("g0 to finish and g2, the oldest waiting, to be admitted") {
                try await admissions(engine, ["g0", "g2", "g3"]) == ["retired", "admitted", "pending"]
            }
            for index in 1..<5 { gates.open("g\(index)") }
            try await expectEveryJobSucceededOnce(submissions, on: engine)

            let events = try await engine.allEvents()
            #expect(events.ofType(.groupAdmitted).map(\.groupKey) == ["g0", "g1", "g2", "g3", "g4"])
            #expect(events.ofType(.groupRetired).count == 5)
            #expect(try await pendingCounter(engine) == (0, 0))
            #expect(!events.ofType(.groupsPending).isEmpty)
            #expect(peakActive(events) <= 2)
            #expect(running.peak <= 2)
            #expect(running.peak >= 1)
        }
    }

    @Test func anOpenGroupHoldsItsSlotUntilItIsClosedAndDone() async throws {
        let dir = TemporaryDirectory()
        try await withEngine(dir, Self.capped(1)) { engine in
            let open = try await engine.openGroup("stream")
            let primer = try await open.submitPrimer(["p": 1])
            #expect(try await primer.boundedResult().status == .succeeded)
            let waiting = try await engine.submitGroup("next", primer: ["p": 2])
            // The open group's jobs are done, but it is not closed: the next group still waits.
            #expect(try await engine.store.group(key: "next")?.admission == "pending")
            #expect(try await engine.store.job(waiting.primer!.id)?.state == .blocked)
            try await open.close()
            #expect(try await waiting.primer!.boundedResult().status == .succeeded)
            #expect(try await engine.store.group(key: "stream")?.admission == "retired")
        }
    }

    @Test func aGroupBlockedByADependencyHoldsNoSlot() async throws {
        let dir = TemporaryDirectory()
        let gates = KeyedGates()
        gates.close("other")
        try await withEngine(dir, Self.capped(1), executors: [gates.executor]) { engine in
            let dependent = try await engine.submitGroup("dependent", primer: ["p": 1], dependsOn: [GroupDependency("dep")])
            let other = try await engine.submitGroup("other", primer: ["p": 2])
            // The blocked group took no slot: `other` was admitted at once.
            #expect(try await admissions(engine, ["dependent", "other"]) == ["pending", "admitted"])
            let dep = try await engine.submitGroup("dep", primer: ["p": 3])
            #expect(try await engine.store.group(key: "dep")?.admission == "pending")
            gates.open("other")
            for submission in [other, dep, dependent] {
                #expect(try await engine.handle(for: submission.primer!.id).boundedResult().status == .succeeded)
            }
            let events = try await engine.allEvents()
            #expect(events.ofType(.groupAdmitted).map(\.groupKey) == ["other", "dep", "dependent"])
            #expect(try await pendingCounter(engine) == (0, 0))
            #expect(peakActive(events) <= 1)
        }
    }

    @Test func pendingGroupsSurviveARestartAndRunInOrder() async throws {
        let dir = TemporaryDirectory()
        let submissions = try await {
            let engine = try await makeEngine(dir, Self.capped(1), runsInBackground: false)
            var submissions: [GroupSubmission] = []
            for key in ["a", "b", "c"] { submissions.append(try await engine.submitGroup(key, primer: ["p": .string(key)])) }
            try await engine.boundedShutdown()
            return submissions
        }()
        let store = try Store(.file(dir.file()))
        #expect(try await ["a", "b", "c"].asyncMap { try await store.group(key: $0)?.admission } == ["admitted", "pending", "pending"])
        try await store.close()
        try await withEngine(dir, Self.capped(1)) { engine in
            try await expectEveryJobSucceededOnce(submissions, on: engine)
            let events = try await engine.allEvents()
            #expect(events.ofType(.groupAdmitted).map(\.groupKey) == ["a", "b", "c"])
            #expect(peakActive(events) <= 1)
        }
    }

    @Test func twoEnginesOnOneFileRespectOneCap() async throws {
        let dir = TemporaryDirectory()
        let running = GroupGauge()
        let gates = KeyedGates()
        let configuration = Self.capped(2)
        let first = try await makeEngine(dir, configuration, executors: [running.executor(gates)])
        do {
            try await withEngine(dir, configuration, executors: [running.executor(gates)]) { second in
                var submissions: [GroupSubmission] = []
                for index in 0..<8 {
                    let engine = index.isMultiple(of: 2) ? first : second
                    submissions.append(try await engine.submitGroup("g\(index)", primer: ["p": 1], followers: [["f": 1], ["f": 2]]))
                }
                try await expectEveryJobSucceededOnce(submissions, on: second)
                let events = try await second.allEvents()
                #expect(events.ofType(.groupAdmitted).map(\.groupKey) == (0..<8).map { "g\($0)" })
                #expect(peakActive(events) <= 2)
                #expect(running.peak <= 2)
            }
            try await first.boundedShutdown()
        } catch {
            try? await first.boundedShutdown()
            throw error
        }
    }

    @Test func aCancelledPendingGroupLeavesTheQueue() async throws {
        let dir = TemporaryDirectory()
        let gates = KeyedGates()
        gates.close("first")
        try await withEngine(dir, Self.capped(1), executors: [gates.executor]) { engine in
            let first = try await engine.submitGroup("first", primer: ["p": 1])
            let cancelled = try await engine.submitGroup("cancelled", primer: ["p": 2])
            let last = try await engine.submitGroup("last", primer: ["p": 3])
            #expect(try await engine.cancelGroup("cancelled"))
            #expect(try await engine.handle(for: cancelled.primer!.id).boundedResult().status == .cancelled)
            gates.open("first")
            for submission in [first, last] {
                #expect(try await engine.handle(for: submission.primer!.id).boundedResult().status == .succeeded)
            }
            let events = try await engine.allEvents()
            #expect(events.ofType(.groupAdmitted).map(\.groupKey) == ["first", "last"])
            #expect(try await pendingCounter(engine) == (0, 0))
        }
    }

    @Test func aBurstAdmitsMoreGroupsWhileFewJobsAreReady() async throws {
        let dir = TemporaryDirectory()
        let gates = KeyedGates()
        let running = GroupGauge()
        for index in 0..<3 { gates.close("g\(index)") }
        let configuration = EngineConfiguration(primerWorkers: 2, followerWorkers: 2, maxActiveGroups: 1, burstAllowance: 1)
        try await withEngine(dir, configuration, executors: [running.executor(gates)]) { engine in
            var submissions: [GroupSubmission] = []
            for index in 0..<3 { submissions.append(try await engine.submitGroup("g\(index)", primer: ["p": 1])) }
            // Four idle workers and at most one ready job: the burst is on, and the cap 1 + 1.
            try await require("the burst to admit a second group") { try await admissions(engine, ["g0", "g1"]) == ["admitted", "admitted"] }
            #expect(try await engine.store.group(key: "g2")?.admission == "pending")
            for index in 0..<3 { gates.open("g\(index)") }
            try await expectEveryJobSucceededOnce(submissions, on: engine)
            let events = try await engine.allEvents()
            #expect(events.ofType(.burstOn).count == 1)
            let capChanged = try #require(events.ofType(.capChanged).first?.data.map { try JSONValue(jsonString: $0) })
            #expect(capChanged["cap"] == 2)
            #expect(capChanged["base_cap"] == 1)
            #expect(peakActive(events) <= 2)
            #expect(running.peak <= 2)
        }
    }

    @Test func aGroupRetriedByHandHoldsASlotAgainUntilItFinishes() async throws {
        let dir = TemporaryDirectory()
        try await withEngine(dir, Self.capped(1), executors: [failingOnRequest()]) { engine in
            let failed = try await engine.submitGroup("failed", primer: ["fail": true], executor: "work")
            #expect(try await engine.handle(for: failed.primer!.id).boundedResult().status == .failed)
            #expect(try await engine.store.group(key: "failed")?.admission == "retired")
            #expect(try await engine.retryFailedJobs(inGroup: "failed") == 1)
            try await require("the retried group to finish and give its slot back") {
                try await engine.store.group(key: "failed")?.finishedAt != nil
            }
            #expect(try await engine.store.group(key: "failed")?.admission == "retired")
            let next = try await engine.submitGroup("next", primer: ["p": 1], executor: "work")
            #expect(try await engine.handle(for: next.primer!.id).boundedResult().status == .succeeded)
            let events = try await engine.allEvents()
            #expect(events.ofType(.groupRetired).map(\.groupKey) == ["failed", "failed", "next"])
        }
    }

    @Test func withoutACapNothingIsRecorded() async throws {
        let dir = TemporaryDirectory()
        try await withEngine(dir) { engine in
            let submission = try await engine.submitGroup("plain", primer: ["p": 1], followers: [["f": 1]])
            try await expectEveryJobSucceededOnce([submission], on: engine)
            #expect(try await engine.store.group(key: "plain")?.admission == nil)
            let types = Set(try await engine.allEvents().map(\.type))
            #expect(types.isDisjoint(with: [EventType.groupAdmitted, .groupsPending, .groupRetired].map(\.rawValue)))
        }
    }

    @Test func theCapMustBePositive() async throws {
        let dir = TemporaryDirectory()
        await expectError(.invalidArgument) { try await makeEngine(dir, EngineConfiguration(maxActiveGroups: 0)) }
        await expectError(.invalidArgument) { try await makeEngine(dir, EngineConfiguration(maxActiveGroups: 1, burstAllowance: -1)) }
    }
}

/// Whether the counter of pending groups (`admission_state.pending`) agrees with the groups, and what it says.
private func pendingCounter(_ engine: ActyEngine) async throws -> (counted: Int, kept: Int) {
    try await engine.store.database.read { db in
        let counted = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM groups WHERE admission = 'pending'") ?? 0
        let kept = try Int.fetchOne(db, sql: "SELECT pending FROM admission_state WHERE id = 1") ?? 0
        return (counted, kept)
    }
}

/// The admission state of the newest group of each key.
private func admissions(_ engine: ActyEngine, _ keys: [String]) async throws -> [String?] {
    try await keys.asyncMap { try await engine.store.group(key: $0)?.admission }
}

/// The most groups active at once according to the `active` count of admission events.
private func peakActive(_ events: [EventRecord]) -> Int {
    events.ofType(.groupAdmitted).compactMap { event -> Int? in
        let data: JSONValue? = try? JSONValue(jsonString: event.data ?? "")
        return data?["active"]?.intValue
    }.max() ?? 0
}

/// Counts the groups that have a job running at once, across executors (and engines) that share it.
final class GroupGauge: Sendable {
    private let state = Locked<(running: [String: Int], peak: Int)>(([:], 0))

    var peak: Int { state.withLock { $0.peak } }

    /// An executor named `keyed` that holds jobs of gated groups (see ``KeyedGates``) and counts running groups.
    func executor(_ gates: KeyedGates) -> ClosureExecutor {
        let inner = gates.executor
        return ClosureExecutor(name: "keyed") { [self] job in
            state.withLock { state in
                state.running[job.groupKey, default: 0] += 1
                state.peak = max(state.peak, state.running.count)
            }
            defer {
                state.withLock { state in
                    state.running[job.groupKey, default: 1] -= 1
                    if state.running[job.groupKey] == 0 { state.running[job.groupKey] = nil }
                }
            }
            return try await inner.execute(job)
        }
    }
}
