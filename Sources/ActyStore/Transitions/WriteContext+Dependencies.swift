import ActyCore

/// Group dependencies: a group that waits for other groups is blocked (its jobs `blocked`, `dependencies_waiting`
/// above 0) until each is resolved, in the transaction that finishes the dependency, or that finds its timeout due.
/// Rows of `group_dependencies` (migrations/0004) are the whole state, so a restart or another engine continues it.
///
/// Cost for groups without dependencies: a submission call pays one index probe (does anyone wait on a key not yet
/// submitted?), a group's finish one probe (does anyone wait on it?), and a claim one probe (is a timeout due?).
extension WriteContext {
    /// How one dependency of a group to insert stands at submission.
    struct PlannedDependency {
        var dependency: GroupDependency
        /// The group depended on when known: a live group (or one of the call), or a finished one.
        var target: GroupID?
        /// The recorded outcome of a finished dependency; `nil` while it has to be waited for.
        var outcome: GroupState?
        /// The index of the call's group with the key, whose id is known once it is inserted.
        var batchIndex: Int?

        var isWaiting: Bool { outcome == nil }
        /// Whether the outcome fails the dependent group.
        var failsDependent: Bool { dependency.policy == .requireSuccess && outcome.map { $0 != .succeeded } == true }
    }

    /// Checks the dependencies of a call's groups and says how each stands: refuses cycles, and reads the outcome of
    /// dependencies whose group has finished. Writes nothing. `nil` for a group without dependencies.
    ///
    /// - Throws: ``ActyError/Code/dependencyCycle`` printing the cycle (a self-dependency is one).
    func planDependencies(_ groups: [NewGroup]) throws -> [[PlannedDependency]?] {
        guard groups.contains(where: { !$0.dependencies.isEmpty }) else { return Array(repeating: nil, count: groups.count) }
        var batch: [String: Int] = [:]
        for (index, group) in groups.enumerated() { batch[group.key] = index }
        try checkCycles(groups, batch: batch)
        return try groups.map { group in
            guard !group.dependencies.isEmpty else { return nil }
            return try group.dependencies.map { dependency in
                if let index = batch[dependency.key] {
                    return PlannedDependency(dependency: dependency, batchIndex: index)
                }
                guard let newest = try newestGroup(key: dependency.key) else { return PlannedDependency(dependency: dependency) }
                return PlannedDependency(dependency: dependency, target: newest.id, outcome: newest.finished ? newest.state : nil)
            }
        }
    }

    /// Inserts a group's dependency rows, as planned; `ids` are the call's group ids, for dependencies on its groups.
    mutating func insertDependencies(of group: GroupID, _ planned: [PlannedDependency], ids: [GroupID]) throws {
        let now = now
        try MultiRowInsert.dependencies.insert(planned, in: db) { arguments, plan in
            arguments.add(group.rawValue)
            arguments.add(plan.dependency.key)
            arguments.add((plan.batchIndex.map { ids[$0] } ?? plan.target)?.rawValue)
            arguments.add(plan.dependency.policy.rawValue)
            let timeout = plan.dependency.timeout?.seconds
            arguments.add(timeout)
            arguments.add(timeout.map { now + $0 })
            arguments.add(plan.isWaiting ? "waiting" : "done")
            arguments.add(plan.outcome?.rawValue)
            arguments.add(now)
            arguments.add(plan.isWaiting ? nil : now)
        }
        for plan in planned where plan.isWaiting {
            if let timeout = plan.dependency.timeout?.seconds { effects.retryDue(at: now + timeout) }
        }
    }

    /// Applies the dependencies of a new group that had finished at submission: `group_dependency_failed` for each
    /// that did not succeed, and the group fails when one of those requires success.
    mutating func recordResolvedDependencies(of id: GroupID, _ planned: [PlannedDependency]) throws {
        guard planned.contains(where: { !$0.isWaiting }) else { return }
        let group = try groupRow(id)
        for plan in planned {
            guard let outcome = plan.outcome, outcome != .succeeded else { continue }
            let reason = outcome == .cancelled ? "cancelled" : "failed"
            try record(.groupDependencyFailed, group, data: Self.dependencyData(plan.dependency, reason: reason))
        }
        if let failed = planned.first(where: \.failsDependent) {
            try failForDependency(group, failed.dependency, reason: failed.outcome == .cancelled ? "cancelled" : "failed")
        }
    }

