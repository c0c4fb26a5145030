package import ActyCore
import GRDB

extension Store {
    /// Inserts groups with their primers and followers in one transaction; returns once committed, with the ids
    /// in the order of `groups`. All or nothing: when one group is refused, none is stored.
    ///
    /// - Parameter observer: told the new ids inside the transaction, before any other transaction can see the
    ///   jobs (so a waiter for their results is registered before they can finish), and told again if the
    ///   transaction then fails to commit.
    /// - Throws: ``ActyError/Code/groupKeyInUse`` when a live group has one of the keys, or two groups share one.
    package func submitGroups(
        _ groups: [NewGroup], worker: String?, observer: InsertObserver<[SubmittedGroup]>? = nil
    ) async throws -> ([SubmittedGroup], WriteEffects) {
        try await write(worker: worker) { context in
            let submitted = try context.insertGroups(groups)
            observer?.inserted(submitted)
            return submitted
        } undo: { observer?.rolledBack($0) }
    }

    /// Inserts one group with its primer and followers; returns once committed.
    ///
    /// - Throws: ``ActyError/Code/groupKeyInUse`` when a live group has the key.
    package func submitGroup(_ group: NewGroup, worker: String?) async throws -> (SubmittedGroup, WriteEffects) {
        let (submitted, effects) = try await submitGroups([group], worker: worker)
        return (submitted[0], effects)
    }

    /// Adds the primer, or followers, to an open group in one transaction; returns the new ids in order.
    ///
    /// - Parameters:
    ///   - skipPrimerOnCacheHit: for a primer, the provider and fingerprint its cache entry must have for the primer
    ///     to be skipped: when the group's entry is ready and matches, the primer is recorded `succeeded` at once
    ///     with the output ``skippedPrimerOutput(cacheKey:)`` (it is in the effects' finished jobs) and the
    ///     followers start.
    ///   - observer: as for ``submitGroups(_:worker:observer:)``.
    /// - Throws: ``ActyError/Code/groupClosed`` unless the group is open.
    package func addJobs(
        _ jobs: [NewJob], role: JobRole, toGroup group: GroupID, skipPrimerOnCacheHit: (provider: String, fingerprint: String)? = nil,
        worker: String?, observer: InsertObserver<[JobID]>? = nil
    ) async throws -> ([JobID], WriteEffects) {
        try await write(worker: worker) { context in
            let ids = try context.addJobs(jobs, role: role, toGroup: group, skipPrimerOnCacheHit: skipPrimerOnCacheHit)
            observer?.inserted(ids)
            return ids
        } undo: { observer?.rolledBack($0) }
    }

    /// The output recorded for an open group's primer that was skipped because its cache entry was ready:
    /// `{"skipped": "cache_hit", "cache_key": <key>}`.
    package static func skippedPrimerOutput(cacheKey: String) -> JSONValue {
        ["skipped": "cache_hit", "cache_key": .string(cacheKey)]
    }

    /// Closes an open group; does nothing for a group that is already closed or finished.
    package func closeGroup(_ group: GroupID, worker: String?) async throws -> WriteEffects {
        try await write(worker: worker) { try $0.closeGroup(group) }.1
    }

    /// Records finished attempts, hands back released jobs, then fills idle workers, in one transaction.
    ///
    /// - Parameter releases: running jobs a shutting-down engine gives back without using up an attempt.
    package func completeAndClaim(
        _ completions: [Completion], releases: [ClaimedJob] = [], claim: ClaimRequest?, worker: String
    ) async throws -> ([ClaimedJob], WriteEffects) {
        try await completeAndClaim(worker: worker) { DispatchWork(completions: completions, releases: releases, claim: claim) }
    }

    /// Like ``completeAndClaim(_:releases:claim:worker:)``, with the work decided when the transaction begins.
    ///
    /// A dispatcher's transaction waits at the writer while the one before it commits; collecting its completions
    /// and idle workers only when it starts lets it carry everything that arrived meanwhile, so there are fewer,
    /// larger commits under load without waiting for a batch to fill.
    ///
    /// - Parameters:
    ///   - standby: wait for another write (or ``runStandbyClaim()``) and run in its transaction, after it: a
    ///     dispatcher with idle workers and nothing to give them parks its claim so, and a job submitted meanwhile
    ///     is claimed in the transaction that enqueues it. At most one write may wait on standby.
    ///   - collect: runs on the writer thread inside the transaction, each time its body runs (again after a
    ///     rollback caused by another request of the batch): it must return the same work every time.
    ///   - handOut: runs on the writer thread with the claimed jobs once the transaction has committed, before this
    ///     function returns.
    package func completeAndClaim(
        worker: String, standby: Bool = false, collecting collect: @escaping @Sendable () -> DispatchWork,
        handOut: (@Sendable ([ClaimedJob]) -> Void)? = nil
    ) async throws -> ([ClaimedJob], WriteEffects) {
        try await write(worker: worker, standby: standby) { context in
            let work = collect()
            if !work.completions.isEmpty { try context.complete(work.completions, worker: worker) }
            if !work.releases.isEmpty { try context.release(work.releases, worker: worker) }
            return try work.claim.map { try context.claim($0) } ?? []
        } undo: { _ in
            // The claim's lane bookkeeping must roll back with its transaction, or lanes it found dry would stay
            // marked empty while their jobs are back in `ready`.
            collect().claim?.state.rollBackLastClaim()
        } committed: { jobs in
            handOut?(jobs)
        }
    }

