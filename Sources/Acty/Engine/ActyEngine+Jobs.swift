import ActyStore

extension ActyEngine {
    /// A handle for any job of the database: also one submitted by another process, or by a process that has
    /// since died. Its ``JobHandle/result()`` returns once the job is terminal, wherever it runs.
    ///
    /// - Throws: ``ActyError/Code/unknownJob``.
    public func handle(for id: JobID) async throws -> JobHandle {
        try checkRunning()
        guard let record = try await store.job(id) else {
            throw ActyError(.unknownJob, "no job with id \(id) exists in this database")
        }
        let slot = registry.watch(id)
        if record.state.isTerminal {
            registry.resolve([JobResult(record: record)])
        } else if let latest = try await store.job(id), latest.state.isTerminal {
            // It may have finished between the read and the watch; the poll timer would catch it too, later.
            registry.resolve([JobResult(record: latest)])
        }
        return JobHandle(id: id, role: record.role, groupKey: record.groupKey, slot: slot, registry: registry)
    }

    /// Waits until the most recent group with this key has finished, and returns its final state.
    ///
    /// Like ``JobHandle/result()``, it keeps waiting while the group's jobs need an executor no live engine has
    /// (reported in the log and as an `executor_missing` event).
    ///
    /// - Throws: ``ActyError/Code/unknownGroup``; `CancellationError` when the waiting task is cancelled.
    public func waitForGroup(_ key: String) async throws -> GroupState {
        guard let first = try await store.group(key: key) else {
            throw ActyError(.unknownGroup, "no group with key '\(key)' exists in this database")
        }
        var group = first
        while group.finishedAt == nil {
            try await Task.sleep(for: configuration.pollInterval)
            guard let latest = try await store.group(first.id) else {
                throw ActyError(.unknownGroup, "group '\(key)' was removed while waiting for it")
            }
            group = latest
        }
        return group.state
    }

    /// Cancels a job: a queued one at once, a running one through Swift task cancellation of its executor (in
    /// whichever engine runs it). Cancelling a primer cancels its group, since its followers could never run.
    ///
    /// - Returns: `false` when the job had already finished.
    /// - Throws: ``ActyError/Code/unknownJob``.
    @discardableResult
    public func cancel(job id: JobID) async throws -> Bool {
        try checkRunning()
        return try await store.cancelJob(id, worker: workerID).0
    }

    /// Cancels the live group with this key and its unfinished jobs, running ones included.
    ///
    /// - Returns: `false` when the group had already finished.
    /// - Throws: ``ActyError/Code/unknownGroup``.
    @discardableResult
    public func cancelGroup(_ key: String) async throws -> Bool {
        try checkRunning()
        return try await store.cancelGroup(try await groupID(key), worker: workerID).0
    }

    /// Queues a failed or cancelled job again with one more attempt; a finished group becomes live again.
    ///
    /// Retrying a primer brings back, blocked until it succeeds, the followers that were cancelled because of it:
    /// by its failure, or by the cancellation of its group (cancelling a primer cancels its group). Followers
    /// cancelled one by one stay cancelled. So retrying the cancelled primer of a cancelled group runs the group
    /// again, and the group ends by the usual rules once its jobs are done. A follower whose primer failed or was
    /// cancelled cannot be retried alone (it would wait forever): retry the primer. Handles of the retried jobs,
    /// old ones included, return the outcome of the new run (see ``JobHandle/result()``).
    ///
    /// - Throws: ``ActyError/Code/unknownJob``; ``ActyError/Code/invalidArgument`` for a job that is not failed or
    ///   cancelled, or a follower whose primer failed or was cancelled; ``ActyError/Code/groupKeyInUse`` when a
    ///   newer live group took the key.
    public func retry(job id: JobID) async throws {
        try checkRunning()
        _ = try await store.retryJob(id, worker: workerID)
    }

    /// Retries every failed job of the most recent group with this key, and brings back the jobs its failure
    /// cancelled.
    ///
    /// - Returns: how many jobs were queued again.
    /// - Throws: ``ActyError/Code/unknownGroup``.
    @discardableResult
    public func retryFailedJobs(inGroup key: String) async throws -> Int {
        try checkRunning()
        return try await store.retryFailedJobs(inGroup: try await groupID(key), worker: workerID).0
    }

    private func groupID(_ key: String) async throws -> GroupID {
        guard let group = try await store.group(key: key) else {
            throw ActyError(.unknownGroup, "no group with key '\(key)' exists in this database")
        }
        return group.id
    }
}
