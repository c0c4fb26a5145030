import ActyCore

/// How many rows a prune removed.
package struct PruneResult: Sendable, Hashable {
    /// Finished groups removed.
    package var groups: Int
    /// Their jobs.
    package var jobs: Int
    /// Their jobs' attempts.
    package var attempts: Int
    /// Their events.
    package var events: Int
}

extension WriteContext {
    /// Removes groups that finished before `finishedBefore`, with their jobs, attempts and events, at most `limit`
    /// groups per call so that one transaction stays short. Live groups are never touched.
    mutating func prune(finishedBefore: Double, limit: Int) throws -> PruneResult {
        var groups: [Int64] = []
        try db.cachedStatement(sql: TransitionSQL.prunableGroupsSQL).forEachRow { $0.add(finishedBefore); $0.add(limit) } _: {
            groups.append($0.int64(0))
        }
        var result = PruneResult(groups: 0, jobs: 0, attempts: 0, events: 0)
        let countAttempts = try db.cachedStatement(sql: "SELECT COUNT(*) FROM attempts WHERE job_id IN (SELECT id FROM jobs WHERE group_id = ?)")
        let deleteEvents = try db.cachedStatement(sql: "DELETE FROM events WHERE group_id = ?")
        let deleteJobs = try db.cachedStatement(sql: "DELETE FROM jobs WHERE group_id = ?")
        let deleteGroup = try db.cachedStatement(sql: "DELETE FROM groups WHERE id = ?")
        for group in groups {
            try countAttempts.forEachRow { $0.add(group) } _: { result.attempts += $0.int(0) }
            try deleteEvents.run { $0.add(group) }
            result.events += db.changesCount
            // Attempts go with their jobs (ON DELETE CASCADE).
            try deleteJobs.run { $0.add(group) }
            result.jobs += db.changesCount
            try deleteGroup.run { $0.add(group) }
            result.groups += db.changesCount
        }
        return result
    }
}

extension TransitionSQL {
    /// Finished groups, oldest first, through the `groups_state` index.
    static let prunableGroupsSQL = """
        SELECT id FROM groups
        WHERE state IN ('succeeded', 'failed', 'cancelled') AND finished_at IS NOT NULL AND finished_at < ?
        ORDER BY finished_at LIMIT ?
        """
}
