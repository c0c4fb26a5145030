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
    mutating func claim(_ request: ClaimRequest) throws -> ClaimResult {
        var planner = request.planner
        let dataVersion = try Int.fetchOne(db.cachedStatement(sql: "PRAGMA data_version")) ?? 0
        let capacity = try loadLanes(into: &planner)
        if dataVersion != request.dataVersion {
            planner.primers.activateAll()
            planner.followers.activateAll()
        }

        var claimed: [(row: Row, role: JobRole, lane: String, pool: JobRole)] = []
        let leaseUntil = now + request.leaseDuration
        if !request.executors.isEmpty {
            let statement = try db.cachedStatement(sql: Self.claimSQL(executorCount: request.executors.count))
            _ = try planner.fill(
                freePrimerWorkers: request.freePrimerWorkers,
                freeFollowerWorkers: request.freeFollowerWorkers,
                laneCapacity: capacity
            ) { pool, work, lane, count in
                var arguments: StatementArguments = [request.worker, leaseUntil, now, work.rawValue, lane]
                arguments += StatementArguments(request.executors)
                arguments += [count]
                let rows = try Row.fetchAll(statement, arguments: arguments)
                for row in rows { claimed.append((row, work, lane, pool)) }
                return rows.count
            }
        }

        var groups: [Int64: (key: String, context: String?, cacheKey: String?)] = [:]
        let groupStatement = try db.cachedStatement(sql: Self.claimedGroupSQL)
        var jobs: [ClaimedJob] = []
        jobs.reserveCapacity(claimed.count)
        for (row, role, lane, pool) in claimed {
            let groupID: Int64 = row[1]
            if groups[groupID] == nil, let group = try Row.fetchOne(groupStatement, arguments: [groupID]) {
                groups[groupID] = (group[0], group[1], group[2])
            }
            let group = groups[groupID]
            let job = ClaimedJob(
                id: JobID(row[0]), groupID: GroupID(groupID), groupKey: group?.key ?? "", role: role, followerIndex: row[2],
                lane: lane, executor: row[3], attempt: row[4], payload: row[5], groupContext: group?.context,
                cacheKey: group?.cacheKey, pool: pool, startedAt: now
            )
            let stolen = pool != role ? #","stolen":true"# : ""
            try record(.jobStarted, job.ref, pool: pool, data: #"{"attempt":\#(job.attempt),"pool":"\#(pool.rawValue)"\#(stolen)}"#)
            jobs.append(job)
        }
        return ClaimResult(planner: planner, jobs: jobs, dataVersion: dataVersion)
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
    /// The claim of one lane: leases the `LIMIT ?` best ready jobs of a role whose executor is one of
    /// `executorCount` names. Served by the `jobs_ready` index, whose column order matches the `ORDER BY`.
    static func claimSQL(executorCount: Int) -> String {
        let placeholders = Array(repeating: "?", count: executorCount).joined(separator: ", ")
        return """
            UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = ?, lease_until = ?, started_at = ?
            WHERE id IN (
                SELECT id FROM jobs
                WHERE state = 'ready' AND role = ? AND lane = ? AND executor IN (\(placeholders))
                ORDER BY priority DESC, id LIMIT ?)
            RETURNING id, group_id, follower_index, executor, attempts, payload
            """
    }

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
