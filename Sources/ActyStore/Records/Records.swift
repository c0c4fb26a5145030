package import ActyCore

/// A row of the `jobs` table.
package struct JobRecord: Sendable, Hashable {
    /// The job's id.
    package var id: JobID
    /// The row id of the job's group.
    package var groupID: GroupID
    /// The key of the job's group.
    package var groupKey: String
    /// Primer or follower.
    package var role: JobRole
    /// The follower's position in its group; `nil` for the primer.
    package var followerIndex: Int?
    /// The name of the executor that runs it.
    package var executor: String
    /// The lane whose share it uses.
    package var lane: String
    /// Where the job is in its life cycle.
    package var state: JobState
    /// Higher runs first within a lane.
    package var priority: Int
    /// The payload as JSON text.
    package var payload: String
    /// Attempts started so far, abandoned ones included.
    package var attempts: Int
    /// Attempts allowed, not counting abandoned ones.
    package var maxAttempts: Int
    /// Attempts abandoned because the process running them died.
    package var abandonedAttempts: Int
    /// Abandoned attempts after which the job fails instead of running again.
    package var maxAbandonedAttempts: Int
    /// When a scheduled job becomes ready.
    package var runAt: Double?
    /// The worker that holds the running job.
    package var leaseOwner: String?
    /// When the running job's lease expires.
    package var leaseUntil: Double?
    /// The output as JSON text, for succeeded jobs.
    package var result: String?
    /// The error as JSON text (`{"type": …, "message": …}`).
    package var error: String?
    /// When the job was stored.
    package var createdAt: Double
    /// When its latest attempt started.
    package var startedAt: Double?
    /// When it reached a terminal state.
    package var finishedAt: Double?
    /// The name of the result handler that looks at its outputs, if its group has one.
    package var resultHandler: String?
    /// Attempts a result handler resubmitted: they do not count against ``maxAttempts``.
    package var resubmits: Int
    /// The payload as submitted, once a resubmit replaced it (``payload`` is then the resubmitted one).
    package var originalPayload: String?

    /// The columns ``init(row:)`` reads, in order: a job row with its group's key (from `groups`).
    static let columns = """
        jobs.id, jobs.group_id, groups.key, jobs.role, jobs.follower_index, jobs.executor, jobs.lane, jobs.state,
            jobs.priority, jobs.payload, jobs.attempts, jobs.max_attempts, jobs.run_at, jobs.lease_owner,
            jobs.lease_until, jobs.result, jobs.error, jobs.created_at, jobs.started_at, jobs.finished_at, jobs.abandoned,
            jobs.max_abandoned, jobs.result_handler, jobs.resubmits, jobs.original_payload
        """

    static let selection = "SELECT \(columns) FROM jobs JOIN groups ON groups.id = jobs.group_id"

    init(row: some SQLColumns) throws {
        id = JobID(row.int64(0))
        groupID = GroupID(row.int64(1))
        groupKey = row.string(2)
        role = try decodeEnum(row.string(3), table: "jobs")
        followerIndex = row.optionalInt(4)
        executor = row.string(5)
        lane = row.string(6)
        state = try decodeEnum(row.string(7), table: "jobs")
        priority = row.int(8)
        payload = row.string(9)
        attempts = row.int(10)
        maxAttempts = row.int(11)
        runAt = row.optionalDouble(12)
        leaseOwner = row.optionalString(13)
        leaseUntil = row.optionalDouble(14)
        result = row.optionalString(15)
        error = row.optionalString(16)
        createdAt = row.double(17)
        startedAt = row.optionalDouble(18)
        finishedAt = row.optionalDouble(19)
        abandonedAttempts = row.int(20)
        maxAbandonedAttempts = row.int(21)
        resultHandler = row.optionalString(22)
        resubmits = row.int(23)
        originalPayload = row.optionalString(24)
    }
}

