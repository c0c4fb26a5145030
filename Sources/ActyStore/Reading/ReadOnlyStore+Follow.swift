package import ActyCore
import GRDB

/// What `acty-tui follow` reads at once, from one snapshot of the database: the events after the last one it saw,
/// and optionally the engines and the run's counts, so the numbers on screen always belong together.
package struct FollowRead: Sendable {
    /// Counts a follow that starts late begins with: the events it reads next move jobs from these.
    package struct Counts: Sendable, Hashable {
        /// Jobs by lane, then by state.
        package var jobs: [String: [String: Int]]
        /// Groups by state.
        package var groupsByState: [String: Int]
        /// Configured lanes (`name, weight, max_inflight, paused`).
        package var laneSettings: QueryTable
        /// The time of the log's first event (the run's start, for its elapsed time and rate), when there is one.
        package var runStartedAt: Double?
        /// Blocked followers by group key, and the ids of scheduled jobs: a job the follow has not seen yet may be
        /// one of these, and its next event must take it out of the right count.
        package var blockedByGroup: [String: Int]
        package var scheduledJobs: [Int64]
    }

    /// The events after the given seq, oldest first (up to the limit).
    package var events: [EventRecord]
    /// The `workers` table (the columns of ``ReadOnlyStore/workers()``), when asked for.
    package var workers: QueryTable?
    /// The counts, when asked for.
    package var counts: Counts?

    package init(events: [EventRecord], workers: QueryTable?, counts: Counts?) {
        self.events = events
        self.workers = workers
        self.counts = counts
    }
}

extension ReadOnlyStore {
    /// Reads, in one read transaction, up to `limit` events after `seq` and, when asked, the `workers` table and the
    /// run's counts. The events and workers are ranges of primary keys (cheap at any size); the counts read the
    /// whole `jobs` table once, so a follow asks for them only when it starts.
    package func follow(after seq: Int64, limit: Int, workers: Bool, counts: Bool) throws -> FollowRead {
        try read { db in
            FollowRead(
                events: try StoreSQL.fetchEvents(db, after: seq, limit: limit),
                workers: workers ? try Self.table(db, Self.workersSQL) : nil,
                counts: counts ? try Self.followCounts(db) : nil
            )
        }
    }

    /// Where a follow starts: just before the last `n` events, or before the first event at or after a time.
    package func followStart(lastN n: Int? = nil, at time: Double? = nil) throws -> Int64 {
        if let time { return try eventSeq(before: time) }
        return max(0, try lastEventSeq() - Int64(n ?? 0))
    }

    static func followCounts(_ db: Database) throws -> FollowRead.Counts {
        var jobs: [String: [String: Int]] = [:]
        var blocked: [String: Int] = [:]
        for row in try Row.fetchAll(db, sql: followJobCountsSQL) {
            let (lane, state, count, group): (String, String, Int, String?) = (row[0], row[1], row[2], row[3])
            jobs[lane, default: [:]][state, default: 0] += count
            if let group { blocked[group, default: 0] += count }
        }
        let scheduled = try Int64.fetchAll(db, sql: followScheduledJobsSQL)
        var groups: [String: Int] = [:]
        for row in try Row.fetchAll(db, sql: followGroupCountsSQL) { groups[row[0]] = row[1] }
        let lanes = try table(db, "SELECT name, weight, max_inflight, paused FROM lanes ORDER BY name")
        let runStartedAt = try Double.fetchOne(db, sql: eventAtSQL, arguments: [0])
        return FollowRead.Counts(
            jobs: jobs, groupsByState: groups, laneSettings: lanes, runStartedAt: runStartedAt, blockedByGroup: blocked,
            scheduledJobs: scheduled
        )
    }

    /// One pass over `jobs` (there is no index on lane and state; this runs once per follow, not per refresh): jobs by
    /// lane and state, blocked ones also by group (with the group's key).
    static let followJobCountsSQL = """
        SELECT counts.lane, counts.state, counts.n, groups.key FROM (
            SELECT lane, state, CASE state WHEN 'blocked' THEN group_id END AS blocked_group, COUNT(*) AS n
            FROM jobs GROUP BY lane, state, blocked_group
        ) AS counts LEFT JOIN groups ON groups.id = counts.blocked_group
        """
    /// Read from the `jobs_scheduled` index alone.
    static let followScheduledJobsSQL = "SELECT id FROM jobs WHERE state = 'scheduled'"
    /// Read from the `groups_state` index alone.
    static let followGroupCountsSQL = "SELECT state, COUNT(*) FROM groups GROUP BY state"
}
