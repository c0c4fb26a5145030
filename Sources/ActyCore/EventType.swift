/// The kinds of events Acty records, named as in Python acty where the concept is the same.
///
/// Events are rows of the `events` table, written in the same transaction as the change they describe.
public enum EventType: String, Sendable, Hashable, CaseIterable, Codable {
    case runStarted = "run_started"
    case runFinished = "run_finished"
    case workerStarted = "worker_started"
    case workerStopped = "worker_stopped"
    case groupActivated = "group_activated"
    case groupClosed = "group_closed"
    case followersReady = "followers_ready"
    case primerFailed = "primer_failed"
    case followerFailed = "follower_failed"
    case groupFailed = "group_failed"
    case groupDone = "group_done"
    case jobQueued = "job_queued"
    case jobStarted = "job_started"
    case jobSucceeded = "job_succeeded"
    case jobFailed = "job_failed"
    case jobRetrying = "job_retrying"
    case jobCancelled = "job_cancelled"
    case jobRescued = "job_rescued"
    case laneConfigsUpdated = "lane_configs_updated"
    case cacheCreated = "cache_created"
    case cacheHit = "cache_hit"
    case cacheInvalidated = "cache_invalidated"
    case cacheExpired = "cache_expired"
}
