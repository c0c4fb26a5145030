public import ActyCore

/// A job to insert: its executor, its JSON payload and how often it may be attempted.
public struct NewJob: Sendable, Hashable {
    /// The name of the executor that runs it.
    public var executor: String
    /// The payload as compact JSON text.
    public var payload: String
    /// Higher runs first within a lane.
    public var priority: Int
    /// How many attempts the job may have, not counting those abandoned by a process that died.
    public var maxAttempts: Int
    /// How many of its attempts may be abandoned by a process that died before the job fails instead of running
    /// again (see `EngineConfiguration.maxAbandonedAttempts`).
    public var maxAbandonedAttempts: Int

    /// Creates a job to insert.
    public init(executor: String, payload: String, priority: Int = 0, maxAttempts: Int = 1, maxAbandonedAttempts: Int = 3) {
        self.executor = executor
        self.payload = payload
        self.priority = priority
        self.maxAttempts = maxAttempts
        self.maxAbandonedAttempts = maxAbandonedAttempts
    }
}

/// A group to insert, with its primer and the followers known so far.
public struct NewGroup: Sendable, Hashable {
    /// The user's key for the group: unique among live groups.
    public var key: String
    /// The lane whose share the group's jobs use.
    public var lane: String
    /// The weight a lane row gets if this submission creates it.
    public var laneWeight: Double
    /// The in-flight cap a lane row gets if this submission creates it.
    public var laneMaxInflight: Int?
    /// The primer, or `nil` for a group whose primer comes later (open) or never (closed).
    public var primer: NewJob?
    /// The followers known at submission.
    public var followers: [NewJob]
    /// Whether the group is complete (no more followers) or stays open.
    public var isClosed: Bool
    /// What a failed primer does to the group.
    public var primerPolicy: PrimerFailurePolicy
    /// What a failed follower does to the group.
    public var followerPolicy: FollowerFailurePolicy
    /// The cache entry the group's jobs share, if any.
    public var cacheKey: String?
    /// JSON context for the cache provider.
    public var cacheContext: String?
    /// JSON context shared by every job of the group.
    public var groupContext: String?
    /// Backoff between attempts of the group's jobs (their attempt counts are in ``NewJob/maxAttempts``).
    public var retryPolicy: RetryPolicy
    /// How long an attempt of the group's jobs may run, in seconds; `nil` for no limit.
    public var jobTimeout: Double?
    /// When set, the primer is skipped if the group's cache entry is ready, made by this provider with this
    /// fingerprint and not expired: the followers run at once on the existing entry.
    public var skipPrimerOnCacheHit: (provider: String, fingerprint: String)?

    /// Creates a group to insert.
    public init(
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

    public static func == (lhs: NewGroup, rhs: NewGroup) -> Bool {
        lhs.key == rhs.key && lhs.lane == rhs.lane && lhs.primer == rhs.primer && lhs.followers == rhs.followers
            && lhs.isClosed == rhs.isClosed && lhs.cacheKey == rhs.cacheKey
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(key)
    }
}

/// The ids given to a submitted group and its jobs.
public struct SubmittedGroup: Sendable, Hashable {
    /// The group's row id.
    public var id: GroupID
    /// The primer's id, if one was submitted.
    public var primer: JobID?
    /// The followers' ids, in submission order.
    public var followers: [JobID]
}

/// A live group, as found by key.
public struct LiveGroup: Sendable, Hashable {
    /// The group's row id.
    public var id: GroupID
    /// Its key.
    public var key: String
    /// Its lane.
    public var lane: String
    /// `open` or `closed`.
    public var state: GroupState
    /// Whether a primer was submitted.
    public var hasPrimer: Bool
}
