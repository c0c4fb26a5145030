package import ActyCore
import Foundation
import GRDB

/// Rows of one read query, as the `acty-query` tool prints them: column names (snake_case, stable: they are the
/// names of the SQL result columns) and one array of values per row.
///
/// Values are `.null`, `.number` (integers and REAL times, Unix seconds), or `.string`; JSON columns (`payload`,
/// `result`, `error`, `data`, ...) hold their JSON text.
package struct QueryTable: Sendable, Hashable {
    /// The column names, in order.
    package var columns: [String]
    /// The rows; each has one value per column.
    package var rows: [[JSONValue]]

    package init(columns: [String], rows: [[JSONValue]]) {
        self.columns = columns
        self.rows = rows
    }

    /// The value of `column` in row `index`, or `nil`.
    package func value(_ column: String, row index: Int = 0) -> JSONValue? {
        guard let position = columns.firstIndex(of: column), rows.indices.contains(index) else { return nil }
        return rows[index][position]
    }
}

/// A database opened read-only, for inspection tools: every query runs in its own short read transaction on a
/// read-only connection, so it never blocks an engine writing the file and never changes it.
package final class ReadOnlyStore: Sendable {
    /// The database file.
    package let path: String
    /// Whether the file was opened as immutable: its folder is read-only and its log empty (see `openPool`). Changes
    /// an engine makes afterwards are not seen.
    package let isImmutable: Bool
    let pool: DatabasePool

    /// Opens an existing Acty database read-only.
    ///
    /// - Throws: ``ActyError`` with code `databaseUnavailable` (missing file, not SQLite) or `incompatibleSchema`
    ///   (newer schema, or not an Acty database); the file is never modified.
    package init(path: String, busyTimeout: Duration = .seconds(5)) throws {
        self.path = path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw ActyError(.databaseUnavailable, "no database file at \(path)")
        }
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(busyTimeout.seconds)
        configuration.label = "acty-query"
        do {
            (pool, isImmutable) = try Self.openPool(path, configuration: configuration)
            let version = try pool.read { db in
                try SchemaMigrator.checkCompatible(db)
                return try SchemaMigrator.appliedVersion(db)
            }
            if version == 0 {
                throw ActyError(.incompatibleSchema, "the database has no Acty tables")
            }
        } catch let error as ActyError {
            throw ActyError(error.code, error.message.hasPrefix(path) ? error.message : "\(path): \(error.message)", cause: error.cause)
        } catch {
            throw StoreErrors.map(error, path: path)
        }
    }

    /// Runs `body` in one read transaction, mapping SQLite errors to ``ActyError``s.
    /// Refuses a lane filter that names no lane: an empty answer would hide a typo.
    static func requireLane(_ lane: String?, _ db: Database) throws {
        guard let lane else { return }
        guard try Bool.fetchOne(db, sql: "SELECT 1 FROM lanes WHERE name = ?", arguments: [lane]) ?? false else {
            throw ActyError(.unknownLane, "no lane named '\(lane)' exists in this database")
        }
    }

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try pool.read(body)
        } catch let error as ActyError {
            throw error
        } catch {
            throw StoreErrors.map(error, path: path)
        }
    }

    /// Fetches a query as a ``QueryTable``.
    static func table(_ db: Database, _ sql: String, _ arguments: StatementArguments = []) throws -> QueryTable {
        let statement = try db.makeStatement(sql: sql)
        return try table(statement, arguments)
    }

    static func table(_ statement: Statement, _ arguments: StatementArguments = []) throws -> QueryTable {
        let rows = try Row.fetchAll(statement, arguments: arguments)
        return QueryTable(columns: statement.columnNames, rows: rows.map { row in row.databaseValues.map(jsonValue) })
    }

    static func jsonValue(_ value: DatabaseValue) -> JSONValue {
        switch value.storage {
        case .null: .null
        case .int64(let int): .number(Double(int))
        case .double(let double): .number(double)
        case .string(let string): .string(string)
        case .blob(let data): .string(data.base64EncodedString())
        }
    }

    // MARK: Summary

    /// The `summary` report, read in one snapshot. Sections (each a table):
    /// - `overview`: one row with `schema_version`, `jobs_total`, `groups_total`, `groups_blocked` (live groups
    ///   waiting for dependencies), `groups_admitted` and `groups_pending` (under a cap on active groups: holding a
    ///   slot, waiting for one), `admission_burst` (1 while a burst is on, 0 after, null before any burst decision),
    ///   `throughput_per_second` (attempts
    ///   finished in the last 60 s, divided by 60), `oldest_ready_age_seconds` (null without ready jobs),
    ///   `workers_alive` (`stopped_at` NULL) and `workers_gone`.
    /// - `jobs_by_state` (`state`, `count`), `jobs_by_lane` (`lane`, `count`), `jobs_by_role` (`role`, `count`),
    ///   `groups_by_state` (`state`, `count`).
    /// - `jobs_missing_executor` (`executor`, `jobs`): ready and scheduled jobs whose executor no live engine (a
    ///   `workers` row with `stopped_at` NULL) has registered, so they wait until one does; empty when none.
    /// - `jobs_missing_result_handler` (`result_handler`, `jobs`): likewise, ready and scheduled jobs whose group's
    ///   result handler no live engine has.
    package func summary(now: Double? = nil) throws -> [(String, QueryTable)] {
        try read { db in
            let overview = try Self.table(db, """
                SELECT (SELECT MAX(version) FROM schema_migrations) AS schema_version,
                    (SELECT COUNT(*) FROM jobs) AS jobs_total,
                    (SELECT COUNT(*) FROM groups) AS groups_total,
                    (SELECT COUNT(DISTINCT group_id) FROM group_dependencies WHERE state = 'waiting') AS groups_blocked,
                    (SELECT COUNT(*) FROM groups WHERE admission = 'admitted') AS groups_admitted,
                    (SELECT COUNT(*) FROM groups WHERE admission = 'pending') AS groups_pending,
                    (SELECT bursting FROM admission_state WHERE id = 1) AS admission_burst,
                    (SELECT COUNT(*) FROM attempts WHERE finished_at >= ?1 - 60) / 60.0 AS throughput_per_second,
                    (SELECT COALESCE(SUM(prompt_tokens + completion_tokens), 0) FROM attempts) AS tokens_total,
                    (SELECT COALESCE(SUM(prompt_tokens + completion_tokens), 0) FROM attempts WHERE finished_at >= ?1 - 60) / 60.0
                        AS tokens_per_second,
                    ?1 - (SELECT MIN(created_at) FROM jobs WHERE state = 'ready') AS oldest_ready_age_seconds,
                    (SELECT COUNT(*) FROM workers WHERE stopped_at IS NULL) AS workers_alive,
                    (SELECT COUNT(*) FROM workers WHERE stopped_at IS NOT NULL) AS workers_gone
                """, [now ?? WallClock.now])
            return [
                ("overview", overview),
                ("jobs_by_state", try Self.table(db, "SELECT state, COUNT(*) AS count FROM jobs GROUP BY state ORDER BY state")),
                ("jobs_by_lane", try Self.table(db, "SELECT lane, COUNT(*) AS count FROM jobs GROUP BY lane ORDER BY lane")),
                ("jobs_by_role", try Self.table(db, "SELECT role, COUNT(*) AS count FROM jobs GROUP BY role ORDER BY role")),
                ("groups_by_state", try Self.table(db, "SELECT state, COUNT(*) AS count FROM groups GROUP BY state ORDER BY state")),
                ("jobs_missing_executor", try Self.table(db, Self.jobsMissingExecutorSQL)),
                ("jobs_missing_result_handler", try Self.table(db, Self.jobsMissingResultHandlerSQL)),
            ]
        }
    }

    /// Ready and scheduled jobs by executor, for executors no live engine has; read through the two states' partial
    /// indexes (see QueryPlanTests).
    static let jobsMissingExecutorSQL = """
        SELECT executor, COUNT(*) AS jobs
        FROM (SELECT executor FROM jobs INDEXED BY jobs_ready WHERE state = 'ready'
            UNION ALL SELECT executor FROM jobs INDEXED BY jobs_scheduled WHERE state = 'scheduled')
        WHERE executor NOT IN (SELECT json_each.value FROM workers, json_each(workers.executors) WHERE workers.stopped_at IS NULL)
        GROUP BY executor ORDER BY executor
        """

    /// Ready and scheduled jobs by result handler, for handlers no live engine has; read through the two states'
    /// partial indexes (see QueryPlanTests).
    static let jobsMissingResultHandlerSQL = """
        SELECT result_handler, COUNT(*) AS jobs
        FROM (SELECT result_handler FROM jobs INDEXED BY jobs_ready WHERE state = 'ready'
            UNION ALL SELECT result_handler FROM jobs INDEXED BY jobs_scheduled WHERE state = 'scheduled')
        WHERE result_handler IS NOT NULL AND result_handler NOT IN (
            SELECT json_each.value FROM workers, json_each(workers.result_handlers) WHERE workers.stopped_at IS NULL)
        GROUP BY result_handler ORDER BY result_handler
        """

    // MARK: Groups

    static let groupColumns = """
        groups.id, groups.key, groups.lane, groups.state, groups.primer_state, groups.primer_policy,
        groups.follower_policy, groups.jobs_total, groups.jobs_finished, groups.cache_key, groups.error,
        groups.created_at, groups.closed_at, groups.finished_at, groups.dependencies_waiting, groups.result_handler,
        groups.admission
        """

    /// Groups, newest first. Columns: `id, key, lane, state, primer_state, primer_policy, follower_policy,
    /// jobs_total, jobs_finished, cache_key, error, created_at, closed_at, finished_at, dependencies_waiting` (how
    /// many of its dependencies a group still waits for: a live group with any is blocked), `result_handler`,
    /// `admission` (`pending`, `admitted` or `retired` under a cap on active groups, else empty).
    ///
    /// - Parameter blocked: only live groups that wait for dependencies.
    /// - Throws: ``ActyError`` `unknownLane` when `lane` names no lane.
    package func groups(state: String? = nil, lane: String? = nil, blocked: Bool = false, limit: Int = 50) throws -> QueryTable {
        try read { db in
            try Self.requireLane(lane, db)
            return try Self.table(db, """
                SELECT \(Self.groupColumns) FROM groups
                WHERE (?1 IS NULL OR groups.state = ?1) AND (?2 IS NULL OR groups.lane = ?2)
                    AND (?3 = 0 OR (groups.dependencies_waiting > 0 AND groups.state IN ('open', 'closed')))
                ORDER BY groups.id DESC LIMIT ?4
                """, [state, lane, blocked, limit])
        }
    }

    /// The most recent group with `key`: sections `group` (one row, the columns of
    /// ``groups(state:lane:blocked:limit:)``), `jobs` (the columns of ``jobs(state:lane:role:executor:groupKey:limit:)``,
    /// primer first), `cache_entry` (the columns of ``cacheEntries()``, zero or one row) and `dependencies` (the
    /// columns of ``dependencies(state:groupKey:limit:)``, the groups it waits or waited for).
    ///
    /// - Throws: ``ActyError`` `unknownGroup` when no group has this key.
    package func group(key: String) throws -> [(String, QueryTable)] {
        try read { db in
            let group = try Self.table(db, "SELECT \(Self.groupColumns) FROM groups WHERE key = ? ORDER BY id DESC LIMIT 1", [key])
            guard let id = group.value("id")?.doubleValue else {
                throw ActyError(.unknownGroup, "no group with key \"\(key)\" in \(path)")
            }
            let jobs = try Self.table(db, "SELECT \(Self.jobColumns) FROM jobs JOIN groups ON groups.id = jobs.group_id WHERE jobs.group_id = ? ORDER BY jobs.role DESC, jobs.follower_index", [Int64(id)])
            let cache = try Self.table(db, "SELECT \(Self.cacheColumns) FROM cache_entries WHERE key = (SELECT cache_key FROM groups WHERE id = ?)", [Int64(id)])
            let dependencies = try Self.table(db, Self.dependenciesSQL(ofGroup: true), [Int64(id)])
            let leases = try Self.table(db, "SELECT id, worker, acquired_at FROM producer_leases WHERE group_id = ? ORDER BY id", [Int64(id)])
            return [("group", group), ("jobs", jobs), ("cache_entry", cache), ("dependencies", dependencies), ("producer_leases", leases)]
        }
    }

    // MARK: Jobs

    static let jobColumns = """
        jobs.id, groups.key AS group_key, jobs.role, jobs.follower_index, jobs.executor, jobs.lane, jobs.state,
        jobs.priority, jobs.attempts, jobs.abandoned, jobs.max_attempts, jobs.lease_owner, jobs.created_at, jobs.started_at,
        jobs.finished_at, jobs.error
        """

    /// Jobs, newest first. Columns: `id, group_key, role, follower_index, executor, lane, state, priority, attempts,
    /// abandoned, max_attempts, lease_owner, created_at, started_at, finished_at, error` (error: JSON text or null).
    /// `attempts` counts every attempt started; the `abandoned` ones (their process died) do not count against
    /// `max_attempts`.
    ///
    /// - Throws: ``ActyError`` `unknownLane` when `lane` names no lane.
    package func jobs(
        state: String? = nil, lane: String? = nil, role: String? = nil, executor: String? = nil, groupKey: String? = nil, limit: Int = 50
    ) throws -> QueryTable {
        try read { db in
            try Self.requireLane(lane, db)
            return try Self.table(db, """
                SELECT \(Self.jobColumns) FROM jobs JOIN groups ON groups.id = jobs.group_id
                WHERE (?1 IS NULL OR jobs.state = ?1) AND (?2 IS NULL OR jobs.lane = ?2) AND (?3 IS NULL OR jobs.role = ?3)
                    AND (?4 IS NULL OR jobs.executor = ?4) AND (?5 IS NULL OR groups.key = ?5)
                ORDER BY jobs.id DESC LIMIT ?6
                """, [state, lane, role, executor, groupKey, limit])
        }
    }

    /// One job: sections `job` (one row: the columns of ``jobs(state:lane:role:executor:groupKey:limit:)`` plus
    /// `result_handler`, `resubmits`, `resubmit_context`, `payload`, `original_payload` and `result`, JSON text) and `attempts` (the
    /// columns of ``attempts(job:limit:)`` plus `payload`). `payload` is what the next or last attempt ran with;
    /// after a result handler resubmitted the job, `original_payload` is the submitted one, and each `resubmitted`
    /// attempt has the handler's `reason` and the `payload` it resubmitted.
    ///
    /// - Throws: ``ActyError`` `unknownJob` when no job has this id.
    package func job(id: Int64) throws -> [(String, QueryTable)] {
        try read { db in
            let job = try Self.table(db, """
                SELECT \(Self.jobColumns), jobs.result_handler, jobs.resubmits, jobs.resubmit_context, jobs.payload, jobs.original_payload, jobs.result
                FROM jobs JOIN groups ON groups.id = jobs.group_id WHERE jobs.id = ?
                """, [id])
            guard !job.rows.isEmpty else { throw ActyError(.unknownJob, "no job with id \(id) in \(path)") }
            let attempts = try Self.table(db, "SELECT \(Self.attemptColumns), payload FROM attempts WHERE job_id = ? ORDER BY number", [id])
            return [("job", job), ("attempts", attempts)]
        }
    }

    // MARK: Attempts, lanes, cache, workers

    static let attemptColumns = """
        job_id, number, worker, pool, started_at, finished_at, duration, outcome, error, reason, prompt_tokens, completion_tokens,
        cached_prompt_tokens
        """

    /// Finished attempts, newest first. Columns: `job_id, number, worker, pool, started_at, finished_at, duration,
    /// outcome, error, reason` (why a result handler resubmitted the job, for `resubmitted` attempts), and the tokens
    /// the executor reported: `prompt_tokens, completion_tokens, cached_prompt_tokens` (empty when none).
    package func attempts(job: Int64? = nil, limit: Int = 50) throws -> QueryTable {
        try read { db in
            try Self.table(db, """
                SELECT \(Self.attemptColumns) FROM attempts WHERE (?1 IS NULL OR job_id = ?1)
                ORDER BY started_at DESC, job_id DESC, number DESC LIMIT ?2
                """, [job, limit])
        }
    }

    /// Lanes (those configured and those that have jobs), by name. Columns: `name, weight, max_inflight, paused`
    /// (0/1), `ready, running, done` (succeeded), `failed`, `recent_starts` (job_started events of the last 5
    /// minutes) and `start_share` (the lane's fraction of those starts, 0 when there were none).
    package func lanes(now: Double? = nil) throws -> QueryTable {
        try read { db in
            try Self.table(db, """
                WITH names AS (SELECT name FROM lanes UNION SELECT DISTINCT lane FROM jobs),
                counts AS (SELECT lane, SUM(state = 'ready') AS ready, SUM(state = 'running') AS running,
                    SUM(state = 'succeeded') AS done, SUM(state = 'failed') AS failed FROM jobs GROUP BY lane),
                starts AS (SELECT lane, COUNT(*) AS n FROM events WHERE type = 'job_started' AND at >= ?1 - 300 GROUP BY lane)
                SELECT names.name, COALESCE(lanes.weight, 1) AS weight, lanes.max_inflight, COALESCE(lanes.paused, 0) AS paused,
                    COALESCE(counts.ready, 0) AS ready, COALESCE(counts.running, 0) AS running,
                    COALESCE(counts.done, 0) AS done, COALESCE(counts.failed, 0) AS failed,
                    COALESCE(starts.n, 0) AS recent_starts,
                    COALESCE(starts.n * 1.0 / NULLIF((SELECT SUM(n) FROM starts), 0), 0) AS start_share
                FROM names LEFT JOIN lanes ON lanes.name = names.name LEFT JOIN counts ON counts.lane = names.name
                LEFT JOIN starts ON starts.lane = names.name
                ORDER BY names.name
                """, [now ?? WallClock.now])
        }
    }

    /// What token usage is summed by in ``tokens(by:limit:)``.
    package enum TokenGrouping: String, CaseIterable, Sendable {
        case lane, group, executor
    }

    /// Tokens the executors reported, summed by lane, group or executor, most first. Columns: the grouping's name
    /// (`lane`, `group` (the group's key) or `executor`), `attempts` (attempts that reported tokens), `prompt_tokens,
    /// completion_tokens, cached_prompt_tokens, total_tokens` (prompt + completion) and `cached_share` (cached prompt
    /// tokens over prompt tokens).
    package func tokens(by grouping: TokenGrouping, limit: Int = 50) throws -> QueryTable {
        let key =
            switch grouping {
            case .lane: "jobs.lane"
            case .group: "groups.key"
            case .executor: "jobs.executor"
            }
        return try read { db in
            try Self.table(db, """
                SELECT \(key) AS "\(grouping.rawValue)", COUNT(*) AS attempts, SUM(attempts.prompt_tokens) AS prompt_tokens,
                    SUM(attempts.completion_tokens) AS completion_tokens, SUM(attempts.cached_prompt_tokens) AS cached_prompt_tokens,
                    SUM(attempts.prompt_tokens + attempts.completion_tokens) AS total_tokens,
                    COALESCE(SUM(attempts.cached_prompt_tokens) * 1.0 / NULLIF(SUM(attempts.prompt_tokens), 0), 0) AS cached_share
                FROM attempts JOIN jobs ON jobs.id = attempts.job_id JOIN groups ON groups.id = jobs.group_id
                WHERE attempts.prompt_tokens IS NOT NULL
                GROUP BY \(grouping == .group ? "groups.id" : key) ORDER BY total_tokens DESC, 1 LIMIT ?
                """, [limit])
        }
    }

    static let cacheColumns = "key, provider, fingerprint, provider_ref, state, owner, lease_until, hits, created_at, updated_at, expires_at"

    /// Cache entries, by key. Columns: `key, provider, fingerprint, provider_ref, state, owner, lease_until, hits,
    /// created_at, updated_at, expires_at`.
    package func cacheEntries() throws -> QueryTable {
        try read { db in try Self.table(db, "SELECT \(Self.cacheColumns) FROM cache_entries ORDER BY key") }
    }

    /// Engine processes, by start. Columns: `id, pid, host, alive` (1 when `stopped_at` is NULL), `started_at,
    /// heartbeat_at, stopped_at, stop_reason, primer_workers, follower_workers, executors, result_handlers` (JSON
    /// text).
    package func workers() throws -> QueryTable {
        try read { db in try Self.table(db, Self.workersSQL) }
    }

    static let workersSQL = """
        SELECT id, pid, host, stopped_at IS NULL AS alive, started_at, heartbeat_at, stopped_at, stop_reason,
            primer_workers, follower_workers, executors, result_handlers FROM workers ORDER BY started_at
        """

    // MARK: Events

    /// Events after `since`, oldest first. Columns: `seq, at, type, group_id, group_key, job_id, role,
    /// follower_index, lane, worker, data` (data: JSON text or null).
    package func events(groupKey: String? = nil, job: Int64? = nil, type: String? = nil, since: Int64 = 0, limit: Int = 1000) throws -> QueryTable {
        try read { db in
            try Self.table(db, """
                SELECT events.seq, events.at, events.type, events.group_id, groups.key AS group_key, events.job_id,
                    jobs.role, jobs.follower_index, events.lane, events.worker, events.data
                FROM events LEFT JOIN groups ON groups.id = events.group_id LEFT JOIN jobs ON jobs.id = events.job_id
                WHERE events.seq > ?4 AND (?1 IS NULL OR groups.key = ?1) AND (?2 IS NULL OR events.job_id = ?2)
                    AND (?3 IS NULL OR events.type = ?3)
                ORDER BY events.seq LIMIT ?5
                """, [groupKey, job, type, since, limit])
        }
    }

    /// Up to `limit` events after `seq`, oldest first, as ``EventRecord``s (for the JSONL export and acty-tui);
    /// a range of the primary key, cheap at any log size.
    package func eventRecords(after seq: Int64, limit: Int) throws -> [EventRecord] {
        try read { db in try StoreSQL.fetchEvents(db, after: seq, limit: limit) }
    }

    /// The seq of the newest event, 0 for an empty log (the end of the primary key: no scan).
    package func lastEventSeq() throws -> Int64 {
        try read { db in try Int64.fetchOne(db, sql: Self.lastEventSeqSQL) ?? 0 }
    }

    static let lastEventSeqSQL = "SELECT MAX(seq) FROM events"

    /// The seq just before the first event at or after `at` (events are written in time order), found by a binary
    /// search over the primary key: `events.at` has no index.
    package func eventSeq(before at: Double) throws -> Int64 {
        try read { db in
            var low: Int64 = 0
            var high = try Int64.fetchOne(db, sql: Self.lastEventSeqSQL) ?? 0
            while low < high {
                let middle = low + (high - low + 1) / 2
                let time = try Double.fetchOne(db, sql: Self.eventAtSQL, arguments: [middle]) ?? .infinity
                if time < at { low = middle } else { high = middle - 1 }
            }
            return low
        }
    }

    static let eventAtSQL = "SELECT at FROM events WHERE seq >= ? ORDER BY seq LIMIT 1"

    // MARK: SQL

    /// Runs one read-only SQL statement.
    ///
    /// - Throws: ``ActyError`` `invalidArgument` when the statement would write (checked with
    ///   `sqlite3_stmt_readonly` before it runs; the connection is read-only as well) or is not one statement.
    package func sql(_ text: String) throws -> QueryTable {
        let keyword = text.trimmingCharacters(in: .whitespacesAndNewlines).prefix(6).uppercased()
        if keyword == "ATTACH" || keyword == "DETACH" {
            throw ActyError(.invalidArgument, "refused: acty-query sql reads this database only; ATTACH and DETACH are not allowed")
        }
        return try read { db in
            let statement: Statement
            do {
                statement = try db.makeStatement(sql: text)
            } catch let error as DatabaseError {
                if error.message?.hasPrefix("Multiple statements") == true {
                    throw ActyError(.invalidArgument, "the SQL holds more than one statement: give exactly one statement")
                }
                throw ActyError(.invalidArgument, "the SQL is not valid: \(error.message ?? "syntax error")")
            }
            guard statement.isReadonly else {
                throw ActyError(.invalidArgument, "refused: acty-query sql only runs read-only statements (SELECT, read-only PRAGMA); use the admin subcommands to change the database")
            }
            return try Self.table(statement)
        }
    }
}

