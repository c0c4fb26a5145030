/// Weighted fair sharing of one kind of work among lanes: stride scheduling over virtual time.
///
/// Each lane has a *pass*. The next job comes from the active lane with the smallest pass, and taking a job
/// advances that lane's pass by `1 / weight`, so over any busy stretch lanes receive work in proportion to their
/// weights. The scheduler is work-conserving by construction: only active lanes (lanes that may have ready work)
/// are considered, so an idle lane's share goes to the others. A lane that becomes active again starts at the
/// current virtual time, so it banks no credit for the time it was idle.
///
/// Ties are broken by lane name so that decisions are deterministic.
///
/// A pass is kept as a starting point plus a count of picks, and computed as `start + picks / weight`: adding
/// `1 / weight` once per pick would accumulate rounding (after six picks of weight 3 the pass is
/// 1.9999999999999998, not 2), and passes that should tie would then break the tie the wrong way, shifting a
/// lane's turns off the exact stride sequence.
package struct StrideScheduler: Sendable, Hashable {
    /// One lane's scheduling state.
    package struct Lane: Sendable, Hashable {
        /// The lane's relative share: a lane of weight 2 gets twice the work of a lane of weight 1.
        package internal(set) var weight: Double
        /// The pass when the lane was added, reactivated or reweighted.
        var start: Double
        /// Picks charged to the lane since `start`, less refunds.
        var picks: Int = 0
        /// Whether the lane may have ready work.
        package internal(set) var isActive: Bool

        /// The lane's virtual time: smallest goes next.
        package var pass: Double { start + Double(picks) / weight }

        init(weight: Double, pass: Double, isActive: Bool) {
            self.weight = weight
            self.start = pass
            self.isActive = isActive
        }

        /// Starts counting picks afresh from the current pass (or from `pass`).
        mutating func restart(at pass: Double? = nil) {
            start = pass ?? self.pass
            picks = 0
        }
    }

    /// Every lane the scheduler knows, active or not.
    package private(set) var lanes: [String: Lane] = [:]
    /// The pass of the most recent pick; reactivated lanes start here.
    package private(set) var virtualTime: Double = 0

    /// Creates a scheduler with no lanes.
    package init() {}

    /// Sets a lane's weight, adding the lane (inactive) if it is new. Takes effect from the next pick.
    ///
    /// - Precondition: `weight` is finite and greater than zero.
    package mutating func setWeight(_ weight: Double, for lane: String) {
        precondition(weight.isFinite && weight > 0, "lane weight must be finite and greater than zero")
        if lanes[lane] == nil {
            lanes[lane] = Lane(weight: weight, pass: virtualTime, isActive: false)
        } else if lanes[lane]!.weight != weight {
            lanes[lane]!.restart()
            lanes[lane]!.weight = weight
        }
    }

    /// Marks a lane as possibly having work. A lane that was inactive starts at the current virtual time.
    ///
    /// An unknown lane is added with weight 1.
    package mutating func activate(_ lane: String) {
        guard let state = lanes[lane] else {
            lanes[lane] = Lane(weight: 1, pass: virtualTime, isActive: true)
            return
        }
        if !state.isActive {
            lanes[lane]!.isActive = true
            if state.pass < virtualTime { lanes[lane]!.restart(at: virtualTime) }
        }
    }

    /// Marks every known lane as possibly having work.
    package mutating func activateAll() {
        for lane in lanes.keys { activate(lane) }
    }

    /// Marks a lane as having no ready work: it is skipped until activated again.
    package mutating func deactivate(_ lane: String) {
        lanes[lane]?.isActive = false
    }

    /// Whether a lane is marked as possibly having work.
    package func isActive(_ lane: String) -> Bool {
        lanes[lane]?.isActive ?? false
    }

    /// Whether any lane is marked as possibly having work.
    package var hasActiveLanes: Bool {
        lanes.values.contains { $0.isActive }
    }

    /// Picks the active lane with the smallest pass among those `isEligible` accepts, and charges it one job.
    ///
    /// - Returns: the lane, or `nil` when no active lane is eligible.
    package mutating func next(where isEligible: (String) -> Bool = { _ in true }) -> String? {
        var best: (name: String, pass: Double)?
        for (name, lane) in lanes where lane.isActive && isEligible(name) {
            let pass = lane.pass
            if let current = best, current.pass < pass || (current.pass == pass && current.name < name) {
                continue
            }
            best = (name, pass)
        }
        guard let best else { return nil }
        virtualTime = max(virtualTime, best.pass)
        lanes[best.name]!.picks += 1
        return best.name
    }

    /// Gives back `count` picks of a lane that could not be used (the lane had less work than was allocated).
    package mutating func refund(_ lane: String, count: Int) {
        guard lanes[lane] != nil, count > 0 else { return }
        lanes[lane]!.picks -= count
    }

    /// Allocates up to `slots` jobs among the active lanes, one pick at a time.
    ///
    /// - Parameters:
    ///   - slots: how many jobs to allocate.
    ///   - capacity: how many more jobs a lane may take in this allocation (`nil` for no limit); a lane at its
    ///     capacity is skipped.
    /// - Returns: the lane of each pick, in pick order (one entry per job).
    package mutating func allocate(_ slots: Int, capacity: (String) -> Int? = { _ in nil }) -> [String] {
        var counts: [String: Int] = [:]
        var picks: [String] = []
        picks.reserveCapacity(max(0, slots))
        for _ in 0..<max(0, slots) {
            let lane = next { name in
                guard let limit = capacity(name) else { return true }
                return counts[name, default: 0] < limit
            }
            guard let lane else { break }
            counts[lane, default: 0] += 1
            picks.append(lane)
        }
        return picks
    }
}
