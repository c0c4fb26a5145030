import Acty
import ActyCore
import ActyStore
import ActyTestSupport
import ActyTUI
import Foundation
import Testing

/// The state layer follows group dependencies: blocked groups, their release, and dependencies that failed.
@Suite(.timeLimit(.minutes(1)))
struct DependencyStateTests {
    @Test func blockedUnblockedAndFailedDependenciesFromAnEngineDatabase() async throws {
        let folder = TemporaryDirectory()
        let path = try await Self.dependencyRun(in: folder)

        let state = try RunLog.state(of: path)
        #expect(StoreCounts.totals(state) == (try StoreCounts.jobs(path)))
        // Finished groups only: the blocked one is still `closed`.
        #expect(state.groupOutcomes == (try StoreCounts.groups(path)).filter { $0.key != "closed" })
        #expect(try StoreCounts.groups(path)["closed"] == 1)
        #expect(state.total(.blocked) == 2, "the waiting group's primer and follower")
        #expect(state.groups["waiting"]?.isBlocked == true)
        #expect(state.groups["waiting"]?.waitingFor == ["never"])
        #expect(state.groups["notes"]?.isBlocked == false && state.groups["notes"]?.state == "succeeded")
        #expect(state.groups["doomed"]?.state == "failed")
        #expect(state.groups["doomed"]?.lastError == "dependency 'broken' failed")
        #expect(state.dependencyFailures == 1)
        let text = View.render(state, ViewContext(title: "deps"), width: 160, height: 30).plainText
        #expect(text.contains("1 blocked") && text.contains("dependencies failed 1"), "\(text)")
    }

    /// As `FollowTests.aLateStartAtAnyPointEndsWithTheWholeLogsCounts`, on a run with dependencies: the jobs of
    /// blocked groups a late start has not seen leave the blocked count when they are released or failed.
    @Test func aLateStartAtAnyPointOfADependencyRunEndsWithTheWholeLogsCounts() async throws {
        let folder = TemporaryDirectory()
        let events = try RunLog.events(ofDatabaseAt: try await Self.dependencyRun(in: folder)).map(TUIEvent.init)
        var whole = DashboardState()
        for event in events { whole.apply(event) }
        var before = DashboardState()
        for cut in events.indices {
            var late = DashboardState()
            late.inferPriorPhases = true
            for event in events[max(0, cut - 5)..<cut] { late.apply(event) }
            var jobsByState: [String: Int] = [:]
            for phase in DashboardState.Phase.allCases { jobsByState[phase.name] = before.total(phase) }
            var blockedByGroup: [String: Int] = [:]
            for job in before.jobs.values where job.phase == .blocked { blockedByGroup[job.group!, default: 0] += 1 }
            late.seed(
                jobsByState: jobsByState, groupsByState: before.groupOutcomes, lanes: Array(before.lanes.values),
                blockedByGroup: blockedByGroup, scheduledJobs: before.jobs.values.filter { $0.phase == .scheduled }.map(\.id)
            )
            for event in events[cut...] { late.apply(event) }
            #expect(late.totals == whole.totals, "seeded before event \(cut): \(events[cut].type)")
            before.apply(events[cut])
        }
    }

    /// Blocked, released and failed dependencies: `waiting` waits for a key never submitted, `notes` for `review`
    /// (submitted after it), `doomed` requires the success of `broken`, whose primer fails.
    static func dependencyRun(in folder: TemporaryDirectory) async throws -> String {
        let path = folder.file()
        let engine = try await ActyEngine(
            database: .file(path),
            executors: [ClosureExecutor(name: "work") { job in
                if job.payload["fail"]?.boolValue == true { throw EngineRun.Planned() }
                return job.payload
            }]
        )
        do {
            _ = try await engine.submitGroup("waiting", primer: "p", followers: ["f"], dependsOn: [GroupDependency("never")])
            let notes = try await engine.submitGroup("notes", primer: "p", followers: ["f"], dependsOn: [GroupDependency("review")])
            let doomed = try await engine.submitGroup("doomed", primer: "p", dependsOn: [GroupDependency("broken", policy: .requireSuccess)])
            _ = try await engine.submitGroup("review", primer: "p")
            _ = try await engine.submitGroup("broken", primer: ["fail": true])
            for job in notes.jobs + doomed.jobs { _ = try await job.result() }
        } catch {
            try? await engine.shutdown()
            throw error
        }
        try await engine.shutdown()
        return path
    }

    @Test func groupUnblockedMakesTheHeldPrimerReady() throws {
        let lines = [
            #"{"schema_version":1,"seq":1,"ts":1,"type":"group_blocked","group_id":"g","payload":{"dependency_id":"a","policy":"on_done"}}"#,
            #"{"schema_version":1,"seq":2,"ts":1,"type":"group_blocked","group_id":"g","payload":{"dependency_id":"b","policy":"on_done"}}"#,
            #"{"schema_version":1,"seq":3,"ts":1,"type":"job_queued","group_id":"g","job_id":"1","kind":"primer","payload":{"blocked":true}}"#,
            #"{"schema_version":1,"seq":4,"ts":2,"type":"group_dependency_failed","group_id":"g","#
                + #""payload":{"dependency_id":"a","policy":"on_done","reason":"timeout"}}"#,
        ]
        var state = DashboardState()
        for event in RunLog.parseJSONL(Data(lines.joined(separator: "\n").utf8)).events { state.apply(event) }
        #expect(state.groups["g"]?.waitingFor == ["b"])
        #expect(state.groups["g"]?.isBlocked == true)
        #expect(state.groups["g"]?.lastError == "dependency 'a' timed out")
        #expect(state.total(.blocked) == 1 && state.total(.ready) == 0)

        let unblocked = #"{"schema_version":1,"seq":5,"ts":3,"type":"group_unblocked","group_id":"g","#
            + #""payload":{"dependency_id":"b","policy":"on_done"}}"#
        for event in RunLog.parseJSONL(Data(unblocked.utf8)).events { state.apply(event) }
        #expect(state.groups["g"]?.isBlocked == false)
        #expect(state.total(.blocked) == 0 && state.total(.ready) == 1)
        #expect(state.unknownTypes.isEmpty)
    }

    @Test func aPendingGroupsPrimerStaysBlockedUntilItIsAdmitted() {
        let lines = [
            #"{"schema_version":1,"seq":1,"ts":1,"type":"group_blocked","group_id":"g","payload":{"dependency_id":"a","policy":"on_done"}}"#,
            #"{"schema_version":1,"seq":2,"ts":1,"type":"job_queued","group_id":"g","job_id":"1","kind":"primer","payload":{"blocked":true}}"#,
            #"{"schema_version":1,"seq":3,"ts":2,"type":"group_unblocked","group_id":"g","#
                + #""payload":{"dependency_id":"a","policy":"on_done","primer":false}}"#,
        ]
        var state = DashboardState()
        for event in RunLog.parseJSONL(Data(lines.joined(separator: "\n").utf8)).events { state.apply(event) }
        #expect(state.total(.blocked) == 1 && state.total(.ready) == 0)

        let admitted = #"{"schema_version":1,"seq":4,"ts":3,"type":"group_admitted","group_id":"g","payload":{"active":1,"cap":1}}"#
        for event in RunLog.parseJSONL(Data(admitted.utf8)).events { state.apply(event) }
        #expect(state.total(.blocked) == 0 && state.total(.ready) == 1)
        #expect(state.admission?.active == 1 && state.admission?.cap == 1 && state.admission?.admitted == 1)
    }
}
