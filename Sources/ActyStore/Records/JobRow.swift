import ActyCore

/// A job row as the rescue and administration rules read it: its place, state and lease.
struct JobRow {
    var id: JobID
    var groupID: GroupID
    var role: JobRole
    var followerIndex: Int?
    var lane: String
    var state: JobState
    /// Attempts started, abandoned ones included; for a running job, the number of the running attempt.
    var attempts: Int
    var maxAttempts: Int
    /// Attempts abandoned by a process that died: they do not count against ``maxAttempts``.
    var abandoned: Int
    /// Abandoned attempts after which the job fails rather than running again.
    var maxAbandoned: Int
    var leaseOwner: String?
    var startedAt: Double?
    var pool: JobRole?
    var error: String?
    var executor: String

    /// The columns ``init(_:)`` reads, in order.
    static let columns = """
        id, group_id, role, follower_index, lane, state, attempts, max_attempts, lease_owner, started_at, pool, error,
        abandoned, max_abandoned, executor
        """

    init(_ row: some SQLColumns) {
        id = JobID(row.int64(0))
        groupID = GroupID(row.int64(1))
        role = JobRole(stored: row.string(2))
        followerIndex = row.optionalInt(3)
        lane = row.string(4)
        state = JobState(rawValue: row.string(5)) ?? .failed
        attempts = row.int(6)
        maxAttempts = row.int(7)
        leaseOwner = row.optionalString(8)
        startedAt = row.optionalDouble(9)
        pool = row.optionalString(10).flatMap(JobRole.init(rawValue:))
        error = row.optionalString(11)
        abandoned = row.int(12)
        maxAbandoned = row.int(13)
        executor = row.string(14)
    }

    /// Attempts that count against ``maxAttempts``: every attempt started but the abandoned ones.
    var countedAttempts: Int { attempts - abandoned }

    /// The job as the state rules see it.
    func ref(in group: GroupRow) -> JobRef {
        JobRef(id: id, groupID: groupID, groupKey: group.key, role: role, followerIndex: followerIndex, lane: lane)
    }

    /// The row of the job's running attempt, ended now with `outcome`.
    func bindEndedAttempt(_ arguments: inout some SQLBindings, at now: Double, outcome: String, error: String) {
        let startedAt = startedAt ?? now
        arguments.add(id.rawValue)
        arguments.add(attempts)
        arguments.add(leaseOwner ?? "unknown")
        arguments.add((pool ?? role).rawValue)
        arguments.add(startedAt)
        arguments.add(now)
        arguments.add(outcome)
        arguments.add(error)
        arguments.add(max(0, now - startedAt))
    }
}

extension JobRole {
    /// The role stored in a `role` column, which the schema's CHECK constraint limits to `primer` and `follower`.
    init(stored name: String) {
        self = name == "primer" ? .primer : .follower
    }
}
