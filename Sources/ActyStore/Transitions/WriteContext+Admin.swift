import ActyCore

/// Cancelling and retrying by hand: the rules the engine's API and `acty-query`'s admin commands share.
extension WriteContext {
    /// Cancels a job: a queued one is recorded `cancelled` at once; a running one too, its attempt recorded as
    /// `cancelled`, and its engine cancels the executor task when it learns of it (``WriteEffects/cancelledRunning``).
    /// Cancelling a primer cancels its whole group, since its followers could never run.
    ///
    /// - Returns: `false` when the job had already finished.
    /// - Throws: ``ActyError/Code/unknownJob``.
    mutating func cancelJob(_ id: JobID) throws -> Bool {
        let job = try adminJob(id)
        guard !job.state.isTerminal else { return false }
        if job.role == .primer { return try cancelGroup(job.groupID) }
        let group = try groupRow(job.groupID)
        try cancel([job], in: group, reason: "explicit_cancel")
        try finishGroupIfDone(group.id)
        return true
    }

    /// Cancels a group and every job of it that has not finished, running ones included. The group ends
    /// `cancelled` (a group that had already failed keeps that state).
    ///
    /// - Returns: `false` when the group had already finished.
    mutating func cancelGroup(_ id: GroupID) throws -> Bool {
        var group = try groupRow(id)
        guard group.finishedAt == nil else { return false }
        if group.state.isLive {
            group.state = .cancelled
            try db.cachedStatement(sql: "UPDATE groups SET state = 'cancelled' WHERE id = ?").run { $0.add(id.rawValue) }
            try record(.groupCancelled, group)
        }
        var jobs: [JobRow] = []
        try db.cachedStatement(sql: TransitionSQL.unfinishedJobsSQL).forEachRow { $0.add(id.rawValue) } _: { jobs.append(JobRow($0)) }
        try cancel(jobs, in: group, reason: "group_cancelled")
        try finishGroupIfDone(id)
        return true
    }

    /// Closes every open group of the database (see ``closeGroup(_:)``); returns how many.
    mutating func closeAllOpenGroups() throws -> Int {
        let ids = try groupIDs(sql: "SELECT id FROM groups WHERE state = 'open' ORDER BY id")
        for id in ids { try closeGroup(id) }
        return ids.count
    }

    /// Cancels every live group of the database and their unfinished jobs (see ``cancelGroup(_:)``); returns how
    /// many.
    mutating func cancelAllLiveGroups() throws -> Int {
        let ids = try groupIDs(sql: "SELECT id FROM groups WHERE state = 'open' OR state = 'closed' ORDER BY id")
        for id in ids { _ = try cancelGroup(id) }
        return ids.count
    }

    private func groupIDs(sql: String) throws -> [GroupID] {
        var ids: [GroupID] = []
        try db.cachedStatement(sql: sql).forEachRow { _ in } _: { ids.append(GroupID($0.int64(0))) }
        return ids
    }

