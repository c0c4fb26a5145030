package import ActyCore
import GRDB

/// Leases, rescue and the administration rules, each in the writer's next transaction.
extension BackendStore {
    /// Extends the leases of a worker's running jobs to `leaseUntil` and records its heartbeat.
    package func heartbeat(worker: String, leaseUntil: Double) async throws {
        _ = try await write(worker: worker) { try $0.heartbeat(worker: worker, leaseUntil: leaseUntil) }
    }

    /// Takes back jobs whose lease expired or whose worker is known dead; marks silent workers lost.
    ///
    /// - Returns: how many jobs were rescued, and what became ready or finished.
    package func rescue(silentSince: Double, deadWorkers: [String], worker: String?) async throws -> (Int, WriteEffects) {
        try await write(worker: worker) { try $0.rescue(silentSince: silentSince, deadWorkers: deadWorkers) }
    }

    /// Cancels a job (its whole group, for a primer). Returns `false` when it had already finished.
    ///
    /// - Throws: ``ActyError/Code/unknownJob``.
    package func cancelJob(_ id: JobID, worker: String?) async throws -> (Bool, WriteEffects) {
        try await write(worker: worker) { try $0.cancelJob(id) }
    }

    /// Cancels a group and its unfinished jobs. Returns `false` when it had already finished.
    package func cancelGroup(_ id: GroupID, worker: String?) async throws -> (Bool, WriteEffects) {
        try await write(worker: worker) { try $0.cancelGroup(id) }
    }

    /// Closes every open group of the database; returns how many, with the effects, once committed.
    package func closeAllOpenGroups(worker: String?) async throws -> (Int, WriteEffects) {
        try await write(worker: worker) { try $0.closeAllOpenGroups() }
    }

    /// Cancels every live group of the database and their unfinished jobs, running ones included; returns how many,
    /// with the effects, once committed.
    package func cancelAllLiveGroups(worker: String?) async throws -> (Int, WriteEffects) {
        try await write(worker: worker) { try $0.cancelAllLiveGroups() }
    }

    /// Queues a failed or cancelled job again, with one more attempt. Returns how many jobs were queued: the job,
    /// and for a primer the followers its failure or its group's cancellation had cancelled.
    ///
    /// - Throws: ``ActyError/Code/unknownJob``, ``ActyError/Code/invalidArgument``, ``ActyError/Code/groupKeyInUse``.
    package func retryJob(_ id: JobID, worker: String?) async throws -> (Int, WriteEffects) {
        try await write(worker: worker) { try $0.retryJob(id) }
    }

    /// Retries a group's failed jobs and brings back the jobs its failure cancelled. Returns how many were queued.
    package func retryFailedJobs(inGroup id: GroupID, worker: String?) async throws -> (Int, WriteEffects) {
        try await write(worker: worker) { try $0.retryFailedJobs(inGroup: id) }
    }

    /// Retries the failed jobs of every group. Returns how many were queued.
    package func retryAllFailedJobs(worker: String?) async throws -> (Int, WriteEffects) {
        try await write(worker: worker) { try $0.retryAllFailedJobs() }
    }

    /// Pauses or resumes a lane. Returns whether its state changed.
    ///
    /// - Throws: ``ActyError/Code/unknownLane``.
    package func setLanePaused(_ name: String, paused: Bool, worker: String?) async throws -> Bool {
        try await write(worker: worker) { try $0.setLanePaused(name, paused: paused) }.0
    }

    /// Sets an existing lane's weight and, when given, its cap (`.some(nil)` removes the cap).
    ///
    /// - Throws: ``ActyError/Code/unknownLane``, ``ActyError/Code/invalidArgument``.
    package func setLaneWeight(_ name: String, weight: Double, maxInflight: Int?? = nil, worker: String?) async throws {
        _ = try await write(worker: worker) { try $0.setLaneWeight(name, weight: weight, maxInflight: maxInflight) }
    }

    /// Creates a lane with `initial` settings unless it exists, then sets its weight when `weight` is given; returns
    /// the lane's settings once committed.
    package func openLane(
        _ name: String, initial: (weight: Double, maxInflight: Int?), weight: Double?, worker: String?
    ) async throws -> (weight: Double, maxInflight: Int?, paused: Bool) {
        try await write(worker: worker) { try $0.openLane(name, initial: initial, weight: weight) }.0
    }

    /// Removes groups that finished before `finishedBefore` (Unix seconds) with their jobs, attempts and events,
    /// in transactions of at most `batch` groups.
    package func prune(finishedBefore: Double, batch: Int = 500, worker: String?) async throws -> PruneResult {
        var total = PruneResult(groups: 0, jobs: 0, attempts: 0, events: 0)
        while true {
            let (result, _) = try await write(worker: worker) { try $0.prune(finishedBefore: finishedBefore, limit: batch) }
            total.groups += result.groups
            total.jobs += result.jobs
            total.attempts += result.attempts
            total.events += result.events
            if result.groups < batch { return total }
        }
    }
}

extension BackendStore where Backend == SQLiteBackend {
    /// Copies the write-ahead log into the database file and truncates it.
    ///
    /// - Returns: frames in the log, and frames copied; both 0 when the log was already empty.
    ///
    /// Related SQLite documentation: <https://www.sqlite.org/pragma.html#pragma_wal_checkpoint>
    package func checkpoint() async throws -> (logFrames: Int, checkpointedFrames: Int) {
        do {
            return try await database.writeWithoutTransaction { db in
                let result = try db.checkpoint(.truncate)
                return (result.walFrameCount, result.checkpointedFrameCount)
            }
        } catch {
            throw StoreErrors.map(error, path: path)
        }
    }
}
