import ActyCore
import Testing

struct ClaimPlannerTests {
    /// An in-memory stand-in for the database: ready counts per (role, lane), and a log of the claims made.
    struct FakeQueue {
        struct Key: Hashable {
            var role: JobRole
            var lane: String
        }

        struct Call: Equatable, CustomStringConvertible {
            var pool: JobRole
            var work: JobRole
            var lane: String
            var asked: Int
            var got: Int

            var description: String { "\(pool)<-\(work)/\(lane) asked \(asked) got \(got)" }
        }

        /// A claimed job: who took it, and its lane's own order (`index` counts up per kind of work and lane).
        struct Job: Equatable, CustomStringConvertible {
            var pool: JobRole
            var work: JobRole
            var lane: String
            var index: Int

            var description: String { "\(pool)<-\(work)/\(lane)#\(index)" }
        }

        var ready: [Key: Int]
        var taken: [Key: Int] = [:]
        var calls: [Call] = []

        init(primers: [String: Int] = [:], followers: [String: Int] = [:]) {
            ready = [:]
            for (lane, count) in primers { ready[Key(role: .primer, lane: lane)] = count }
            for (lane, count) in followers { ready[Key(role: .follower, lane: lane)] = count }
        }

        mutating func claim(pool: JobRole, work: JobRole, lane: String, count: Int) -> [Job] {
            let key = Key(role: work, lane: lane)
            let got = min(count, ready[key, default: 0])
            ready[key, default: 0] -= got
            calls.append(Call(pool: pool, work: work, lane: lane, asked: count, got: got))
            let first = taken[key, default: 0]
            taken[key] = first + got
            return (first..<first + got).map { Job(pool: pool, work: work, lane: lane, index: $0) }
        }

        func taken(by pool: JobRole, of work: JobRole? = nil, lane: String? = nil) -> Int {
            calls.filter { $0.pool == pool && (work == nil || $0.work == work) && (lane == nil || $0.lane == lane) }
                .map(\.got).reduce(0, +)
        }
    }

    /// A planner whose lanes are known with the given weights and active for both kinds of work.
    static func planner(_ weights: [String: Double], workStealing: Bool = true) -> ClaimPlanner {
        var planner = ClaimPlanner(workStealing: workStealing)
        for (lane, weight) in weights {
            planner.setWeight(weight, for: lane)
            planner.primers.activate(lane)
            planner.followers.activate(lane)
        }
        return planner
    }

    /// Fills and returns how many jobs each pool received.
    static func fill(
        _ planner: inout ClaimPlanner, _ queue: inout FakeQueue, primerWorkers: Int, followerWorkers: Int,
        capacity: [String: Int] = [:]
    ) -> (primerPool: Int, followerPool: Int) {
        let jobs = fillJobs(&planner, &queue, primerWorkers: primerWorkers, followerWorkers: followerWorkers, capacity: capacity)
        return (jobs.filter { $0.pool == .primer }.count, jobs.filter { $0.pool == .follower }.count)
    }

    /// Fills and returns the claimed jobs in the order the planner returns them.
    static func fillJobs(
        _ planner: inout ClaimPlanner, _ queue: inout FakeQueue, primerWorkers: Int, followerWorkers: Int,
        capacity: [String: Int] = [:]
    ) -> [FakeQueue.Job] {
        planner.fill(freePrimerWorkers: primerWorkers, freeFollowerWorkers: followerWorkers, laneCapacity: capacity) {
            queue.claim(pool: $0, work: $1, lane: $2, count: $3)
        }
    }

    // MARK: - Own pool first, then stealing

