import ActyCore
@testable import ActyStore
import Foundation
import GRDB
import Testing

/// Lane administration, pruning and checkpoints through the store: the operations `acty-query` offers.
@Suite(.timeLimit(.minutes(1)))
struct StoreAdminTests {
    @Test func aPausedLaneIsNotClaimedUntilResumed() async throws {
        try await withStore { store, _ in
            _ = try await store.submitGroup(NewGroup(key: "g", lane: "slow", primer: .echo(), followers: [], isClosed: true), worker: nil)
            #expect(try await store.setLanePaused("slow", paused: true, worker: nil))
            #expect(try await store.setLanePaused("slow", paused: true, worker: nil) == false)
            #expect(try await StoreStateRuleTests.claim(store, primers: 4).isEmpty)
            #expect(try await store.setLanePaused("slow", paused: false, worker: nil))
            #expect(try await StoreStateRuleTests.claim(store, primers: 4).count == 1)
            let updates = try await store.events().filter { $0.type == "lane_configs_updated" }
            #expect(updates.count == 2)
        }
    }

    @Test func setsAnExistingLanesWeightAndCap() async throws {
        try await withStore { store, _ in
            _ = try await store.submitGroup(NewGroup(key: "g", lane: "a", primer: .echo(), followers: [], isClosed: true), worker: nil)
            try await store.setLaneWeight("a", weight: 3, maxInflight: .some(5), worker: nil)
            var lane = try #require(try await store.lanes().first { $0.name == "a" })
            #expect(lane.weight == 3)
            #expect(lane.maxInflight == 5)
            try await store.setLaneWeight("a", weight: 2, maxInflight: .some(nil), worker: nil)
            lane = try #require(try await store.lanes().first { $0.name == "a" })
            #expect(lane.weight == 2)
            #expect(lane.maxInflight == nil)
        }
    }

    @Test(arguments: [0.0, -1, .nan, .infinity])
    func refusesAWeightThatIsNotAPositiveNumber(weight: Double) async throws {
        try await withStore { store, _ in
            _ = try await store.submitGroup(NewGroup(key: "g", lane: "a", primer: .echo(), followers: [], isClosed: true), worker: nil)
            let error = await #expect(throws: ActyError.self) { try await store.setLaneWeight("a", weight: weight, worker: nil) }
            #expect(error?.code == .invalidArgument)
        }
    }

    @Test func unknownLanesAreReported() async throws {
        try await withStore { store, _ in
            let pause = await #expect(throws: ActyError.self) { _ = try await store.setLanePaused("nope", paused: true, worker: nil) }
            #expect(pause?.code == .unknownLane)
            let weight = await #expect(throws: ActyError.self) { try await store.setLaneWeight("nope", weight: 2, worker: nil) }
            #expect(weight?.code == .unknownLane)
        }
    }

    @Test func pruneRemovesOnlyGroupsFinishedBeforeTheCutoffWithTheirRows() async throws {
        try await withStore { store, _ in
            let old = try await store.submitGroup(NewGroup(key: "old", lane: "default", primer: .echo(), followers: [.echo()], isClosed: true), worker: nil).0
            let claimed = try await StoreStateRuleTests.claim(store, primers: 1)
            try await StoreStateRuleTests.complete(store, claimed)
            let followers = try await StoreStateRuleTests.claim(store, followers: 1)
            try await StoreStateRuleTests.complete(store, followers)
            #expect(try await store.group(old.id)?.state == .succeeded)
            let live = try await store.submitGroup(NewGroup(key: "live", lane: "default", primer: .echo(), followers: [], isClosed: true), worker: nil).0

            // A cutoff before the finish keeps everything; one after it removes the finished group only.
            let none = try await store.prune(finishedBefore: 0, worker: nil)
            #expect(none.groups == 0)
            let pruned = try await store.prune(finishedBefore: now + 1, worker: nil)
            #expect(pruned.groups == 1)
            #expect(pruned.jobs == 2)
            #expect(pruned.attempts == 2)
            #expect(pruned.events > 0)
            #expect(try await store.group(old.id) == nil)
            #expect(try await store.jobs(inGroup: old.id).isEmpty)
            #expect(try await store.attempts().isEmpty)
            #expect(try await store.events().allSatisfy { $0.groupID != old.id })
            #expect(try await store.group(live.id)?.state == .closed)
        }
    }

    @Test func checkpointEmptiesTheWriteAheadLog() async throws {
        try await withStore { store, path in
            for index in 0..<20 {
                _ = try await store.submitGroup(NewGroup(key: "g\(index)", lane: "default", primer: .echo(), followers: [.echo()], isClosed: true), worker: nil)
            }
            let (logFrames, checkpointed) = try await store.checkpoint()
            #expect(logFrames >= 0)
            #expect(checkpointed == logFrames)
            let walSize = (try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? 0
            #expect(walSize == 0)
        }
    }
}
