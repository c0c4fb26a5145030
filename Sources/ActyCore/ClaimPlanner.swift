/// Decides which jobs idle workers take: own pool's work first, lanes by weighted fair share, then stealing.
///
/// There is one ``StrideScheduler`` per kind of work (primers, followers); both pools charge the scheduler of the
/// work they take, so stolen work counts against its lane like any other. Steps, in order:
/// 1. the primer pool takes primers, 2. the follower pool takes followers,
/// 3. the primer pool steals followers, 4. the follower pool steals primers (3 and 4 only with work stealing on).
///
/// The planner asks `claim` for jobs lane by lane. A lane that yields fewer jobs than asked has run dry: its unused
/// picks are refunded, it is deactivated, and the remaining slots are shared again among the other lanes.
package struct ClaimPlanner: Sendable, Hashable {
    /// Fair-share state of primer work.
    package var primers = StrideScheduler()
    /// Fair-share state of follower work.
    package var followers = StrideScheduler()
    /// Whether an idle pool may take the other pool's work once its own is exhausted.
    package var workStealing: Bool

    /// Creates a planner.
    package init(workStealing: Bool = true) {
        self.workStealing = workStealing
    }

    /// The scheduler for one kind of work.
    package subscript(work: JobRole) -> StrideScheduler {
        get { work == .primer ? primers : followers }
        set {
            if work == .primer { primers = newValue } else { followers = newValue }
        }
    }

    /// Sets a lane's weight in both schedulers.
    package mutating func setWeight(_ weight: Double, for lane: String) {
        primers.setWeight(weight, for: lane)
        followers.setWeight(weight, for: lane)
    }

    /// Whether some work may be ready for the given free workers.
    package func mayHaveWork(freePrimerWorkers: Int, freeFollowerWorkers: Int) -> Bool {
        if workStealing { return (freePrimerWorkers + freeFollowerWorkers > 0) && (primers.hasActiveLanes || followers.hasActiveLanes) }
        return (freePrimerWorkers > 0 && primers.hasActiveLanes) || (freeFollowerWorkers > 0 && followers.hasActiveLanes)
    }

    /// Fills free worker slots.
    ///
    /// Each lane is claimed once per allocation round, for all its picks together; the jobs come back in the order
    /// the scheduler picked them, so the order in which they are recorded and handed to workers is the order that
    /// was decided, not lane by lane.
    ///
    /// - Parameters:
    ///   - freePrimerWorkers: idle workers of the primer pool.
    ///   - freeFollowerWorkers: idle workers of the follower pool.
    ///   - laneCapacity: for lanes with a limit (a `max_inflight` cap, or 0 for a paused lane), how many more jobs
    ///     may start in that lane; lanes not listed have no limit.
    ///   - claim: claims up to `count` ready jobs of kind `work` in `lane` for a worker of `pool`, and returns them
    ///     (at most `count`) in the lane's own order.
    /// - Returns: the claimed jobs in pick order.
    @inlinable  // Generic over the claimed job: specialized into the claim, which is the hot path.
    package mutating func fill<Job>(
        freePrimerWorkers: Int,
        freeFollowerWorkers: Int,
        laneCapacity: [String: Int] = [:],
        claim: (_ pool: JobRole, _ work: JobRole, _ lane: String, _ count: Int) throws -> [Job]
    ) rethrows -> [Job] {
        var free: [JobRole: Int] = [.primer: freePrimerWorkers, .follower: freeFollowerWorkers]
        var capacity = laneCapacity
        var steps: [(pool: JobRole, work: JobRole)] = [(.primer, .primer), (.follower, .follower)]
        if workStealing { steps += [(.primer, .follower), (.follower, .primer)] }

        var jobs: [Job] = []
        jobs.reserveCapacity(freePrimerWorkers + freeFollowerWorkers)
        for (pool, work) in steps {
            while free[pool]! > 0 {
                let picks = self[work].allocate(free[pool]!) { capacity[$0] }
                if picks.isEmpty { break }
                // The lanes in order of their first pick, and each pick's position in that list.
                var lanes: [(name: String, count: Int)] = []
                var laneOfPick: [Int] = []
                laneOfPick.reserveCapacity(picks.count)
                var position: [String: Int] = [:]
                for lane in picks {
                    if let index = position[lane] {
                        lanes[index].count += 1
                        laneOfPick.append(index)
                    } else {
                        position[lane] = lanes.count
                        laneOfPick.append(lanes.count)
                        lanes.append((lane, 1))
                    }
                }
                var claimed: [[Job]] = []
                claimed.reserveCapacity(lanes.count)
                for (lane, count) in lanes {
                    let got = try claim(pool, work, lane, count)
                    precondition(got.count <= count, "claimed more jobs than asked")
                    if got.count < count {
                        self[work].refund(lane, count: count - got.count)
                        self[work].deactivate(lane)
                    }
                    free[pool]! -= got.count
                    if let left = capacity[lane] { capacity[lane] = left - got.count }
                    claimed.append(got)
                }
                if claimed.count == 1 {
                    jobs += claimed[0]
                    continue
                }
                // A lane that ran dry has fewer jobs than picks: its last picks are the ones refunded.
                var taken = [Int](repeating: 0, count: claimed.count)
                for index in laneOfPick where taken[index] < claimed[index].count {
                    jobs.append(claimed[index][taken[index]])
                    taken[index] += 1
                }
            }
        }
        return jobs
    }
}