    /// Points the rows waiting for "the next group submitted with this key" at the call's new groups. One probe of
    /// an index that is empty unless someone waits for a key not submitted yet.
    mutating func bindWaitingDependents(keys: [String], ids: [GroupID]) throws {
        var anyWaits = false
        try db.cachedStatement(sql: TransitionSQL.anyUnboundSQL).forEachRow { _ in } _: { _ in anyWaits = true }
        guard anyWaits else { return }
        let bind = try db.cachedStatement(sql: TransitionSQL.bindWaitingSQL)
        for (key, id) in zip(keys, ids) { try bind.run { $0.add(id.rawValue); $0.add(key) } }
    }

    /// Resolves the dependencies on a group that just finished: each dependent either counts it done, unblocking
    /// once nothing else is waited for, or fails with it (`.requireSuccess` and an outcome other than success).
    mutating func resolveDependents(of group: GroupRow) throws {
        guard groupsToResolve == nil else {
            groupsToResolve?.append(group)
            return
        }
        groupsToResolve = [group]
        defer { groupsToResolve = nil }
        while let next = groupsToResolve?.popLast() {
            try resolveDependentsNow(of: next)
        }
    }

    private mutating func resolveDependentsNow(of group: GroupRow) throws {
        var waiting: [(dependent: GroupID, dependency: GroupDependency)] = []
        try db.cachedStatement(sql: TransitionSQL.waitingOnGroupSQL).forEachRow { $0.add(group.id.rawValue) } _: { row in
            waiting.append((GroupID(row.int64(0)), Self.dependency(row, from: 1)))
        }
        let done = try db.cachedStatement(sql: TransitionSQL.resolveSQL)
        for (dependent, dependency) in waiting {
            try done.run { [now] in
                $0.add("done"); $0.add(group.state.rawValue); $0.add(now); $0.add(dependent.rawValue); $0.add(dependency.key)
            }
            guard db.changesCount == 1 else { continue }
            let reason = group.state == .succeeded ? nil : group.state == .cancelled ? "cancelled" : "failed"
            try resolve(dependency, of: dependent, failure: reason)
        }
    }

    /// Applies the dependency timeouts that are due, in the claim: a claim with nothing due pays one probe of the
    /// `group_dependencies_due` index, and tells the dispatcher when the next timeout is due.
    mutating func expireDueDependencies() throws {
        guard let earliest = try earliestDependencyTimeout() else { return }
        guard earliest <= now else {
            effects.retryDue(at: earliest)
            return
        }
        var due: [(dependent: GroupID, dependency: GroupDependency)] = []
        try db.cachedStatement(sql: TransitionSQL.dueDependenciesSQL).forEachRow { [now] in $0.add(now) } _: { row in
            due.append((GroupID(row.int64(0)), Self.dependency(row, from: 1)))
        }
        let expire = try db.cachedStatement(sql: TransitionSQL.resolveSQL)
        for (dependent, dependency) in due {
            try expire.run { [now] in
                $0.add("timed_out"); $0.add(nil as String?); $0.add(now); $0.add(dependent.rawValue); $0.add(dependency.key)
            }
            guard db.changesCount == 1 else { continue }
            try resolve(dependency, of: dependent, failure: "timeout")
        }
        if let next = try earliestDependencyTimeout() { effects.retryDue(at: next) }
    }

    /// Drops the dependencies a group still waited for when it ended without them (cancelled while blocked).
    mutating func dropWaitingDependencies(of group: GroupID) throws {
        try db.cachedStatement(sql: TransitionSQL.dropWaitingSQL).run { [now] in $0.add(now); $0.add(group.rawValue) }
        try db.cachedStatement(sql: "UPDATE groups SET dependencies_waiting = 0 WHERE id = ?").run { $0.add(group.rawValue) }
    }

