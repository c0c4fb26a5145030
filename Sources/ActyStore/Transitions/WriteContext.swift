import ActyCore

/// The state of one write request inside a batch transaction: the connection, the request's clock, the effects
/// it produced and the events it recorded.
///
/// All state transitions of jobs and groups are methods of this type (in the `WriteContext+…` files), so the
/// engine and the administration tools apply exactly the same rules.
struct WriteContext<Connection: SQLConnection> {
    let db: Connection
    /// The time of the request, used for every timestamp it writes.
    let now: Double
    /// The engine process on whose behalf events are written, if any.
    let worker: String?
    /// Whether events are also kept in memory for event sinks.
    let keepsEvents: Bool

    var effects = WriteEffects()
    /// Committed events for sinks (with their `seq`), when ``keepsEvents`` is on.
    var events: [EventRecord] = []
    /// The seq of the last event this request inserted (0 when none).
    var lastEventSeq: Int64 = 0
    /// Events recorded but not inserted yet.
    private var pendingEvents: [EventRecord] = []
    /// Finished groups whose dependents are still to be resolved, while a resolution runs: a chain of dependents
    /// failing one after the other is a loop, not a recursion as deep as the chain.
    var groupsToResolve: [GroupRow]? = nil
    /// The admission control of the writing engine (``Store/setAdmission(_:)``); `nil` for none.
    let admission: AdmissionSettings?

    init(db: Connection, worker: String?, keepsEvents: Bool, admission: AdmissionSettings? = nil) {
        self.db = db
        self.admission = admission
        self.now = WallClock.now
        self.worker = worker
        self.keepsEvents = keepsEvents
    }

    /// Adds an event to the log. Events are buffered and inserted together by ``flushEvents()`` at the end of
    /// the request, in the order they were recorded.
    mutating func record(
        _ type: EventType,
        group: GroupID? = nil,
        groupKey: String? = nil,
        job: JobID? = nil,
        role: JobRole? = nil,
        followerIndex: Int? = nil,
        lane: String? = nil,
        pool: JobRole? = nil,
        data: String? = nil
    ) throws {
        pendingEvents.append(
            EventRecord(
                seq: 0, at: now, type: type.rawValue, groupID: group, groupKey: groupKey, jobID: job, role: role,
                followerIndex: followerIndex, lane: lane, pool: pool, worker: worker, data: data
            )
        )
    }

    /// Inserts the buffered events, many rows per statement: one statement per event would cost more than the
    /// row itself.
    mutating func flushEvents() throws {
        guard !pendingEvents.isEmpty else { return }
        let keepsEvents = keepsEvents
        var committed: [EventRecord] = []
        var lastSeq = lastEventSeq
        try MultiRowInsert.events.insert(pendingEvents, in: db) { arguments, event in
            arguments.add(event.at)
            arguments.add(event.type)
            arguments.add(event.groupID?.rawValue)
            arguments.add(event.jobID?.rawValue)
            arguments.add(event.lane)
            arguments.add(event.worker)
            arguments.add(event.data)
        } inserted: { chunk, firstSeq in
            lastSeq = firstSeq + Int64(chunk.count) - 1
            guard keepsEvents else { return }
            var seq = firstSeq
            for var event in chunk {
                event.seq = seq
                committed.append(event)
                seq += 1
            }
        }
        events += committed
        lastEventSeq = lastSeq
        pendingEvents.removeAll(keepingCapacity: true)
    }

    /// Appends a job's event to the log.
    mutating func record(_ type: EventType, _ job: JobRef, pool: JobRole? = nil, data: String? = nil) throws {
        try record(
            type, group: job.groupID, groupKey: job.groupKey, job: job.id, role: job.role,
            followerIndex: job.followerIndex, lane: job.lane, pool: pool, data: data
        )
    }

    /// Appends a group's event to the log.
    mutating func record(_ type: EventType, _ group: GroupRow, data: String? = nil) throws {
        try record(type, group: group.id, groupKey: group.key, lane: group.lane, data: data)
    }

