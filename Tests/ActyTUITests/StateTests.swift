import Acty
import ActyCore
import ActyStore
import ActyTestSupport
import ActyTUI
import Foundation
import Testing

/// The state layer: events in, a value model out. Expected numbers come from the files themselves (`jq` over the
/// Python log; `ReadOnlyStore.summary()` for an engine-written database).
@Suite(.timeLimit(.minutes(1)))
struct StateTests {
    @Test func pythonActyLogGivesTheRunsTotalsLanesPoolsAndGroups() throws {
        let state = try RunLog.state(of: Fixture.pythonRun)
        // jq: 159 distinct job_queued ids; 152 job_succeeded, 7 job_failed (6 followers, 1 primer).
        #expect(state.jobsTotal == 159)
        #expect(state.total(.succeeded) == 152)
        #expect(state.total(.failed) == 7)
        #expect(state.total(.running) == 0 && state.total(.ready) == 0)
        // run_finished's own counters: started 159, requeued 134; 34 tenacity job_retrying.
        #expect(state.started == 159 && state.finished == 159)
        #expect(state.requeued == 134 && state.retried == 34)
        #expect(state.applied == 854 && state.badLines == 0 && state.unknownTypes.isEmpty)
        // Lanes from run_started; starts by payload.lane.
        #expect(state.lanes["priority"]?.weight == 2 && state.lanes["background"]?.weight == 1)
        #expect(state.lanes["background"]?.starts == 92 && state.lanes["priority"]?.starts == 67)
        #expect(state.lanes["background"]?.count(.failed) ?? 0 > 0)
        // Pools from pool_configs, all idle at the end; the run has finished.
        let engine = "86c95cbcdcf84ac2bd5685c8c162ccc3"
        #expect(state.pools["\(engine)/primer"]?.size == 2 && state.pools["\(engine)/follower"]?.size == 4)
        #expect(state.pools.values.allSatisfy { $0.busy == 0 && $0.stealing == 0 })
        #expect(state.engines[engine]?.alive == false)
        // 40 groups: 39 group_done ok, background:g34 failed by its primer.
        #expect(state.groupOutcomes == ["succeeded": 39, "failed": 1])
        let doomed = try #require(state.groups["background:g34"])
        #expect(doomed.state == "failed" && doomed.primer == "failed")
        // Followers counted after their group's group_done (Python reports them later): 113 succeeded, 6 failed.
        #expect(state.groups.values.map(\.followersDone).reduce(0, +) == 113)
        #expect(state.groups.values.map(\.followersFailed).reduce(0, +) == 6)
        #expect(state.groups.values.map(\.followers).reduce(0, +) == 119)
        // 34 retried attempts and 7 final failures, newest last, messages from the payload.
        let failures = state.failures.elements
        #expect(failures.count == 41 && failures.filter { !$0.retried }.count == 7)
        #expect(failures.contains { $0.message == "rate limited (429), try again" })
    }

    @Test func pythonAdmissionBurstStatsAndWarmDelayAreKept() throws {
        let state = try RunLog.state(of: Fixture.pythonAdmission)
        #expect(state.unknownTypes.isEmpty && state.badLines == 0 && state.applied == 48)
        // groups_pending's last payload, burst_on/cap_changed's last payload, and the admitted/retired counts.
        let admission = try #require(state.admission)
        #expect(admission.active == 2 && admission.pending == 0 && admission.cap == 2 && admission.baseCap == 1)
        #expect(admission.burst && admission.runnable == 0 && admission.lowWatermark == 3)
        #expect(admission.admitted == 3 && admission.retired == 1)
        // The last runtime_stats.
        let stats = try #require(state.runtimeStats)
        #expect(stats.queueDepth == 0 && stats.inflightWorkers == 1 && stats.groupsByState["FOLLOWERS_READY"] == 1)
        // C is in its warm delay, A's ended; B failed by its primer, whose message is kept over group_failed's cause.
        #expect(state.groups["C"]?.warming == true && state.groups["A"]?.warming == false)
        #expect(state.groups["B"]?.state == "failed" && state.groups["B"]?.lastError == "bad output again")
        #expect(state.groups["A"]?.lastError == "specialist could not answer: 0")
        // One work-steal deferral; a core retry queues a new job and leaves the failed one finished.
        #expect(state.requeued == 1 && state.lanes["default"]?.deferrals == 1)
        #expect(state.retried == 2 && state.jobs["B:primer:2"] == nil)
        #expect(state.total(.failed) == 3 && state.total(.running) == 1 && state.total(.succeeded) == 2)
        #expect(state.jobs["A:follower:5"]?.retries.count == 1)
    }

    @Test func badLinesAndUnknownTypesAreCountedNotFatal() throws {
        let lines = [
            #"{"schema_version": 1, "run_id": "r", "seq": 1, "ts": 10.0, "type": "group_activated", "payload": null, "job_id": null, "group_id": "g", "follower_id": null, "pool": null, "kind": null}"#,
            "not json",
            "",
            #"{"seq": 2, "ts": 10.5, "type": "from_the_future", "payload": {"x": 1}}"#,
            #"[1, 2]"#,
            #"{"seq": 3, "ts": 11, "type": "job_queued", "job_id": 7, "group_id": "g", "kind": "primer", "payload": {"lane": "l"}}"#,
        ]
        let contents = RunLog.parseJSONL(Data(lines.joined(separator: "\n").utf8))
        #expect(contents.events.count == 3 && contents.badLines == 2)
        var state = DashboardState()
        for event in contents.events { state.apply(event) }
        #expect(state.unknownTypes == ["from_the_future": 1])
        #expect(state.jobs["7"]?.phase == .ready && state.lanes["l"]?.count(.ready) == 1)
        #expect(state.groups["g"]?.primer == "pending")
    }

