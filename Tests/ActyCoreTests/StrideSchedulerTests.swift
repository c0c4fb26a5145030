import ActyCore
import Testing

struct StrideSchedulerTests {
    /// A scheduler with the given lanes, all active.
    static func scheduler(_ weights: [String: Double]) -> StrideScheduler {
        var scheduler = StrideScheduler()
        for (lane, weight) in weights {
            scheduler.setWeight(weight, for: lane)
            scheduler.activate(lane)
        }
        return scheduler
    }

    static func picks(_ count: Int, from scheduler: inout StrideScheduler) -> [String] {
        (0..<count).compactMap { _ in scheduler.next() }
    }

    // MARK: - Pick order

    static let sequences: [([String: Double], String)] = [
        (["a": 1, "b": 1], "abababab"),
        (["a": 2, "b": 1], "abaabaabaaba"),
        (["a": 3, "b": 1], "abaaabaaabaaabaa"),
        (["a": 5, "b": 3, "c": 1], "abcabaaba" + "abcabaaba"),
    ]

    @Test(arguments: sequences)
    func picksLanesInExactStrideOrder(weights: [String: Double], expected: String) {
        var scheduler = Self.scheduler(weights)
        let picks = Self.picks(expected.count, from: &scheduler)
        #expect(picks.joined() == expected)
    }

    @Test func breaksTiesByLaneNameWhateverTheInsertionOrder() {
        var scheduler = StrideScheduler()
        for lane in ["zeta", "alpha", "mid"] {
            scheduler.setWeight(1, for: lane)
            scheduler.activate(lane)
        }
        #expect(Self.picks(6, from: &scheduler) == ["alpha", "mid", "zeta", "alpha", "mid", "zeta"])
    }

    static let shareCases: [[String: Double]] = [
        ["a": 1, "b": 1],
        ["a": 2, "b": 1],
        ["a": 3, "b": 1],
        ["a": 5, "b": 3, "c": 1],
        ["x": 7, "y": 2, "z": 4, "w": 1],
    ]

    @Test(arguments: shareCases)
    func longRunSharesEqualWeightSharesOverWholePeriods(weights: [String: Double]) {
        var scheduler = Self.scheduler(weights)
        let period = Int(weights.values.reduce(0, +))
        var counts: [String: Int] = [:]
        for periods in 1...1_000 {
            for _ in 0..<period { counts[scheduler.next()!, default: 0] += 1 }
            if periods % 100 == 0 || periods < 10 {
                for (lane, weight) in weights {
                    #expect(counts[lane] == Int(weight) * periods, "lane \(lane) after \(periods) periods")
                }
            }
        }
    }

    /// Exact stride order for integer weights: passes compared as fractions `picks / weight` by cross-multiplying,
    /// ties to the smaller name.
    static func exactStrideOrder(_ weights: [String: Int], count: Int) -> [String] {
        var picks = weights.mapValues { _ in 0 }
        let names = weights.keys.sorted()
        return (0..<count).map { _ in
            var best = names[0]
            for name in names.dropFirst() where picks[name]! * weights[best]! < picks[best]! * weights[name]! {
                best = name
            }
            picks[best]! += 1
            return best
        }
    }

    static let longRunCases: [[String: Int]] = [
        ["a": 3, "b": 1],
        ["a": 5, "b": 3, "c": 1],
        ["x": 7, "y": 2, "z": 4, "w": 1],
        ["a": 10, "b": 1],
        ["a": 6, "b": 3, "c": 2],
    ]

    /// Passes must not drift: summing `1 / 3` per pick leaves weight-3 passes just off the integers, so ties with
    /// other lanes break the wrong way and the sequence slips (3:1 first left the stride order at pick 44).
    @Test(arguments: longRunCases)
    func staysOnTheExactStrideSequenceOverLongRuns(weights: [String: Int]) {
        var scheduler = Self.scheduler(weights.mapValues(Double.init))
        let count = 100_000
        let picks = Self.picks(count, from: &scheduler)
        let expected = Self.exactStrideOrder(weights, count: count)
        let first = picks.indices.first { picks[$0] != expected[$0] }
        #expect(first == nil, "left the exact stride order at pick \(first ?? -1)")
    }

    @Test func threeToOneHasExactlyOneMinorPickInEveryFourConsecutivePicks() {
        var scheduler = Self.scheduler(["a": 3, "b": 1])
        let picks = Self.picks(100_000, from: &scheduler)
        let windows = (0...(picks.count - 4)).filter { start in picks[start..<start + 4].filter { $0 == "b" }.count != 1 }
        #expect(windows.isEmpty, "windows of 4 without exactly one b start at \(windows.prefix(5))")
    }

