import ActyCore
import GRDB

extension WriteContext {
    /// Makes a group's blocked followers ready: its primer succeeded, or the group will never have one, or the
    /// primer failed under ``PrimerFailurePolicy/runFollowers``.
    /// A blocked group keeps them waiting: its unblocking releases them.
    mutating func releaseFollowers(of group: GroupRow, primerSucceeded: Bool) throws {
        guard !group.isBlocked else { return }
        try db.cachedStatement(sql: Self.releaseFollowersSQL).run { $0.add(group.id.rawValue) }
        let count = db.changesCount
        guard count > 0 else { return }
        effects.readyWork.insert(WorkKind(role: .follower, lane: group.lane))
        try record(.followersReady, group, data: #"{"followers":\#(count),"primer":\#(primerSucceeded)}"#)
    }

    /// Records every job of the group that has not started as cancelled.
    mutating func cancelNotStartedJobs(of group: GroupRow, reason: String) throws {
        let error = JobError(type: "cancelled", message: reason)
        let errorJSON = error.jsonString
        let statement = try db.cachedStatement(sql: Self.cancelNotStartedSQL)
        let rows = try Row.fetchAll(statement, arguments: [errorJSON, now, group.id.rawValue])
        guard !rows.isEmpty else { return }
        for row in rows {
            let role = JobRole(stored: row[1] as String)
            let ref = JobRef(id: JobID(row[0]), groupID: group.id, groupKey: group.key, role: role, followerIndex: row[2], lane: group.lane)
            try record(.jobCancelled, ref, data: #"{"reason":"\#(reason)","phase":"queued"}"#)
            effects.finishedJobs.append(
                FinishedJob(id: ref.id, groupKey: group.key, role: role, state: .cancelled, error: error, attempts: row[3])
            )
        }
        try countFinishedJobs(rows.count, in: group.id)
    }

    /// Fails a group at once: its jobs that have not started are cancelled, jobs already running finish normally.
    /// The group is done (`group_done`) when its last job is terminal.
    mutating func failGroup(_ group: GroupRow, reason: String, failedJob: JobRef?, error: JobError) throws {
        var group = group
        guard group.state.isLive else { return }
        let details = JSONValue.object([
            "reason": .string(reason),
            "job_id": failedJob.map { .number(Double($0.id.rawValue)) } ?? .null,
            "kind": failedJob.map { .string($0.role.rawValue) } ?? .null,
            "follower_index": failedJob?.followerIndex.map { .number(Double($0)) } ?? .null,
            "error": error.jsonValue,
        ]).jsonString
        group.state = .failed
        group.error = details
        try db.cachedStatement(sql: "UPDATE groups SET state = 'failed', error = ? WHERE id = ?")
            .execute(arguments: [details, group.id.rawValue])
        try record(.groupFailed, group, data: details)
        try cancelNotStartedJobs(of: group, reason: "group_failed")
        try finishGroupIfDone(group.id)
    }

    /// Adds `count` terminal jobs to a group's tally.
    mutating func countFinishedJobs(_ count: Int, in group: GroupID) throws {
        try db.cachedStatement(sql: "UPDATE groups SET jobs_finished = jobs_finished + ? WHERE id = ?")
            .run { $0.add(count); $0.add(group.rawValue) }
    }

    /// Finishes a group whose jobs are all terminal: a closed group succeeds (or fails, when a policy recorded an
    /// error); a group already failed gets its finish time. Writes `group_done` once, then resolves the groups
    /// that depend on it. A blocked group is not done, even without jobs.
    mutating func finishGroupIfDone(_ id: GroupID) throws {
        var group = try groupRow(id)
        guard group.finishedAt == nil, group.jobsFinished >= group.jobsTotal, group.state != .open, !group.isBlocked else { return }
        if group.state == .closed {
            group.state = group.error == nil ? .succeeded : .failed
            if group.state == .failed { try record(.groupFailed, group, data: group.error) }
        }
        try db.cachedStatement(sql: "UPDATE groups SET state = ?, finished_at = ? WHERE id = ?")
            .run { [now] in $0.add(group.state.rawValue); $0.add(now); $0.add(id.rawValue) }
        var primerState = "none"
        var followers: (succeeded: Int, failed: Int, cancelled: Int) = (0, 0, 0)
        try db.cachedStatement(sql: Self.groupJobCountsSQL).forEachRow { $0.add(id.rawValue) } _: { row in
            primerState = row.optionalString(0) ?? "none"
            followers = (row.int(1), row.int(2), row.int(3))
        }
        // A primer skipped on a cache hit has no row in a closed group and a `succeeded` one in an open group.
        if group.primerState == .skipped { primerState = PrimerState.skipped.rawValue }
        let data = JSONValue.object([
            "ok": .bool(group.state == .succeeded),
            "state": .string(group.state.rawValue),
            "primer": .string(primerState),
            "followers_total": .number(Double(group.followersTotal)),
            "followers_succeeded": .number(Double(followers.succeeded)),
            "followers_failed": .number(Double(followers.failed)),
            "followers_cancelled": .number(Double(followers.cancelled)),
        ]).jsonString
        try record(.groupDone, group, data: data)
        if group.dependenciesWaiting > 0 { try dropWaitingDependencies(of: id) }
        if group.admission != nil { try retire(group) }
        try resolveDependents(of: group)
    }
}

extension WriteContext {
    /// Makes a group's waiting followers ready.
    static let releaseFollowersSQL = "UPDATE jobs SET state = 'ready' WHERE group_id = ? AND state = 'blocked'"

    /// Cancels a group's jobs that have not started.
    static let cancelNotStartedSQL = """
        UPDATE jobs SET state = 'cancelled', error = ?, finished_at = ?, run_at = NULL
        WHERE group_id = ? AND state IN ('blocked', 'ready', 'scheduled')
        RETURNING id, role, follower_index, attempts
        """

    /// A finished group's primer state and follower counts by final state, for `group_done`: one row of
    /// conditional sums rather than `GROUP BY role, state`, which SQLite would sort in a temporary b-tree.
    static let groupJobCountsSQL = """
        SELECT MAX(CASE WHEN role = 'primer' THEN state END),
            SUM(role = 'follower' AND state = 'succeeded'),
            SUM(role = 'follower' AND state = 'failed'),
            SUM(role = 'follower' AND state = 'cancelled')
        FROM jobs WHERE group_id = ?
        """
}