    private mutating func cancel(_ jobs: [JobRow], in group: GroupRow, reason: String) throws {
        guard !jobs.isEmpty else { return }
        let error = JobError(type: "cancelled", message: reason)
        let errorJSON = error.jsonString
        let update = try db.cachedStatement(sql: TransitionSQL.cancelJobSQL)
        let now = now
        var attempts: [JobRow] = []
        for job in jobs {
            try update.run { $0.add(errorJSON); $0.add(now); $0.add(job.id.rawValue) }
            let phase = job.state == .running ? "running" : "queued"
            try record(.jobCancelled, job.ref(in: group), pool: job.pool, data: #"{"reason":"\#(reason)","phase":"\#(phase)"}"#)
            if job.state == .running {
                attempts.append(job)
                effects.cancelledRunning.append(job.id)
            }
            effects.finishedJobs.append(
                FinishedJob(
                    id: job.id, groupKey: group.key, role: job.role, state: .cancelled, error: error, attempts: job.attempts, lane: job.lane,
                    executor: job.executor
                )
            )
        }
        try MultiRowInsert.attempts.insert(attempts, in: db) { arguments, job in
            job.bindEndedAttempt(&arguments, at: now, outcome: "cancelled", error: errorJSON)
        }
        try countFinishedJobs(jobs.count, in: group.id)
    }

    /// Queues a failed or cancelled job again with one more attempt; its group, if it had finished, is live again.
    ///
    /// Retrying a primer also brings back, as blocked until it succeeds, the followers that were cancelled because
    /// of it or of its group: by its failure (the group failed, or skipped its followers) or by the group's
    /// cancellation (cancelling a primer cancels its group). Followers cancelled one by one stay cancelled. So a
    /// cancelled group whose primer is retried runs again as a whole, and ends by the usual rules.
    ///
    /// - Throws: ``ActyError/Code/unknownJob``; ``ActyError/Code/invalidArgument`` for a job that is not failed or
    ///   cancelled, or a follower whose primer failed or was cancelled (retry the primer);
    ///   ``ActyError/Code/groupKeyInUse`` when a newer live group has taken the key.
    /// - Returns: how many jobs were queued again (the job, and the followers a primer brings back).
    @discardableResult
    mutating func retryJob(_ id: JobID) throws -> Int {
        let job = try adminJob(id)
        guard job.state == .failed || job.state == .cancelled else {
            throw ActyError(.invalidArgument, "job \(id) is \(job.state.rawValue): only failed or cancelled jobs can be retried")
        }
        var group = try groupRow(job.groupID)
        let state: JobState
        switch job.role {
        case .primer:
            state = .ready
        case .follower:
            switch group.primerState {
            case .succeeded, .skipped: state = .ready
            case .none: state = group.state == .open ? .blocked : .ready
            case .pending:
                // A primer cancelled with its group leaves the primer state pending: the follower would wait forever.
                if try primerJobState(of: group.id) == .cancelled {
                    throw ActyError(
                        .invalidArgument, "the primer of group '\(group.key)' was cancelled: retry the primer, which brings back its followers"
                    )
                }
                state = .blocked
            case .failed:
                guard group.primerPolicy == .runFollowers else {
                    throw ActyError(.invalidArgument, "the primer of group '\(group.key)' failed: retry the primer, or the whole group")
                }
                state = .ready
            }
        }
        try reopen(&group, jobs: 1)
        try requeue(job, as: state, in: group)
        guard job.role == .primer else { return 1 }
        try db.cachedStatement(sql: "UPDATE groups SET primer_state = 'pending' WHERE id = ?").run { $0.add(group.id.rawValue) }
        group.primerState = .pending
        return 1 + (try reviveCancelled(in: &group, as: .blocked, reasons: TransitionSQL.primerCancellationReasons))
    }

    /// Retries every failed job of a group, and brings back the jobs its failure cancelled.
    ///
    /// - Returns: how many jobs were queued again.
    mutating func retryFailedJobs(inGroup id: GroupID) throws -> Int {
        var failed: [JobRow] = []
        try db.cachedStatement(sql: TransitionSQL.failedJobsSQL).forEachRow { $0.add(id.rawValue) } _: { failed.append(JobRow($0)) }
        // The primer first: the followers' new state depends on it.
        var queued = 0
        for job in failed.sorted(by: { ($0.role == .primer ? 0 : 1, $0.id) < ($1.role == .primer ? 0 : 1, $1.id) }) {
            queued += try retryJob(job.id)
        }
        var group = try groupRow(id)
        let state: JobState = group.primerState == .succeeded ? .ready : .blocked
        return queued + (try reviveCancelled(in: &group, as: state, reasons: TransitionSQL.failureCancellationReasons))
    }

    /// Retries every failed job of every group.
    ///
    /// - Returns: how many jobs were queued again.
    mutating func retryAllFailedJobs() throws -> Int {
        var groups: [GroupID] = []
        try db.cachedStatement(sql: TransitionSQL.groupsWithFailedJobsSQL).forEachRow { _ in } _: { groups.append(GroupID($0.int64(0))) }
        var count = 0
        for group in groups { count += try retryFailedJobs(inGroup: group) }
        return count
    }

    /// Makes a finished group live again before `jobs` of its jobs are queued again.
    private mutating func reopen(_ group: inout GroupRow, jobs: Int) throws {
        if group.finishedAt != nil || !group.state.isLive {
            var taken = false
            try db.cachedStatement(sql: TransitionSQL.liveKeyOtherGroupSQL).forEachRow { $0.add(group.key); $0.add(group.id.rawValue) } _: { _ in taken = true }
            if taken {
                throw ActyError(.groupKeyInUse, "a newer live group uses the key '\(group.key)': its old group cannot be retried")
            }
            group.state = try closedAt(group.id) == nil ? .open : .closed
            group.error = nil
            group.finishedAt = nil
            try db.cachedStatement(sql: TransitionSQL.reopenGroupSQL).run { $0.add(group.state.rawValue); $0.add(group.id.rawValue) }
        }
        group.jobsFinished -= jobs
        try db.cachedStatement(sql: "UPDATE groups SET jobs_finished = jobs_finished - ? WHERE id = ?").run { $0.add(jobs); $0.add(group.id.rawValue) }
    }

    private mutating func requeue(_ job: JobRow, as state: JobState, in group: GroupRow) throws {
        try db.cachedStatement(sql: TransitionSQL.requeueJobSQL).run { $0.add(state.rawValue); $0.add(job.id.rawValue) }
        try record(.jobQueued, job.ref(in: group), data: state == .blocked ? #"{"retry":true,"blocked":true}"# : #"{"retry":true}"#)
        if state == .ready { effects.readyWork.insert(WorkKind(role: job.role, lane: job.lane)) }
    }

    /// Brings back the jobs of a group that were cancelled for one of `reasons`.
    @discardableResult
    private mutating func reviveCancelled(in group: inout GroupRow, as state: JobState, reasons: [String]) throws -> Int {
        var cancelled: [JobRow] = []
        let reasons = reasons.map { JobError(type: "cancelled", message: $0).jsonString }
        try db.cachedStatement(sql: TransitionSQL.cancelledJobsSQL).forEachRow { $0.add(group.id.rawValue) } _: { row in
            let job = JobRow(row)
            if let error = job.error, reasons.contains(error) { cancelled.append(job) }
        }
        guard !cancelled.isEmpty else { return 0 }
        try reopen(&group, jobs: cancelled.count)
        for job in cancelled { try requeue(job, as: state, in: group) }
        return cancelled.count
    }

    private func closedAt(_ id: GroupID) throws -> Double? {
        var closedAt: Double?
        try db.cachedStatement(sql: "SELECT closed_at FROM groups WHERE id = ?").forEachRow { $0.add(id.rawValue) } _: { closedAt = $0.optionalDouble(0) }
        return closedAt
    }

    /// The state of a group's primer job, if it has one.
    private func primerJobState(of group: GroupID) throws -> JobState? {
        var state: JobState?
        try db.cachedStatement(sql: TransitionSQL.primerJobStateSQL).forEachRow { $0.add(group.rawValue) } _: { state = JobState(rawValue: $0.string(0)) }
        return state
    }

    private func adminJob(_ id: JobID) throws -> JobRow {
        var job: JobRow?
        try db.cachedStatement(sql: TransitionSQL.adminJobSQL).forEachRow { $0.add(id.rawValue) } _: { job = JobRow($0) }
        guard let job else { throw ActyError(.unknownJob, "no job with id \(id) exists") }
        return job
    }
}

extension TransitionSQL {
    /// Why a group's failure cancelled its waiting jobs (see ``cancelNotStartedJobs(of:reason:)``).
    static let failureCancellationReasons = ["group_failed", "primer_failed_skip_followers"]

    /// Why jobs were cancelled because of their primer: its failure, or the cancellation of its group (which
    /// cancelling the primer does). A retried primer brings these back.
    static let primerCancellationReasons = failureCancellationReasons + ["group_cancelled"]

    static let adminJobSQL = "SELECT \(JobRow.columns) FROM jobs WHERE id = ?"

    static let primerJobStateSQL = "SELECT state FROM jobs WHERE group_id = ? AND role = 'primer'"

    static let unfinishedJobsSQL = """
        SELECT \(JobRow.columns) FROM jobs WHERE group_id = ? AND state IN ('blocked', 'ready', 'scheduled', 'running')
        """

    static let failedJobsSQL = "SELECT \(JobRow.columns) FROM jobs WHERE group_id = ? AND state = 'failed'"

    static let cancelledJobsSQL = "SELECT \(JobRow.columns) FROM jobs WHERE group_id = ? AND state = 'cancelled'"

    static let groupsWithFailedJobsSQL = "SELECT DISTINCT group_id FROM jobs WHERE state = 'failed'"

    static let cancelJobSQL = """
        UPDATE jobs SET state = 'cancelled', error = ?, finished_at = ?, run_at = NULL, lease_owner = NULL,
            lease_until = NULL, pool = NULL
        WHERE id = ?
        """

    /// Queues a job again with one more attempt in its retry budget (abandoned and resubmitted attempts do not count
    /// in it), and room for that attempt in its abandoned bound: a job that failed because it was abandoned too often
    /// runs once more, and fails again if that attempt is abandoned too.
    static let requeueJobSQL = """
        UPDATE jobs SET state = ?, max_attempts = MAX(max_attempts, attempts - abandoned - resubmits + 1),
            max_abandoned = MAX(max_abandoned, abandoned + 1), error = NULL, result = NULL, finished_at = NULL, run_at = NULL
        WHERE id = ?
        """

    /// Reopens a finished group; one that had been admitted holds a slot again until it finishes (a retry by hand
    /// is not held back by the cap, but is counted against it).
    static let reopenGroupSQL = """
        UPDATE groups SET state = ?, error = NULL, finished_at = NULL,
            admission = CASE WHEN admission = 'retired' THEN 'admitted' ELSE admission END
        WHERE id = ?
        """

    static let liveKeyOtherGroupSQL = "SELECT 1 FROM groups WHERE key = ? AND state IN ('open', 'closed') AND id != ?"
}
