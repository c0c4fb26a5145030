public import ActyCore

/// Leases, rescue and the administration rules, each in the writer's next transaction.
extension Store {
    /// Extends the leases of a worker's running jobs to `leaseUntil` and records its heartbeat.
    public func heartbeat(worker: String, leaseUntil: Double) async throws {
        _ = try await write(worker: worker) { try $0.heartbeat(worker: worker, leaseUntil: leaseUntil) }
    }

    /// Takes back jobs whose lease expired or whose worker is known dead; marks silent workers lost.
    ///
    /// - Returns: how many jobs were rescued, and what became ready or finished.
    public func rescue(silentSince: Double, deadWorkers: [String], worker: String?) async throws -> (Int, WriteEffects) {
        try await write(worker: worker) { try $0.rescue(silentSince: silentSince, deadWorkers: deadWorkers) }
    }

    /// Cancels a job (its whole group, for a primer). Returns `false` when it had already finished.
    ///
    /// - Throws: ``ActyError/Code/unknownJob``.
    public func cancelJob(_ id: JobID, worker: String?) async throws -> (Bool, WriteEffects) {
        try await write(worker: worker) { try $0.cancelJob(id) }
    }

    /// Cancels a group and its unfinished jobs. Returns `false` when it had already finished.
    public func cancelGroup(_ id: GroupID, worker: String?) async throws -> (Bool, WriteEffects) {
        try await write(worker: worker) { try $0.cancelGroup(id) }
    }

    /// Queues a failed or cancelled job again, with one more attempt.
    ///
    /// - Throws: ``ActyError/Code/unknownJob``, ``ActyError/Code/invalidArgument``, ``ActyError/Code/groupKeyInUse``.
    public func retryJob(_ id: JobID, worker: String?) async throws -> WriteEffects {
        try await write(worker: worker) { try $0.retryJob(id) }.1
    }

    /// Retries a group's failed jobs and brings back the jobs its failure cancelled. Returns how many were queued.
    public func retryFailedJobs(inGroup id: GroupID, worker: String?) async throws -> (Int, WriteEffects) {
        try await write(worker: worker) { try $0.retryFailedJobs(inGroup: id) }
    }

    /// Retries the failed jobs of every group. Returns how many were queued.
    public func retryAllFailedJobs(worker: String?) async throws -> (Int, WriteEffects) {
        try await write(worker: worker) { try $0.retryAllFailedJobs() }
    }
}
