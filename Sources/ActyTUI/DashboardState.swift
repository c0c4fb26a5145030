public import ActyCore

/// What the dashboard knows about a run, rebuilt from its events only: pure and deterministic (the same events give
/// the same state), so replay, follow and the tests share it.
///
/// Memory is bounded: finished jobs and groups leave the live tables for rings of the most recent ones.
public struct DashboardState: Sendable {
    /// Where a job is, as far as the events tell.
    public enum Phase: Int, Sendable, CaseIterable, Hashable {
        case blocked, ready, scheduled, running, succeeded, failed, cancelled

        public var name: String { String(describing: self) }
        public var isTerminal: Bool { self == .succeeded || self == .failed || self == .cancelled }
    }

    /// A job seen in the log.
    public struct Job: Sendable, Hashable {
        public var id: String
        public var group: String?
        public var lane: String
        public var role: JobRole?
        public var follower: Int?
        public var phase: Phase?
        public var queuedAt: Double?
        public var startedAt: Double?
        public var finishedAt: Double?
        /// Failed attempts that were retried, with when each failed.
        public var retries: [Double] = []
        public var pool: String?
        public var engine: String?
        public var stolen = false
        /// Times Python acty put the job back in its queue (lane balance or work-stealing deferrals).
        public var deferrals = 0
    }

    /// A lane's settings and counts.
    public struct Lane: Sendable, Hashable {
        public var name: String
        public var weight = 1.0
        public var maxInflight: Int?
        public var paused = false
        /// Jobs per phase (indexed by `Phase.rawValue`).
        public var counts = [Int](repeating: 0, count: Phase.allCases.count)
        /// Attempts started in this lane.
        public var starts = 0
        /// Python acty's deferrals of this lane's jobs (`job_requeued`).
        public var deferrals = 0

        public func count(_ phase: Phase) -> Int { counts[phase.rawValue] }
    }

    /// A worker pool of one engine.
    public struct Pool: Sendable, Hashable {
        public var engine: String
        public var name: String
        public var size: Int
        public var busy = 0
        public var stealing = 0
    }

    /// An engine process (our worker row; a Python acty run).
    public struct Engine: Sendable, Hashable {
        public var id: String
        public var host: String?
        public var pid: Int?
        public var alive = true
    }

    /// A group and its progress.
    public struct Group: Sendable, Hashable {
        public var key: String
        public var lane: String?
        /// `active`, `succeeded`, `failed` or `cancelled`.
        public var state = "active"
        /// `none`, `pending`, `running`, `succeeded`, `failed` or `skipped`.
        public var primer = "none"
        public var followers = 0
        public var followersDone = 0
        public var followersFailed = 0
        public var activatedAt: Double
        public var finishedAt: Double?
        /// In Python acty's warm delay (`warm_delay_start` … `warm_delay_end`): the primer is done, followers wait.
        public var warming = false
        /// The latest error the group's lifecycle events reported (`primer_failed`, `follower_failed`, `group_failed`).
        public var lastError: String?
        /// Jobs queued behind the primer, released by `followers_ready`.
        var blocked: [String] = []

        public var isActive: Bool { state == "active" }
    }

    /// A failed attempt.
    public struct Failure: Sendable, Hashable {
        public var at: Double
        public var job: String?
        public var group: String?
        public var lane: String?
        public var errorType: String
        public var message: String
        /// Whether another attempt follows.
        public var retried: Bool
    }

    /// Python acty's admission control and burst, from `groups_pending`, `group_admitted`/`group_retired` and
    /// `burst_on`/`burst_off`/`cap_changed` (our engine has neither: `nil` until such an event arrives).
    public struct Admission: Sendable, Hashable {
        /// Groups waiting for a slot, and groups holding one.
        public var pending = 0
        public var active = 0
        /// How many groups may be active: the base cap, plus the burst allowance while bursting.
        public var cap: Int?
        public var baseCap: Int?
        public var burst = false
        /// Run-queue depth at the last burst decision, and the depth below which admission bursts.
        public var runnable: Int?
        public var lowWatermark: Int?
        public var admitted = 0
        public var retired = 0
    }

