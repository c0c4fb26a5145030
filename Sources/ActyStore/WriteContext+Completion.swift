import ActyCore
import GRDB

extension WriteContext {
    /// Records the outcomes of finished attempts and applies the groups' rules: a primer's success releases its
    /// followers, a failure applies the group's failure policy, and a group whose jobs are all terminal finishes.
    ///
    /// An outcome counts only while the job is still leased to `worker` for that attempt, so a job that was rescued
    /// or cancelled meanwhile keeps the state it has now.
    mutating func complete(_ completions: [Completion], worker: String) throws {
        let succeed = try db.cachedStatement(sql: Self.succeedSQL)
        let fail = try db.cachedStatement(sql: Self.failSQL)
        let retry = try db.cachedStatement(sql: Self.scheduleRetrySQL)
        var attempts: [FinishedAttempt] = []
        attempts.reserveCapacity(completions.count)
        var finishedPerGroup: [GroupID: Int] = [:]
        var failures: [(job: JobRef, error: JobError)] = []
        var succeededPrimers: [GroupID] = []
        for completion in completions {
            let job = completion.job
            let at = completion.finishedAt
            let duration = max(0, at - job.startedAt)
            switch completion.outcome {
            case .succeeded(let output):
                try succeed.run { $0.add(output); $0.add(at); $0.add(job.id.rawValue); $0.add(worker); $0.add(job.attempt) }
                guard db.changesCount == 1 else { continue }
                attempts.append(FinishedAttempt(job: job, finishedAt: at, outcome: "succeeded", error: nil))
                try record(.jobSucceeded, job.ref, pool: job.pool, data: #"{"attempt":\#(job.attempt),"duration":\#(duration)}"#)
                effects.finishedJobs.append(
                    FinishedJob(id: job.id, groupKey: job.groupKey, role: job.role, state: .succeeded, error: nil, attempts: job.attempt)
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
                    guard db.changesCount == 1 else { continue }
                    effects.retryDue(at: at + delay)
                    attempts.append(FinishedAttempt(job: job, finishedAt: at, outcome: outcome, error: errorJSON))
                    try record(
                        .jobRetrying, job.ref, pool: job.pool,
                        data: #"{"attempt":\#(job.attempt),"delay":\#(delay),"outcome":"\#(outcome)","error":\#(errorJSON)}"#
                    )
                    continue
                }
                try fail.run { $0.add(errorJSON); $0.add(at); $0.add(job.id.rawValue); $0.add(worker); $0.add(job.attempt) }
                guard db.changesCount == 1 else { continue }
                attempts.append(FinishedAttempt(job: job, finishedAt: at, outcome: outcome, error: errorJSON))
                try record(
                    .jobFailed, job.ref, pool: job.pool,
                    data: #"{"attempt":\#(job.attempt),"duration":\#(duration),"outcome":"\#(outcome)","error":\#(errorJSON)}"#
                )
                effects.finishedJobs.append(
                    FinishedJob(id: job.id, groupKey: job.groupKey, role: job.role, state: .failed, error: failure.error, attempts: job.attempt)
                )
                failures.append((job.ref, failure.error))
            }
            finishedPerGroup[job.groupID, default: 0] += 1
        }

        try MultiRowInsert.attempts.insert(attempts, in: db) { arguments, attempt in
            arguments.add(attempt.job.id.rawValue)
            arguments.add(attempt.job.attempt)
            arguments.add(worker)
            arguments.add(attempt.job.pool.rawValue)
            arguments.add(attempt.job.startedAt)
            arguments.add(attempt.finishedAt)
            arguments.add(attempt.outcome)
            arguments.add(attempt.error)
            arguments.add(max(0, attempt.finishedAt - attempt.job.startedAt))
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

    /// Applies the group's policy to a job that failed for the last time.
    mutating func applyFailurePolicy(job: JobRef, error: JobError) throws {
        var group = try groupRow(job.groupID)
        let data = #"{"job_id":\#(job.id),"error":\#(error.jsonString)}"#
        switch job.role {
        case .primer:
            try db.cachedStatement(sql: "UPDATE groups SET primer_state = 'failed' WHERE id = ?").execute(arguments: [group.id.rawValue])
            group.primerState = .failed
            try record(.primerFailed, group, data: data)
            switch group.primerPolicy {
            case .failGroup:
                try failGroup(group, reason: "primer_failed", failedJob: job, error: error)
            case .skipFollowers:
                // The group stays live so late followers are accepted (and recorded as cancelled); it fails when
                // it finishes.
                let details = #"{"reason":"primer_failed_skip_followers","job_id":\#(job.id),"error":\#(error.jsonString)}"#
                try db.cachedStatement(sql: "UPDATE groups SET error = ? WHERE id = ?").execute(arguments: [details, group.id.rawValue])
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
}
