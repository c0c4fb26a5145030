import ActyStore

extension ActyEngine {
    /// Submits a payload to the open group with this key: as its primer when it has none yet, else as a follower
    /// (see ``OpenGroup/submit(_:maxAttempts:)``).
    ///
    /// - Parameter executor: the executor of the job; the engine's default when `nil`.
    /// - Throws: ``ActyError/Code/unknownGroup`` when no group has the key, ``ActyError/Code/groupClosed`` when it
    ///   is closed or finished, and the codes of ``OpenGroup/submit(_:maxAttempts:)``.
    @discardableResult
    public func submit(_ payload: JSONValue, to key: String, executor: String? = nil, maxAttempts: Int? = nil) async throws -> JobHandle {
        try await existingOpenGroup(key, executor: executor).submit(payload, maxAttempts: maxAttempts)
    }

    /// The live open group with this key, whose new jobs go to `executor` (the default one when `nil`).
    func existingOpenGroup(_ key: String, executor: String?) async throws -> OpenGroup {
        try checkRunning()
        guard let live = try await store.liveGroup(key: key) else {
            if let finished = try await store.group(key: key) {
                throw ActyError(.groupClosed, "group '\(key)' has already \(finished.state.rawValue): no more jobs can be added to it")
            }
            throw ActyError(.unknownGroup, "no group has the key '\(key)'; open it first with openGroup(_:)")
        }
        guard live.state == .open else {
            throw ActyError(.groupClosed, "group '\(key)' is closed: no more jobs can be added to it")
        }
        return OpenGroup(
            engine: self, id: live.id, key: key, executor: try executorName(executor), maxAttempts: live.retryPolicy.maxAttempts,
            cacheKey: live.cacheKey, cacheContext: live.cacheContext.flatMap { try? JSONValue(jsonString: $0) }
        )
    }

    /// How ``closeAllGroups(mode:timeout:)`` ends the live groups.
    public enum CloseAllMode: Sendable, Hashable {
        /// Close the open groups: they take no more followers and finish once their jobs are done.
        case close
        /// Cancel every live group, open or closed, with its unfinished jobs (running ones included).
        case dropPending
    }

    /// Ends every live group of the database, from any engine or producer: `.close` closes the open ones (they
    /// finish once their jobs are done), `.dropPending` cancels all of them with their unfinished jobs.
    ///
    /// With a `timeout`, `.close` then waits up to that long for every live group to finish, and cancels those that
    /// have not, as `.dropPending` does: for a shutdown that must not wait forever for open work.
    ///
    /// - Returns: how many groups were closed or cancelled.
    @discardableResult
    public func closeAllGroups(mode: CloseAllMode = .close, timeout: Duration? = nil) async throws -> Int {
        try checkRunning()
        switch mode {
        case .dropPending:
            return try await store.cancelAllLiveGroups(worker: workerID).0
        case .close:
            let closed = try await store.closeAllOpenGroups(worker: workerID).0
            guard let timeout else { return closed }
            let deadline = ContinuousClock.now + timeout
            while try await store.liveGroupCount() > 0 {
                guard ContinuousClock.now < deadline else {
                    return closed + (try await store.cancelAllLiveGroups(worker: workerID).0)
                }
                try await Task.sleep(for: min(configuration.pollInterval, deadline - .now))
            }
            return closed
        }
    }

    /// Opens a new group, refusing a key a live group has (unlike ``openGroup(_:lane:executor:groupContext:cacheKey:cacheContext:options:)``,
    /// which joins it). The spec's primer, if any, is submitted with it.
    func openNewGroup(_ spec: GroupSpec) async throws -> (OpenGroup, GroupSubmission) {
        try checkRunning()
        let executor = try executorName(spec.executor)
        let group = try await makeGroup(spec, isClosed: false)
        let submission = try await insert([group])[0]
        let open = OpenGroup(
            engine: self, id: submission.groupID, key: spec.key, executor: executor, maxAttempts: group.retryPolicy.maxAttempts,
            cacheKey: spec.cacheKey, cacheContext: spec.cacheContext
        )
        return (open, submission)
    }
}

extension OpenGroup {
    /// Submits a payload as the group's primer when it has none yet, else as a follower: the first payload of a
    /// group opened without a primer becomes its primer (as the original's `auto_primer_from_first_payload`). The
    /// choice is made in the transaction that adds the job, so of two concurrent calls exactly one makes the primer.
    ///
    /// - Returns: the job's handle; its ``JobHandle/role`` says which it became.
    /// - Throws: the codes of ``submitPrimer(_:maxAttempts:)`` and ``addFollower(_:maxAttempts:)``.
    @discardableResult
    public func submit(_ payload: JSONValue, maxAttempts: Int? = nil) async throws -> JobHandle {
        try engine.checkRunning()
        let job = try engine.newJob(
            payload, executor: executor, maxAttempts: maxAttempts ?? self.maxAttempts, what: "a job of group '\(key)'"
        )
        let skip = engine.primerSkip(payload, cacheKey: cacheKey, cacheContext: cacheContext)
        let (registry, key) = (engine.registry, key)
        return try await engine.store.addJobAsPrimerIfNone(
            job, toGroup: id, skipPrimerOnCacheHit: skip.map { ($0.provider, $0.fingerprint) }, worker: engine.workerID
        ) { added, _ in
            let (id, role) = added
            return JobHandle(id: id, role: role, groupKey: key, slot: registry.register([id])[0], registry: registry)
        }
    }
}