    @Test func missingFileAndNonEventFileGiveClearErrors() throws {
        let folder = TemporaryDirectory()
        #expect(throws: ActyError.self) { try RunLog.load(folder.file("missing.db")) }
        let junk = folder.file("junk.txt")
        try Data("hello\nworld\n".utf8).write(to: URL(fileURLWithPath: junk))
        let error = try #require(throws: ActyError.self) { try RunLog.load(junk) }
        #expect(error.message.contains("neither an Acty database nor a JSONL event log"))
    }

    @Test func engineDatabaseStateMatchesTheStoresSummary() async throws {
        let folder = TemporaryDirectory()
        let path = try await EngineRun.make(in: folder)
        let state = try RunLog.state(of: path)
        #expect(StoreCounts.totals(state) == (try StoreCounts.jobs(path)))
        #expect(state.groupOutcomes == (try StoreCounts.groups(path)))
        #expect(state.engines.count == 1 && state.engines.values.allSatisfy { !$0.alive && $0.pid != nil })
        #expect(state.lanes["fast"]?.weight == 3 && state.lanes["slow"]?.maxInflight == 2)

        // The same events through our JSONL envelope give the same state.
        let lines = try RunLog.events(ofDatabaseAt: path).map { $0.jsonlLine() }.joined(separator: "\n")
        var replayed = DashboardState()
        for event in RunLog.parseJSONL(Data(lines.utf8)).events { replayed.apply(event) }
        #expect(replayed.totals == state.totals && replayed.groupOutcomes == state.groupOutcomes)
        #expect(replayed.lanes == state.lanes)
    }
}

enum Fixture {
    /// Python acty's own JSONL log of a small run (two lanes, tenacity retries, one failed primer).
    static let pythonRun = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/python-run-a.jsonl").path
    /// A log in Python acty's envelope with the events run-a lacks (admission, burst, runtime_stats, a core retry, a
    /// group left in its warm delay), written by hand after the payloads of acty-python-semantics.md §2.5, §2.6
    /// and §5.2: the run is cut off mid-way, so an engine is alive and jobs still run.
    static let pythonAdmission = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/python-admission.jsonl").path
}

/// Jobs and groups by state as the store's summary counts them (what `acty-query summary` prints), and a state's
/// totals in the same form.
enum StoreCounts {
    static func jobs(_ path: String) throws -> [String: Int] { try summary(path, "jobs_by_state") }
    static func groups(_ path: String) throws -> [String: Int] { try summary(path, "groups_by_state") }

    static func summary(_ path: String, _ name: String) throws -> [String: Int] {
        let table = try #require(try Store.openReadOnly(path).summary().first { $0.0 == name }?.1)
        var counts: [String: Int] = [:]
        for row in table.rows { counts[row[0].stringValue!] = row[1].intValue! }
        return counts
    }

    /// The state's totals by state name, phases with no job left out.
    static func totals(_ state: DashboardState) -> [String: Int] {
        var counts: [String: Int] = [:]
        for phase in DashboardState.Phase.allCases where state.total(phase) > 0 { counts[phase.name] = state.total(phase) }
        return counts
    }
}

/// A database written by a real engine: succeeded, failed and retried jobs in two lanes (every job has two attempts,
/// 10 ms apart), one group whose primer fails; the engine is shut down before the test reads it.
enum EngineRun {
    struct Planned: Error {}

    static func make(in folder: TemporaryDirectory, groups: Int = 6, path: String? = nil) async throws -> String {
        let path = path ?? folder.file()
        let engine = try await ActyEngine(
            database: .file(path),
            configuration: EngineConfiguration(lanes: ["fast": LaneConfiguration(weight: 3), "slow": LaneConfiguration(weight: 1, maxInflight: 2)]),
            executors: [ClosureExecutor(name: "work") { job in
                if job.payload["fail"]?.boolValue == true { throw Planned() }
                return job.payload
            }]
        )
        do {
            var handles: [GroupSubmission] = []
            for index in 0..<groups {
                let followers: [JSONValue] = (0..<4).map { ["n": .number(Double($0)), "fail": .bool($0 == 3 && index % 2 == 0)] }
                handles.append(try await engine.submitGroup(
                    "g\(index)", primer: ["fail": .bool(index == 1)], followers: followers, lane: index % 2 == 0 ? "fast" : "slow",
                    options: GroupOptions(retryPolicy: RetryPolicy(maxAttempts: 2, initialDelay: .milliseconds(10)))
                ))
            }
            for handle in handles { for job in handle.jobs { _ = try? await job.result() } }
        } catch {
            try await engine.shutdown()
            throw error
        }
        try await engine.shutdown()
        return path
    }
}
