import ActyCore
import ActyStore
import ActyTestSupport
import ActyTUI
import Foundation
import Testing

/// Follow's reads: a late start takes the counts and the events after its start from one snapshot, and each refresh
/// reads only what is new.
@Suite(.timeLimit(.minutes(1)))
struct FollowTests {
    @Test(arguments: [0, 5, 40])
    func lateStartCountsMatchTheStoresSummary(lastN: Int) async throws {
        let folder = TemporaryDirectory()
        let path = try await EngineRun.make(in: folder)
        let (_, state) = try FollowFeed.open(path, start: .lastN(lastN), pollInterval: 0.2)
        let expected = try StoreCounts.jobs(path)
        #expect(StoreCounts.totals(state) == expected)
        #expect(state.applied == lastN)
        #expect(state.lanes["fast"]?.weight == 3 && state.lanes["slow"]?.maxInflight == 2)
        let laneTotal = state.lanes.values.map { $0.counts.reduce(0, +) }.reduce(0, +)
        #expect(laneTotal == expected.values.reduce(0, +))
    }

    /// A follow that starts while jobs are blocked, queued, scheduled for a retry or running: the events after the
    /// seed take each job it has not seen out of the count it was in. The seed at every point of an engine's log is
    /// the state of the events before it (what the tables held then), plus the last 5 events as a late start reads.
    @Test func aLateStartAtAnyPointEndsWithTheWholeLogsCounts() async throws {
        let folder = TemporaryDirectory()
        let events = try RunLog.events(ofDatabaseAt: try await EngineRun.make(in: folder)).map(TUIEvent.init)
        var whole = DashboardState()
        for event in events { whole.apply(event) }
        #expect(whole.total(.cancelled) > 0 && whole.total(.failed) > 0 && whole.retried > 0)
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
            #expect(late.totals == whole.totals && late.groupOutcomes == whole.groupOutcomes, "seeded before event \(cut)")
            #expect(late.lanes.mapValues(\.counts) == whole.lanes.mapValues(\.counts), "seeded before event \(cut)")
            before.apply(events[cut])
        }
    }

    @Test func aRefreshReadsOnlyTheEventsAfterTheLastOneSeen() async throws {
        let folder = TemporaryDirectory()
        let path = try await EngineRun.make(in: folder, groups: 2)
        var (feed, state) = try FollowFeed.open(path, start: .fromStart, pollInterval: 0.2)
        let applied = state.applied
        #expect(applied > 0 && feed.position.hasSuffix("seq \(state.lastSeq)"))
        // Nothing new: the refresh reads an empty range and applies nothing.
        _ = try feed.tick(now: Date().timeIntervalSince1970 + 10, state: &state)
        #expect(state.applied == applied)
        // Another run writes the same file: the next refresh applies exactly its events.
        _ = try await EngineRun.make(in: folder, groups: 1, path: path)
        let written = try Store.openReadOnly(path).lastEventSeq()
        _ = try feed.tick(now: Date().timeIntervalSince1970 + 20, state: &state)
        #expect(state.lastSeq == written && state.applied == Int(written))
    }
}