    // MARK: - Activation

    @Test func reactivatedLaneStartsAtCurrentVirtualTime() {
        var scheduler = Self.scheduler(["a": 1, "b": 1])
        scheduler.deactivate("b")
        #expect(Self.picks(100, from: &scheduler) == Array(repeating: "a", count: 100))

        scheduler.activate("b")
        // No banked credit: b does not get 100 picks in a row; it joins the rotation at once.
        let after = Self.picks(10, from: &scheduler)
        #expect(after == ["b", "a", "b", "a", "b", "a", "b", "a", "b", "a"])
        #expect(scheduler.lanes["b"]!.pass >= scheduler.lanes["a"]!.pass - 1)
    }

    @Test func laneIdleAfterTakingWorkBanksNoCredit() {
        var scheduler = Self.scheduler(["a": 1, "b": 1])
        _ = Self.picks(10, from: &scheduler)
        scheduler.deactivate("b")
        _ = Self.picks(100, from: &scheduler)
        scheduler.activate("b")
        let after = Self.picks(20, from: &scheduler)
        #expect(after.filter { $0 == "b" }.count <= 11)
        #expect(after.prefix(3).filter { $0 == "b" }.count <= 2)
    }

    @Test func newLaneAddedLateStartsAtCurrentVirtualTime() {
        var scheduler = Self.scheduler(["a": 1])
        _ = Self.picks(50, from: &scheduler)
        scheduler.setWeight(1, for: "b")
        #expect(!scheduler.isActive("b"))
        scheduler.activate("b")
        let after = Self.picks(10, from: &scheduler)
        #expect(after.filter { $0 == "b" }.count == 5)
    }

    @Test func deactivatedLaneIsSkippedUntilActivated() {
        var scheduler = Self.scheduler(["a": 1, "b": 1])
        scheduler.deactivate("a")
        #expect(!scheduler.isActive("a"))
        #expect(scheduler.isActive("b"))
        #expect(Self.picks(3, from: &scheduler) == ["b", "b", "b"])

        scheduler.deactivate("b")
        #expect(!scheduler.hasActiveLanes)
        #expect(scheduler.next() == nil)

        scheduler.activate("a")
        #expect(scheduler.hasActiveLanes)
        #expect(scheduler.next() == "a")
    }

    @Test func activateAllWakesEveryKnownLane() {
        var scheduler = StrideScheduler()
        scheduler.setWeight(1, for: "a")
        scheduler.setWeight(2, for: "b")
        #expect(!scheduler.hasActiveLanes)
        scheduler.activateAll()
        #expect(scheduler.isActive("a") && scheduler.isActive("b"))
        #expect(scheduler.lanes["b"]!.weight == 2)
    }

    @Test func activatingUnknownLaneAddsItWithWeightOne() {
        var scheduler = StrideScheduler()
        scheduler.activate("new")
        let lane = scheduler.lanes["new"]
        #expect(lane?.weight == 1 && lane?.pass == 0 && lane?.isActive == true)
        #expect(!scheduler.isActive("unknown"))
        scheduler.deactivate("unknown")
        #expect(scheduler.lanes["unknown"] == nil)
    }

    @Test func activatingAnActiveLaneKeepsItsPass() {
        var scheduler = Self.scheduler(["a": 1, "b": 1])
        _ = Self.picks(3, from: &scheduler)
        let before = scheduler.lanes
        scheduler.activate("a")
        scheduler.activate("b")
        #expect(scheduler.lanes == before)
    }

    @Test func nextHonoursEligibility() {
        var scheduler = Self.scheduler(["a": 1, "b": 1])
        #expect(scheduler.next { $0 != "a" } == "b")
        #expect(scheduler.next { $0 != "a" } == "b")
        #expect(scheduler.next { _ in false } == nil)
        #expect(scheduler.next() == "a")
    }

    // MARK: - Refund

    @Test func refundGivesBackUnusedPicks() {
        var scheduler = Self.scheduler(["a": 1, "b": 1])
        #expect(scheduler.allocate(4) == ["a", "b", "a", "b"])
        scheduler.refund("a", count: 2)
        #expect(scheduler.lanes["a"]!.pass == 0)
        #expect(Self.picks(3, from: &scheduler) == ["a", "a", "a"])
    }

