package import ActyCore
import GRDB

/// Read queries. Each runs in its own short read transaction on a reader connection, so it never blocks the writer
/// and holds no snapshot that would stall WAL checkpoints.
extension BackendStore {
    /// The job with this id.
    package func job(_ id: JobID) async throws -> JobRecord? {
        try await read { try $0.fetchOne(JobRecord.init, sql: JobRecord.selection + " WHERE jobs.id = ?", arguments: [id.rawValue]) }
    }

    /// A group's primer as it ran: its payload, and its output once it succeeded (`nil` for a group without one).
    package func primerOutcome(ofGroup id: GroupID) async throws -> PrimerOutcome? {
        let texts = try await read { db -> (payload: String, output: String?)? in
            try db.fetchOne(
                { ($0.string(0), $0.string(2) == JobState.succeeded.rawValue ? $0.optionalString(1) : nil) },
                sql: "SELECT payload, result, state FROM jobs WHERE group_id = ? AND role = 'primer'", arguments: [id.rawValue]
            )
        }
        guard let texts else { return nil }
        return PrimerOutcome(payload: try JSONValue(jsonString: texts.payload), output: try texts.output.map { try JSONValue(jsonString: $0) })
    }

    /// The jobs of a group, primer first, then followers by index.
    package func jobs(inGroup id: GroupID) async throws -> [JobRecord] {
        try await read {
            try $0.fetchAll(
                JobRecord.init, sql: JobRecord.selection + " WHERE jobs.group_id = ? ORDER BY jobs.role DESC, jobs.follower_index", arguments: [id.rawValue]
            )
        }
    }

    /// Every job, by id. For tests and small databases.
    package func allJobs() async throws -> [JobRecord] {
        try await read { try $0.fetchAll(JobRecord.init, sql: JobRecord.selection + " ORDER BY jobs.id") }
    }

    /// The most recent group with this key (live or finished).
    package func group(key: String) async throws -> GroupRecord? {
        try await read { try $0.fetchOne(GroupRecord.init, sql: GroupRecord.latestByKeySQL, arguments: [key]) }
    }

    /// The group with this id.
    package func group(_ id: GroupID) async throws -> GroupRecord? {
        try await read { try $0.fetchOne(GroupRecord.init, sql: GroupRecord.selection + " WHERE id = ?", arguments: [id.rawValue]) }
    }

    /// Every group, by id. For tests and small databases.
    package func allGroups() async throws -> [GroupRecord] {
        try await read { try $0.fetchAll(GroupRecord.init, sql: GroupRecord.selection + " ORDER BY id") }
    }

    /// The live (open or closed) group with this key.
    package func liveGroup(key: String) async throws -> GroupRecord? {
        try await read {
            try $0.fetchOne(GroupRecord.init, sql: GroupRecord.liveByKeySQL, arguments: [key])
        }
    }

    /// How many groups are live (open or closed, not finished).
    package func liveGroupCount() async throws -> Int {
        try await read { try $0.fetchOne({ $0.int(0) }, sql: "SELECT COUNT(*) FROM groups WHERE state = 'open' OR state = 'closed'") ?? 0 }
    }

    /// Attempts of one job, or of every job when `job` is nil, by job and number.
    package func attempts(of job: JobID? = nil) async throws -> [AttemptRecord] {
        try await read { db in
            if let job {
                return try db.fetchAll(AttemptRecord.init, sql: AttemptRecord.selection + " WHERE job_id = ? ORDER BY number", arguments: [job.rawValue])
            }
            return try db.fetchAll(AttemptRecord.init, sql: AttemptRecord.selection + " ORDER BY job_id, number")
        }
    }

    /// Events after `seq`, oldest first, with the group key, role and follower index of the job they concern.
    package func events(after seq: Int64 = 0, limit: Int = 10_000) async throws -> [EventRecord] {
        try await read { db in try StoreSQL.fetchEvents(db, after: seq, limit: limit) }
    }

    /// Jobs whose outcome was recorded after event `seq` (a `job_succeeded`, `job_failed` or `job_cancelled` event),
    /// in the order of those events, up to `limit` of them; a job recorded twice (run again by an operator) comes
    /// twice. `scannedTo` is where the next page starts: the last event read, or the newest event when fewer than
    /// `limit` matched.
    package func finishedJobs(after seq: Int64, limit: Int) async throws -> (jobs: [FinishedJobEvent], scannedTo: Int64) {
        try await read { db in
            let jobs = try db.fetchAll({ row in
                FinishedJobEvent(seq: row.int64(25), type: try decodeEnum(row.string(26), table: "events"), job: try JobRecord(row: row))
            }, sql: StoreSQL.finishedJobsSQL, arguments: [seq, limit])
            if jobs.count == limit, let last = jobs.last { return (jobs, last.seq) }
            return (jobs, try db.fetchOne({ $0.optionalInt64(0) }, sql: ReadOnlyStore.lastEventSeqSQL).flatMap { $0 } ?? seq)
        }
    }