    /// One of a dependent group's dependencies was resolved (its row updated already): `failure` is `nil` when it
    /// succeeded, else `failed`, `cancelled` or `timeout`.
    private mutating func resolve(_ dependency: GroupDependency, of id: GroupID, failure: String?) throws {
        let dependent = try groupRow(id)
        guard dependent.isBlocked else { return }
        if let failure {
            try record(.groupDependencyFailed, dependent, data: Self.dependencyData(dependency, reason: failure))
            if dependency.policy == .requireSuccess {
                try failForDependency(dependent, dependency, reason: failure)
                return
            }
        }
        try db.cachedStatement(sql: "UPDATE groups SET dependencies_waiting = dependencies_waiting - 1 WHERE id = ?").run {
            $0.add(id.rawValue)
        }
        if dependent.dependenciesWaiting == 1 {
            var unblocked = dependent
            unblocked.dependenciesWaiting = 0
            try unblock(unblocked, last: dependency)
        }
    }

    /// A group's last dependency was resolved: its primer becomes ready, and so do its followers when the group has
    /// no primer to wait for (closed without one, or skipped). A closed group without jobs finishes.
    private mutating func unblock(_ group: GroupRow, last dependency: GroupDependency) throws {
        if group.admission == "pending" && group.state.isLive {
            // It now waits for an admission slot only: its admission makes its jobs ready (WriteContext+Admission).
            try record(.groupUnblocked, group, data: Self.dependencyData(dependency, primerReady: false))
            try admitWaitingGroups()
            return
        }
        try db.cachedStatement(sql: TransitionSQL.readyPrimerSQL).run { $0.add(group.id.rawValue) }
        let primerReady = db.changesCount > 0
        if primerReady { effects.readyWork.insert(WorkKind(role: .primer, lane: group.lane)) }
        // `primer`: whether a primer became ready, for readers that count jobs they have not seen queued.
        try record(.groupUnblocked, group, data: Self.dependencyData(dependency, primerReady: primerReady))
        if group.primerState == .skipped || (group.primerState == .none && group.state == .closed) {
            try releaseFollowers(of: group, primerSucceeded: group.primerState == .skipped)
        }
        try finishGroupIfDone(group.id)
    }

    /// Fails a blocked group because of a dependency: the dependencies it still waits for are dropped, and every
    /// job ends `failed` with a `DependencyFailed` error naming the dependency (none of them ever ran).
    private mutating func failForDependency(_ group: GroupRow, _ dependency: GroupDependency, reason: String) throws {
        var group = group
        guard group.state.isLive else { return }
        let what = switch reason {
        case "timeout": "did not finish within its timeout of \(dependency.timeout?.seconds ?? 0) s"
        case "cancelled": "was cancelled"
        default: "failed"
        }
        let error = JobError(
            type: GroupDependency.failedErrorType,
            message: "dependency '\(dependency.key)' \(what), and group '\(group.key)' requires its success"
        )
        let details = JSONValue.object([
            "reason": "dependency_failed", "dependency_id": .string(dependency.key), "dependency_reason": .string(reason),
            "policy": .string(dependency.policy.rawValue), "error": error.jsonValue,
        ]).jsonString
        try dropWaitingDependencies(of: group.id)
        group.state = .failed
        group.error = details
        group.dependenciesWaiting = 0
        try db.cachedStatement(sql: "UPDATE groups SET state = 'failed', error = ? WHERE id = ?").run {
            $0.add(details); $0.add(group.id.rawValue)
        }
        try record(.groupFailed, group, data: details)
        let errorJSON = error.jsonString
        let jobData = #"{"reason":"dependency_failed","error":\#(errorJSON)}"#
        var failed = 0
        try db.cachedStatement(sql: TransitionSQL.failNotStartedSQL).forEachRow { [now] in
            $0.add(errorJSON); $0.add(now); $0.add(group.id.rawValue)
        } _: { row in
            let role = JobRole(stored: row.string(1))
            let ref = JobRef(
                id: JobID(row.int64(0)), groupID: group.id, groupKey: group.key, role: role, followerIndex: row.optionalInt(2), lane: group.lane
            )
            try record(.jobFailed, ref, data: jobData)
            effects.finishedJobs.append(
                FinishedJob(
                    id: ref.id, groupKey: group.key, role: role, state: .failed, error: error, attempts: row.int(3), lane: group.lane,
                    executor: row.string(4)
                )
            )
            failed += 1
        }
        if failed > 0 { try countFinishedJobs(failed, in: group.id) }
        try finishGroupIfDone(group.id)
    }

    private func earliestDependencyTimeout() throws -> Double? {
        var earliest: Double?
        try db.cachedStatement(sql: TransitionSQL.earliestTimeoutSQL).forEachRow { _ in } _: { earliest = $0.optionalDouble(0) }
        return earliest
    }

