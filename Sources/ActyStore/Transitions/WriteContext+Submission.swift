import ActyCore

extension WriteContext {
    /// Inserts groups with their primers and followers: every group row with multi-row inserts, then every job of
    /// every group, then each group's events in the order a single submission records them (`group_activated`, a
    /// `cache_hit` when its primer is skipped, `job_queued` per job, `followers_ready`).
    ///
    /// Nothing is written unless every group can be: keys are checked first.
    ///
    /// - Throws: ``ActyError/Code/groupKeyInUse`` when a live group already has a key, or two groups of the call
    ///   share one; with more than one group, the message names the group's position (see
    ///   ``ActyError/refusing(group:of:key:)``).
    mutating func insertGroups(_ newGroups: [NewGroup]) throws -> [SubmittedGroup] {
        try checkKeys(newGroups)
        let dependencies = try planDependencies(newGroups)
        // A group that waits for a dependency, or that a finished one fails, holds all its jobs `blocked`.
        let waitsForDependency = dependencies.map { $0?.contains { $0.isWaiting || $0.failsDependent } ?? false }
        // Under a cap, a group without a slot waits for one too (WriteContext+Admission).
        let admission = try planAdmission(waitsForDependency)
        let held = zip(waitsForDependency, admission).map { $0 || $1 == "pending" }
        var lanes: Set<String> = []
        for group in newGroups where lanes.insert(group.lane).inserted {
            try ensureLane(group.lane, weight: group.laneWeight, maxInflight: group.laneMaxInflight)
        }
        var groups = newGroups
        var skipsPrimer: [Bool] = []
        skipsPrimer.reserveCapacity(groups.count)
        for index in groups.indices {
            let skips = try !held[index] && primerSkippedOnCacheHit(groups[index])
            if skips { groups[index].primer = nil }
            skipsPrimer.append(skips)
        }
        let rows = groups.indices.map { index in
            let group = groups[index]
            var row = GroupRow(
                id: GroupID(0), key: group.key, lane: group.lane, state: group.isClosed ? .closed : .open,
                primerState: skipsPrimer[index] ? .skipped : group.primer == nil ? .none : .pending, primerPolicy: group.primerPolicy,
                followerPolicy: group.followerPolicy, followersTotal: group.followers.count,
                jobsTotal: group.followers.count + (group.primer == nil ? 0 : 1), jobsFinished: 0, error: nil, finishedAt: nil
            )
            row.dependenciesWaiting = dependencies[index]?.count(where: \.isWaiting) ?? 0
            row.admission = admission[index]
            return row
        }
        let ids = try insertGroupRows(groups, rows)
        try bindWaitingDependents(keys: groups.map(\.key), ids: ids)
        for (index, planned) in dependencies.enumerated() {
            if let planned { try insertDependencies(of: ids[index], planned, ids: ids) }
        }
        for (index, group) in groups.enumerated() where group.followersWarmup != nil || group.maxFollowersInflight != nil {
            // A skipped primer "starts" now: its followers still wait out the warm-up.
            let warmUntil = skipsPrimer[index] ? group.followersWarmup.map { now + $0 } : nil
            try db.cachedStatement(sql: TransitionSQL.followerDispatchSQL).run {
                $0.add(group.followersWarmup); $0.add(warmUntil); $0.add(group.maxFollowersInflight); $0.add(ids[index].rawValue)
            }
        }
        // Followers wait for a primer unless the group has none (and is closed) or it was skipped; those of a group
        // with a warm-up or a cap are then released by `releaseFollowers`, which applies them.
        let followersFree = { (index: Int) in
            !held[index] && (skipsPrimer[index] || (groups[index].primer == nil && groups[index].isClosed))
        }
        let paced = { (index: Int) in groups[index].followersWarmup != nil || groups[index].maxFollowersInflight != nil }
        let followersReady = { (index: Int) in followersFree(index) && !paced(index) }

        // Every job of the call, in one run of multi-row inserts: each group's primer first, then its followers.
        var newJobs: [JobInsert] = []
        newJobs.reserveCapacity(rows.reduce(0) { $0 + $1.jobsTotal })
        for (index, group) in groups.enumerated() {
            if let job = group.primer {
                newJobs.append(
                    JobInsert(
                        job: job, group: ids[index], lane: group.lane, role: .primer, followerIndex: nil, state: held[index] ? .blocked : .ready,
                        resultHandler: group.resultHandler
                    )
                )
            }
            let state: JobState = followersReady(index) ? .ready : .blocked
            for (followerIndex, job) in group.followers.enumerated() {
                newJobs.append(
                    JobInsert(
                        job: job, group: ids[index], lane: group.lane, role: .follower, followerIndex: followerIndex, state: state,
                        resultHandler: group.resultHandler
                    )
                )
            }
        }
        let jobIDs = try insertJobs(newJobs)

        var submitted: [SubmittedGroup] = []
        submitted.reserveCapacity(groups.count)
        var next = 0
        for (index, group) in groups.enumerated() {
            var row = rows[index]
            row.id = ids[index]
            try record(.groupActivated, row)
            if row.admission == "admitted" { try recordAdmitted(row) }
            if let planned = dependencies[index] {
                for plan in planned where plan.isWaiting {
                    try record(.groupBlocked, row, data: Self.dependencyData(plan.dependency))
                }
            }
            if skipsPrimer[index], let key = group.cacheKey, let cache = group.skipPrimerOnCacheHit {
                try db.cachedStatement(sql: TransitionSQL.cacheHitSQL).run { [now = self.now] in $0.add(now); $0.add(key) }
                try db.cachedStatement(sql: TransitionSQL.groupRefFromEntrySQL).run { $0.add(key); $0.add(row.id.rawValue) }
                try record(.cacheHit, row, data: Self.cacheData(key: key, provider: cache.provider, reason: "primer_skipped"))
            }
            let jobs = next..<(next + row.jobsTotal)
            next = jobs.upperBound
            try recordQueued(newJobs[jobs], ids: jobIDs[jobs], groupKey: group.key)
            let primer = group.primer == nil ? nil : jobIDs[jobs.lowerBound]
            let followers = Array(jobIDs[jobs].dropFirst(group.primer == nil ? 0 : 1))
            if followersReady(index), !followers.isEmpty {
                try record(.followersReady, row, data: #"{"followers":\#(followers.count),"primer":false}"#)
            } else if followersFree(index), !followers.isEmpty {
                try releaseFollowers(of: groupRow(row.id), primerSucceeded: skipsPrimer[index])
            }
            submitted.append(SubmittedGroup(id: row.id, primer: primer, followers: followers))
        }
        let pending = admission.count { $0 == "pending" }
        if pending > 0 {
            try addPending(pending)
            try recordPending()
        }
        // Once every group of the call is stored with its dependencies, so that a group finishing here resolves the
        // groups of the call that wait for it.
        for (index, group) in groups.enumerated() {
            if let planned = dependencies[index] { try recordResolvedDependencies(of: ids[index], planned) }
            if group.isClosed, rows[index].jobsTotal == 0 {
                try finishGroupIfDone(ids[index])
            }
        }
        return submitted
    }

    /// Refuses the call unless every key is free: not the key of a live group, nor of an earlier group of the call.
    private func checkKeys(_ groups: [NewGroup]) throws {
        var seen: [String: Int] = [:]
        seen.reserveCapacity(groups.count)
        for (index, group) in groups.enumerated() {
            if let earlier = seen.updateValue(index, forKey: group.key) {
                throw ActyError(.groupKeyInUse, "group \(earlier) of the call has the same key: keys must be unique within a call")
                    .refusing(group: index, of: groups.count, key: group.key)
            }
            var keyInUse = false
            try db.cachedStatement(sql: TransitionSQL.liveKeySQL).forEachRow { $0.add(group.key) } _: { _ in keyInUse = true }
            if keyInUse { throw Self.keyInUse(group.key).refusing(group: index, of: groups.count, key: group.key) }
        }
    }

    /// Inserts the rows of `groups` (described by `rows`), many per statement; returns their ids in order.
    private func insertGroupRows(_ groups: [NewGroup], _ rows: [GroupRow]) throws -> [GroupID] {
        var ids: [GroupID] = []
        ids.reserveCapacity(groups.count)
        let now = now
        try MultiRowInsert.groups.insert(Array(zip(groups, rows)), in: db) { arguments, pair in
            let (group, row) = pair
            arguments.add(group.key)
            arguments.add(group.lane)
            arguments.add(row.state.rawValue)
            arguments.add(row.primerState.rawValue)
            arguments.add(group.primerPolicy.rawValue)
            arguments.add(group.followerPolicy.rawValue)
            arguments.add(group.retryPolicy.jsonValue.jsonString)
            arguments.add(group.jobTimeout)
            arguments.add(group.cacheKey)
            arguments.add(group.cacheContext)
            arguments.add(group.groupContext)
            arguments.add(row.followersTotal)
            arguments.add(row.jobsTotal)
            arguments.add(0)
            arguments.add(now)
            arguments.add(group.isClosed ? now : nil)
            arguments.add(row.dependenciesWaiting)
            arguments.add(group.resultHandler)
            arguments.add(group.maxResubmits)
            arguments.add(row.admission)
            arguments.add(group.traceContext)
        } inserted: { chunk, firstID in
            for offset in 0..<chunk.count { ids.append(GroupID(firstID + Int64(offset))) }
        }
        return ids
    }

    /// A job row to insert.
    private struct JobInsert {
        var job: NewJob
        var group: GroupID
        var lane: String
        var role: JobRole
        var followerIndex: Int?
        var state: JobState
        /// Its group's result handler: a claim keeps to jobs whose handler the claiming process has.
        var resultHandler: String?
    }

    /// Inserts job rows, many per statement; returns their ids in order. Their events are the caller's.
    private func insertJobs(_ jobs: [JobInsert]) throws -> [JobID] {
        var ids: [JobID] = []
        ids.reserveCapacity(jobs.count)
        let now = now
        try MultiRowInsert.jobs.insert(jobs, in: db) { arguments, new in
            arguments.add(new.group.rawValue)
            arguments.add(new.role.rawValue)
            arguments.add(new.followerIndex)
            arguments.add(new.job.executor)
            arguments.add(new.lane)
            arguments.add(new.state.rawValue)
            arguments.add(new.job.priority)
            arguments.add(new.job.payload)
            arguments.add(new.job.maxAttempts)
            arguments.add(new.job.maxAbandonedAttempts)
            arguments.add(now)
            arguments.add(new.resultHandler)
        } inserted: { chunk, firstID in
            for offset in 0..<chunk.count { ids.append(JobID(firstID + Int64(offset))) }
        }
        return ids
    }

    /// Records `job_queued` for inserted jobs of one group, and the kinds of work they made ready.
    private mutating func recordQueued(_ jobs: ArraySlice<JobInsert>, ids: ArraySlice<JobID>, groupKey: String) throws {
        for (new, id) in zip(jobs, ids) {
            let ref = JobRef(id: id, groupID: new.group, groupKey: groupKey, role: new.role, followerIndex: new.followerIndex, lane: new.lane)
            try record(.jobQueued, ref, data: new.state == .blocked ? TransitionSQL.blockedData : nil)
            if new.state == .ready { effects.readyWork.insert(WorkKind(role: new.role, lane: new.lane)) }
        }
    }

    /// Whether the group's primer can be skipped: its cache entry is ready, from the same provider and
    /// fingerprint, and not expired.
    private func primerSkippedOnCacheHit(_ group: NewGroup) throws -> Bool {
        guard group.primer != nil, let cache = group.skipPrimerOnCacheHit, let key = group.cacheKey else { return false }
        var valid = false
        try db.cachedStatement(sql: TransitionSQL.validCacheSQL).forEachRow {
            $0.add(key); $0.add(cache.provider); $0.add(cache.fingerprint); $0.add(now)
        } _: { _ in valid = true }
        return valid
    }

    private static func keyInUse(_ key: String) -> ActyError {
        ActyError(.groupKeyInUse, "a live group already has the key '\(key)': use a new key, or wait until that group finishes")
    }

    /// Adds the primer, or followers, to an open group.
    ///
    /// Followers start `blocked` while the primer is missing or running, `ready` once it succeeded (or failed
    /// under ``PrimerFailurePolicy/runFollowers``), and are recorded `cancelled` at once when the primer failed
    /// under ``PrimerFailurePolicy/skipFollowers``. Many followers go in with multi-row inserts and one update of
    /// the group row.
    ///
    /// A primer given `skipPrimerOnCacheHit` whose group's cache entry is ready, made by that provider with that
    /// fingerprint and not expired, is recorded as done without running, as a closed group's primer is skipped (see
    /// ``addSkippedPrimer(_:to:cacheKey:provider:)``).
    ///
    /// - Throws: ``ActyError/Code/groupClosed`` unless the group is open; ``ActyError/Code/invalidArgument`` for a
    ///   second primer, or more than one primer in `jobs`.
    mutating func addJobs(
        _ jobs: [NewJob], role: JobRole, toGroup id: GroupID, skipPrimerOnCacheHit cache: (provider: String, fingerprint: String)? = nil
    ) throws -> [JobID] {
        var group = try groupRow(id)
        guard group.state == .open else {
            let reason = group.state == .closed ? "is closed" : "has already \(group.state.rawValue)"
            throw ActyError(.groupClosed, "group '\(group.key)' \(reason): no more jobs can be added to it")
        }
        let state: JobState
        switch role {
        case .primer:
            guard jobs.count == 1 else {
                throw ActyError(.invalidArgument, "group '\(group.key)' takes one primer, not \(jobs.count)")
            }
            guard group.primerState == .none else {
                throw ActyError(.invalidArgument, "group '\(group.key)' already has a primer")
            }
            if !group.isBlocked, let cache, let key = try readyCacheKey(of: id, provider: cache.provider, fingerprint: cache.fingerprint) {
                return [try addSkippedPrimer(jobs[0], to: group, cacheKey: key, provider: cache.provider)]
            }
            // A blocked group's primer waits for its dependencies: their resolution makes it ready.
            state = group.isBlocked ? .blocked : .ready
            group.primerState = .pending
        case .follower:
            switch group.primerState {
            case .none, .pending: state = .blocked
            case .succeeded, .skipped:
                // A cap or a warm-up still running decides when they start: `releaseFollowers` below.
                state = group.maxFollowersInflight != nil || (group.warmUntil ?? 0) > now ? .blocked : .ready
            case .failed: state = group.primerPolicy == .runFollowers ? .ready : .cancelled
            }
        }
        let firstIndex = group.followersTotal
        if role == .follower { group.followersTotal += jobs.count }
        group.jobsTotal += jobs.count
        let statement = try db.cachedStatement(sql: """
            UPDATE groups SET primer_state = ?, followers_total = ?, jobs_total = ? WHERE id = ?
            """)
        try statement.run { [group] in
            $0.add(group.primerState.rawValue); $0.add(group.followersTotal); $0.add(group.jobsTotal); $0.add(id.rawValue)
        }
        let resultHandler = try resultHandler(of: id)
        let inserts = jobs.enumerated().map { offset, job in
            JobInsert(
                job: job, group: id, lane: group.lane, role: role, followerIndex: role == .follower ? firstIndex + offset : nil,
                state: state == .cancelled ? .blocked : state, resultHandler: resultHandler
            )
        }
        let ids = try insertJobs(inserts)
        try recordQueued(inserts[...], ids: ids[...], groupKey: group.key)
        if state == .cancelled {
            try cancelNotStartedJobs(of: group, reason: "primer_failed_skip_followers")
        } else if role == .follower, state == .blocked, group.primerState == .succeeded || group.primerState == .skipped {
            try releaseFollowers(of: groupRow(id), primerSucceeded: true)
        }
        return ids
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
            .run { [group] in $0.add(group.id.rawValue) }
        try db.cachedStatement(sql: TransitionSQL.cacheHitSQL).run { [now] in $0.add(now); $0.add(cacheKey) }
        try db.cachedStatement(sql: TransitionSQL.groupRefFromEntrySQL).run { $0.add(cacheKey); $0.add(group.id.rawValue) }
        try record(.cacheHit, group, data: Self.cacheData(key: cacheKey, provider: provider, reason: "primer_skipped"))
        let insert = JobInsert(
            job: job, group: group.id, lane: group.lane, role: .primer, followerIndex: nil, state: .succeeded,
            resultHandler: try resultHandler(of: group.id)
        )
        let ids = try insertJobs([insert])
        try recordQueued([insert], ids: ids[...], groupKey: group.key)
        let ref = JobRef(id: ids[0], groupID: group.id, groupKey: group.key, role: .primer, followerIndex: nil, lane: group.lane)
        try db.cachedStatement(sql: "UPDATE jobs SET result = ?, finished_at = ? WHERE id = ?").run { [now] in
            $0.add(Store.skippedPrimerOutput(cacheKey: cacheKey).jsonString); $0.add(now); $0.add(ref.id.rawValue)
        }
        try record(.jobSucceeded, ref, data: #"{"attempt":0,"skipped":"cache_hit"}"#)
        effects.finishedJobs.append(
            FinishedJob(
                id: ref.id, groupKey: group.key, role: .primer, state: .succeeded, error: nil, attempts: 0, lane: group.lane,
                executor: job.executor, output: Store.skippedPrimerOutput(cacheKey: cacheKey)
            )
        )
        try countFinishedJobs(1, in: group.id)
        if let warmup = group.followersWarmup {
            // The skipped primer "started" now: its followers still wait out the warm-up.
            try db.cachedStatement(sql: "UPDATE groups SET warm_until = ? WHERE id = ?").run { [now] in $0.add(now + warmup); $0.add(group.id.rawValue) }
        }
        try releaseFollowers(of: groupRow(group.id), primerSucceeded: true)
        return ref.id
    }

    /// The cache key of a group whose entry is ready, from this provider with this fingerprint, and not expired.
    private func readyCacheKey(of group: GroupID, provider: String, fingerprint: String) throws -> String? {
        var key: String?
        try db.cachedStatement(sql: TransitionSQL.readyCacheOfGroupSQL).forEachRow {
            $0.add(group.rawValue); $0.add(provider); $0.add(fingerprint); $0.add(now)
        } _: { key = $0.string(0) }
        return key
    }

    /// Adds a job to an open group as its primer when it has none yet, else as a follower (the original's
    /// `auto_primer_from_first_payload`); decided inside the transaction, so two concurrent calls make one primer.
    mutating func addJobAsPrimerIfNone(
        _ job: NewJob, toGroup id: GroupID, skipPrimerOnCacheHit cache: (provider: String, fingerprint: String)?
    ) throws -> (JobID, JobRole) {
        let role: JobRole = try groupRow(id).primerState == .none ? .primer : .follower
        return (try addJobs([job], role: role, toGroup: id, skipPrimerOnCacheHit: role == .primer ? cache : nil)[0], role)
    }

    /// Closes an open group: no more followers. Closing a group that is already closed or finished does nothing.
    ///
    /// A group closed without a primer will never get one, so its waiting followers are released.
    mutating func closeGroup(_ id: GroupID) throws {
        var group = try groupRow(id)
        guard group.state == .open else { return }
        group.state = .closed
        try db.cachedStatement(sql: "UPDATE groups SET state = 'closed', closed_at = ? WHERE id = ?").run { [now] in
            $0.add(now); $0.add(id.rawValue)
        }
        try record(.groupClosed, group)
        if group.primerState == .none {
            try releaseFollowers(of: group, primerSucceeded: false)
        }
        try finishGroupIfDone(id)
    }

    /// The name of a group's result handler, if it has one.
    private func resultHandler(of group: GroupID) throws -> String? {
        var name: String?
        try db.cachedStatement(sql: "SELECT result_handler FROM groups WHERE id = ?").forEachRow { $0.add(group.rawValue) } _: {
            name = $0.optionalString(0)
        }
        return name
    }

    /// Reads a group row by id.
    func groupRow(_ id: GroupID) throws -> GroupRow {
        var group: GroupRow?
        try db.cachedStatement(sql: TransitionSQL.groupRowSQL).forEachRow { $0.add(id.rawValue) } _: { row in
            group = try GroupRow(row)
        }
        guard let group else {
            throw ActyError(.unknownGroup, "no group with id \(id) exists")
        }
        return group
    }
}

extension TransitionSQL {
    /// Stores a group's follower dispatch settings (rare: one statement for those groups alone).
    static let followerDispatchSQL = """
        UPDATE groups SET followers_warmup = ?, warm_until = ?, max_followers_inflight = ? WHERE id = ?
        """

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
    fileprivate static let blockedData = #"{"blocked":true}"#

    /// The ready, unexpired entry of a group's cache key, if it has this provider and fingerprint.
    static let readyCacheOfGroupSQL = """
        SELECT cache_entries.key FROM groups JOIN cache_entries ON cache_entries.key = groups.cache_key
        WHERE groups.id = ? AND cache_entries.state = 'ready' AND cache_entries.provider = ? AND cache_entries.fingerprint = ?
            AND (cache_entries.expires_at IS NULL OR cache_entries.expires_at > ?)
        """
}