    /// The jobs with these ids (those that exist).
    package func jobs(_ ids: [JobID]) async throws -> [JobRecord] {
        guard !ids.isEmpty else { return [] }
        let placeholders = Array(repeating: "?", count: ids.count).joined(separator: ", ")
        let arguments = ids.map(\.rawValue)
        return try await read { try $0.fetchAll(JobRecord.init, sql: JobRecord.selection + " WHERE jobs.id IN (\(placeholders))", arguments: arguments) }
    }

    /// Which of these jobs are no longer running under `worker`'s lease (cancelled, rescued or finished elsewhere).
    package func jobsNotLeased(_ ids: [JobID], to worker: String) async throws -> [JobID] {
        try await jobs(ids).filter { $0.state != .running || $0.leaseOwner != worker }.map(\.id)
    }

    /// Whether another engine process has worked on the database since `time`: one that is still running, or that
    /// stopped after `time`.
    package func otherWorkersActive(since time: Double, excluding worker: String) async throws -> Bool {
        try await read { db in
            try db.fetchOne(
                { _ in true }, sql: "SELECT 1 FROM workers WHERE id != ? AND (stopped_at IS NULL OR stopped_at >= ?) LIMIT 1",
                arguments: [worker, time]
            ) ?? false
        }
    }

    /// Engine processes that have not stopped, as registered in `workers`.
    package func activeWorkers() async throws -> [WorkerRecord] {
        try await read {
            try $0.fetchAll(WorkerRecord.init, sql: WorkerRecord.selection + " WHERE stopped_at IS NULL ORDER BY started_at")
        }
    }

    /// Jobs with more than one succeeded attempt: a delivery guarantee broken, so always 0.
    package func jobsSucceededMoreThanOnce() async throws -> Int {
        try await read { db in
            try db.fetchOne(
                { $0.int(0) },
                sql: "SELECT COUNT(*) FROM (SELECT job_id FROM attempts WHERE outcome = 'succeeded' GROUP BY job_id HAVING COUNT(*) > 1) AS twice"
            ) ?? 0
        }
    }

    /// Whether the file holds groups and every one of them has finished, through the `groups_state` index: cheap
    /// at any size, for a process that runs until the work in the file is done.
    package func allGroupsFinished() async throws -> Bool {
        try await read { db in
            try db.fetchOne(
                { $0.int64(0) != 0 },
                sql: "SELECT EXISTS (SELECT 1 FROM groups) AND NOT EXISTS (SELECT 1 FROM groups WHERE state IN ('open', 'closed'))"
            ) ?? false
        }
    }

    /// How many jobs are in each state.
    package func jobCountsByState() async throws -> [JobState: Int] {
        try await read { db in
            var counts: [JobState: Int] = [:]
            for (state, count) in try db.fetchAll({ ($0.string(0), $0.int(1)) }, sql: "SELECT state, COUNT(*) FROM jobs GROUP BY state") {
                if let state = JobState(rawValue: state) { counts[state] = count }
            }
            return counts
        }
    }

    /// Whether another worker is creating the cache entry of `key` under a live lease: a primer waiting for it
    /// reads this instead of taking the write lock to ask again.
    package func cacheCreationInProgress(key: String) async throws -> Bool {
        try await read { db in
            try db.fetchOne(
                { _ in true }, sql: "SELECT 1 FROM cache_entries WHERE key = ? AND state = 'creating' AND lease_until > ?",
                arguments: [key, WallClock.now]
            ) ?? false
        }
    }

    /// Every lane row, by name.
    package func lanes() async throws -> [LaneRecord] {
        try await read { try $0.fetchAll(LaneRecord.init, sql: "SELECT name, weight, max_inflight, paused FROM lanes ORDER BY name") }
    }

    /// The schema version recorded in the database (an open store's database has been migrated).
    package func appliedSchemaVersion() async throws -> Int {
        try await read { try $0.fetchOne({ $0.int(0) }, sql: "SELECT MAX(version) FROM schema_migrations") ?? 0 }
    }
}

extension StoreSQL {
    static let finishedJobsSQL = """
        SELECT \(JobRecord.columns), events.seq, events.type
        FROM events JOIN jobs ON jobs.id = events.job_id JOIN groups ON groups.id = jobs.group_id
        WHERE events.seq > ? AND (events.type = 'job_succeeded' OR events.type = 'job_failed' OR events.type = 'job_cancelled')
        ORDER BY events.seq LIMIT ?
        """
}