    /// The newest group with a key, from the `groups_key` index: whether it finished, and its state.
    private func newestGroup(key: String) throws -> (id: GroupID, state: GroupState, finished: Bool)? {
        var newest: (GroupID, GroupState, Bool)?
        try db.cachedStatement(sql: TransitionSQL.newestGroupSQL).forEachRow { $0.add(key) } _: { row in
            guard let state = GroupState(rawValue: row.string(1)) else { return }
            newest = (GroupID(row.int64(0)), state, row.optionalDouble(2) != nil)
        }
        return newest
    }

    /// The data of a dependency event, with Python acty's keys: `dependency_id` is the key depended on.
    static func dependencyData(_ dependency: GroupDependency, reason: String? = nil, primerReady: Bool? = nil) -> String {
        var data: [String: JSONValue] = ["dependency_id": .string(dependency.key), "policy": .string(dependency.policy.rawValue)]
        if let timeout = dependency.timeout { data["timeout_s"] = .number(timeout.seconds) }
        if let reason { data["reason"] = .string(reason) }
        if let primerReady { data["primer"] = .bool(primerReady) }
        return JSONValue.object(data).jsonString
    }

    /// A dependency from the columns `dependency_key, policy, timeout` starting at `column`.
    private static func dependency(_ row: some SQLColumns, from column: Int32) -> GroupDependency {
        GroupDependency(
            row.string(column), policy: GroupDependency.Policy(rawValue: row.string(column + 1)) ?? .onDone,
            timeout: row.optionalDouble(column + 2).map { .seconds($0) }
        )
    }
}

extension TransitionSQL {
    /// Whether any dependency waits for a key no group had when it was submitted (`group_dependencies_waiting_key`).
    static let anyUnboundSQL = "SELECT 1 FROM group_dependencies WHERE state = 'waiting' AND dependency_id IS NULL LIMIT 1"

    /// Points the dependencies waiting for a key at the group just submitted with it.
    static let bindWaitingSQL = """
        UPDATE group_dependencies SET dependency_id = ? WHERE dependency_key = ? AND state = 'waiting' AND dependency_id IS NULL
        """

    /// The dependencies waiting for a group (`group_dependencies_waiting_group`).
    static let waitingOnGroupSQL = """
        SELECT group_id, dependency_key, policy, timeout FROM group_dependencies WHERE dependency_id = ? AND state = 'waiting'
        """

    /// Resolves one waiting dependency: `done` with the dependency's outcome, or `timed_out`.
    static let resolveSQL = """
        UPDATE group_dependencies SET state = ?, outcome = ?, resolved_at = ?
        WHERE group_id = ? AND dependency_key = ? AND state = 'waiting'
        """

    /// When the earliest dependency timeout is due (`group_dependencies_due`).
    static let earliestTimeoutSQL = "SELECT MIN(due_at) FROM group_dependencies WHERE state = 'waiting' AND due_at IS NOT NULL"

    /// Dependency timeouts that are due, earliest first, in bounded batches.
    static let dueDependenciesSQL = """
        SELECT group_id, dependency_key, policy, timeout FROM group_dependencies
        WHERE state = 'waiting' AND due_at IS NOT NULL AND due_at <= ? ORDER BY due_at LIMIT 1000
        """

    /// Drops the dependencies a group still waits for.
    static let dropWaitingSQL = """
        UPDATE group_dependencies SET state = 'dropped', resolved_at = ? WHERE group_id = ? AND state = 'waiting'
        """

    /// The newest group with a key (`groups_key`).
    static let newestGroupSQL = "SELECT id, state, finished_at FROM groups WHERE key = ? ORDER BY id DESC LIMIT 1"

    /// Makes an unblocked group's primer ready (`jobs_group`).
    static let readyPrimerSQL = "UPDATE jobs SET state = 'ready' WHERE group_id = ? AND role = 'primer' AND state = 'blocked'"

    /// Fails the jobs of a group that have not started.
    static let failNotStartedSQL = """
        UPDATE jobs SET state = 'failed', error = ?, finished_at = ?, run_at = NULL
        WHERE group_id = ? AND state IN ('blocked', 'ready', 'scheduled')
        RETURNING id, role, follower_index, attempts, executor
        """
}
