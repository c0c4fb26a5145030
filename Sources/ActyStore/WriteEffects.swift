public import ActyCore

/// What a committed write changed that the engine must react to: work that became ready, jobs that finished,
/// groups that finished, and the events recorded.
public struct WriteEffects: Sendable {
    /// Kinds of work (role and lane) that gained ready jobs.
    public var readyWork: Set<WorkKind> = []
    /// Jobs that reached a terminal state.
    public var finishedJobs: [FinishedJob] = []
    /// Groups that reached a terminal state.
    public var finishedGroups: [FinishedGroup] = []
    /// Running jobs that were cancelled: the engine running each should stop its executor.
    public var cancelledRunning: [JobID] = []
    /// When the earliest retry scheduled (or still waiting) is due, if one is: a claim then will find it.
    public var nextRetryAt: Double?

    /// Creates empty effects.
    public init() {}

    /// Adds another write's effects to these.
    public mutating func merge(_ other: WriteEffects) {
        readyWork.formUnion(other.readyWork)
        finishedJobs += other.finishedJobs
        finishedGroups += other.finishedGroups
        cancelledRunning += other.cancelledRunning
        nextRetryAt = [nextRetryAt, other.nextRetryAt].compactMap { $0 }.min()
    }
}

/// A kind of work: jobs of one role in one lane.
public struct WorkKind: Hashable, Sendable {
    /// Primer or follower work.
    public var role: JobRole
    /// The lane.
    public var lane: String

    /// Creates a kind of work.
    public init(role: JobRole, lane: String) {
        self.role = role
        self.lane = lane
    }
}

/// A job that reached a terminal state in a write.
public struct FinishedJob: Sendable {
    /// The job.
    public var id: JobID
    /// Its group's key.
    public var groupKey: String
    /// Its role.
    public var role: JobRole
    /// Its final state: succeeded, failed or cancelled.
    public var state: JobState
    /// The recorded error, for failed and cancelled jobs.
    public var error: JobError?
    /// Attempts started.
    public var attempts: Int
}

/// A group that reached a terminal state in a write.
public struct FinishedGroup: Sendable {
    /// The group.
    public var id: GroupID
    /// Its key.
    public var key: String
    /// Its final state.
    public var state: GroupState
}

extension WriteEffects {
    /// Notes a retry due at `time`.
    mutating func retryDue(at time: Double) {
        nextRetryAt = min(nextRetryAt ?? time, time)
    }
}