    /// Sets lane rows to the given settings, creating missing ones; records `lane_configs_updated` when any changed.
    package func configureLanes(_ lanes: [String: (weight: Double, maxInflight: Int?)], worker: String?) async throws {
        guard !lanes.isEmpty else { return }
        _ = try await write(worker: worker) { context in
            let statement = try context.db.cachedStatement(sql: """
                INSERT INTO lanes (name, weight, max_inflight, paused, created_at, updated_at) VALUES (?, ?, ?, 0, ?, ?)
                ON CONFLICT (name) DO UPDATE SET weight = excluded.weight, max_inflight = excluded.max_inflight,
                    updated_at = excluded.updated_at
                WHERE weight IS NOT excluded.weight OR max_inflight IS NOT excluded.max_inflight
                """)
            var changed: [JSONValue] = []
            for (name, lane) in lanes.sorted(by: { $0.key < $1.key }) {
                try statement.execute(arguments: [name, lane.weight, lane.maxInflight, context.now, context.now])
                if context.db.changesCount > 0 {
                    changed.append([
                        "lane": .string(name), "weight": .number(lane.weight),
                        "max_inflight": lane.maxInflight.map { .number(Double($0)) } ?? .null,
                    ])
                }
            }
            if !changed.isEmpty {
                try context.record(.laneConfigsUpdated, data: JSONValue.object(["lane_configs": .array(changed)]).jsonString)
            }
        }
    }

    /// Registers an engine process in `workers` and records `worker_started` and `run_started`.
    package func registerWorker(_ worker: WorkerRegistration) async throws {
        _ = try await write(worker: worker.id) { context in
            try context.db.execute(
                sql: """
                    INSERT INTO workers (id, pid, host, started_at, heartbeat_at, primer_workers, follower_workers, executors)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    worker.id, worker.pid, worker.host, context.now, context.now, worker.primerWorkers,
                    worker.followerWorkers, JSONValue.array(worker.executors.map { .string($0) }).jsonString,
                ]
            )
            let data = JSONValue.object([
                "pid": .number(Double(worker.pid)), "host": .string(worker.host),
                "primer_workers": .number(Double(worker.primerWorkers)),
                "follower_workers": .number(Double(worker.followerWorkers)),
                "executors": .array(worker.executors.map { .string($0) }),
            ]).jsonString
            try context.record(.workerStarted, data: data)
            try context.record(.runStarted, data: data)
        }
    }

    /// Marks an engine process as stopped and records `run_finished` and `worker_stopped`.
    package func unregisterWorker(_ id: String) async throws {
        _ = try await write(worker: id) { context in
            try context.db.execute(sql: "UPDATE workers SET stopped_at = ?, heartbeat_at = ?, stop_reason = 'shutdown' WHERE id = ?", arguments: [context.now, context.now, id])
            try context.record(.runFinished)
            try context.record(.workerStopped)
        }
    }
}

/// An engine process, as registered in the `workers` table.
package struct WorkerRegistration: Sendable, Hashable {
    /// The worker id: unique per engine process and run.
    package var id: String
    /// The operating-system process id.
    package var pid: Int
    /// The host name.
    package var host: String
    /// Size of the primer pool.
    package var primerWorkers: Int
    /// Size of the follower pool.
    package var followerWorkers: Int
    /// Registered executor names.
    package var executors: [String]

    /// Creates a registration.
    package init(id: String, pid: Int, host: String, primerWorkers: Int, followerWorkers: Int, executors: [String]) {
        self.id = id
        self.pid = pid
        self.host = host
        self.primerWorkers = primerWorkers
        self.followerWorkers = followerWorkers
        self.executors = executors
    }
}

/// Learns the ids of inserted rows inside the inserting transaction, and that they were rolled back if the
/// transaction then failed to commit.
package struct InsertObserver<Value: Sendable>: Sendable {
    /// Called on the writer thread, inside the transaction.
    package var inserted: @Sendable (Value) -> Void
    /// Called on the writer thread when the transaction failed after the insert, before the next transaction.
    package var rolledBack: @Sendable (Value) -> Void

    /// Creates an observer.
    package init(inserted: @escaping @Sendable (Value) -> Void, rolledBack: @escaping @Sendable (Value) -> Void) {
        self.inserted = inserted
        self.rolledBack = rolledBack
    }
}
