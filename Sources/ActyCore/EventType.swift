/// The kinds of events Acty records, named as in Python acty where the concept is the same.
///
/// Events are rows of the `events` table, written in the same transaction as the change they describe, so the
/// log never disagrees with the tables.
public enum EventType: String, Sendable, Hashable, CaseIterable, Codable {
    /// An engine process started working on the database (data: pools and executors).
    case runStarted = "run_started"
    /// An engine process stopped working on the database.
    case runFinished = "run_finished"
    /// An engine process registered in the `workers` table.
    case workerStarted = "worker_started"
    /// An engine process left the `workers` table.
    case workerStopped = "worker_stopped"
    /// A group was created.
    case groupActivated = "group_activated"
    /// An open group was closed: no more followers will be added.
    case groupClosed = "group_closed"
    /// A group's followers became ready (data: how many, and whether the primer succeeded).
    case followersReady = "followers_ready"
    /// A primer whose group has a warm-up started: its followers start `delay_s` later at the earliest (data:
    /// delay_s, warm_until).
    case warmDelayStart = "warm_delay_start"
    /// A group's primer failed for the last time.
    case primerFailed = "primer_failed"
    /// One of a group's followers failed for the last time.
    case followerFailed = "follower_failed"
    /// A group failed (data: the reason and the failed job).
    case groupFailed = "group_failed"
    /// A group was cancelled, with its jobs that had not finished.
    case groupCancelled = "group_cancelled"
    /// Every job of a group is terminal (data: outcome and counts).
    case groupDone = "group_done"
    /// A group waits for one of its dependencies (data: `dependency_id`, the key; `policy`; `timeout_s`). One
    /// event per dependency still waiting at submission.
    case groupBlocked = "group_blocked"
    /// A group's last waiting dependency was resolved: its jobs may run (data: that dependency, as for
    /// `group_blocked`).
    case groupUnblocked = "group_unblocked"
    /// One of a group's dependencies failed, was cancelled or timed out (data: as for `group_blocked`, and
    /// `reason`: `failed`, `cancelled` or `timeout`). Under `require_success` the group fails with it.
    case groupDependencyFailed = "group_dependency_failed"
    /// A group got an admission slot under `maxActiveGroups`: its jobs may run (data: `active`, `cap`).
    case groupAdmitted = "group_admitted"
    /// Groups wait for an admission slot (data: `pending`, `active`, `cap`), recorded when a group starts waiting.
    case groupsPending = "groups_pending"
    /// An admitted group finished and gave its slot back (data: `active`, `cap`).
    case groupRetired = "group_retired"
    /// Few jobs are ready, so admission allows `burst_allowance` more groups (data: `runnable`, `low_watermark`,
    /// `base_cap`, `burst_allowance`, `cap`).
    case burstOn = "burst_on"
    /// Enough jobs are ready again: admission is back to the base cap (data: as for `burst_on`).
    case burstOff = "burst_off"
    /// The admission cap in force changed (data: as for `burst_on`).
    case capChanged = "cap_changed"
    /// A job was stored and waits for its turn (or for its primer).
    case jobQueued = "job_queued"
    /// A worker started an attempt of a job.
    case jobStarted = "job_started"
    /// A job's attempt succeeded.
    case jobSucceeded = "job_succeeded"
    /// A job's last attempt failed.
    case jobFailed = "job_failed"
    /// A job's attempt failed and another attempt is scheduled (data: attempt, delay in seconds, error).
    case jobRetrying = "job_retrying"
    /// A job whose worker stopped heartbeating was taken back (data: attempt, the silent worker).
    case jobRescued = "job_rescued"
    /// A running job was handed back by a shutting-down engine without using up an attempt.
    case jobReleased = "job_released"
    /// A job was cancelled before or while running.
    case jobCancelled = "job_cancelled"
    /// A result handler asked for another attempt of a job with a new payload (data: attempt, handler, reason, and
    /// `result_handler_attempt`, the resubmit's number).
    case jobResubmitted = "job_resubmitted"
    /// A result handler replaced a job's output or failed the job (data: handler, `action` `replace` or `fail`).
    case jobResultHandled = "job_result_handled"
    /// A result handler threw (data: handler, error, `policy` `fail` or `pass_through`).
    case jobResultHandlerFailed = "job_result_handler_failed"
    /// Ready or scheduled jobs need an executor that no live engine has registered, so they wait (data: the
    /// executor, how many jobs need it, the executors the recording engine has). Recorded once per executor name by
    /// each engine that notices it.
    case executorMissing = "executor_missing"
    /// Lane weights or caps changed.
    case laneConfigsUpdated = "lane_configs_updated"
    /// A provider refused a call for load: the executor's budget pauses until its Retry-After and is halved for a
    /// cooldown (data: `executor`, `limit_lane`, `retry_after`, `slowdown`, `paused_until`).
    case rateLimited = "rate_limited"
    /// A budget lowered by `rate_limited` is whole again (data: `executor`).
    case rateLimitRestored = "rate_limit_restored"
    /// A cache entry was created for a group (data: key, provider).
    case cacheCreated = "cache_created"
    /// A group reused a ready cache entry (data: key, provider).
    case cacheHit = "cache_hit"
    /// A cache entry was invalidated: its fingerprint changed or an executor found it gone (data: key, provider, reason).
    case cacheInvalidated = "cache_invalidated"
    /// A cache entry outlived its time to live (data: key, provider).
    case cacheExpired = "cache_expired"
}
