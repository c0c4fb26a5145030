import ActyCore

extension WriteContext {
    /// Hands running jobs back without using up an attempt: their engine is shutting down.
    ///
    /// Each counts only while still leased to `worker` for that attempt.
    mutating func release(_ jobs: [ClaimedJob], worker: String) throws {
        let release = try db.cachedStatement(sql: TransitionSQL.releaseSQL)
        for job in jobs {
            try release.run { $0.add(job.id.rawValue); $0.add(worker); $0.add(job.attempt) }
            guard db.changesCount == 1 else { continue }
            try record(.jobReleased, job.ref, pool: job.pool, data: #"{"attempt":\#(job.attempt)}"#)
            effects.readyWork.insert(WorkKind(role: job.role, lane: job.lane))
        }
    }

    /// Extends the leases of a worker's running jobs and records that the worker is alive.
    ///
    /// A worker that was marked lost (it stopped heartbeating for too long, say while its machine slept) comes
    /// back; the jobs rescued meanwhile stay with whoever took them, since their leases no longer name it.
    mutating func heartbeat(worker: String, leaseUntil: Double) throws {
        try db.cachedStatement(sql: TransitionSQL.extendLeasesSQL).run { $0.add(leaseUntil); $0.add(worker) }
        try db.cachedStatement(sql: TransitionSQL.extendCacheLeasesSQL).run { $0.add(leaseUntil); $0.add(worker) }
        try db.cachedStatement(sql: TransitionSQL.heartbeatSQL).run { $0.add(now); $0.add(worker) }
    }

    /// Takes back jobs whose lease expired or whose worker is known to be dead, and marks silent workers lost.
    ///
    /// Each rescued attempt is recorded as `abandoned` with a `job_rescued` event. The process dying is not the
    /// job's failure, so an abandoned attempt does not use up the job's retry budget: the job goes back to `ready` at
    /// once. Only a job abandoned `max_abandoned` times fails (error type `abandoned`), since it may be what crashes
    /// its processes; its group's failure policy then applies.
    ///
    /// - Parameters:
    ///   - silentSince: workers whose last heartbeat is older than this are marked lost.
    ///   - deadWorkers: workers known to be gone (on this host, their process no longer exists): their jobs are
    ///     rescued without waiting for the leases to expire.
    /// - Returns: how many jobs were rescued.
    @discardableResult
    mutating func rescue(silentSince: Double, deadWorkers: [String]) throws -> Int {
        // The rescuing worker (`self.worker`) never counts itself as silent, nor takes back its own running jobs:
        // it knows they run, even when a late heartbeat let their leases lapse.
        let markLost = try db.cachedStatement(sql: TransitionSQL.markWorkerLostSQL)
        try markLost.run { $0.add(silentSince); $0.addNull(); $0.add(worker) }
        for dead in deadWorkers {
            try markLost.run { $0.add(-Double.infinity); $0.add(dead); $0.add(worker) }
            // Cache entries it was creating are taken over at once rather than when their lease runs out.
            try db.cachedStatement(sql: TransitionSQL.extendCacheLeasesSQL).run { $0.add(0.0); $0.add(dead) }
        }
        // Producers that died or went silent hold their groups open no longer.
        try releaseProducerLeasesOfStoppedWorkers()

        let now = now
        var expired: [JobRow] = []
        try db.cachedStatement(sql: TransitionSQL.expiredLeasesSQL).forEachRow { $0.add(now) } _: { row in
            let job = JobRow(row)
            if job.leaseOwner != worker { expired.append(job) }
        }
        if !deadWorkers.isEmpty {
            let known = Set(expired.map(\.id))
            try db.cachedStatement(sql: TransitionSQL.runningJobsSQL).forEachRow { _ in } _: { row in
                let job = JobRow(row)
                if let owner = job.leaseOwner, deadWorkers.contains(owner), !known.contains(job.id) { expired.append(job) }
            }
        }
        guard !expired.isEmpty else { return 0 }

        let requeue = try db.cachedStatement(sql: TransitionSQL.requeueRescuedSQL)
        let fail = try db.cachedStatement(sql: TransitionSQL.failRescuedSQL)
        var attempts: [(JobRow, String)] = []
        var failures: [(JobRef, JobError)] = []
        var finishedPerGroup: [GroupID: Int] = [:]
        var groups: [GroupID: GroupRow] = [:]
        for job in expired {
            if groups[job.groupID] == nil { groups[job.groupID] = try groupRow(job.groupID) }
            let group = groups[job.groupID]!
            let ref = job.ref(in: group)
            let owner = job.leaseOwner ?? "unknown"
            let attemptError = JobError(type: "abandoned", message: "worker \(owner) stopped renewing its lease while the attempt ran")
            attempts.append((job, attemptError.jsonString))
            try record(.jobRescued, ref, pool: job.pool, data: #"{"attempt":\#(job.attempts),"worker":\#(JSONValue.string(owner).jsonString)}"#)
            let abandoned = job.abandoned + 1
            if abandoned < job.maxAbandoned {
                try requeue.run { $0.add(attemptError.jsonString); $0.add(job.id.rawValue); $0.add(job.attempts) }
                effects.readyWork.insert(WorkKind(role: job.role, lane: job.lane))
            } else {
                let error = JobError.abandonedTooOften(abandoned, bound: job.maxAbandoned, lastWorker: owner)
                let errorJSON = error.jsonString
                try fail.run { $0.add(errorJSON); $0.add(now); $0.add(job.id.rawValue); $0.add(job.attempts) }
                try record(.jobFailed, ref, pool: job.pool, data: #"{"attempt":\#(job.attempts),"outcome":"abandoned","error":\#(errorJSON)}"#)
                effects.finishedJobs.append(
                    FinishedJob(
                        id: job.id, groupKey: group.key, role: job.role, state: .failed, error: error, attempts: job.attempts, lane: job.lane,
                        executor: job.executor
                    )
                )
                failures.append((ref, error))
                finishedPerGroup[job.groupID, default: 0] += 1
            }
        }
        try MultiRowInsert.attempts.insert(attempts, in: db) { arguments, attempt in
            attempt.0.bindEndedAttempt(&arguments, at: now, outcome: "abandoned", error: attempt.1)
        }
        for (job, error) in failures { try applyFailurePolicy(job: job, error: error) }
        for (groupID, count) in finishedPerGroup.sorted(by: { $0.key < $1.key }) {
            try countFinishedJobs(count, in: groupID)
            try finishGroupIfDone(groupID)
        }
        return expired.count
    }
}

extension JobError {
    /// The error of a job whose attempts were abandoned `count` times, reaching its `bound`, the last by `lastWorker`'s
    /// process.
    static func abandonedTooOften(_ count: Int, bound: Int, lastWorker: String) -> JobError {
        JobError(
            type: "abandoned",
            message: """
                the job was abandoned \(count) times (maxAbandonedAttempts is \(bound)): the process running it stopped during \
                \(count) of its attempts, the last one worker \(lastWorker)'s, so the job may be crashing its process; it is not \
                run again
                """
        )
    }
}

extension TransitionSQL {
    /// Hands a running job back to `ready`, giving back the attempt its claim counted.
    static let releaseSQL = """
        UPDATE jobs SET state = 'ready', attempts = attempts - 1, lease_owner = NULL, lease_until = NULL,
            started_at = NULL, pool = NULL
        WHERE id = ? AND state = 'running' AND lease_owner = ? AND attempts = ?
        """

    /// Extends every lease a worker holds.
    static let extendLeasesSQL = "UPDATE jobs SET lease_until = ? WHERE state = 'running' AND lease_owner = ?"

    /// Records a worker's heartbeat, bringing it back if it had been marked lost.
    static let heartbeatSQL = "UPDATE workers SET heartbeat_at = ?, stopped_at = NULL, stop_reason = NULL WHERE id = ? AND stop_reason IS NOT 'shutdown'"

    /// Marks workers lost: those silent since `?`, or the one named.
    static let markWorkerLostSQL = """
        UPDATE workers SET stopped_at = heartbeat_at, stop_reason = 'lost'
        WHERE stopped_at IS NULL AND (heartbeat_at < ? OR id = ?) AND id IS NOT ?
        """

    /// Running jobs whose lease has expired, through the `jobs_running` index.
    static let expiredLeasesSQL = "SELECT \(JobRow.columns) FROM jobs WHERE state = 'running' AND lease_until < ?"

    /// Every running job: few, since no more run than the workers of all processes.
    static let runningJobsSQL = "SELECT \(JobRow.columns) FROM jobs INDEXED BY jobs_running WHERE state = 'running'"

    /// Puts a rescued job back in the queue, counting its abandoned attempt.
    static let requeueRescuedSQL = """
        UPDATE jobs SET state = 'ready', error = ?, abandoned = abandoned + 1, lease_owner = NULL, lease_until = NULL, pool = NULL
        WHERE id = ? AND state = 'running' AND attempts = ?
        """

    /// Fails a rescued job that was abandoned too often.
    static let failRescuedSQL = """
        UPDATE jobs SET state = 'failed', error = ?, abandoned = abandoned + 1, finished_at = ?, lease_owner = NULL,
            lease_until = NULL, pool = NULL
        WHERE id = ? AND state = 'running' AND attempts = ?
        """
}