    @Test func refundScalesWithWeight() {
        var scheduler = Self.scheduler(["a": 4])
        _ = Self.picks(8, from: &scheduler)
        #expect(scheduler.lanes["a"]!.pass == 2)
        scheduler.refund("a", count: 4)
        #expect(scheduler.lanes["a"]!.pass == 1)
    }

    @Test func refundAfterALongRunRestoresTheLaneExactly() {
        var scheduler = Self.scheduler(["a": 5, "b": 3, "c": 1])
        _ = Self.picks(10_007, from: &scheduler)
        let before = scheduler.lanes
        let allocation = scheduler.allocate(11)
        for lane in Set(allocation) { scheduler.refund(lane, count: allocation.filter { $0 == lane }.count) }
        #expect(scheduler.lanes == before)
    }

    @Test(arguments: [0, -3])
    func refundOfNothingChangesNothing(count: Int) {
        var scheduler = Self.scheduler(["a": 1])
        _ = Self.picks(2, from: &scheduler)
        let before = scheduler
        scheduler.refund("a", count: count)
        scheduler.refund("missing", count: 5)
        #expect(scheduler == before)
    }

    // MARK: - Allocation

    @Test func allocateRespectsCapacity() {
        var scheduler = Self.scheduler(["a": 1, "b": 1, "c": 1])
        let allocation = scheduler.allocate(10) { ["a": 1, "c": 0][$0] }
        #expect(allocation == ["a"] + Array(repeating: "b", count: 9))
    }

    @Test func allocateStopsWhenEveryLaneIsFull() {
        var scheduler = Self.scheduler(["a": 1, "b": 1])
        let allocation = scheduler.allocate(10) { _ in 2 }
        #expect(allocation == ["a", "b", "a", "b"])
        #expect(scheduler.lanes["a"]!.pass == 2)
        #expect(scheduler.lanes["b"]!.pass == 2)
    }

    @Test func allocateReturnsPicksInPickOrder() {
        var scheduler = Self.scheduler(["a": 1, "b": 1])
        #expect(scheduler.next() == "a")
        #expect(scheduler.allocate(3) == ["b", "a", "b"])
        var weighted = Self.scheduler(["a": 5, "b": 3, "c": 1])
        #expect(weighted.allocate(9).joined() == "abcabaaba")
    }

    @Test func allocateSharesByWeight() {
        var scheduler = Self.scheduler(["a": 5, "b": 3, "c": 1])
        let allocation = scheduler.allocate(90)
        #expect(Dictionary(allocation.map { ($0, 1) }, uniquingKeysWith: +) == ["a": 50, "b": 30, "c": 10])
    }

    @Test(arguments: [0, -1])
    func allocateWithoutSlotsOrLanesReturnsNothing(slots: Int) {
        var scheduler = Self.scheduler(["a": 1])
        #expect(scheduler.allocate(slots).isEmpty)
        var empty = StrideScheduler()
        #expect(empty.allocate(5).isEmpty)
    }

    // MARK: - Weights

    @Test func weightChangeAppliesToLaterPicks() {
        var scheduler = Self.scheduler(["a": 1, "b": 1])
        #expect(Self.picks(4, from: &scheduler) == ["a", "b", "a", "b"])
        scheduler.setWeight(3, for: "a")
        #expect(scheduler.lanes["a"]!.pass == 2)
        let after = Self.picks(12, from: &scheduler)
        for window in stride(from: 0, to: 12, by: 4) {
            #expect(after[window..<window + 4].filter { $0 == "b" }.count == 1, "window at \(window): \(after)")
        }
    }

    @Test func settingTheSameWeightAgainChangesNothing() {
        // The claim applies the lanes table at every claim: an unchanged weight must not disturb the passes.
        var scheduler = Self.scheduler(["a": 3, "b": 1])
        _ = Self.picks(1_001, from: &scheduler)
        let before = scheduler
        scheduler.setWeight(3, for: "a")
        scheduler.setWeight(1, for: "b")
        #expect(scheduler == before)
    }

    @Test func setWeightAddsInactiveLaneAtCurrentVirtualTime() {
        var scheduler = Self.scheduler(["a": 1])
        _ = Self.picks(5, from: &scheduler)
        scheduler.setWeight(2, for: "b")
        let lane = scheduler.lanes["b"]
        #expect(lane?.weight == 2 && lane?.pass == scheduler.virtualTime && lane?.isActive == false)
        #expect(scheduler.virtualTime == 4)
    }
}