    /// Makes sure a lane row exists, creating it with the given defaults.
    mutating func ensureLane(_ name: String, weight: Double, maxInflight: Int?) throws {
        let statement = try db.cachedStatement(sql: """
            INSERT INTO lanes (name, weight, max_inflight, paused, created_at, updated_at) VALUES (?, ?, ?, 0, ?, ?)
            ON CONFLICT (name) DO NOTHING
            """)
        try statement.run { [now] in $0.add(name); $0.add(weight); $0.add(maxInflight); $0.add(now); $0.add(now) }
    }
}

/// What the state rules need to know about a job.
struct JobRef: Sendable {
    var id: JobID
    var groupID: GroupID
    var groupKey: String
    var role: JobRole
    var followerIndex: Int?
    var lane: String
}

/// A group row, as the state rules read it.
struct GroupRow: Sendable {
    var id: GroupID
    var key: String
    var lane: String
    var state: GroupState
    var primerState: PrimerState
    var primerPolicy: PrimerFailurePolicy
    var followerPolicy: FollowerFailurePolicy
    var followersTotal: Int
    var jobsTotal: Int
    var jobsFinished: Int
    var error: String?
    var finishedAt: Double?
    /// Dependencies not resolved yet: while any is, the group is blocked and none of its jobs may run.
    var dependenciesWaiting = 0
    /// `pending`, `admitted` or `retired` under admission control (migrations/0008); `nil` without a cap.
    var admission: String?

    /// Whether the group waits for dependencies or for an admission slot.
    var isBlocked: Bool { (dependenciesWaiting > 0 || admission == "pending") && state.isLive }

    /// Follower dispatch (migration 0007): seconds from the primer's start before followers may start, when that
    /// is, the cap on released-and-unfinished followers, and the highest follower index released so far.
    var followersWarmup: Double? = nil
    var warmUntil: Double? = nil
    var maxFollowersInflight: Int? = nil
    var followersReleasedThrough = -1

    static let columns = """
        id, key, lane, state, primer_state, primer_policy, follower_policy, followers_total, jobs_total,
        jobs_finished, error, finished_at, dependencies_waiting, followers_warmup, warm_until, max_followers_inflight,
        followers_released_through, admission
        """

    init(
        id: GroupID, key: String, lane: String, state: GroupState, primerState: PrimerState,
        primerPolicy: PrimerFailurePolicy, followerPolicy: FollowerFailurePolicy, followersTotal: Int, jobsTotal: Int,
        jobsFinished: Int, error: String?, finishedAt: Double?
    ) {
        self.id = id
        self.key = key
        self.lane = lane
        self.state = state
        self.primerState = primerState
        self.primerPolicy = primerPolicy
        self.followerPolicy = followerPolicy
        self.followersTotal = followersTotal
        self.jobsTotal = jobsTotal
        self.jobsFinished = jobsFinished
        self.error = error
        self.finishedAt = finishedAt
    }

    init(_ row: some SQLColumns) throws {
        id = GroupID(row.int64(0))
        key = row.string(1)
        lane = row.string(2)
        state = try Self.decode(GroupState.self, row.string(3))
        primerState = try Self.decode(PrimerState.self, row.string(4))
        primerPolicy = try Self.decode(PrimerFailurePolicy.self, row.string(5))
        followerPolicy = try Self.decode(FollowerFailurePolicy.self, row.string(6))
        followersTotal = row.int(7)
        jobsTotal = row.int(8)
        jobsFinished = row.int(9)
        error = row.optionalString(10)
        finishedAt = row.optionalDouble(11)
        dependenciesWaiting = row.int(12)
        followersWarmup = row.optionalDouble(13)
        warmUntil = row.optionalDouble(14)
        maxFollowersInflight = row.optionalInt(15)
        followersReleasedThrough = row.int(16)
        admission = row.optionalString(17)
    }

    private static func decode<T: RawRepresentable<String>>(_ type: T.Type, _ raw: String) throws -> T {
        guard let value = T(rawValue: raw) else {
            throw ActyError(.incompatibleSchema, "unexpected value '\(raw)' for \(T.self) in the groups table")
        }
        return value
    }
}

/// The transitions' SQL statements, one file's in each `extension TransitionSQL`: apart from the generic
/// ``WriteContext``, since a generic type cannot hold static stored properties.
enum TransitionSQL {}
