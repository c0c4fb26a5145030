

/// An event as committed to the `events` table, with the context event sinks need (Python acty's envelope).
public struct EventRecord: Sendable, Hashable {
    /// Position in the log: increases with every event of the database.
    public var seq: Int64
    /// When the event happened, in Unix epoch seconds.
    public var at: Double
    /// What happened.
    public var type: String
    /// The group's row id, for group and job events.
    public var groupID: GroupID?
    /// The group's key, for group and job events.
    public var groupKey: String?
    /// The job, for job events.
    public var jobID: JobID?
    /// The job's role, for job events.
    public var role: JobRole?
    /// The follower's index, for follower job events.
    public var followerIndex: Int?
    /// The lane, where one applies.
    public var lane: String?
    /// The worker pool that ran the job, for events of a running job.
    public var pool: JobRole?
    /// The engine process (worker id) that wrote the event.
    public var worker: String?
    /// Event details as compact JSON, or `nil`.
    public var data: String?

    /// Creates an event record.
    public init(
        seq: Int64, at: Double, type: String, groupID: GroupID? = nil, groupKey: String? = nil, jobID: JobID? = nil,
        role: JobRole? = nil, followerIndex: Int? = nil, lane: String? = nil, pool: JobRole? = nil,
        worker: String? = nil, data: String? = nil
    ) {
        self.seq = seq
        self.at = at
        self.type = type
        self.groupID = groupID
        self.groupKey = groupKey
        self.jobID = jobID
        self.role = role
        self.followerIndex = followerIndex
        self.lane = lane
        self.pool = pool
        self.worker = worker
        self.data = data
    }
}
