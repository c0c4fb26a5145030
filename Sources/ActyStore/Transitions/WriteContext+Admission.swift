import ActyCore

/// Admission control (`EngineConfiguration.maxActiveGroups`): at most `cap` groups are active, from their admission
/// until they finish (an open group until it is closed and done). A group past the cap is stored `pending` with its
/// jobs `blocked`, and is admitted in FIFO order of submission when a slot frees. A group waiting for a dependency
/// holds no slot and is not admitted before its dependencies are resolved.
///
/// The `admission` column of `groups` (migrations/0008) is the whole state: a restart, or another engine on the file,
/// continues it, and since every admission runs in a write transaction, engines sharing a file share one cap.
/// Bookkeeping is O(changed groups): counting active groups reads the `groups_admission_active` partial index (at
/// most `cap` entries) and the next group is the first entry of `groups_admission_pending`. Without a cap, nothing of
/// this runs: a finishing group reads its `admission` with the rest of its row.
extension WriteContext {
    /// The admission of each group of a call, in order: `admitted` while slots are free and no earlier group waits
    /// for one, else `pending`; `pending` too for a group that waits for a dependency. All `nil` without a cap.
    func planAdmission(_ waitsForDependency: [Bool]) throws -> [String?] {
        guard admission != nil else { return Array(repeating: nil, count: waitsForDependency.count) }
        let cap = try currentCap()
        var free = try nextWaitingGroup() == nil ? max(0, cap - activeGroups()) : 0
        return waitsForDependency.map { waits in
            guard !waits, free > 0 else { return "pending" }
            free -= 1
            return "admitted"
        }
    }

    /// Admits waiting groups, oldest first, while fewer than the cap are active: each one's jobs become ready as they
    /// would have at submission. Re-entrant: a group admitted here may finish at once (closed and empty) and retire.
    mutating func admitWaitingGroups() throws {
        guard admission != nil else { return }
        let cap = try currentCap()
        var admitted = false
        while try activeGroups() < cap, let next = try nextWaitingGroup() {
            try db.cachedStatement(sql: "UPDATE groups SET admission = 'admitted' WHERE id = ?").run { $0.add(next.rawValue) }
            try addPending(-1)
            var group = try groupRow(next)
            group.admission = "admitted"
            try recordAdmitted(group)
            admitted = true
            try start(group)
        }
        if admitted { try recordPending() }
    }

    /// An admitted group finished: its slot goes to the next waiting group. A group that finished while pending
    /// (cancelled, or failed by a dependency) leaves the queue.
    mutating func retire(_ group: GroupRow) throws {
        try db.cachedStatement(sql: "UPDATE groups SET admission = 'retired' WHERE id = ?").run { $0.add(group.id.rawValue) }
        if group.admission == "pending" { try addPending(-1) }
        guard group.admission == "admitted" else { return }
        try record(.groupRetired, group, data: try slotData())
        try admitWaitingGroups()
    }

    /// Counts groups that start (`count` > 0) or stop (< 0) waiting for a slot.
    mutating func addPending(_ count: Int) throws {
        // The row exists once a group was counted; an upsert would check the new row's `pending >= 0` first.
        try db.cachedStatement(sql: count > 0 ? TransitionSQL.addPendingSQL : TransitionSQL.removePendingSQL).run { $0.add(count) }
    }

    /// `group_admitted` for a group just admitted.
    mutating func recordAdmitted(_ group: GroupRow) throws {
        try record(.groupAdmitted, group, data: try slotData())
    }

    /// `groups_pending`: how many groups wait for a slot, how many are active, and the cap.
    mutating func recordPending() throws {
        var pending = 0
        try db.cachedStatement(sql: TransitionSQL.pendingCountSQL).forEachRow { _ in } _: { pending = $0.int(0) }
        let data = #"{"pending":\#(pending),"active":\#(try activeGroups()),"cap":\#(try currentCap())}"#
        try record(.groupsPending, data: data)
    }

    /// Admission in a claim: when groups wait, decides the burst (the cap grows by the burst allowance while fewer
    /// jobs are ready than the live engines on the file have workers), records its changes, and admits up to the
    /// cap. With no group waiting, one probe of `groups_admission_pending`.
    mutating func admitForClaim() throws {
        guard let admission, try nextWaitingGroup() != nil else { return }
        if admission.burstAllowance > 0 {
            var workers = 0
            try db.cachedStatement(sql: TransitionSQL.liveWorkersSQL).forEachRow { _ in } _: { workers = $0.int(0) }
            let lowWatermark = max(1, workers)
            var ready = 0
            try db.cachedStatement(sql: TransitionSQL.readyCountSQL).forEachRow { $0.add(lowWatermark) } _: { ready = $0.int(0) }
            try setBurst(ready < lowWatermark, ready: ready, lowWatermark: lowWatermark)
        }
        try admitWaitingGroups()
    }

    /// The cap in force: the base cap, plus the burst allowance while the stored burst is on.
    private func currentCap() throws -> Int {
        guard let admission else { return 0 }
        guard admission.burstAllowance > 0 else { return admission.cap }
        return try storedBurst()?.bursting == true ? admission.cap + admission.burstAllowance : admission.cap
    }