extension BackendStore where Backend == SQLiteBackend {
    /// Opens an existing database read-only, for inspection tools; see ``ReadOnlyStore/init(path:busyTimeout:)``.
    package static func openReadOnly(_ path: String) throws -> ReadOnlyStore { try ReadOnlyStore(path: path) }
}

extension StoreSQL {
    static let eventsAfterSQL = """
        SELECT events.seq, events.at, events.type, events.group_id, groups.key, events.job_id, jobs.role,
            jobs.follower_index, events.lane, events.worker, events.data
        FROM events
        LEFT JOIN groups ON groups.id = events.group_id
        LEFT JOIN jobs ON jobs.id = events.job_id
        WHERE events.seq > ? ORDER BY events.seq LIMIT ?
        """

    /// Events after `seq`, oldest first, with the group key, role and follower index of the job they concern.
    static func fetchEvents(_ db: some SQLConnection, after seq: Int64, limit: Int) throws -> [EventRecord] {
        try db.fetchAll({ row in
            let data = row.optionalString(10)
            var pool: JobRole?
            if let data, let value = try? JSONValue(jsonString: data), let name = value["pool"]?.stringValue {
                pool = JobRole(rawValue: name)
            }
            return EventRecord(
                seq: row.int64(0), at: row.double(1), type: row.string(2), groupID: row.optionalInt64(3).map(GroupID.init),
                groupKey: row.optionalString(4), jobID: row.optionalInt64(5).map(JobID.init),
                role: try row.optionalString(6).map { try decodeEnum($0, table: "jobs") }, followerIndex: row.optionalInt(7),
                lane: row.optionalString(8), pool: pool, worker: row.optionalString(9), data: data
            )
        }, sql: eventsAfterSQL, arguments: [seq, limit])
    }
}
