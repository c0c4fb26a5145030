package import ActyCore

/// The engine's part of every write batch: it records what its workers finished and fills its idle workers in the
/// same transaction as the batch's requests (see ``Store/attach(_:)``). Both methods run on the writer thread.
package protocol Dispatch: AnyObject, Sendable {
    /// Inside the batch's transaction, after its requests: the completions to record and the idle workers to fill,
    /// or `nil` for none. Asked once per batch.
    ///
    /// - Parameter readyWork: kinds of work the batch's requests made ready.
    func takeWork(readyWork: Set<WorkKind>) -> DispatchWork?

    /// After the batch: what `work` claimed once the transaction committed, or the error it failed with (then
    /// nothing of the batch was kept, and `effects` is empty).
    ///
    /// - Parameter effects: what the batch changed, its requests' effects and the dispatch's own.
    func batchEnded(_ work: DispatchWork?, _ outcome: Result<DispatchResult, any Error>, effects: WriteEffects)
}

/// What one dispatch transaction records and claims.
package struct DispatchWork: Sendable {
    /// The engine process doing the work: the lease owner of the jobs it records and claims.
    package var worker: String
    /// Finished attempts to record.
    package var completions: [Completion]
    /// Running jobs a shutting-down engine gives back without using up an attempt.
    package var releases: [ClaimedJob]
    /// Idle workers to fill, if any.
    package var claim: ClaimRequest?

    /// Creates the work of a dispatch transaction.
    package init(worker: String, completions: [Completion] = [], releases: [ClaimedJob] = [], claim: ClaimRequest? = nil) {
        self.worker = worker
        self.completions = completions
        self.releases = releases
        self.claim = claim
    }
}

/// What a dispatch transaction claimed, and the fair-share state it leaves for the next claim.
package struct DispatchResult: Sendable {
    /// The jobs leased, in the order the planner picked them.
    package var claimed: [ClaimedJob] = []
    /// The planner after the claim (the request's, unchanged when it claimed nothing).
    package var planner: ClaimPlanner?
    /// The database's `data_version` the claim saw.
    package var dataVersion: Int?
    /// The batch that committed the work: its requests and how long it took, set once it committed.
    package var batch: BatchStatistics?
}

/// A committed write batch, for the engine's metrics.
package struct BatchStatistics: Sendable {
    /// The write requests the batch committed (the dispatch's own completions and claims not counted).
    package var requests: Int
    /// From `BEGIN` to the end of `COMMIT`, retries of the batch without a failed request included.
    package var duration: Duration
}

/// A request to fill idle workers with ready jobs.
package struct ClaimRequest: Sendable {
    /// The engine's fair-share state: a claim continues from it and returns the one it leaves.
    package var planner: ClaimPlanner
    /// The `data_version` of the previous claim: when another connection wrote since, every lane is looked at.
    package var dataVersion: Int?
    /// Idle workers of the primer pool.
    package var freePrimerWorkers: Int
    /// Idle workers of the follower pool.
    package var freeFollowerWorkers: Int
    /// The claiming engine's worker id, recorded as the lease owner.
    package var worker: String
    /// How long a claim is leased before another process may rescue it, in seconds.
    package var leaseDuration: Double
    /// Executors registered in the claiming process: only their jobs are claimed.
    package var executors: [String]
    /// Result handlers the claiming process has: jobs whose group names another handler are not claimed.
    package var resultHandlers: [String]

    /// Creates a claim request.
    package init(
        planner: ClaimPlanner, dataVersion: Int?, freePrimerWorkers: Int, freeFollowerWorkers: Int, worker: String,
        leaseDuration: Double, executors: [String], resultHandlers: [String] = []
    ) {
        self.planner = planner
        self.dataVersion = dataVersion
        self.freePrimerWorkers = freePrimerWorkers
        self.freeFollowerWorkers = freeFollowerWorkers
        self.worker = worker
        self.leaseDuration = leaseDuration
        self.executors = executors
        self.resultHandlers = resultHandlers
    }
}