    /// Python acty's latest `runtime_stats`: the engine's own view of its queue, workers and groups.
    public struct RuntimeStats: Sendable, Hashable {
        public var at: Double
        public var queueDepth: Int?
        public var inflightWorkers: Int?
        public var warmTasks: Int?
        /// Groups per lifecycle state (`PRIMER_READY`, `PRIMER_INFLIGHT`, `WARM_DELAY`, `FOLLOWERS_READY`, `DONE`).
        public var groupsByState: [String: Int] = [:]
    }

    public internal(set) var admission: Admission?
    public internal(set) var runtimeStats: RuntimeStats?

    /// Jobs per phase (indexed by `Phase.rawValue`).
    public internal(set) var totals = [Int](repeating: 0, count: Phase.allCases.count)
    /// Jobs not finished, by id.
    public internal(set) var jobs: [String: Job] = [:]
    /// The most recently finished jobs.
    public internal(set) var finishedJobs = Ring<Job>(capacity: 500)
    public internal(set) var lanes: [String: Lane] = [:]
    /// Pools by `engine/name`.
    public internal(set) var pools: [String: Pool] = [:]
    public internal(set) var engines: [String: Engine] = [:]
    /// Groups not finished and the most recently finished ones, by key.
    public internal(set) var groups: [String: Group] = [:]
    /// Keys of the most recently finished groups, oldest first: older ones leave `groups`.
    var finishedGroups = Ring<String>(capacity: 500)
    /// Finished groups by final state.
    public internal(set) var groupOutcomes: [String: Int] = [:]
    public internal(set) var failures = Ring<Failure>(capacity: 50)
    /// Attempts finished per second.
    public internal(set) var throughput = SecondSeries()
    /// Ready jobs at the end of each second.
    public internal(set) var queueDepth = SecondSeries()
    /// The latest events, for the event log.
    public internal(set) var log = Ring<TUIEvent>(capacity: 1000)
    /// Events of types neither implementation writes, by type.
    public internal(set) var unknownTypes: [String: Int] = [:]
    /// Lines of a log that were not events (set by the reader).
    public var badLines = 0
    /// Events applied.
    public internal(set) var applied = 0
    public internal(set) var firstAt: Double?
    public internal(set) var lastAt: Double?
    public internal(set) var lastSeq: Int64 = 0
    /// Attempts started, finished (succeeded or failed), retried, requeued (Python acty's deferrals), rescued.
    public internal(set) var started = 0
    public internal(set) var finished = 0
    public internal(set) var retried = 0
    public internal(set) var requeued = 0
    public internal(set) var rescued = 0

    public init() {}

    public func total(_ phase: Phase) -> Int { totals[phase.rawValue] }

    /// Jobs known to the log.
    public var jobsTotal: Int { totals.reduce(0, +) }

    /// Attempts finished per second over the whole run.
    public var runThroughput: Double {
        guard let firstAt, let lastAt, lastAt > firstAt else { return 0 }
        return Double(finished) / (lastAt - firstAt)
    }

    /// Attempts finished per second over the last complete seconds (up to 5).
    public var currentThroughput: Double {
        let complete = throughput.values.dropLast().suffix(5)
        return complete.isEmpty ? 0 : Double(complete.reduce(0, +)) / Double(complete.count)
    }

    /// Whether a job first seen mid-life (a follow that started late) is taken out of the phase it was in: the seed's
    /// blocked or scheduled jobs (below), else the one its event implies it left (`job_started` from ready,
    /// `job_succeeded` from running). Keeps seeded totals in step.
    public var inferPriorPhases = false
    /// Blocked followers the seed counted that no event has named, by group key: `followers_ready` makes them ready.
    var unseenBlocked: [String: Int] = [:]
    /// Scheduled jobs (retries waiting for their time) the seed found that no event has named.
    var unseenScheduled: Set<String> = []

    /// Replaces the totals, group outcomes and lane counts with the database's tables (a follow that starts late):
    /// the events that follow move jobs from these counts. `runStartedAt` (the log's first event) makes the elapsed
    /// time and the run's rate cover the whole run, not only the events read. `blockedByGroup` (blocked followers by
    /// group key) and `scheduledJobs` (ids) say which of these counts a job the events have not shown yet leaves.
    public mutating func seed(
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
    public mutating func setEngines(_ list: [Engine]) {
        for engine in list {
            engines[engine.id] = engine
        }
    }

    /// Sets the size of an engine's pool from the database's `workers` table (follow: its `worker_started` may be
    /// older than the events read).
    public mutating func setPoolSize(engine: String, pool: String, size: Int) {
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
