import ActyCore
import GRDB

extension WriteContext {
    /// Leases ready jobs to idle workers by weighted fair share and records `job_started` for each.
    ///
    /// The attempt's row in `attempts` is written when the attempt ends (see ``complete(_:worker:)``): until then the
    /// job row itself (state `running`, `lease_owner`, `started_at`) describes the running attempt, which saves a
    /// row write per job on the hot path.
    ///
    /// Each lane is claimed with one indexed `UPDATE … WHERE id IN (SELECT … ORDER BY priority DESC, id LIMIT n)
    /// RETURNING …`. Lane settings are read from the `lanes` table at every claim, so weights, caps and pauses
    /// changed by another process apply at once; when another process has written since the last claim, every lane
    /// is considered again, since it may have added work.
    mutating func claim(_ request: ClaimRequest) throws -> [ClaimedJob] {
        try request.state.claim { planner, lastDataVersion in
            try claim(request, planner: &planner, lastDataVersion: &lastDataVersion)
        }
    }

    private mutating func claim(_ request: ClaimRequest, planner: inout ClaimPlanner, lastDataVersion: inout Int?) throws -> [ClaimedJob] {
        let dataVersion = try Int.fetchOne(db.cachedStatement(sql: "PRAGMA data_version")) ?? 0
        let capacity = try loadLanes(into: &planner)
        if dataVersion != lastDataVersion {
            planner.primers.activateAll()
            planner.followers.activateAll()
            lastDataVersion = dataVersion
        }

        // Select, then lease each row by primary key: an `UPDATE … WHERE id IN (SELECT …) RETURNING …` would
        // build two temporary b-trees per claim (the IN list and the RETURNING buffer). The writer holds the
        // database's write lock, so no other process can claim the same rows in between.
        var jobs: [ClaimedJob] = []
        let leaseUntil = now + request.leaseDuration
        if !request.executors.isEmpty {
            let select = try db.cachedStatement(sql: Self.claimSQL(executorCount: request.executors.count))
            let lease = try db.cachedStatement(sql: Self.leaseSQL)
            _ = try planner.fill(
                freePrimerWorkers: request.freePrimerWorkers,
                freeFollowerWorkers: request.freeFollowerWorkers,
                laneCapacity: capacity
            ) { pool, work, lane, count in
                let before = jobs.count
                try select.forEachRow { arguments in
                    arguments.add(work.rawValue)
                    arguments.add(lane)
                    for executor in request.executors { arguments.add(executor) }
                    arguments.add(count)
                } _: { row in
                    jobs.append(
                        ClaimedJob(
                            id: JobID(row.int64(0)), groupID: GroupID(row.int64(1)), groupKey: "", role: work,
                            followerIndex: row.optionalInt(2), lane: lane, executor: row.string(3), attempt: row.int(4) + 1,
                            payload: row.string(5), groupContext: nil, cacheKey: nil, pool: pool, startedAt: now
                        )
                    )
                }
                for job in jobs[before...] {
                    try lease.run {
                        $0.add(job.attempt)
                        $0.add(request.worker)
                        $0.add(leaseUntil)
                        $0.add(now)
                        $0.add(job.id.rawValue)
                    }
                }
                return jobs.count - before
            }
        }

        // One lookup per group of the batch gives each job its group's key and context.
        var groups: [GroupID: (key: String, context: String?, cacheKey: String?)] = [:]
        let groupStatement = try db.cachedStatement(sql: Self.claimedGroupSQL)
        for index in jobs.indices {
            let groupID = jobs[index].groupID
            if groups[groupID] == nil {
                try groupStatement.forEachRow { $0.add(groupID.rawValue) } _: { row in
                    groups[groupID] = (row.string(0), row.optionalString(1), row.optionalString(2))
                }
            }
            if let group = groups[groupID] {
                jobs[index].groupKey = group.key
                jobs[index].groupContext = group.context
                jobs[index].cacheKey = group.cacheKey
            }
            let job = jobs[index]
            let stolen = job.pool != job.role ? #","stolen":true"# : ""
            try record(.jobStarted, job.ref, pool: job.pool, data: #"{"attempt":\#(job.attempt),"pool":"\#(job.pool.rawValue)"\#(stolen)}"#)
        }
        return jobs
    }

    /// Applies the `lanes` table to the planner and returns the remaining capacity of paused and capped lanes.
    private func loadLanes(into planner: inout ClaimPlanner) throws -> [String: Int] {
        var capacity: [String: Int] = [:]
        let rows = try Row.fetchAll(db.cachedStatement(sql: "SELECT name, weight, max_inflight, paused FROM lanes"))
        // Few jobs run at once (no more than the workers of all processes), so counting them through the
        // `jobs_running` index is cheap.
        let running = try db.cachedStatement(sql: Self.runningInLaneSQL)
        for row in rows {
            let name: String = row[0]
            planner.setWeight(row[1], for: name)
            if (row[3] as Int) != 0 {
                capacity[name] = 0
            } else if let limit = row[2] as Int? {
                let inflight = try Int.fetchOne(running, arguments: [name]) ?? 0
                capacity[name] = max(0, limit - inflight)
            }
        }
        return capacity
    }
}

extension WriteContext {
    /// The claim of one lane: the `LIMIT ?` best ready jobs of a role whose executor is one of `executorCount`
    /// names. Served by the `jobs_ready` index, whose column order matches the `ORDER BY`.
    static func claimSQL(executorCount: Int) -> String {
        let placeholders = Array(repeating: "?", count: executorCount).joined(separator: ", ")
        return """
            SELECT id, group_id, follower_index, executor, attempts, payload FROM jobs
            WHERE state = 'ready' AND role = ? AND lane = ? AND executor IN (\(placeholders))
            ORDER BY priority DESC, id LIMIT ?
            """
    }

    /// Leases a claimed job to a worker for its next attempt.
    static let leaseSQL = """
        UPDATE jobs SET state = 'running', attempts = ?, lease_owner = ?, lease_until = ?, started_at = ? WHERE id = ?
        """

    /// What a claimed job needs of its group.
    static let claimedGroupSQL = "SELECT key, group_context, cache_key FROM groups WHERE id = ?"

    /// Running jobs of a lane, for its `max_inflight` cap.
    static let runningInLaneSQL = "SELECT COUNT(*) FROM jobs INDEXED BY jobs_running WHERE state = 'running' AND lane = ?"
}

extension ClaimedJob {
    /// The job as the state rules see it.
    var ref: JobRef {
        JobRef(id: id, groupID: groupID, groupKey: groupKey, role: role, followerIndex: followerIndex, lane: lane)
    }
}