/// A row of the `groups` table.
package struct GroupRecord: Sendable, Hashable {
    /// The group's row id.
    package var id: GroupID
    /// The user's key for the group.
    package var key: String
    /// The lane its jobs use.
    package var lane: String
    /// Where the group is in its life cycle.
    package var state: GroupState
    /// Where its primer is.
    package var primerState: PrimerState
    /// What a failed primer does to the group.
    package var primerPolicy: PrimerFailurePolicy
    /// What a failed follower does to the group.
    package var followerPolicy: FollowerFailurePolicy
    /// The group's retry policy.
    package var retryPolicy: RetryPolicy
    /// How long an attempt of the group's jobs may run, in seconds.
    package var jobTimeout: Double?
    /// The cache entry the group's jobs share.
    package var cacheKey: String?
    /// Context for the cache provider, as JSON text.
    package var cacheContext: String?
    /// Context shared by the group's jobs, as JSON text.
    package var groupContext: String?
    /// Followers added so far.
    package var followersTotal: Int
    /// Jobs added so far, primer included.
    package var jobsTotal: Int
    /// Jobs in a terminal state.
    package var jobsFinished: Int
    /// Why the group failed, as JSON text.
    package var error: String?
    /// When the group was created.
    package var createdAt: Double
    /// When it was closed.
    package var closedAt: Double?
    /// When its last job became terminal.
    package var finishedAt: Double?
    /// Dependencies not resolved yet: a live group with any is blocked.
    package var dependenciesWaiting: Int
    /// The name of the result handler that looks at its jobs' outputs, if any.
    package var resultHandler: String?
    /// How many times the result handler may resubmit each of its jobs.
    package var maxResubmits: Int
    /// Under admission control: `pending` (waiting for a slot), `admitted` (holding one) or `retired` (finished);
    /// `nil` when no cap applied at its submission.
    package var admission: String?

    static let selection = """
        SELECT id, key, lane, state, primer_state, primer_policy, follower_policy, cache_key, cache_context,
            group_context, followers_total, jobs_total, jobs_finished, error, created_at, closed_at, finished_at,
            retry_policy, job_timeout, dependencies_waiting, result_handler, max_resubmits, admission
        FROM groups
        """

    /// The most recent group with a key (served by `groups_key`).
    static let latestByKeySQL = selection + " WHERE key = ? ORDER BY id DESC LIMIT 1"

    /// The live group with a key (served by `groups_live_key` or `groups_key`).
    static let liveByKeySQL = selection + " WHERE key = ? AND state IN ('open', 'closed')"

    init(row: some SQLColumns) throws {
        id = GroupID(row.int64(0))
        key = row.string(1)
        lane = row.string(2)
        state = try decodeEnum(row.string(3), table: "groups")
        primerState = try decodeEnum(row.string(4), table: "groups")
        primerPolicy = try decodeEnum(row.string(5), table: "groups")
        followerPolicy = try decodeEnum(row.string(6), table: "groups")
        cacheKey = row.optionalString(7)
        cacheContext = row.optionalString(8)
        groupContext = row.optionalString(9)
        followersTotal = row.int(10)
        jobsTotal = row.int(11)
        jobsFinished = row.int(12)
        error = row.optionalString(13)
        createdAt = row.double(14)
        closedAt = row.optionalDouble(15)
        finishedAt = row.optionalDouble(16)
        retryPolicy = row.optionalString(17).flatMap { try? JSONValue(jsonString: $0) }.map(RetryPolicy.init(stored:)) ?? .none
        jobTimeout = row.optionalDouble(18)
        dependenciesWaiting = row.int(19)
        resultHandler = row.optionalString(20)
        maxResubmits = row.int(21)
        admission = row.optionalString(22)
    }
}

