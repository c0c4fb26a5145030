package import ActyCore
import GRDB

/// Counts of jobs and groups, as a tool's "summary" shows them: read in one snapshot, so the numbers add up.
///
/// Get one from ``Store/summary(groupKeyPrefix:)``.
package struct DatabaseSummary: Sendable, Hashable {
    /// The number of jobs with one lane, role and state, and how long the started ones waited.
    package struct JobCount: Sendable, Hashable {
        /// The lane the jobs ran in.
        package var lane: String
        /// The jobs' role.
        package var role: JobRole
        /// The jobs' state.
        package var state: JobState
        /// How many jobs have this lane, role and state.
        package var count: Int
        /// How many of them have started (have a `started_at`).
        package var started: Int
        /// The sum, over the started ones, of the seconds from submission (`created_at`) to the last start.
        package var waitSeconds: Double
    }

    /// Job counts by lane, role and state; combinations without jobs are left out.
    package var jobCounts: [JobCount]
    /// Group counts by state; states without groups are left out.
    package var groupsByState: [GroupState: Int]
    /// Rows in `attempts`: finished attempts of the counted jobs.
    package var attempts: Int
    /// Those of them a result handler resubmitted.
    package var resubmittedAttempts: Int = 0
    /// When the first counted job was submitted (Unix seconds), or `nil` without jobs.
    package var firstSubmittedAt: Double?
    /// When the last counted job finished (Unix seconds), or `nil` when none has.
    package var lastFinishedAt: Double?

    /// All counted jobs.
    package var totalJobs: Int { jobCounts.reduce(0) { $0 + $1.count } }
    /// All counted groups.
    package var totalGroups: Int { groupsByState.values.reduce(0, +) }
    /// Jobs by state; states without jobs are left out.
    package var jobsByState: [JobState: Int] { total(by: \.state) }
    /// Jobs by lane; lanes without jobs are left out.
    package var jobsByLane: [String: Int] { total(by: \.lane) }
    /// Jobs by role; roles without jobs are left out.
    package var jobsByRole: [JobRole: Int] { total(by: \.role) }

    /// The average seconds the started jobs of a lane waited between submission and start, or `nil` when none
    /// started. Followers' waits include the time their primer took.
    package func averageWait(lane: String) -> Double? {
        let rows = jobCounts.filter { $0.lane == lane }
        let started = rows.reduce(0) { $0 + $1.started }
        guard started > 0 else { return nil }
        return rows.reduce(0) { $0 + $1.waitSeconds } / Double(started)
    }

    private func total<Key: Hashable>(by key: KeyPath<JobCount, Key>) -> [Key: Int] {
        jobCounts.reduce(into: [:]) { $0[$1[keyPath: key], default: 0] += $1.count }
    }
}

extension Store {
    /// Counts the jobs (by lane, role and state), groups (by state) and attempts of the database, or of the groups
    /// whose key starts with `groupKeyPrefix`, in one read transaction.
    ///
    /// The prefix is matched exactly (no wildcards), with `substr(key, 1, length(prefix)) = prefix`; that scans the
    /// `groups` table, which is fine for a summary but not for a hot path.
    ///
    /// - Parameter groupKeyPrefix: count only groups whose key starts with it, and their jobs and attempts; `nil`
    ///   (the default) counts everything.
    /// - Returns: the counts, consistent with each other.
    package func summary(groupKeyPrefix: String? = nil) async throws -> DatabaseSummary {
        try await read { db in
            // `?1` is the prefix; NULL selects every group.
            let groupFilter = "(?1 IS NULL OR substr(groups.key, 1, length(?1)) = ?1)"
            let arguments: StatementArguments = [groupKeyPrefix]

            let jobRows = try Row.fetchAll(
                db,
                sql: """
                    SELECT jobs.lane, jobs.role, jobs.state, COUNT(*), COUNT(jobs.started_at),
                        TOTAL(jobs.started_at - jobs.created_at)
                    FROM jobs JOIN groups ON groups.id = jobs.group_id
                    WHERE \(groupFilter)
                    GROUP BY jobs.lane, jobs.role, jobs.state
                    ORDER BY jobs.lane, jobs.role, jobs.state
                    """,
                arguments: arguments
            )
            let jobCounts = try jobRows.map { row in
                DatabaseSummary.JobCount(
                    lane: row[0], role: try decodeEnum(row[1], table: "jobs"), state: try decodeEnum(row[2], table: "jobs"),
                    count: row[3], started: row[4], waitSeconds: row[5]
                )
            }

            var groupsByState: [GroupState: Int] = [:]
            let groupRows = try Row.fetchAll(
                db, sql: "SELECT state, COUNT(*) FROM groups WHERE \(groupFilter) GROUP BY state", arguments: arguments
            )
            for row in groupRows {
                let state: GroupState = try decodeEnum(row[0], table: "groups")
                groupsByState[state] = row[1]
            }

            let attemptCounts = try Row.fetchOne(
                db,
                sql: """
                    SELECT COUNT(*), TOTAL(attempts.outcome = 'resubmitted') FROM attempts
                    JOIN jobs ON jobs.id = attempts.job_id JOIN groups ON groups.id = jobs.group_id
                    WHERE \(groupFilter)
                    """,
                arguments: arguments
            )

            let span = try Row.fetchOne(
                db,
                sql: """
                    SELECT MIN(jobs.created_at), MAX(jobs.finished_at)
                    FROM jobs JOIN groups ON groups.id = jobs.group_id
                    WHERE \(groupFilter)
                    """,
                arguments: arguments
            )
            return DatabaseSummary(
                jobCounts: jobCounts, groupsByState: groupsByState, attempts: attemptCounts?[0] ?? 0,
                resubmittedAttempts: Int(attemptCounts?[1] ?? 0.0), firstSubmittedAt: span?[0], lastFinishedAt: span?[1]
            )
        }
    }

    /// How many distinct group-key prefixes end at the first `separator` — for example the number of runs when keys
    /// look like `run-id/lane/name`. Keys without the separator count as one prefix each.
    ///
    /// - Parameter separator: a non-empty string, such as `"/"`.
    package func groupKeyPrefixCount(separator: String) async throws -> Int {
        precondition(!separator.isEmpty, "the separator must not be empty")
        return try await read { db in
            try Int.fetchOne(
                db,
                sql: """
                    SELECT COUNT(DISTINCT CASE WHEN instr(key, ?1) > 0 THEN substr(key, 1, instr(key, ?1) - 1) ELSE key END)
                    FROM groups
                    """,
                arguments: [separator]
            ) ?? 0
        }
    }
}
