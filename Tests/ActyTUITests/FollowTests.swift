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
        let summary = try Store.openReadOnly(path).summary()
        let byState = try #require(summary.first { $0.0 == "jobs_by_state" }?.1)
        var expected: [String: Int] = [:]
        for row in byState.rows { expected[row[0].stringValue!] = row[1].intValue! }
        var actual: [String: Int] = [:]
        for phase in DashboardState.Phase.allCases where state.total(phase) > 0 { actual[phase.name] = state.total(phase) }
        #expect(actual == expected)
        #expect(state.applied == lastN)
        #expect(state.lanes["fast"]?.weight == 3 && state.lanes["slow"]?.maxInflight == 2)
        let laneTotal = state.lanes.values.map { $0.counts.reduce(0, +) }.reduce(0, +)
        #expect(laneTotal == expected.values.reduce(0, +))
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