    private func storedBurst() throws -> (bursting: Bool, cap: Int)? {
        var stored: (Bool, Int)?
        try db.cachedStatement(sql: "SELECT bursting, cap FROM admission_state WHERE id = 1 AND bursting IS NOT NULL")
            .forEachRow { _ in } _: { stored = ($0.int(0) != 0, $0.int(1)) }
        return stored
    }

    /// Stores the burst decision when it changed: `burst_on`/`burst_off` when the burst flips, `cap_changed` when
    /// the cap in force changes (also the first decision on a file, or a cap configured differently).
    private mutating func setBurst(_ bursting: Bool, ready: Int, lowWatermark: Int) throws {
        guard let admission else { return }
        let cap = admission.cap + (bursting ? admission.burstAllowance : 0)
        let stored = try storedBurst()
        guard stored?.bursting != bursting || stored?.cap != cap else { return }
        try db.cachedStatement(sql: TransitionSQL.storeBurstSQL).run { [now] in $0.add(bursting ? 1 : 0); $0.add(cap); $0.add(now) }
        let data = #"{"runnable":\#(ready),"low_watermark":\#(lowWatermark),"base_cap":\#(admission.cap),"#
            + #""burst_allowance":\#(admission.burstAllowance),"cap":\#(cap)}"#
        if stored?.bursting != bursting { try record(bursting ? .burstOn : .burstOff, data: data) }
        if stored?.cap != cap { try record(.capChanged, data: data) }
    }

    /// Makes an admitted group's jobs ready, as a submission with a free slot would have: its primer, and its
    /// followers when there is no primer to wait for. A closed group without jobs finishes.
    private mutating func start(_ group: GroupRow) throws {
        guard group.state.isLive else { return }
        try db.cachedStatement(sql: TransitionSQL.readyPrimerSQL).run { $0.add(group.id.rawValue) }
        if db.changesCount > 0 { effects.readyWork.insert(WorkKind(role: .primer, lane: group.lane)) }
        if group.primerState == .skipped || group.primerState == .succeeded || (group.primerState == .none && group.state == .closed) {
            try releaseFollowers(of: group, primerSucceeded: group.primerState == .succeeded)
        }
        try finishGroupIfDone(group.id)
    }

    private func slotData() throws -> String {
        #"{"active":\#(try activeGroups()),"cap":\#(try currentCap())}"#
    }

    private func activeGroups() throws -> Int {
        var count = 0
        try db.cachedStatement(sql: TransitionSQL.activeCountSQL).forEachRow { _ in } _: { count = $0.int(0) }
        return count
    }

    private func nextWaitingGroup() throws -> GroupID? {
        var next: GroupID?
        try db.cachedStatement(sql: TransitionSQL.nextWaitingSQL).forEachRow { _ in } _: { next = GroupID($0.int64(0)) }
        return next
    }
}

/// The admission control an engine applies (``EngineConfiguration/maxActiveGroups`` and ``burstAllowance``).
package struct AdmissionSettings: Sendable, Equatable {
    /// How many groups may be active at once, at least 1.
    package var cap: Int
    /// Slots added while the burst is on.
    package var burstAllowance: Int

    package init(cap: Int, burstAllowance: Int) {
        self.cap = max(1, cap)
        self.burstAllowance = max(0, burstAllowance)
    }
}

extension TransitionSQL {
    /// Groups holding a slot (`groups_admission_active`).
    static let activeCountSQL = "SELECT COUNT(*) FROM groups WHERE admission = 'admitted'"

    /// The oldest group waiting for a slot and for nothing else (`groups_admission_pending`).
    static let nextWaitingSQL = "SELECT id FROM groups WHERE admission = 'pending' AND dependencies_waiting = 0 ORDER BY id LIMIT 1"

    /// Ready jobs, counted up to a bound (`jobs_ready`).
    /// The workers of every live engine on the file (the `workers` table holds a row per engine run).
    static let liveWorkersSQL = "SELECT COALESCE(SUM(primer_workers + follower_workers), 0) FROM workers WHERE stopped_at IS NULL"

    static let readyCountSQL = "SELECT COUNT(*) FROM (SELECT 1 FROM jobs INDEXED BY jobs_ready WHERE state = 'ready' LIMIT ?)"

    /// Stores the burst decision (one row).
    static let storeBurstSQL = """
        INSERT INTO admission_state (id, bursting, cap, changed_at) VALUES (1, ?, ?, ?)
        ON CONFLICT (id) DO UPDATE SET bursting = excluded.bursting, cap = excluded.cap, changed_at = excluded.changed_at
        """

    /// Groups waiting for a slot, those blocked by a dependency included: the counter `admission_state.pending`.
    static let pendingCountSQL = "SELECT pending FROM admission_state WHERE id = 1"

    /// Takes from the counter of pending groups (`?` is negative).
    static let removePendingSQL = "UPDATE admission_state SET pending = pending + ? WHERE id = 1"

    /// Adds to the counter of pending groups.
    static let addPendingSQL = """
        INSERT INTO admission_state (id, pending) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET pending = pending + ?1
        """
}
