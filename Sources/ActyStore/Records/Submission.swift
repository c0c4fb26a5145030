package import ActyCore

/// A job to insert: its executor, its JSON payload and how often it may be attempted.
package struct NewJob: Sendable, Hashable {
    /// The name of the executor that runs it.
    package var executor: String
    /// The payload as compact JSON text.
    package var payload: String
    /// Higher runs first within a lane.
    package var priority: Int
    /// How many attempts the job may have, not counting those abandoned by a process that died.
    package var maxAttempts: Int
    /// How many of its attempts may be abandoned by a process that died before the job fails instead of running
    /// again (see `EngineConfiguration.maxAbandonedAttempts`).
    package var maxAbandonedAttempts: Int

    /// Creates a job to insert.
    package init(executor: String, payload: String, priority: Int = 0, maxAttempts: Int = 1, maxAbandonedAttempts: Int = 3) {
        self.executor = executor
        self.payload = payload
        self.priority = priority
        self.maxAttempts = maxAttempts
        self.maxAbandonedAttempts = maxAbandonedAttempts
    }
}

/// A group to insert, with its primer and the followers known so far.
package struct NewGroup: Sendable, Hashable {
    /// The user's key for the group: unique among live groups.
    package var key: String
    /// The lane whose share the group's jobs use.
    package var lane: String
    /// The weight a lane row gets if this submission creates it.
    package var laneWeight: Double
    /// The in-flight cap a lane row gets if this submission creates it.
    package var laneMaxInflight: Int?
    /// The primer, or `nil` for a group whose primer comes later (open) or never (closed).
    package var primer: NewJob?
    /// The followers known at submission.
    package var followers: [NewJob]
    /// Whether the group is complete (no more followers) or stays open.
    package var isClosed: Bool
    /// What a failed primer does to the group.
    package var primerPolicy: PrimerFailurePolicy
    /// What a failed follower does to the group.
    package var followerPolicy: FollowerFailurePolicy
    /// The cache entry the group's jobs share, if any.
    package var cacheKey: String?
    /// JSON context for the cache provider.
    package var cacheContext: String?
    /// JSON context shared by every job of the group.
    package var groupContext: String?
    /// Backoff between attempts of the group's jobs (their attempt counts are in ``NewJob/maxAttempts``).
    package var retryPolicy: RetryPolicy
    /// How long an attempt of the group's jobs may run, in seconds; `nil` for no limit.
    package var jobTimeout: Double?
    /// When set, the primer is skipped if the group's cache entry is ready, made by this provider with this
    /// fingerprint and not expired: the followers run at once on the existing entry.
    package var skipPrimerOnCacheHit: (provider: String, fingerprint: String)?
    /// The groups it waits for, by key, each key once (see `WriteContext+Dependencies.swift`).
    package var dependencies: [GroupDependency] = []
    /// The name of the result handler that looks at the outputs of the group's jobs, if any.
    package var resultHandler: String?
    /// How many times the result handler may resubmit each job of the group.
    package var maxResubmits: Int = 0
    /// Seconds after the primer starts before followers may start; `nil` for as soon as the primer succeeded.
    package var followersWarmup: Double?
    /// The most followers released and unfinished at once; `nil` for no cap.
    package var maxFollowersInflight: Int?
    /// The submitter's tracing context, as a JSON object of the headers the tracer injected; `nil` for none.
    package var traceContext: String?

    /// Creates a group to insert.
    package init(
        key: String, lane: String, laneWeight: Double = 1, laneMaxInflight: Int? = nil, primer: NewJob?,
        followers: [NewJob], isClosed: Bool, primerPolicy: PrimerFailurePolicy = .failGroup,
        followerPolicy: FollowerFailurePolicy = .failGroup, cacheKey: String? = nil, cacheContext: String? = nil,
        groupContext: String? = nil, retryPolicy: RetryPolicy = .none, jobTimeout: Double? = nil
    ) {
        self.key = key
        self.lane = lane
        self.laneWeight = laneWeight
        self.laneMaxInflight = laneMaxInflight
        self.primer = primer
        self.followers = followers
        self.isClosed = isClosed
        self.primerPolicy = primerPolicy
        self.followerPolicy = followerPolicy
        self.cacheKey = cacheKey
        self.cacheContext = cacheContext
        self.groupContext = groupContext
        self.retryPolicy = retryPolicy
        self.jobTimeout = jobTimeout
    }

    package static func == (lhs: NewGroup, rhs: NewGroup) -> Bool {
        lhs.key == rhs.key && lhs.lane == rhs.lane && lhs.primer == rhs.primer && lhs.followers == rhs.followers
            && lhs.isClosed == rhs.isClosed && lhs.cacheKey == rhs.cacheKey
    }

    package func hash(into hasher: inout Hasher) {
        hasher.combine(key)
    }
}

/// The ids given to a submitted group and its jobs.
package struct SubmittedGroup: Sendable, Hashable {
    /// The group's row id.
    package var id: GroupID
    /// The primer's id, if one was submitted.
    package var primer: JobID?
    /// The followers' ids, in submission order.
    package var followers: [JobID]

    /// Every job's id: the primer first.
    package var jobs: [JobID] { (primer.map { [$0] } ?? []) + followers }
}

extension ActyError {
    /// This error, said of group `index` (0-based) of a call that submits `count` groups at once, which stores
    /// none of them; unchanged for a call of one group, whose message already names it.
    package func refusing(group index: Int, of count: Int, key: String) -> ActyError {
        guard count > 1 else { return self }
        return ActyError(code, "group spec \(index) of \(count) (key '\(key)'): \(message); none of the \(count) groups was stored", cause: cause)
    }
}
