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
    /// What the engine lends this attempt (usage, the primer); `nil` for a job made outside an engine.
    package var attemptContext: AttemptContext?

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

    /// Adds to the tokens this attempt used. The engine stores the sum on the attempt's row and in its
    /// `job_succeeded`, `job_failed` or `job_retrying` event; `acty-query tokens` adds them up. Call it also when
    /// the attempt then throws (a broken stream still used tokens). Outside an engine it does nothing.
    public func recordUsage(_ usage: TokenUsage) {
        attemptContext?.record(usage)
    }

    /// For a follower, its group's primer as it ran: its payload and, once it succeeded, its output. `nil` for a
    /// primer, a group without one, or a job made outside an engine. Read from the database on each call, so it
    /// works in any process and after a restart; an executor that needs it for many followers caches it per group.
    public func primer() async throws -> PrimerOutcome? {
        guard role == .follower, let attemptContext else { return nil }
        return try await attemptContext.primer()
    }

    /// Jobs are equal when their fields are; the engine's attempt context is not part of the value.
    public static func == (a: Job, b: Job) -> Bool {
        a.id == b.id && a.groupKey == b.groupKey && a.role == b.role && a.followerIndex == b.followerIndex && a.lane == b.lane
            && a.attempt == b.attempt && a.payload == b.payload && a.groupContext == b.groupContext && a.cache == b.cache
            && a.resubmits == b.resubmits
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(id)
        hasher.combine(attempt)
        hasher.combine(payload)
    }
}
