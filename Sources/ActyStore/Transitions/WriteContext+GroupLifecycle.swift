import ActyCore

extension WriteContext {
    /// Releases a group's blocked followers (its primer succeeded, or the group will never have one, or the primer
    /// failed under ``PrimerFailurePolicy/runFollowers``): all of them, or as many as its cap on unfinished followers allows
    /// (``followersWindowEnd(_:)``). When the primer succeeded before its warm-up ended, they wait `scheduled` until
    /// it ends; a primer that failed (under `runFollowers`) or a group without one has no warm-up.
    /// A group blocked by its dependencies keeps them waiting: its unblocking releases them.
    mutating func releaseFollowers(of group: GroupRow, primerSucceeded: Bool) throws {
        guard !group.isBlocked else { return }
        let through = Self.followersWindowEnd(group)
        guard through > group.followersReleasedThrough else { return }
        let warmUntil = primerSucceeded ? group.warmUntil.flatMap { $0 > now ? $0 : nil } : nil
        try db.cachedStatement(sql: TransitionSQL.releaseFollowersSQL).run {
            $0.add(warmUntil == nil ? JobState.ready.rawValue : JobState.scheduled.rawValue)
            $0.add(warmUntil)
            $0.add(group.id.rawValue)
            $0.add(group.followersReleasedThrough)
            $0.add(through)
        }
        let count = db.changesCount
        if group.maxFollowersInflight != nil {
            try db.cachedStatement(sql: "UPDATE groups SET followers_released_through = ? WHERE id = ?").run {
                $0.add(min(through, group.followersTotal - 1)); $0.add(group.id.rawValue)
            }
        }
        guard count > 0 else { return }
        if let warmUntil {
            effects.retryDue(at: warmUntil)
            try record(.followersReady, group, data: #"{"followers":\#(count),"primer":\#(primerSucceeded),"warm_until":\#(warmUntil)}"#)
        } else {
            effects.readyWork.insert(WorkKind(role: .follower, lane: group.lane))
            try record(.followersReady, group, data: #"{"followers":\#(count),"primer":\#(primerSucceeded)}"#)
        }
    }

    /// The highest follower index a group may have released: every one without a cap; with a cap, as many past
    /// the followers that finished as the cap allows, so that at most the cap are unfinished.
    static func followersWindowEnd(_ group: GroupRow) -> Int {
        guard let cap = group.maxFollowersInflight else { return Int.max }
        let primerFinished = group.jobsTotal - group.followersTotal == 1 && group.primerState != .pending && group.primerState != .none
        // Right after a primer succeeded its finish may not be counted yet: no follower has finished then either.
        let followersFinished = max(0, group.jobsFinished - (primerFinished ? 1 : 0))
        return followersFinished + cap - 1
    }

    /// Records every job of the group that has not started as cancelled.
    mutating func cancelNotStartedJobs(of group: GroupRow, reason: String) throws {
        let error = JobError(type: "cancelled", message: reason)
        let errorJSON = error.jsonString
        let statement = try db.cachedStatement(sql: TransitionSQL.cancelNotStartedSQL)
        var rows: [(id: JobID, role: JobRole, followerIndex: Int?, attempts: Int, executor: String)] = []
        try statement.forEachRow { [now] in $0.add(errorJSON); $0.add(now); $0.add(group.id.rawValue) } _: { row in
            rows.append((JobID(row.int64(0)), JobRole(stored: row.string(1)), row.optionalInt(2), row.int(3), row.string(4)))
        }
        guard !rows.isEmpty else { return }
        for row in rows {
            let ref = JobRef(id: row.id, groupID: group.id, groupKey: group.key, role: row.role, followerIndex: row.followerIndex, lane: group.lane)
            try record(.jobCancelled, ref, data: #"{"reason":"\#(reason)","phase":"queued"}"#)
            effects.finishedJobs.append(
                FinishedJob(
                    id: ref.id, groupKey: group.key, role: row.role, state: .cancelled, error: error, attempts: row.attempts,
                    lane: group.lane, executor: row.executor
                )
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
        try db.cachedStatement(sql: "UPDATE groups SET state = 'failed', error = ? WHERE id = ?").run {
            $0.add(details); $0.add(group.id.rawValue)
        }
        try record(.groupFailed, group, data: details)
        try cancelNotStartedJobs(of: group, reason: "group_failed")
        try finishGroupIfDone(group.id)
    }

    /// Adds `count` terminal jobs to a group's tally.
    mutating func countFinishedJobs(_ count: Int, in group: GroupID) throws {
        var capped = false
        try db.cachedStatement(sql: TransitionSQL.countFinishedJobsSQL).forEachRow { $0.add(count); $0.add(group.rawValue) } _: { capped = $0.int(0) != 0 }
        // A group with a cap on unfinished followers releases the next ones as others finish, once it has begun.
        guard capped else { return }
        let row = try groupRow(group)
        if row.followersReleasedThrough >= 0, row.state != .failed, row.state != .cancelled {
            try releaseFollowers(of: row, primerSucceeded: row.primerState == .succeeded || row.primerState == .skipped)
        }
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
        try db.cachedStatement(sql: TransitionSQL.groupJobCountsSQL).forEachRow { $0.add(id.rawValue) } _: { row in
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

extension TransitionSQL {
    /// Makes a group's waiting followers in a range of indexes ready, or scheduled for the end of the warm-up.
    static let releaseFollowersSQL = """
        UPDATE jobs SET state = ?, run_at = ?
        WHERE group_id = ? AND role = 'follower' AND follower_index > ? AND follower_index <= ? AND state = 'blocked'
        """

    /// Counts finished jobs in a group; returns whether the group caps its unfinished followers.
    static let countFinishedJobsSQL = """
        UPDATE groups SET jobs_finished = jobs_finished + ? WHERE id = ? RETURNING max_followers_inflight IS NOT NULL
        """

    /// Cancels a group's jobs that have not started.
    static let cancelNotStartedSQL = """
        UPDATE jobs SET state = 'cancelled', error = ?, finished_at = ?, run_at = NULL
        WHERE group_id = ? AND state IN ('blocked', 'ready', 'scheduled')
        RETURNING id, role, follower_index, attempts, executor
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