/// A job leased to a worker for one attempt.
package struct ClaimedJob: Sendable {
    /// The job.
    package var id: JobID
    /// Its group.
    package var groupID: GroupID
    /// Its group's key.
    package var groupKey: String
    /// Its role.
    package var role: JobRole
    /// Its follower index, for followers.
    package var followerIndex: Int?
    /// Its lane.
    package var lane: String
    /// The executor to run it.
    package var executor: String
    /// The attempt number (1-based), counting every attempt started, abandoned ones included.
    package var attempt: Int
    /// Attempts the job may have in all, not counting abandoned ones (the retry budget).
    package var maxAttempts: Int
    /// Earlier attempts abandoned by a process that died: they do not use up the retry budget.
    package var abandonedAttempts: Int
    /// The group's retry policy (backoff and jitter between attempts).
    package var retryPolicy: RetryPolicy
    /// The group's job timeout in seconds, if it has one.
    package var timeout: Double?
    /// The provider reference of the group's cache entry, when it is ready.
    package var providerRef: String?
    /// The group's cache context as JSON text.
    package var cacheContext: String?
    /// The payload as JSON text.
    package var payload: String
    /// The group context as JSON text.
    package var groupContext: String?
    /// The group's cache key.
    package var cacheKey: String?
    /// The pool whose worker runs it (differs from `role` when stolen).
    package var pool: JobRole
    /// When the attempt started.
    package var startedAt: Double
    /// The name of the result handler that looks at the job's outputs, if its group has one.
    package var resultHandler: String? = nil
    /// Earlier attempts a result handler resubmitted: they do not use up the retry budget.
    package var resubmits: Int = 0
    /// How many times a result handler may resubmit the job (its group's budget).
    package var maxResubmits: Int = 0
    /// When the job was submitted (its `created_at`): the queue wait of an attempt is `startedAt - createdAt`.
    package var createdAt: Double = 0
    /// The submitter's tracing context stored with the group (a JSON object of injected headers), if any.
    package var traceContext: String? = nil

    /// This attempt's number in the retry budget: abandoned and resubmitted attempts do not count.
    package var countedAttempt: Int { attempt - abandonedAttempts - resubmits }

    /// Whether a failure of this attempt may be retried: the retry budget has attempts left.
    package var hasAttemptsLeft: Bool { countedAttempt < maxAttempts }
}

/// The outcome of an attempt, to record.
package struct Completion: Sendable {
    /// How an attempt ended.
    package enum Outcome: Sendable {
        /// The executor returned this output (JSON text).
        case succeeded(output: String)
        /// The executor threw, or ran past the job's timeout.
        case failed(Failure)
        /// The result handler asked for another attempt with a new payload.
        case resubmitted(Resubmit)
    }

    /// A result handler's request to run the job again.
    package struct Resubmit: Sendable {
        /// The payload of the next attempt, as JSON text.
        package var payload: String
        /// Why, as the handler said it.
        package var reason: String
        /// The handler's name.
        package var handler: String
        /// Seconds the next attempt waits (in `scheduled`, holding no worker); 0 for none.
        package var delay: Double
        /// What the next attempts see of the group's context (`jobs.resubmit_context`); `nil` for the group's own.
        package var context: String?
        /// The context policy's name, for the event.
        package var contextPolicy: String

        /// Creates a resubmit.
        package init(payload: String, reason: String, handler: String, delay: Double = 0, context: String? = nil, contextPolicy: String = "inherit") {
            self.payload = payload
            self.reason = reason
            self.handler = handler
            self.delay = delay
            self.context = context
            self.contextPolicy = contextPolicy
        }
    }

    /// An event a result handler's decision adds to the job's own (`job_result_handled` when it replaced the output
    /// or failed the job, `job_result_handler_failed` when it threw), recorded only if the outcome counts.
    package struct HandlerEvent: Sendable {
        /// The event's type.
        package var type: EventType
        /// Its data, as JSON text.
        package var data: String

        /// Creates a handler event.
        package init(type: EventType, data: String) {
            self.type = type
            self.data = data
        }
    }

    /// A failed attempt.
    package struct Failure: Sendable {
        /// What went wrong.
        package var error: JobError
        /// Whether the attempt ran past the job's timeout (recorded as `timed_out`).
        package var timedOut: Bool
        /// Seconds to wait before the next attempt, or `nil` when this failure is final (no attempts left, or an
        /// error that must not be retried).
        package var retryAfter: Double?
        /// Whether the provider refused the call for load (a `RetryAfterError` marked as a rate limit).
        package var rateLimited: Bool

        /// Creates a failure.
        package init(error: JobError, timedOut: Bool = false, retryAfter: Double? = nil, rateLimited: Bool = false) {
            self.error = error
            self.timedOut = timedOut
            self.retryAfter = retryAfter
            self.rateLimited = rateLimited
        }
    }

    /// The job that ran.
    package var job: ClaimedJob
    /// How it ended.
    package var outcome: Outcome
    /// When it ended.
    package var finishedAt: Double
    /// What the result handler decided, when that is worth an event of its own.
    package var handlerEvent: HandlerEvent?
    /// The tokens the attempt reported, if it reported any.
    package var usage: TokenUsage?

    /// Creates a completion.
    package init(job: ClaimedJob, outcome: Outcome, finishedAt: Double, handlerEvent: HandlerEvent? = nil) {
        self.job = job
        self.outcome = outcome
        self.finishedAt = finishedAt
        self.handlerEvent = handlerEvent
    }
}
