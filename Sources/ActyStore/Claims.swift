public import ActyCore

/// What one dispatch transaction records and claims.
public struct DispatchWork: Sendable {
    /// Finished attempts to record.
    public var completions: [Completion]
    /// Running jobs a shutting-down engine gives back without using up an attempt.
    public var releases: [ClaimedJob]
    /// Idle workers to fill, if any.
    public var claim: ClaimRequest?

    /// Creates the work of a dispatch transaction.
    public init(completions: [Completion] = [], releases: [ClaimedJob] = [], claim: ClaimRequest? = nil) {
        self.completions = completions
        self.releases = releases
        self.claim = claim
    }
}

/// A request to fill idle workers with ready jobs.
public struct ClaimRequest: Sendable {
    /// Fair-share state shared by the engine's claims.
    public var state: ClaimState
    /// Idle workers of the primer pool.
    public var freePrimerWorkers: Int
    /// Idle workers of the follower pool.
    public var freeFollowerWorkers: Int
    /// The claiming engine's worker id, recorded as the lease owner.
    public var worker: String
    /// How long a claim is leased before another process may rescue it, in seconds.
    public var leaseDuration: Double
    /// Executors registered in the claiming process: only their jobs are claimed.
    public var executors: [String]

    /// Creates a claim request.
    public init(
        state: ClaimState, freePrimerWorkers: Int, freeFollowerWorkers: Int, worker: String, leaseDuration: Double,
        executors: [String]
    ) {
        self.state = state
        self.freePrimerWorkers = freePrimerWorkers
        self.freeFollowerWorkers = freeFollowerWorkers
        self.worker = worker
        self.leaseDuration = leaseDuration
        self.executors = executors
    }
}

/// A job leased to a worker for one attempt.
public struct ClaimedJob: Sendable {
    /// The job.
    public var id: JobID
    /// Its group.
    public var groupID: GroupID
    /// Its group's key.
    public var groupKey: String
    /// Its role.
    public var role: JobRole
    /// Its follower index, for followers.
    public var followerIndex: Int?
    /// Its lane.
    public var lane: String
    /// The executor to run it.
    public var executor: String
    /// The attempt number (1-based), counting every attempt started, abandoned ones included.
    public var attempt: Int
    /// Attempts the job may have in all, not counting abandoned ones (the retry budget).
    public var maxAttempts: Int
    /// Earlier attempts abandoned by a process that died: they do not use up the retry budget.
    public var abandonedAttempts: Int
    /// The group's retry policy (backoff and jitter between attempts).
    public var retryPolicy: RetryPolicy
    /// The group's job timeout in seconds, if it has one.
    public var timeout: Double?
    /// The provider reference of the group's cache entry, when it is ready.
    public var providerRef: String?
    /// The group's cache context as JSON text.
    public var cacheContext: String?
    /// The payload as JSON text.
    public var payload: String
    /// The group context as JSON text.
    public var groupContext: String?
    /// The group's cache key.
    public var cacheKey: String?
    /// The pool whose worker runs it (differs from `role` when stolen).
    public var pool: JobRole
    /// When the attempt started.
    public var startedAt: Double

    /// This attempt's number in the retry budget: abandoned attempts do not count.
    public var countedAttempt: Int { attempt - abandonedAttempts }

    /// Whether a failure of this attempt may be retried: the retry budget has attempts left.
    public var hasAttemptsLeft: Bool { countedAttempt < maxAttempts }
}

/// The outcome of an attempt, to record.
public struct Completion: Sendable {
    /// How an attempt ended.
    public enum Outcome: Sendable {
        /// The executor returned this output (JSON text).
        case succeeded(output: String)
        /// The executor threw, or ran past the job's timeout.
        case failed(Failure)
    }

    /// A failed attempt.
    public struct Failure: Sendable {
        /// What went wrong.
        public var error: JobError
        /// Whether the attempt ran past the job's timeout (recorded as `timed_out`).
        public var timedOut: Bool
        /// Seconds to wait before the next attempt, or `nil` when this failure is final (no attempts left, or an
        /// error that must not be retried).
        public var retryAfter: Double?

        /// Creates a failure.
        public init(error: JobError, timedOut: Bool = false, retryAfter: Double? = nil) {
            self.error = error
            self.timedOut = timedOut
            self.retryAfter = retryAfter
        }
    }

    /// The job that ran.
    public var job: ClaimedJob
    /// How it ended.
    public var outcome: Outcome
    /// When it ended.
    public var finishedAt: Double

    /// Creates a completion.
    public init(job: ClaimedJob, outcome: Outcome, finishedAt: Double) {
        self.job = job
        self.outcome = outcome
        self.finishedAt = finishedAt
    }
}