    @Test func eachPoolTakesItsOwnWorkFirst() {
        var planner = Self.planner(["a": 1])
        var queue = FakeQueue(primers: ["a": 5], followers: ["a": 5])
        let filled = Self.fill(&planner, &queue, primerWorkers: 2, followerWorkers: 3)
        #expect(filled == (2, 3))
        #expect(
            queue.calls == [
                .init(pool: .primer, work: .primer, lane: "a", asked: 2, got: 2),
                .init(pool: .follower, work: .follower, lane: "a", asked: 3, got: 3),
            ]
        )
    }

    @Test func primerPoolStealsFollowersOnlyWhenNoPrimerIsReady() {
        var planner = Self.planner(["a": 1])
        var queue = FakeQueue(primers: ["a": 1], followers: ["a": 10])
        let filled = Self.fill(&planner, &queue, primerWorkers: 3, followerWorkers: 2)
        #expect(filled == (3, 2))
        #expect(queue.taken(by: .primer, of: .primer) == 1)
        #expect(queue.taken(by: .primer, of: .follower) == 2)
        #expect(queue.taken(by: .follower, of: .follower) == 2)
        // The primer pool asked for primers before it stole, and the follower pool was served before the stealing.
        let steal = queue.calls.firstIndex { $0.pool == .primer && $0.work == .follower }!
        let own = queue.calls.firstIndex { $0.pool == .follower && $0.work == .follower }!
        #expect(queue.calls[0].pool == .primer && queue.calls[0].work == .primer)
        #expect(own < steal)
    }

    @Test func primerPoolDoesNotStealWhilePrimersAreReady() {
        var planner = Self.planner(["a": 1])
        var queue = FakeQueue(primers: ["a": 10], followers: ["a": 10])
        let filled = Self.fill(&planner, &queue, primerWorkers: 3, followerWorkers: 0)
        #expect(filled == (3, 0))
        #expect(queue.calls.allSatisfy { $0.work == .primer })
    }

    @Test func followerPoolStealsPrimersOnlyWhenNoFollowerIsReady() {
        var planner = Self.planner(["a": 1])
        var queue = FakeQueue(primers: ["a": 10], followers: ["a": 1])
        let filled = Self.fill(&planner, &queue, primerWorkers: 2, followerWorkers: 4)
        #expect(filled == (2, 4))
        #expect(queue.taken(by: .primer, of: .primer) == 2)
        #expect(queue.taken(by: .follower, of: .follower) == 1)
        #expect(queue.taken(by: .follower, of: .primer) == 3)
        #expect(queue.calls.last == .init(pool: .follower, work: .primer, lane: "a", asked: 3, got: 3))
    }

    @Test func followerPoolDoesNotStealWhileFollowersAreReady() {
        var planner = Self.planner(["a": 1])
        var queue = FakeQueue(primers: ["a": 10], followers: ["a": 10])
        let filled = Self.fill(&planner, &queue, primerWorkers: 0, followerWorkers: 4)
        #expect(filled == (0, 4))
        #expect(queue.calls.allSatisfy { $0.work == .follower })
    }

    @Test func withoutWorkStealingIdlePoolsStayIdle() {
        var planner = Self.planner(["a": 1], workStealing: false)
        var queue = FakeQueue(primers: [:], followers: ["a": 10])
        let filled = Self.fill(&planner, &queue, primerWorkers: 3, followerWorkers: 0)
        #expect(filled == (0, 0))
        #expect(queue.calls.allSatisfy { $0.pool == $0.work })
        #expect(queue.ready[.init(role: .follower, lane: "a")] == 10)

        var other = FakeQueue(primers: ["a": 10], followers: [:])
        let filledOther = Self.fill(&planner, &other, primerWorkers: 0, followerWorkers: 3)
        #expect(filledOther == (0, 0))
        #expect(other.calls.allSatisfy { $0.pool == $0.work })
    }

    @Test func stolenWorkIsChargedToItsLane() {
        var planner = Self.planner(["a": 1, "b": 1])
        var queue = FakeQueue(followers: ["a": 10, "b": 10])
        _ = Self.fill(&planner, &queue, primerWorkers: 4, followerWorkers: 0)
        #expect(queue.taken(by: .primer, of: .follower, lane: "a") == 2)
        #expect(queue.taken(by: .primer, of: .follower, lane: "b") == 2)
        #expect(planner.followers.lanes["a"]!.pass == 2)
        #expect(planner.followers.lanes["b"]!.pass == 2)
    }

    // MARK: - Lanes running dry

    @Test func laneWithFewerJobsIsDeactivatedAndItsSlotsGoToOtherLanes() {
        var planner = Self.planner(["a": 1, "b": 1])
        var queue = FakeQueue(followers: ["a": 1, "b": 10])
        let filled = Self.fill(&planner, &queue, primerWorkers: 0, followerWorkers: 6)
        #expect(filled == (0, 6))
        #expect(
            queue.calls == [
                .init(pool: .follower, work: .follower, lane: "a", asked: 3, got: 1),
                .init(pool: .follower, work: .follower, lane: "b", asked: 3, got: 3),
                .init(pool: .follower, work: .follower, lane: "b", asked: 2, got: 2),
            ]
        )
        #expect(!planner.followers.isActive("a"))
        #expect(planner.followers.isActive("b"))
        // The unused picks of a were refunded: a was charged for the one job it gave.
        #expect(planner.followers.lanes["a"]!.pass == 1)
    }

    @Test func emptyLanesEndTheFillWithoutSpinning() {
        var planner = Self.planner(["a": 1, "b": 2])
        var queue = FakeQueue()
        let filled = Self.fill(&planner, &queue, primerWorkers: 5, followerWorkers: 5)
        #expect(filled == (0, 0))
        #expect(!planner.primers.hasActiveLanes)
        #expect(!planner.followers.hasActiveLanes)
        #expect(queue.calls.count == 4)
    }

    @Test func sharesSlotsByLaneWeight() {
        var planner = Self.planner(["a": 2, "b": 1])
        var queue = FakeQueue(followers: ["a": 100, "b": 100])
        _ = Self.fill(&planner, &queue, primerWorkers: 0, followerWorkers: 30)
        #expect(queue.taken(by: .follower, lane: "a") == 20)
        #expect(queue.taken(by: .follower, lane: "b") == 10)
    }

    @Test func fairShareCarriesOverBetweenFills() {
        var planner = Self.planner(["a": 2, "b": 1])
        var queue = FakeQueue(followers: ["a": 100, "b": 100])
        for _ in 0..<30 {
            _ = Self.fill(&planner, &queue, primerWorkers: 0, followerWorkers: 1)
        }
        #expect(queue.taken(by: .follower, lane: "a") == 20)
        #expect(queue.taken(by: .follower, lane: "b") == 10)
    }

    // MARK: - Order of the claimed jobs

    /// The claim asks each lane once, but the jobs come back in the order the scheduler picked them: a batch that
    /// is recorded and started lane by lane misplaces up to a batch's worth of starts relative to the decided order.
    static let pickOrderCases: [([String: Double], Int, String)] = [
        (["a": 3, "b": 1], 8, "abaaabaa"),
        (["a": 5, "b": 3, "c": 1], 9, "abcabaaba"),
        (["a": 1, "b": 1], 6, "ababab"),
    ]

    @Test(arguments: pickOrderCases)
    func jobsComeBackInPickOrder(weights: [String: Double], workers: Int, expected: String) {
        var planner = Self.planner(weights)
        var queue = FakeQueue(followers: weights.mapValues { _ in 100 })
        let jobs = Self.fillJobs(&planner, &queue, primerWorkers: 0, followerWorkers: workers)
        #expect(jobs.map(\.lane).joined() == expected)
        // One claim per lane, and each lane's jobs keep the lane's own order.
        #expect(queue.calls.count == weights.count)
        for lane in weights.keys {
            #expect(jobs.filter { $0.lane == lane }.map(\.index) == Array(0..<jobs.filter { $0.lane == lane }.count))
        }
    }

    @Test(arguments: [1, 2, 3, 5, 7, 8])
    func batchesOfAnySizeConcatenateToTheStrideSequence(batch: Int) {
        // However the workers free up, the starts in recorded order are the stride sequence.
        let weights: [String: Double] = ["a": 5, "b": 3, "c": 1]
        var planner = Self.planner(weights)
        var queue = FakeQueue(followers: weights.mapValues { _ in 1_000 })
        var order = ""
        while order.count < 900 {
            order += Self.fillJobs(&planner, &queue, primerWorkers: 0, followerWorkers: batch).map(\.lane).joined()
        }
        var reference = Self.planner(weights).followers
        let expected = (0..<order.count).map { _ in reference.next()! }.joined()
        #expect(order == expected)
    }

    @Test func laneRunningDryDropsItsLastPicksFromTheOrder() {
        var planner = Self.planner(["a": 1, "b": 1])
        var queue = FakeQueue(followers: ["a": 1, "b": 10])
        let jobs = Self.fillJobs(&planner, &queue, primerWorkers: 0, followerWorkers: 6)
        // Picks a b a b a b: a gave one job, so its second and third picks are dropped; b's slots are re-shared.
        #expect(jobs.map(\.lane).joined() == "abbbbb")
        #expect(jobs.map(\.index) == [0, 0, 1, 2, 3, 4])
    }

    @Test func stolenJobsFollowTheOwnPoolsJobs() {
        var planner = Self.planner(["a": 1, "b": 1])
        var queue = FakeQueue(primers: ["a": 1], followers: ["a": 10, "b": 10])
        let jobs = Self.fillJobs(&planner, &queue, primerWorkers: 3, followerWorkers: 2)
        #expect(jobs.map(\.description) == [
            "primer<-primer/a#0",
            "follower<-follower/a#0", "follower<-follower/b#0",
            "primer<-follower/a#1", "primer<-follower/b#1",
        ])
    }

    // MARK: - Lane capacity

    @Test func laneCapacityCapsClaims() {
        var planner = Self.planner(["a": 1, "b": 1])
        var queue = FakeQueue(followers: ["a": 10, "b": 10])
        let filled = Self.fill(&planner, &queue, primerWorkers: 0, followerWorkers: 6, capacity: ["a": 1])
        #expect(filled == (0, 6))
        #expect(queue.taken(by: .follower, lane: "a") == 1)
        #expect(queue.taken(by: .follower, lane: "b") == 5)
    }

    @Test func pausedLaneGetsNothingEvenByStealing() {
        var planner = Self.planner(["a": 1, "b": 1])
        var queue = FakeQueue(primers: ["a": 10], followers: ["a": 10, "b": 2])
        let filled = Self.fill(&planner, &queue, primerWorkers: 3, followerWorkers: 3, capacity: ["a": 0])
        #expect(filled == (0, 2))
        #expect(queue.calls.allSatisfy { $0.lane != "a" })
        // A capped lane is skipped, not deactivated: it has work and will get it when the cap lifts.
        #expect(planner.primers.isActive("a"))
        #expect(planner.followers.isActive("a"))
    }

    @Test func laneCapacityIsSharedByBothPools() {
        var planner = Self.planner(["a": 1, "b": 1])
        var queue = FakeQueue(primers: ["a": 5], followers: ["a": 5, "b": 5])
        let filled = Self.fill(&planner, &queue, primerWorkers: 2, followerWorkers: 4, capacity: ["a": 2])
        #expect(filled == (2, 4))
        #expect(queue.taken(by: .primer, lane: "a") == 2)
        #expect(queue.taken(by: .follower, lane: "a") == 0)
        #expect(queue.taken(by: .follower, lane: "b") == 4)
    }

    @Test func errorsFromClaimPropagate() {
        struct Boom: Error {}
        var planner = Self.planner(["a": 1])
        #expect(throws: Boom.self) {
            try planner.fill(freePrimerWorkers: 1, freeFollowerWorkers: 0) { _, _, _, _ -> [Int] in throw Boom() }
        }
    }

    // MARK: - mayHaveWork

    static let mayHaveWorkCases: [(Bool, Bool, Bool, Int, Int, Bool)] = [
        // stealing, primers active, followers active, free primer workers, free follower workers, expected
        (true, false, false, 4, 4, false),
        (true, true, false, 0, 0, false),
        (true, true, false, 1, 0, true),
        (true, true, false, 0, 1, true),
        (true, false, true, 1, 0, true),
        (false, true, false, 0, 1, false),
        (false, false, true, 1, 0, false),
        (false, true, false, 1, 0, true),
        (false, false, true, 0, 1, true),
        (false, true, true, 0, 0, false),
    ]

    @Test(arguments: mayHaveWorkCases)
    func mayHaveWorkReflectsActiveLanesAndFreeWorkers(
        stealing: Bool, primersActive: Bool, followersActive: Bool, freePrimer: Int, freeFollower: Int, expected: Bool
    ) {
        var planner = ClaimPlanner(workStealing: stealing)
        planner.setWeight(1, for: "a")
        if primersActive { planner.primers.activate("a") }
        if followersActive { planner.followers.activate("a") }
        #expect(planner.mayHaveWork(freePrimerWorkers: freePrimer, freeFollowerWorkers: freeFollower) == expected)
    }

    @Test func subscriptReadsAndWritesTheSchedulerOfEachRole() {
        var planner = ClaimPlanner()
        planner[.primer].activate("p")
        planner[.follower].activate("f")
        #expect(planner.primers.isActive("p") && !planner.primers.isActive("f"))
        #expect(planner.followers.isActive("f") && !planner.followers.isActive("p"))
        #expect(ClaimPlanner().workStealing)
    }
}