/// A row of the `attempts` table.
package struct AttemptRecord: Sendable, Hashable {
    /// The job.
    package var jobID: JobID
    /// The attempt number, from 1.
    package var number: Int
    /// The engine process that ran it.
    package var worker: String
    /// The pool of the worker that ran it.
    package var pool: JobRole
    /// When it started.
    package var startedAt: Double
    /// When it ended.
    package var finishedAt: Double?
    /// `succeeded`, `failed`, `timed_out`, `abandoned`, `cancelled`, `resubmitted`, or `nil` while running.
    package var outcome: String?
    /// The error as JSON text, for failed attempts.
    package var error: String?
    /// How long it ran, in seconds.
    package var duration: Double?
    /// Why the result handler resubmitted the job, for `resubmitted` attempts.
    package var reason: String?
    /// The payload the result handler resubmitted the job with (JSON text), for `resubmitted` attempts: the next
    /// attempts run with it.
    package var payload: String?
    /// The tokens the attempt reported, if any.
    package var usage: TokenUsage?

    static let selection = """
        SELECT job_id, number, worker, pool, started_at, finished_at, outcome, error, duration, reason, payload, prompt_tokens,
            completion_tokens, cached_prompt_tokens
        FROM attempts
        """

    init(row: some SQLColumns) throws {
        jobID = JobID(row.int64(0))
        number = row.int(1)
        worker = row.string(2)
        pool = try decodeEnum(row.string(3), table: "attempts")
        startedAt = row.double(4)
        finishedAt = row.optionalDouble(5)
        outcome = row.optionalString(6)
        error = row.optionalString(7)
        duration = row.optionalDouble(8)
        reason = row.optionalString(9)
        payload = row.optionalString(10)
        if let prompt = row.optionalInt(11), let completion = row.optionalInt(12), let cached = row.optionalInt(13) {
            usage = TokenUsage(promptTokens: prompt, completionTokens: completion, cachedPromptTokens: cached)
        }
    }
}

/// A row of the `lanes` table.
package struct LaneRecord: Sendable, Hashable {
    /// The lane's name.
    package var name: String
    /// Its relative share of the workers.
    package var weight: Double
    /// Its cap on running jobs, if any.
    package var maxInflight: Int?
    /// Whether its jobs are held back.
    package var isPaused: Bool

    init(row: some SQLColumns) throws {
        name = row.string(0)
        weight = row.double(1)
        maxInflight = row.optionalInt(2)
        isPaused = row.int64(3) != 0
    }
}

/// A row of the `workers` table: an engine process.
package struct WorkerRecord: Sendable, Hashable {
    /// The worker id, lease owner of the jobs it runs.
    package var id: String
    /// The operating-system process id.
    package var pid: Int
    /// The host name.
    package var host: String
    /// When the process started.
    package var startedAt: Double
    /// Its latest heartbeat.
    package var heartbeatAt: Double
    /// When it stopped, or was found silent.
    package var stoppedAt: Double?
    /// `shutdown` or `lost`, once stopped.
    package var stopReason: String?
    /// Size of its primer pool.
    package var primerWorkers: Int
    /// Size of its follower pool.
    package var followerWorkers: Int
    /// Its executors, as a JSON array.
    package var executors: String
    /// Its result handlers, as a JSON array; `nil` for a process of a build that had none.
    package var resultHandlers: String?

    static let selection = """
        SELECT id, pid, host, started_at, heartbeat_at, stopped_at, stop_reason, primer_workers, follower_workers,
            executors, result_handlers
        FROM workers
        """

    init(row: some SQLColumns) {
        id = row.string(0)
        pid = row.int(1)
        host = row.string(2)
        startedAt = row.double(3)
        heartbeatAt = row.double(4)
        stoppedAt = row.optionalDouble(5)
        stopReason = row.optionalString(6)
        primerWorkers = row.int(7)
        followerWorkers = row.int(8)
        executors = row.string(9)
        resultHandlers = row.optionalString(10)
    }
}

/// A job as it was when read, with the event that recorded its outcome.
package struct FinishedJobEvent: Sendable {
    /// The event's seq.
    package var seq: Int64
    /// `job_succeeded`, `job_failed` or `job_cancelled`.
    package var type: EventType
    package var job: JobRecord
}

func decodeEnum<T: RawRepresentable<String>>(_ raw: String, table: String) throws -> T {
    guard let value = T(rawValue: raw) else {
        throw ActyError(.incompatibleSchema, "unexpected value '\(raw)' in the \(table) table")
    }
    return value
}
