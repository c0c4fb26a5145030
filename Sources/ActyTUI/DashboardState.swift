package import ActyCore

/// What the dashboard knows about a run, rebuilt from its events only: pure and deterministic (the same events give
/// the same state), so replay, follow and the tests share it.
///
/// Memory is bounded: finished jobs and groups leave the live tables for rings of the most recent ones.
package struct DashboardState: Sendable {
    /// Where a job is, as far as the events tell.
    package enum Phase: Int, Sendable, CaseIterable, Hashable {
        case blocked, ready, scheduled, running, succeeded, failed, cancelled

        package var name: String { String(describing: self) }
        package var isTerminal: Bool { self == .succeeded || self == .failed || self == .cancelled }
    }

    /// A job seen in the log.
    package struct Job: Sendable, Hashable {
        package var id: String
        package var group: String?
        package var lane: String
        package var role: JobRole?
        package var follower: Int?
        package var phase: Phase?
        package var queuedAt: Double?
        package var startedAt: Double?
        package var finishedAt: Double?
        /// Failed attempts that were retried, with when each failed.
        package var retries: [Double] = []
        package var pool: String?
        package var engine: String?
        package var stolen = false
        /// Times Python acty put the job back in its queue (lane balance or work-stealing deferrals).
        package var deferrals = 0
    }

    /// A lane's settings and counts.
    package struct Lane: Sendable, Hashable {
        package var name: String
        package var weight = 1.0
        package var maxInflight: Int?
        package var paused = false
        /// Jobs per phase (indexed by `Phase.rawValue`).
        package var counts = [Int](repeating: 0, count: Phase.allCases.count)
        /// Attempts started in this lane.
        package var starts = 0
        /// Python acty's deferrals of this lane's jobs (`job_requeued`).
        package var deferrals = 0

        package func count(_ phase: Phase) -> Int { counts[phase.rawValue] }
    }

    /// A worker pool of one engine.
    package struct Pool: Sendable, Hashable {
        package var engine: String
        package var name: String
        package var size: Int
        package var busy = 0
        package var stealing = 0
    }

    /// An engine process (our worker row; a Python acty run).
    package struct Engine: Sendable, Hashable {
        package var id: String
        package var host: String?
        package var pid: Int?
        package var alive = true
    }

    /// A group and its progress.
    package struct Group: Sendable, Hashable {
        package var key: String
        package var lane: String?
        /// `active`, `succeeded`, `failed` or `cancelled`.
        package var state = "active"
        /// `none`, `pending`, `running`, `succeeded`, `failed` or `skipped`.
        package var primer = "none"
        package var followers = 0
        package var followersDone = 0
        package var followersFailed = 0
        package var activatedAt: Double
        package var finishedAt: Double?
        /// In Python acty's warm delay (`warm_delay_start` … `warm_delay_end`): the primer is done, followers wait.
        package var warming = false
        /// The latest error the group's lifecycle events reported (`primer_failed`, `follower_failed`, `group_failed`).
        package var lastError: String?
        /// Jobs queued behind the primer, released by `followers_ready`, or behind the group's dependencies (its
        /// primer), released by `group_unblocked`.
        var blocked: [String] = []
        /// Keys of the groups it still waits for (`group_blocked`); none once `group_unblocked` came.
        package var waitingFor: Set<String> = []

        package var isActive: Bool { state == "active" }
        /// Whether the group waits for dependencies: none of its jobs can run.
        package var isBlocked: Bool { isActive && !waitingFor.isEmpty }
    }

    /// A failed attempt.
    package struct Failure: Sendable, Hashable {
        package var at: Double
        package var job: String?
        package var group: String?
        package var lane: String?
        package var errorType: String
        package var message: String
        /// Whether another attempt follows.
        package var retried: Bool
    }

    /// Admission control and burst, from `groups_pending`, `group_admitted`/`group_retired` and
    /// `burst_on`/`burst_off`/`cap_changed` (`nil` until such an event arrives: without a cap, none is written).
    package struct Admission: Sendable, Hashable {
        /// Groups waiting for a slot, and groups holding one.
        package var pending = 0
        package var active = 0
        /// How many groups may be active: the base cap, plus the burst allowance while bursting.
        package var cap: Int?
        package var baseCap: Int?
        package var burst = false
        /// Run-queue depth at the last burst decision, and the depth below which admission bursts.
        package var runnable: Int?
        package var lowWatermark: Int?
        package var admitted = 0
        package var retired = 0
    }

    /// Python acty's latest `runtime_stats`: the engine's own view of its queue, workers and groups.
    package struct RuntimeStats: Sendable, Hashable {
        package var at: Double
        package var queueDepth: Int?
        package var inflightWorkers: Int?
        package var warmTasks: Int?
        /// Groups per lifecycle state (`PRIMER_READY`, `PRIMER_INFLIGHT`, `WARM_DELAY`, `FOLLOWERS_READY`, `DONE`).
        package var groupsByState: [String: Int] = [:]
    }

    package internal(set) var admission: Admission?
    package internal(set) var runtimeStats: RuntimeStats?

    /// Jobs per phase (indexed by `Phase.rawValue`).
    package internal(set) var totals = [Int](repeating: 0, count: Phase.allCases.count)
    /// Jobs not finished, by id.
    package internal(set) var jobs: [String: Job] = [:]
    /// The most recently finished jobs.
    package internal(set) var finishedJobs = Ring<Job>(capacity: 500)
    package internal(set) var lanes: [String: Lane] = [:]
    /// Pools by `engine/name`.
    package internal(set) var pools: [String: Pool] = [:]
    package internal(set) var engines: [String: Engine] = [:]
    /// Groups not finished and the most recently finished ones, by key.
    package internal(set) var groups: [String: Group] = [:]
    /// Keys of the most recently finished groups, oldest first: older ones leave `groups`.
    var finishedGroups = Ring<String>(capacity: 500)
    /// Finished groups by final state.
    package internal(set) var groupOutcomes: [String: Int] = [:]
    package internal(set) var failures = Ring<Failure>(capacity: 50)
    /// Attempts finished per second.
    package internal(set) var throughput = SecondSeries()
    /// Ready jobs at the end of each second.
    package internal(set) var queueDepth = SecondSeries()
    /// The latest events, for the event log.
    package internal(set) var log = Ring<TUIEvent>(capacity: 1000)
    /// Events of types neither implementation writes, by type.
    package internal(set) var unknownTypes: [String: Int] = [:]
    /// Lines of a log that were not events (set by the reader).
    package var badLines = 0
    /// Events applied.
    package internal(set) var applied = 0
    package internal(set) var firstAt: Double?
    package internal(set) var lastAt: Double?
    package internal(set) var lastSeq: Int64 = 0
    /// Attempts started, finished (succeeded or failed), retried, requeued (Python acty's deferrals), rescued, and
    /// resubmitted by a result handler.
    package internal(set) var started = 0
    package internal(set) var finished = 0
    package internal(set) var retried = 0
    package internal(set) var requeued = 0
    package internal(set) var rescued = 0
    /// Dependencies that failed, were cancelled or timed out (`group_dependency_failed`).
    package internal(set) var dependencyFailures = 0
    package internal(set) var resubmitted = 0
    /// Calls a provider refused for load (`rate_limited`).
    package internal(set) var rateLimited = 0

    package init() {}

    package func total(_ phase: Phase) -> Int { totals[phase.rawValue] }

    /// Jobs known to the log.
    package var jobsTotal: Int { totals.reduce(0, +) }

    /// Attempts finished per second over the whole run.
    package var runThroughput: Double {
        guard let firstAt, let lastAt, lastAt > firstAt else { return 0 }
        return Double(finished) / (lastAt - firstAt)
    }

    /// Attempts finished per second over the last complete seconds (up to 5).
    package var currentThroughput: Double {
        let complete = throughput.values.dropLast().suffix(5)
        return complete.isEmpty ? 0 : Double(complete.reduce(0, +)) / Double(complete.count)
    }

    /// Whether a job first seen mid-life (a follow that started late) is taken out of the phase it was in: the seed's
    /// blocked or scheduled jobs (below), else the one its event implies it left (`job_started` from ready,
    /// `job_succeeded` from running). Keeps seeded totals in step.
    package var inferPriorPhases = false
    /// Blocked followers the seed counted that no event has named, by group key: `followers_ready` makes them ready.
    var unseenBlocked: [String: Int] = [:]
    /// Scheduled jobs (retries waiting for their time) the seed found that no event has named.
    var unseenScheduled: Set<String> = []

    /// Replaces the totals, group outcomes and lane counts with the database's tables (a follow that starts late):
    /// the events that follow move jobs from these counts. `runStartedAt` (the log's first event) makes the elapsed
    /// time and the run's rate cover the whole run, not only the events read. `blockedByGroup` (blocked followers by
    /// group key) and `scheduledJobs` (ids) say which of these counts a job the events have not shown yet leaves.
    package mutating func seed(
        jobsByState: [String: Int], groupsByState: [String: Int], lanes seeded: [Lane], runStartedAt: Double? = nil,
        blockedByGroup: [String: Int] = [:], scheduledJobs: [String] = []
    ) {
        var seenBlocked: [String: Int] = [:]
        for job in jobs.values where job.phase == .blocked {
            if let key = job.group { seenBlocked[key, default: 0] += 1 }
        }
        unseenBlocked = [:]
        for (key, count) in blockedByGroup where count > seenBlocked[key, default: 0] {
            unseenBlocked[key] = count - seenBlocked[key, default: 0]
        }
        unseenScheduled = Set(scheduledJobs.filter { jobs[$0] == nil })
        totals = [Int](repeating: 0, count: Phase.allCases.count)
        for (state, count) in jobsByState {
            if let phase = Self.phase(ofState: state) { totals[phase.rawValue] += count }
        }
        if let runStartedAt {
            firstAt = min(firstAt ?? runStartedAt, runStartedAt)
            lastAt = lastAt ?? runStartedAt
            finished = max(finished, total(.succeeded) + total(.failed))
        }
        groupOutcomes = groupsByState.filter { ["succeeded", "failed", "cancelled"].contains($0.key) }
        for lane in seeded { lanes[lane.name] = lane }
    }

    /// Replaces what the events said about engines with the database's `workers` table (follow).
    package mutating func setEngines(_ list: [Engine]) {
        for engine in list {
            engines[engine.id] = engine
        }
    }

    /// Sets the size of an engine's pool from the database's `workers` table (follow: its `worker_started` may be
    /// older than the events read).
    package mutating func setPoolSize(engine: String, pool: String, size: Int) {
        pools[engine + "/" + pool, default: Pool(engine: engine, name: pool, size: size)].size = size
    }

    static func phase(ofState state: String) -> Phase? {
        switch state {
        case "blocked": .blocked
        case "ready": .ready
        case "scheduled": .scheduled
        case "running": .running
        case "succeeded": .succeeded
        case "failed": .failed
        case "cancelled": .cancelled
        default: nil
        }
    }
}
