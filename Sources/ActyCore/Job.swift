/// One execution attempt of a job, as handed to an ``Executor``-style function.
///
/// A `Job` is a snapshot taken when a worker claimed the job: `attempt` counts from 1 and grows with every retry.
public struct Job: Sendable, Hashable {
    /// The job's id, stable across attempts and restarts.
    public var id: JobID
    /// The key of the group the job belongs to.
    public var groupKey: String
    /// Whether this is the group's primer or one of its followers.
    public var role: JobRole
    /// The follower's position in its group (0 for the first follower added); `nil` for the primer.
    public var followerIndex: Int?
    /// The lane whose share of the workers this job uses.
    public var lane: String
    /// The attempt number, starting at 1. It counts every attempt started, also those abandoned because the process
    /// running them died; only the others use up the retry policy's `maxAttempts`.
    public var attempt: Int
    /// The job's input: as submitted, or as a result handler last resubmitted it.
    public var payload: JSONValue
    /// The context given to the group at submission (shared by all its jobs); `nil` when none was given.
    public var groupContext: JSONValue?
    /// The group's cache or session handle, when the group was opened with a cache key.
    public var cache: CacheHandle?
    /// How many times a result handler resubmitted the job before this attempt (0 for a job never resubmitted).
    public var resubmits: Int

    /// Creates a job snapshot.
    public init(
        id: JobID,
        groupKey: String,
        role: JobRole,
        followerIndex: Int? = nil,
        lane: String = "default",
        attempt: Int = 1,
        payload: JSONValue,
        groupContext: JSONValue? = nil,
        cache: CacheHandle? = nil,
        resubmits: Int = 0
    ) {
        self.id = id
        self.groupKey = groupKey
        self.role = role
        self.followerIndex = followerIndex
        self.lane = lane
        self.attempt = attempt
        self.payload = payload
        self.groupContext = groupContext
        self.cache = cache
        self.resubmits = resubmits
    }
}
