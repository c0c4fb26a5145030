import ActyCore
import GRDB

extension WriteContext {
    /// Inserts a group with its primer and followers.
    ///
    /// - Throws: ``ActyError/Code/groupKeyInUse`` when a live group already has the key.
    mutating func insertGroup(_ group: NewGroup) throws -> SubmittedGroup {
        // Checked before writing anything: a failing request makes the writer roll back its whole batch.
        var keyInUse = false
        try db.cachedStatement(sql: Self.liveKeySQL).forEachRow { $0.add(group.key) } _: { _ in keyInUse = true }
        if keyInUse { throw Self.keyInUse(group.key) }
        try ensureLane(group.lane, weight: group.laneWeight, maxInflight: group.laneMaxInflight)
        var group = group
        let skipsPrimer = try primerSkippedOnCacheHit(group)
        if skipsPrimer { group.primer = nil }
        let primerState: PrimerState = skipsPrimer ? .skipped : group.primer == nil ? .none : .pending
        let followersReady = skipsPrimer || (group.primer == nil && group.isClosed)
        let jobsTotal = group.followers.count + (group.primer == nil ? 0 : 1)
        let state: GroupState = group.isClosed ? .closed : .open
        do {
            let statement = try db.cachedStatement(sql: """
                INSERT INTO groups (key, lane, state, primer_state, primer_policy, follower_policy, retry_policy,
                    job_timeout, cache_key, cache_context, group_context, followers_total, jobs_total, jobs_finished,
                    created_at, closed_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)
                """)
            let retryPolicy = group.retryPolicy.jsonValue.jsonString
            try statement.run { [now = self.now] in
                $0.add(group.key)
                $0.add(group.lane)
                $0.add(state.rawValue)
                $0.add(primerState.rawValue)
                $0.add(group.primerPolicy.rawValue)
                $0.add(group.followerPolicy.rawValue)
                $0.add(retryPolicy)
                $0.add(group.jobTimeout)
                $0.add(group.cacheKey)
                $0.add(group.cacheContext)
                $0.add(group.groupContext)
                $0.add(group.followers.count)
                $0.add(jobsTotal)
                $0.add(now)
                $0.add(group.isClosed ? now : nil)
            }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            throw Self.keyInUse(group.key)
        }
        let id = GroupID(db.lastInsertedRowID)
        let row = GroupRow(
            id: id, key: group.key, lane: group.lane, state: state, primerState: primerState,
            primerPolicy: group.primerPolicy, followerPolicy: group.followerPolicy,
            followersTotal: group.followers.count, jobsTotal: jobsTotal, jobsFinished: 0, error: nil, finishedAt: nil
        )
        try record(.groupActivated, row)
        if skipsPrimer, let key = group.cacheKey, let cache = group.skipPrimerOnCacheHit {
            try db.cachedStatement(sql: Self.cacheHitSQL).run { [now = self.now] in $0.add(now); $0.add(key) }
            try db.cachedStatement(sql: Self.groupRefFromEntrySQL).run { $0.add(key); $0.add(id.rawValue) }
            try record(.cacheHit, row, data: Self.cacheData(key: key, provider: cache.provider, reason: "primer_skipped"))
        }

        // The group's jobs go in with multi-row inserts: primer first, then followers in order.
        var newJobs: [(job: NewJob, role: JobRole, followerIndex: Int?, state: JobState)] = []
        newJobs.reserveCapacity(jobsTotal)
        if let job = group.primer { newJobs.append((job, .primer, nil, .ready)) }
        for (index, job) in group.followers.enumerated() {
            newJobs.append((job, .follower, index, followersReady ? .ready : .blocked))
        }
        var ids: [JobID] = []
        ids.reserveCapacity(jobsTotal)
        let now = now
        try MultiRowInsert.jobs.insert(newJobs, in: db) { arguments, new in
            arguments.add(id.rawValue)
            arguments.add(new.role.rawValue)
            arguments.add(new.followerIndex)
            arguments.add(new.job.executor)
            arguments.add(group.lane)
            arguments.add(new.state.rawValue)
            arguments.add(new.job.priority)
            arguments.add(new.job.payload)
            arguments.add(new.job.maxAttempts)
            arguments.add(new.job.maxAbandonedAttempts)
            arguments.add(now)
        } inserted: { chunk, firstID in
            for offset in 0..<chunk.count { ids.append(JobID(firstID + Int64(offset))) }
        }
        for (new, jobID) in zip(newJobs, ids) {
            let ref = JobRef(id: jobID, groupID: id, groupKey: group.key, role: new.role, followerIndex: new.followerIndex, lane: group.lane)
            try record(.jobQueued, ref, data: new.state == .blocked ? Self.blockedData : nil)
            if new.state == .ready { effects.readyWork.insert(WorkKind(role: new.role, lane: group.lane)) }
        }
        let primer = group.primer == nil ? nil : ids.first
        let followers = Array(ids.dropFirst(group.primer == nil ? 0 : 1))
        if followersReady, !followers.isEmpty {
            try record(.followersReady, row, data: #"{"followers":\#(followers.count),"primer":false}"#)
        }
        if group.isClosed, jobsTotal == 0 {
            try finishGroupIfDone(id)
        }
        return SubmittedGroup(id: id, primer: primer, followers: followers)
    }

    /// Whether the group's primer can be skipped: its cache entry is ready, from the same provider and
    /// fingerprint, and not expired.
    private func primerSkippedOnCacheHit(_ group: NewGroup) throws -> Bool {
        guard group.primer != nil, let cache = group.skipPrimerOnCacheHit, let key = group.cacheKey else { return false }
        var valid = false
        try db.cachedStatement(sql: Self.validCacheSQL).forEachRow {
            $0.add(key); $0.add(cache.provider); $0.add(cache.fingerprint); $0.add(now)
        } _: { _ in valid = true }
        return valid
    }

    /// Gives a group the current reference of its key's entry.
    static let groupRefFromEntrySQL = "UPDATE groups SET cache_ref = (SELECT provider_ref FROM cache_entries WHERE key = ?) WHERE id = ?"

    /// A ready, unexpired entry of this key, provider and fingerprint.
    static let validCacheSQL = """
        SELECT 1 FROM cache_entries
        WHERE key = ? AND state = 'ready' AND provider = ? AND fingerprint = ? AND (expires_at IS NULL OR expires_at > ?)
        """

    /// Whether a live group has the key; served by `groups_live_key` or `groups_key` (see QueryPlanTests).
    static let liveKeySQL = "SELECT 1 FROM groups WHERE key = ? AND state IN ('open', 'closed')"

    /// A group row by id.
    static let groupRowSQL = "SELECT \(GroupRow.columns) FROM groups WHERE id = ?"

    /// The data of `job_queued` for a job that waits for its primer.
    private static let blockedData = #"{"blocked":true}"#

    private static func keyInUse(_ key: String) -> ActyError {
        ActyError(.groupKeyInUse, "a live group already has the key '\(key)': use a new key, or wait until that group finishes")
    }

    /// Adds the primer or a follower to an open group.
    ///
    /// A follower starts `blocked` while the primer is missing or running, `ready` once it succeeded (or failed
    /// under ``PrimerFailurePolicy/runFollowers``), and is recorded `cancelled` at once when the primer failed
    /// under ``PrimerFailurePolicy/skipFollowers``.
    ///
    /// A primer given `skipPrimerOnCacheHit` whose group's cache entry is ready, made by that provider with that
    /// fingerprint and not expired, is recorded as done without running, as a closed group's primer is skipped (see
    /// ``addSkippedPrimer(_:to:cacheKey:provider:)``).
    ///
    /// - Throws: ``ActyError/Code/groupClosed`` unless the group is open; ``ActyError/Code/invalidArgument`` for a
    ///   second primer.
    mutating func addJob(
        _ job: NewJob, role: JobRole, toGroup id: GroupID, skipPrimerOnCacheHit cache: (provider: String, fingerprint: String)? = nil
    ) throws -> JobID {
        var group = try groupRow(id)
        guard group.state == .open else {
            let reason = group.state == .closed ? "is closed" : "has already \(group.state.rawValue)"
            throw ActyError(.groupClosed, "group '\(group.key)' \(reason): no more jobs can be added to it")
        }
        let state: JobState
        let followerIndex: Int?
        switch role {
        case .primer:
            guard group.primerState == .none else {
                throw ActyError(.invalidArgument, "group '\(group.key)' already has a primer")
            }
            if let cache, let key = try readyCacheKey(of: id, provider: cache.provider, fingerprint: cache.fingerprint) {
                return try addSkippedPrimer(job, to: group, cacheKey: key, provider: cache.provider)
            }
            state = .ready
            followerIndex = nil
            group.primerState = .pending
        case .follower:
            followerIndex = group.followersTotal
            group.followersTotal += 1
            switch group.primerState {
            case .none, .pending: state = .blocked
            case .succeeded, .skipped: state = .ready
            case .failed: state = group.primerPolicy == .runFollowers ? .ready : .cancelled
            }
        }
        group.jobsTotal += 1
        let statement = try db.cachedStatement(sql: """
            UPDATE groups SET primer_state = ?, followers_total = ?, jobs_total = ? WHERE id = ?
            """)
        try statement.execute(arguments: [group.primerState.rawValue, group.followersTotal, group.jobsTotal, id.rawValue])
        let ref = try insertJob(job, role: role, followerIndex: followerIndex, state: state == .cancelled ? .blocked : state, in: group)
        if state == .cancelled {
            try cancelNotStartedJobs(of: group, reason: "primer_failed_skip_followers")
        }
        return ref.id
    }

    /// Records an open group's primer as succeeded without running it, because the group's cache entry is ready:
    /// like a closed group's skipped primer, the group's `primer_state` becomes `skipped`, the entry counts a hit
    /// (`cache_hit` with reason `primer_skipped`) and the followers start at once. Unlike there, the primer has a
    /// row, since ``OpenGroup`` hands out a handle for it: `succeeded` with 0 attempts and the output
    /// ``Store/skippedPrimerOutput(cacheKey:)``, recorded with `job_queued` and `job_succeeded` (data `skipped`).
    private mutating func addSkippedPrimer(_ job: NewJob, to group: GroupRow, cacheKey: String, provider: String) throws -> JobID {
        var group = group
        group.primerState = .skipped
        group.jobsTotal += 1
        try db.cachedStatement(sql: "UPDATE groups SET primer_state = 'skipped', jobs_total = jobs_total + 1 WHERE id = ?")
            .execute(arguments: [group.id.rawValue])
        try db.cachedStatement(sql: Self.cacheHitSQL).run { [now] in $0.add(now); $0.add(cacheKey) }
        try db.cachedStatement(sql: Self.groupRefFromEntrySQL).run { $0.add(cacheKey); $0.add(group.id.rawValue) }
        try record(.cacheHit, group, data: Self.cacheData(key: cacheKey, provider: provider, reason: "primer_skipped"))
        let ref = try insertJob(job, role: .primer, followerIndex: nil, state: .succeeded, in: group)
        try db.cachedStatement(sql: "UPDATE jobs SET result = ?, finished_at = ? WHERE id = ?")
            .execute(arguments: [Store.skippedPrimerOutput(cacheKey: cacheKey).jsonString, now, ref.id.rawValue])
        try record(.jobSucceeded, ref, data: #"{"attempt":0,"skipped":"cache_hit"}"#)
        effects.finishedJobs.append(
            FinishedJob(
                id: ref.id, groupKey: group.key, role: .primer, state: .succeeded, error: nil, attempts: 0,
                output: Store.skippedPrimerOutput(cacheKey: cacheKey)
            )
        )
        try countFinishedJobs(1, in: group.id)
        try releaseFollowers(of: group, primerSucceeded: false)
        return ref.id
    }

    /// The cache key of a group whose entry is ready, from this provider with this fingerprint, and not expired.
    private func readyCacheKey(of group: GroupID, provider: String, fingerprint: String) throws -> String? {
        var key: String?
        try db.cachedStatement(sql: Self.readyCacheOfGroupSQL).forEachRow {
            $0.add(group.rawValue); $0.add(provider); $0.add(fingerprint); $0.add(now)
        } _: { key = $0.string(0) }
        return key
    }

    /// The ready, unexpired entry of a group's cache key, if it has this provider and fingerprint.
    static let readyCacheOfGroupSQL = """
        SELECT cache_entries.key FROM groups JOIN cache_entries ON cache_entries.key = groups.cache_key
        WHERE groups.id = ? AND cache_entries.state = 'ready' AND cache_entries.provider = ? AND cache_entries.fingerprint = ?
            AND (cache_entries.expires_at IS NULL OR cache_entries.expires_at > ?)
        """

    /// Inserts one job row and its `job_queued` event.
    private mutating func insertJob(_ job: NewJob, role: JobRole, followerIndex: Int?, state: JobState, in group: GroupRow) throws -> JobRef {
        let statement = try db.cachedStatement(sql: """
            INSERT INTO jobs (group_id, role, follower_index, executor, lane, state, priority, payload, max_attempts, max_abandoned,
                created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        try statement.run {
            $0.add(group.id.rawValue)
            $0.add(role.rawValue)
            $0.add(followerIndex)
            $0.add(job.executor)
            $0.add(group.lane)
            $0.add(state.rawValue)
            $0.add(job.priority)
            $0.add(job.payload)
            $0.add(job.maxAttempts)
            $0.add(job.maxAbandonedAttempts)
            $0.add(now)
        }
        let ref = JobRef(
            id: JobID(db.lastInsertedRowID), groupID: group.id, groupKey: group.key, role: role,
            followerIndex: followerIndex, lane: group.lane
        )
        try record(.jobQueued, ref, data: state == .blocked ? Self.blockedData : nil)
        if state == .ready { effects.readyWork.insert(WorkKind(role: role, lane: group.lane)) }
        return ref
    }

    /// Closes an open group: no more followers. Closing a group that is already closed or finished does nothing.
    ///
    /// A group closed without a primer will never get one, so its waiting followers are released.
    mutating func closeGroup(_ id: GroupID) throws {
        var group = try groupRow(id)
        guard group.state == .open else { return }
        group.state = .closed
        try db.cachedStatement(sql: "UPDATE groups SET state = 'closed', closed_at = ? WHERE id = ?")
            .execute(arguments: [now, id.rawValue])
        try record(.groupClosed, group)
        if group.primerState == .none {
            try releaseFollowers(of: group, primerSucceeded: false)
        }
        try finishGroupIfDone(id)
    }

    /// Reads a group row by id.
    func groupRow(_ id: GroupID) throws -> GroupRow {
        var group: GroupRow?
        try db.cachedStatement(sql: Self.groupRowSQL).forEachRow { $0.add(id.rawValue) } _: { row in
            group = try GroupRow(row)
        }
        guard let group else {
            throw ActyError(.unknownGroup, "no group with id \(id) exists")
        }
        return group
    }
}
