import ActyCore

extension WriteContext {
    /// Does a dispatch's work: records finished attempts, hands back released jobs, then fills idle workers.
    mutating func run(_ work: DispatchWork) throws -> DispatchResult {
        if !work.completions.isEmpty { try complete(work.completions, worker: work.worker) }
        if !work.releases.isEmpty { try release(work.releases, worker: work.worker) }
        return try work.claim.map { try claim($0) } ?? DispatchResult()
    }

    /// Leases ready jobs to idle workers by weighted fair share and records `job_started` for each.
    ///
    /// The attempt's row in `attempts` is written when the attempt ends (see ``complete(_:worker:)``): until then the
    /// job row itself (state `running`, `lease_owner`, `started_at`) describes the running attempt, which saves a
    /// row write per job on the hot path.
    ///
    /// Each lane is claimed with one indexed `SELECT … ORDER BY priority DESC, id LIMIT n`, then each job is leased
    /// by primary key. Scheduled retries that are due are made ready first. Lane settings are read from the
    /// `lanes` table at every claim, so weights, caps and pauses changed by another process apply at once; when
    /// another process has written since the last claim, every lane is considered again, since it may have added
    /// work. Lanes that this request made ready (a primer's success releases its followers) are claimed from at once.
    mutating func claim(_ request: ClaimRequest) throws -> DispatchResult {
        var planner = request.planner
        var dataVersion = 0
        try db.cachedStatement(sql: "PRAGMA data_version").forEachRow { _ in } _: { dataVersion = $0.int(0) }
        let capacity = try loadLanes(into: &planner)
        if dataVersion != request.dataVersion {
            planner.primers.activateAll()
            planner.followers.activateAll()
        }
        try expireDueDependencies()  // due timeouts unblock or fail dependent groups (WriteContext+Dependencies)
        // Slots freed by other processes, a larger cap, or a burst while few jobs are ready (WriteContext+Admission).
        if admission != nil { try admitForClaim() }
        for kind in try promoteDueRetries().union(effects.readyWork) { planner[kind.role].activate(kind.lane) }
        // Budgets of rate-limited executors (WriteContext+RateLimits); one that opens again may have jobs in any lane.
        var limiter = try loadRateLimits()
        if limiter.reopened {
            planner.primers.activateAll()
            planner.followers.activateAll()
        }

        // Select, then lease each row by primary key: an `UPDATE … WHERE id IN (SELECT …) RETURNING …` would
        // build two temporary b-trees per claim (the IN list and the RETURNING buffer). The writer holds the
        // database's write lock, so no other process can claim the same rows in between.
        // The planner returns the jobs in the order it picked them, so `job_started` events and the hand-out to
        // workers follow the decided order rather than lane by lane.
        var jobs: [ClaimedJob] = []
        // What result handlers' resubmits changed of some jobs' context (rare): applied with the group's below.
        var resubmitContexts: [JobID: String] = [:]
        let leaseUntil = now + request.leaseDuration
        if !request.executors.isEmpty {
            let select = try db.cachedStatement(
                sql: TransitionSQL.claimSQL(executorCount: request.executors.count, resultHandlerCount: request.resultHandlers.count)
            )
            let lease = try db.cachedStatement(sql: TransitionSQL.leaseSQL)
            jobs = try planner.fill(
                freePrimerWorkers: request.freePrimerWorkers,
                freeFollowerWorkers: request.freeFollowerWorkers,
                laneCapacity: capacity
            ) { pool, work, lane, count in
                var claimed: [ClaimedJob] = []
                claimed.reserveCapacity(count)
                // Without budgets this runs once. With them, a job whose budget is spent is passed over, and the lane
                // is looked at again without its executor.
                var executors = limiter.isEmpty ? request.executors : limiter.allowed(request.executors, lane: lane, now: now)
                while claimed.count < count, !executors.isEmpty {
                    let wanted = count - claimed.count
                    let statement =
                        executors.count == request.executors.count
                        ? select
                        : try db.cachedStatement(
                            sql: TransitionSQL.claimSQL(executorCount: executors.count, resultHandlerCount: request.resultHandlers.count)
                        )
                    var found = 0
                    var passedOver = false
                    let firstNew = claimed.count
                    try statement.forEachRow { arguments in
                        arguments.add(work.rawValue)
                        arguments.add(lane)
                        for executor in executors { arguments.add(executor) }
                        for handler in request.resultHandlers { arguments.add(handler) }
                        arguments.add(wanted)
                    } _: { row in
                        found += 1
                        let executor = row.string(3)
                        guard limiter.isEmpty || limiter.take(executor: executor, lane: lane, now: now) else {
                            passedOver = true
                            return
                        }
                        claimed.append(
                            ClaimedJob(
                                id: JobID(row.int64(0)), groupID: GroupID(row.int64(1)), groupKey: "", role: work,
                                followerIndex: row.optionalInt(2), lane: lane, executor: executor, attempt: row.int(4) + 1,
                                maxAttempts: row.int(6), abandonedAttempts: row.int(7), retryPolicy: .none, timeout: nil, providerRef: nil,
                                cacheContext: nil, payload: row.string(5), groupContext: nil, cacheKey: nil, pool: pool, startedAt: now,
                                resultHandler: row.optionalString(8), resubmits: row.int(9), createdAt: row.double(11)
                            )
                        )
                        if let context = row.optionalString(10) { resubmitContexts[JobID(row.int64(0))] = context }
                    }
                    for job in claimed[firstNew...] {
                        try lease.run {
                            $0.add(job.attempt)
                            $0.add(request.worker)
                            $0.add(leaseUntil)
                            $0.add(now)
                            $0.add(pool.rawValue)
                            $0.add(job.id.rawValue)
                        }
                    }
                    guard passedOver, found == wanted else { break }
                    executors = limiter.allowed(executors, lane: lane, now: now)
                }
                return claimed
            }
        }
        if !limiter.isEmpty { try saveRateLimits(&limiter) }

        // One lookup per group of the batch gives each job its group's key, context and attempt settings.
        var groups: [GroupID: ClaimedGroup] = [:]
        let groupStatement = try db.cachedStatement(sql: TransitionSQL.claimedGroupSQL)
        for index in jobs.indices {
            let groupID = jobs[index].groupID
            if groups[groupID] == nil {
                try groupStatement.forEachRow { $0.add(groupID.rawValue) } _: { row in
                    groups[groupID] = ClaimedGroup(
                        key: row.string(0), context: row.optionalString(1), cacheKey: row.optionalString(2),
                        retryPolicy: row.optionalString(3).flatMap { try? JSONValue(jsonString: $0) }.map(RetryPolicy.init(stored:)) ?? .none,
                        timeout: row.optionalDouble(4), providerRef: row.optionalString(5), cacheContext: row.optionalString(6),
                        maxResubmits: row.int(7), followersWarmup: row.optionalDouble(8),
                        traceContext: row.optionalString(9)
                    )
                }
            }
            if let group = groups[groupID] {
                jobs[index].groupKey = group.key
                jobs[index].groupContext = group.context
                jobs[index].cacheKey = group.cacheKey
                jobs[index].retryPolicy = group.retryPolicy
                jobs[index].timeout = group.timeout
                jobs[index].providerRef = group.providerRef
                jobs[index].cacheContext = group.cacheContext
                jobs[index].maxResubmits = group.maxResubmits
                jobs[index].traceContext = group.traceContext
            }
            if let context = resubmitContexts[jobs[index].id] { Self.apply(resubmitContext: context, to: &jobs[index]) }
            let job = jobs[index]
            let stolen = job.pool != job.role ? #","stolen":true"# : ""
            try record(.jobStarted, job.ref, pool: job.pool, data: #"{"attempt":\#(job.attempt),"pool":"\#(job.pool.rawValue)"\#(stolen)}"#)
            if job.role == .primer, let warmup = groups[job.groupID]?.followersWarmup {
                // The warm-up runs from the primer's start: its followers start at `warm_until` at the earliest.
                try db.cachedStatement(sql: "UPDATE groups SET warm_until = ? WHERE id = ?").run { $0.add(now + warmup); $0.add(job.groupID.rawValue) }
                try record(.warmDelayStart, group: job.groupID, groupKey: job.groupKey, lane: job.lane, data: #"{"delay_s":\#(warmup),"warm_until":\#(now + warmup)}"#)
            }
        }
        return DispatchResult(claimed: jobs, planner: planner, dataVersion: dataVersion)
    }

    /// Applies what a result handler's resubmit changed of a job's context (`jobs.resubmit_context`, migrations/0011).
    private static func apply(resubmitContext text: String, to job: inout ClaimedJob) {
        guard case .object(let changes)? = try? JSONValue(jsonString: text) else { return }
        if changes["cache"] == false {
            job.cacheKey = nil
            job.providerRef = nil
            job.cacheContext = nil
        }
        if let context = changes["group_context"] { job.groupContext = context == .null ? nil : context.jsonString }
    }

    /// Makes scheduled retries whose time has come ready, and returns the kinds of work they belong to.
    ///
    /// The minimum `run_at` comes from the `jobs_scheduled` index, so a claim with nothing due pays one lookup.
    private mutating func promoteDueRetries() throws -> Set<WorkKind> {
        guard let earliest = try earliestRetry() else { return [] }
        guard earliest <= now else {
            effects.retryDue(at: earliest)
            return []
        }
        var due: [(id: Int64, kind: WorkKind)] = []
        try db.cachedStatement(sql: TransitionSQL.dueRetriesSQL).forEachRow { $0.add(now) } _: { row in
            due.append((row.int64(0), WorkKind(role: JobRole(stored: row.string(1)), lane: row.string(2))))
        }
        let promote = try db.cachedStatement(sql: TransitionSQL.promoteRetrySQL)
        for job in due { try promote.run { $0.add(job.id) } }
        if let next = try earliestRetry() { effects.retryDue(at: next) }
        return Set(due.map(\.kind))
    }

    /// When the earliest scheduled retry is due, from the `jobs_scheduled` index.
    private func earliestRetry() throws -> Double? {
        var earliest: Double?
        try db.cachedStatement(sql: TransitionSQL.earliestRetrySQL).forEachRow { _ in } _: { earliest = $0.optionalDouble(0) }
        return earliest
    }

    /// Applies the `lanes` table to the planner and returns the remaining capacity of paused and capped lanes.
    private func loadLanes(into planner: inout ClaimPlanner) throws -> [String: Int] {
        var capacity: [String: Int] = [:]
        var limits: [(lane: String, limit: Int)] = []
        try db.cachedStatement(sql: "SELECT name, weight, max_inflight, paused FROM lanes").forEachRow { _ in } _: { row in
            let name = row.string(0)
            planner.setWeight(row.double(1), for: name)
            if row.int(3) != 0 {
                capacity[name] = 0
            } else if let limit = row.optionalInt(2) {
                limits.append((name, limit))
            }
        }
        // Few jobs run at once (no more than the workers of all processes), so counting them through the
        // `jobs_running` index is cheap.
        let running = try db.cachedStatement(sql: TransitionSQL.runningInLaneSQL)
        for (lane, limit) in limits {
            var inflight = 0
            try running.forEachRow { $0.add(lane) } _: { inflight = $0.int(0) }
            capacity[lane] = max(0, limit - inflight)
        }
        return capacity
    }
}

extension TransitionSQL {
    /// The claim of one lane: the `LIMIT ?` best ready jobs of a role whose executor is one of `executorCount`
    /// names, and whose result handler, if the job has one, is one of `resultHandlerCount` names (`nil`: whatever
    /// their handler). Served by the `jobs_ready` index, whose column order matches the `ORDER BY`.
    static func claimSQL(executorCount: Int, resultHandlerCount: Int?) -> String {
        let placeholders = { (count: Int) in Array(repeating: "?", count: count).joined(separator: ", ") }
        let handlers =
            switch resultHandlerCount {
            case nil: ""
            case 0?: " AND result_handler IS NULL"
            case let count?: " AND (result_handler IS NULL OR result_handler IN (\(placeholders(count))))"
            }
        return """
            SELECT id, group_id, follower_index, executor, attempts, payload, max_attempts, abandoned, result_handler, resubmits,
                resubmit_context, created_at
            FROM jobs
            WHERE state = 'ready' AND role = ? AND lane = ? AND executor IN (\(placeholders(executorCount)))\(handlers)
            ORDER BY priority DESC, id LIMIT ?
            """
    }
}

extension ClaimedJob {
    /// The job as the state rules see it.
    var ref: JobRef {
        JobRef(id: id, groupID: groupID, groupKey: groupKey, role: role, followerIndex: followerIndex, lane: lane)
    }
}

/// What claimed jobs take from their group.
private struct ClaimedGroup {
    var key: String
    var context: String?
    var cacheKey: String?
    var retryPolicy: RetryPolicy
    var timeout: Double?
    var providerRef: String?
    var cacheContext: String?
    var maxResubmits: Int
    var followersWarmup: Double?
    var traceContext: String?
}

extension WriteContext {
    /// Records the outcomes of finished attempts and applies the groups' rules: a primer's success releases its
    /// followers, a failure applies the group's failure policy, and a group whose jobs are all terminal finishes.
    ///
    /// An outcome counts only while the job is still leased to `worker` for that attempt, so a job that was rescued
    /// or cancelled meanwhile keeps the state it has now.
    mutating func complete(_ completions: [Completion], worker: String) throws {
        let succeed = try db.cachedStatement(sql: TransitionSQL.succeedSQL)
        let fail = try db.cachedStatement(sql: TransitionSQL.failSQL)
        let retry = try db.cachedStatement(sql: TransitionSQL.scheduleRetrySQL)
        var attempts: [FinishedAttempt] = []
        attempts.reserveCapacity(completions.count)
        var finishedPerGroup: [GroupID: Int] = [:]
        var failures: [(job: JobRef, error: JobError)] = []
        var succeededPrimers: [GroupID] = []
        for completion in completions {
            let job = completion.job
            let at = completion.finishedAt
            let duration = max(0, at - job.startedAt)
            let usage = completion.usage.map { #","usage":\#($0.jsonString)"# } ?? ""
            switch completion.outcome {
            case .succeeded(let output):
                try succeed.run { $0.add(output); $0.add(at); $0.add(job.id.rawValue); $0.add(worker); $0.add(job.attempt) }
                guard db.changesCount == 1 else {
                    effects.unrecordedCompletions.append(job.id)
                    continue
                }
                attempts.append(FinishedAttempt(job: job, finishedAt: at, outcome: "succeeded", error: nil, usage: completion.usage))
                if let usage = completion.usage { try debitTokens(usage, of: job) }
                try record(.jobSucceeded, job.ref, pool: job.pool, data: #"{"attempt":\#(job.attempt),"duration":\#(duration)\#(usage)}"#)
                if let event = completion.handlerEvent { try record(event.type, job.ref, pool: job.pool, data: event.data) }
                effects.finishedJobs.append(
                    FinishedJob(
                        id: job.id, groupKey: job.groupKey, role: job.role, state: .succeeded, error: nil, attempts: job.attempt, lane: job.lane,
                        executor: job.executor
                    )
                )
                if job.role == .primer { succeededPrimers.append(job.groupID) }
            case .failed(let failure):
                let errorJSON = failure.error.jsonString
                let outcome = failure.timedOut ? "timed_out" : "failed"
                if let delay = failure.retryAfter {
                    // Attempts left: the job waits in `scheduled`, holding no worker, until the claim that finds it
                    // due makes it ready again.
                    try retry.run {
                        $0.add(at + delay); $0.add(errorJSON); $0.add(job.id.rawValue); $0.add(worker); $0.add(job.attempt)
                    }
                    guard db.changesCount == 1 else {
                    effects.unrecordedCompletions.append(job.id)
                    continue
                }
                    effects.retryDue(at: at + delay)
                    if let usage = completion.usage { try debitTokens(usage, of: job) }
                    if failure.rateLimited { try lowerRateLimits(for: job, retryAfter: delay) }
                    attempts.append(FinishedAttempt(job: job, finishedAt: at, outcome: outcome, error: errorJSON, usage: completion.usage))
                    try record(
                        .jobRetrying, job.ref, pool: job.pool,
                        data: #"{"attempt":\#(job.attempt),"delay":\#(delay),"outcome":"\#(outcome)","error":\#(errorJSON)\#(usage)}"#
                    )
                    continue
                }
                try fail.run { $0.add(errorJSON); $0.add(at); $0.add(job.id.rawValue); $0.add(worker); $0.add(job.attempt) }
                guard db.changesCount == 1 else {
                    effects.unrecordedCompletions.append(job.id)
                    continue
                }
                if let usage = completion.usage { try debitTokens(usage, of: job) }
                if failure.rateLimited { try lowerRateLimits(for: job, retryAfter: 0) }
                attempts.append(FinishedAttempt(job: job, finishedAt: at, outcome: outcome, error: errorJSON, usage: completion.usage))
                try record(
                    .jobFailed, job.ref, pool: job.pool,
                    data: #"{"attempt":\#(job.attempt),"duration":\#(duration),"outcome":"\#(outcome)","error":\#(errorJSON)\#(usage)}"#
                )
                if let event = completion.handlerEvent { try record(event.type, job.ref, pool: job.pool, data: event.data) }
                effects.finishedJobs.append(
                    FinishedJob(
                        id: job.id, groupKey: job.groupKey, role: job.role, state: .failed, error: failure.error, attempts: job.attempt,
                        lane: job.lane, executor: job.executor
                    )
                )
                failures.append((job.ref, failure.error))
            case .resubmitted(let resubmit):
                try self.resubmit(job, resubmit, usage: completion.usage, at: at, worker: worker)
                continue
            }
            finishedPerGroup[job.groupID, default: 0] += 1
        }

        try MultiRowInsert.finishedAttempts.insert(attempts, in: db) { arguments, attempt in
            arguments.add(attempt.job.id.rawValue)
            arguments.add(attempt.job.attempt)
            arguments.add(worker)
            arguments.add(attempt.job.pool.rawValue)
            arguments.add(attempt.job.startedAt)
            arguments.add(attempt.finishedAt)
            arguments.add(attempt.outcome)
            arguments.add(attempt.error)
            arguments.add(max(0, attempt.finishedAt - attempt.job.startedAt))
            arguments.add(attempt.usage?.promptTokens)
            arguments.add(attempt.usage?.completionTokens)
            arguments.add(attempt.usage?.cachedPromptTokens)
        }

        for groupID in succeededPrimers {
            try db.cachedStatement(sql: "UPDATE groups SET primer_state = 'succeeded' WHERE id = ?").run { $0.add(groupID.rawValue) }
            try releaseFollowers(of: groupRow(groupID), primerSucceeded: true)
        }
        for (job, error) in failures {
            try applyFailurePolicy(job: job, error: error)
        }
        for (groupID, count) in finishedPerGroup.sorted(by: { $0.key < $1.key }) {
            try countFinishedJobs(count, in: groupID)
            try finishGroupIfDone(groupID)
        }
    }

    /// Applies the group's policy to a job that failed for the last time.
    mutating func applyFailurePolicy(job: JobRef, error: JobError) throws {
        var group = try groupRow(job.groupID)
        let data = #"{"job_id":\#(job.id),"error":\#(error.jsonString)}"#
        switch job.role {
        case .primer:
            try db.cachedStatement(sql: "UPDATE groups SET primer_state = 'failed' WHERE id = ?").run { $0.add(group.id.rawValue) }
            group.primerState = .failed
            try record(.primerFailed, group, data: data)
            switch group.primerPolicy {
            case .failGroup:
                try failGroup(group, reason: "primer_failed", failedJob: job, error: error)
            case .skipFollowers:
                // The group stays live so late followers are accepted (and recorded as cancelled); it fails when
                // it finishes.
                let details = #"{"reason":"primer_failed_skip_followers","job_id":\#(job.id),"error":\#(error.jsonString)}"#
                try db.cachedStatement(sql: "UPDATE groups SET error = ? WHERE id = ?").run { $0.add(details); $0.add(group.id.rawValue) }
                try cancelNotStartedJobs(of: group, reason: "primer_failed_skip_followers")
            case .runFollowers:
                try releaseFollowers(of: group, primerSucceeded: false)
            }
        case .follower:
            try record(.followerFailed, group, data: data)
            if group.followerPolicy == .failGroup {
                try failGroup(group, reason: "follower_failed", failedJob: job, error: error)
            }
        }
    }
}

/// An attempt's row, written when the attempt ends.
private struct FinishedAttempt {
    var job: ClaimedJob
    var finishedAt: Double
    var outcome: String
    var error: String?
    var usage: TokenUsage?
}

extension TransitionSQL {
    /// Leases a claimed job to a worker for its next attempt.
    static let leaseSQL = """
        UPDATE jobs SET state = 'running', attempts = ?, lease_owner = ?, lease_until = ?, started_at = ?, pool = ?
        WHERE id = ?
        """

    /// What a claimed job needs of its group.
    static let claimedGroupSQL = """
        SELECT groups.key, groups.group_context, groups.cache_key, groups.retry_policy, groups.job_timeout,
            COALESCE(groups.cache_ref, cache_entries.provider_ref), groups.cache_context, groups.max_resubmits,
            groups.followers_warmup, groups.trace_context
        FROM groups LEFT JOIN cache_entries ON cache_entries.key = groups.cache_key AND cache_entries.state = 'ready'
        WHERE groups.id = ?
        """

    /// When the next scheduled retry is due.
    static let earliestRetrySQL = "SELECT MIN(run_at) FROM jobs WHERE state = 'scheduled'"

    /// Scheduled retries that are due, oldest first, in bounded batches.
    static let dueRetriesSQL = """
        SELECT id, role, lane FROM jobs WHERE state = 'scheduled' AND run_at <= ? ORDER BY run_at LIMIT 1000
        """

    /// Makes a scheduled retry ready.
    static let promoteRetrySQL = "UPDATE jobs SET state = 'ready', run_at = NULL WHERE id = ? AND state = 'scheduled'"

    /// Running jobs of a lane, for its `max_inflight` cap.
    static let runningInLaneSQL = "SELECT COUNT(*) FROM jobs INDEXED BY jobs_running WHERE state = 'running' AND lane = ?"

    /// Records a success, if the job is still leased to the worker (`lease_owner = ?`) for that attempt.
    static let succeedSQL = """
        UPDATE jobs SET state = 'succeeded', result = ?, error = NULL, finished_at = ?, lease_owner = NULL, lease_until = NULL,
            pool = NULL
        WHERE id = ? AND state = 'running' AND lease_owner = ? AND attempts = ?
        """

    /// Schedules the next attempt of a failed job, if it is still leased to the worker for that attempt.
    static let scheduleRetrySQL = """
        UPDATE jobs SET state = 'scheduled', run_at = ?, error = ?, lease_owner = NULL, lease_until = NULL, pool = NULL
        WHERE id = ? AND state = 'running' AND lease_owner = ? AND attempts = ?
        """

    /// Records a final failure, if the job is still leased to the worker for that attempt.
    static let failSQL = """
        UPDATE jobs SET state = 'failed', error = ?, finished_at = ?, lease_owner = NULL, lease_until = NULL, pool = NULL
        WHERE id = ? AND state = 'running' AND lease_owner = ? AND attempts = ?
        """
}
