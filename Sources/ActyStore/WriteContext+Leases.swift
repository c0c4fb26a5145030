import ActyCore
import GRDB

extension WriteContext {
    /// Hands running jobs back without using up an attempt: their engine is shutting down.
    ///
    /// Each counts only while still leased to `worker` for that attempt.
    mutating func release(_ jobs: [ClaimedJob], worker: String) throws {
        let release = try db.cachedStatement(sql: Self.releaseSQL)
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
        try db.cachedStatement(sql: Self.extendLeasesSQL).run { $0.add(leaseUntil); $0.add(worker) }
        try db.cachedStatement(sql: Self.extendCacheLeasesSQL).run { $0.add(leaseUntil); $0.add(worker) }
        try db.cachedStatement(sql: Self.heartbeatSQL).run { $0.add(now); $0.add(worker) }
    }

    /// Takes back jobs whose lease expired or whose worker is known to be dead, and marks silent workers lost.
    ///
    /// Each rescued attempt is recorded as `abandoned` with a `job_rescued` event. A job with attempts left goes
    /// back to `ready` at once; one without fails, and its group's failure policy applies.
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
        let markLost = try db.cachedStatement(sql: Self.markWorkerLostSQL)
        try markLost.run { $0.add(silentSince); $0.addNull(); $0.add(worker) }
        for dead in deadWorkers {
            try markLost.run { $0.add(-Double.infinity); $0.add(dead); $0.add(worker) }
            // Cache entries it was creating are taken over at once rather than when their lease runs out.
            try db.cachedStatement(sql: Self.extendCacheLeasesSQL).run { $0.add(0.0); $0.add(dead) }
        }

        var expired: [RescuedJob] = []
        try db.cachedStatement(sql: Self.expiredLeasesSQL).forEachRow { $0.add(now) } _: { row in
            let job = RescuedJob(row)
            if job.owner != worker { expired.append(job) }
        }
        if !deadWorkers.isEmpty {
            let known = Set(expired.map(\.id))
            try db.cachedStatement(sql: Self.runningJobsSQL).forEachRow { _ in } _: { row in
                let job = RescuedJob(row)
                if deadWorkers.contains(job.owner), !known.contains(job.id) { expired.append(job) }
            }
        }
        guard !expired.isEmpty else { return 0 }

        let requeue = try db.cachedStatement(sql: Self.requeueRescuedSQL)
        let fail = try db.cachedStatement(sql: Self.failRescuedSQL)
        var attempts: [(RescuedJob, String)] = []
        var failures: [(JobRef, JobError)] = []
        var finishedPerGroup: [GroupID: Int] = [:]
        var groups: [GroupID: GroupRow] = [:]
        for job in expired {
            if groups[job.groupID] == nil { groups[job.groupID] = try groupRow(job.groupID) }
            let group = groups[job.groupID]!
            let ref = JobRef(id: job.id, groupID: job.groupID, groupKey: group.key, role: job.role, followerIndex: job.followerIndex, lane: job.lane)
            let error = JobError(type: "abandoned", message: "worker \(job.owner) stopped renewing its lease while the attempt ran")
            let errorJSON = error.jsonString
            attempts.append((job, errorJSON))
            try record(.jobRescued, ref, pool: job.pool, data: #"{"attempt":\#(job.attempt),"worker":\#(JSONValue.string(job.owner).jsonString)}"#)
            if job.attempt < job.maxAttempts {
                try requeue.run { $0.add(errorJSON); $0.add(job.id.rawValue); $0.add(job.attempt) }
                effects.readyWork.insert(WorkKind(role: job.role, lane: job.lane))
            } else {
                try fail.run { $0.add(errorJSON); $0.add(now); $0.add(job.id.rawValue); $0.add(job.attempt) }
                try record(.jobFailed, ref, pool: job.pool, data: #"{"attempt":\#(job.attempt),"outcome":"abandoned","error":\#(errorJSON)}"#)
                effects.finishedJobs.append(
                    FinishedJob(id: job.id, groupKey: group.key, role: job.role, state: .failed, error: error, attempts: job.attempt)
                )
                failures.append((ref, error))
                finishedPerGroup[job.groupID, default: 0] += 1
            }
        }
        try MultiRowInsert.attempts.insert(attempts, in: db) { arguments, attempt in
            let (job, error) = attempt
            arguments.add(job.id.rawValue)
            arguments.add(job.attempt)
            arguments.add(job.owner)
            arguments.add((job.pool ?? job.role).rawValue)
            arguments.add(job.startedAt)
            arguments.add(now)
            arguments.add("abandoned")
            arguments.add(error)
            arguments.add(max(0, now - job.startedAt))
        }
        for (job, error) in failures { try applyFailurePolicy(job: job, error: error) }
        for (groupID, count) in finishedPerGroup.sorted(by: { $0.key < $1.key }) {
            try countFinishedJobs(count, in: groupID)
            try finishGroupIfDone(groupID)
        }
        return expired.count
    }
}

/// A running job whose lease is being taken back.
private struct RescuedJob {
    var id: JobID
    var groupID: GroupID
    var role: JobRole
    var followerIndex: Int?
    var lane: String
    var attempt: Int
    var maxAttempts: Int
    var owner: String
    var startedAt: Double
    var pool: JobRole?

    init(_ row: Statement.Columns) {
        id = JobID(row.int64(0))
        groupID = GroupID(row.int64(1))
        role = row.string(2) == "primer" ? .primer : .follower
        followerIndex = row.optionalInt(3)
        lane = row.string(4)
        attempt = row.int(5)
        maxAttempts = row.int(6)
        owner = row.optionalString(7) ?? "unknown"
        startedAt = row.optionalDouble(8) ?? 0
        pool = row.optionalString(9).flatMap(JobRole.init(rawValue:))
    }
}

extension WriteContext {
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

    static let rescuedColumns = "id, group_id, role, follower_index, lane, attempts, max_attempts, lease_owner, started_at, pool"

    /// Running jobs whose lease has expired, through the `jobs_running` index.
    static let expiredLeasesSQL = "SELECT \(rescuedColumns) FROM jobs WHERE state = 'running' AND lease_until < ?"

    /// Every running job: few, since no more run than the workers of all processes.
    static let runningJobsSQL = "SELECT \(rescuedColumns) FROM jobs INDEXED BY jobs_running WHERE state = 'running'"

    /// Puts a rescued job with attempts left back in the queue.
    static let requeueRescuedSQL = """
        UPDATE jobs SET state = 'ready', error = ?, lease_owner = NULL, lease_until = NULL, pool = NULL
        WHERE id = ? AND state = 'running' AND attempts = ?
        """

    /// Fails a rescued job that has no attempts left.
    static let failRescuedSQL = """
        UPDATE jobs SET state = 'failed', error = ?, finished_at = ?, lease_owner = NULL, lease_until = NULL, pool = NULL
        WHERE id = ? AND state = 'running' AND attempts = ?
        """
}
