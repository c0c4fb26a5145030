package import ActyCore

/// What a committed write changed that the engine must react to: work that became ready, jobs that finished,
/// running jobs to stop, and the next retry due.
package struct WriteEffects: Sendable {
    /// Kinds of work (role and lane) that gained ready jobs.
    package var readyWork: Set<WorkKind> = []
    /// Jobs that reached a terminal state.
    package var finishedJobs: [FinishedJob] = []
    /// Running jobs that were cancelled: the engine running each should stop its executor.
    package var cancelledRunning: [JobID] = []
    /// When the earliest retry scheduled (or still waiting) is due, if one is: a claim then will find it.
    package var nextRetryAt: Double?
    /// Completions of the batch that were not recorded, because the job was no longer this attempt's (cancelled or
    /// rescued meanwhile). Almost always empty; the engine's metrics leave these attempts out.
    package var unrecordedCompletions: [JobID] = []

    /// Creates empty effects.
    package init() {}

    /// Adds the effects of another write of the same batch.
    mutating func merge(_ other: WriteEffects) {
        readyWork.formUnion(other.readyWork)
        finishedJobs += other.finishedJobs
        cancelledRunning += other.cancelledRunning
        unrecordedCompletions += other.unrecordedCompletions
        if let due = other.nextRetryAt { retryDue(at: due) }
    }
}

/// A kind of work: jobs of one role in one lane.
package struct WorkKind: Hashable, Sendable {
    /// Primer or follower work.
    package var role: JobRole
    /// The lane.
    package var lane: String

    /// Creates a kind of work.
    package init(role: JobRole, lane: String) {
        self.role = role
        self.lane = lane
    }
}

/// A job that reached a terminal state in a write.
package struct FinishedJob: Sendable {
    /// The job.
    package var id: JobID
    /// Its group's key.
    package var groupKey: String
    /// Its role.
    package var role: JobRole
    /// Its final state: succeeded, failed or cancelled.
    package var state: JobState
    /// The recorded error, for failed and cancelled jobs.
    package var error: JobError?
    /// Attempts started.
    package var attempts: Int
    /// Its lane.
    package var lane: String
    /// The executor that runs it.
    package var executor: String
    /// The output, when the write itself decided it (a primer skipped on a cache hit); a completion's output is
    /// the engine's.
    package var output: JSONValue? = nil
}

extension WriteEffects {
    /// Notes a retry due at `time`.
    mutating func retryDue(at time: Double) {
        nextRetryAt = min(nextRetryAt ?? time, time)
    }
}
