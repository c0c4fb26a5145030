import ActyStore

extension ActyEngine {
    /// Submits a whole group: its primer and followers in one transaction. Returns once all of it is committed.
    ///
    /// The primer runs first; followers run once it succeeded. A group without a primer is a plain fan-out: its
    /// followers are ready at once.
    ///
    /// - Parameters:
    ///   - key: the group's key, unique among live groups; it can be reused once the group has finished.
    ///   - primer: the primer's payload, or `nil` for a group without a primer.
    ///   - followers: the followers' payloads.
    ///   - lane: the lane whose share the group uses; `default` when `nil`.
    ///   - executor: the executor that runs the group's jobs; the engine's ``defaultExecutor`` when `nil`.
    ///   - groupContext: context every job of the group sees as ``Job/groupContext``.
    ///   - cacheKey: the cache or session entry the group's jobs share; every job sees it as ``Job/cache``.
    ///   - cacheContext: what a cache provider needs to build that entry.
    ///   - options: failure policies, retries and timeout for this group, overriding the engine's.
    /// - Throws: ``ActyError`` with code `groupKeyInUse`, `unknownExecutor`, `invalidArgument` (a bad key or lane
    ///   name) or `encodingFailed` (a NaN or infinite number in a payload, arrays and objects nested deeper than
    ///   ``JSONValue/maximumParsingDepth``, or more JSON text than SQLite stores in one value).
    @discardableResult
    public func submitGroup(
        _ key: String,
        primer: JSONValue?,
        followers: [JSONValue] = [],
        lane: String? = nil,
        executor: String? = nil,
        groupContext: JSONValue? = nil,
        cacheKey: String? = nil,
        cacheContext: JSONValue? = nil,
        options: GroupOptions = GroupOptions()
    ) async throws -> GroupSubmission {
        let group = try await makeGroup(
            key: key, lane: lane, executor: executor, primer: primer, followers: followers, isClosed: true,
            groupContext: groupContext, cacheKey: cacheKey, cacheContext: cacheContext, options: options
        )
        return try await insert(group)
    }

    /// Opens a group whose work arrives over time, or re-attaches to the open group with this key (also one opened
    /// by a process that has since stopped).
    ///
    /// Add the primer with ``OpenGroup/submitPrimer(_:)`` and followers with ``OpenGroup/addFollower(_:)``, in any
    /// order: followers added before the primer wait for it. ``OpenGroup/close()`` says no more followers will come.
    ///
    /// - Throws: ``ActyError`` with code `groupClosed` when the live group with this key is already closed, or the
    ///   codes of ``submitGroup(_:primer:followers:lane:executor:groupContext:cacheKey:cacheContext:options:)``.
    public func openGroup(
        _ key: String,
        lane: String? = nil,
        executor: String? = nil,
        groupContext: JSONValue? = nil,
        cacheKey: String? = nil,
        cacheContext: JSONValue? = nil,
        options: GroupOptions = GroupOptions()
    ) async throws -> OpenGroup {
        try checkRunning()
        let executor = try executorName(executor)
        if let attached = try await attach(key, executor: executor) { return attached }
        let group = try await makeGroup(
            key: key, lane: lane, executor: executor, primer: nil, followers: [], isClosed: false,
            groupContext: groupContext, cacheKey: cacheKey, cacheContext: cacheContext, options: options
        )
        do {
            let submission = try await insert(group)
            return OpenGroup(
                engine: self, id: submission.groupID, key: key, executor: executor, maxAttempts: group.retryPolicy.maxAttempts,
                cacheKey: cacheKey, cacheContext: cacheContext
            )
        } catch ActyError.Code.groupKeyInUse {
            // Another task or process opened the group in the meantime: join it.
            if let attached = try await attach(key, executor: executor) { return attached }
            throw ActyError(.groupKeyInUse, "group '\(key)' was opened and finished concurrently; try again")
        }
    }

    /// The open group with this key, if a live one exists.
    private func attach(_ key: String, executor: String) async throws -> OpenGroup? {
        guard let live = try await store.liveGroup(key: key) else { return nil }
        guard live.state == .open else {
            throw ActyError(.groupClosed, "group '\(key)' is closed: no more followers can be added; use a new key")
        }
        // The stored cache key and context count, not this call's: the group was opened with them.
        return OpenGroup(
            engine: self, id: live.id, key: key, executor: executor, maxAttempts: live.retryPolicy.maxAttempts,
            cacheKey: live.cacheKey, cacheContext: live.cacheContext.flatMap { try? JSONValue(jsonString: $0) }
        )
    }

    /// Opens a group, runs `body` with it, and closes the group when `body` returns or throws.
    ///
    /// ```swift
    /// try await engine.withOpenGroup("support-review") { group in
    ///     let primer = try await group.submitPrimer(["prefix_id": "playbook-v3"])
    ///     let billing = try await group.addFollower(["agent": "specialist:billing"])
    /// }
    /// ```
    ///
    /// - Returns: what `body` returns.
    public func withOpenGroup<T: Sendable>(
        _ key: String,
        lane: String? = nil,
        executor: String? = nil,
        groupContext: JSONValue? = nil,
        cacheKey: String? = nil,
        cacheContext: JSONValue? = nil,
        options: GroupOptions = GroupOptions(),
        _ body: (OpenGroup) async throws -> T
    ) async throws -> T {
        let group = try await openGroup(
            key, lane: lane, executor: executor, groupContext: groupContext, cacheKey: cacheKey, cacheContext: cacheContext,
            options: options
        )
        let value: T
        do {
            value = try await body(group)
        } catch {
            try? await group.close()
            throw error
        }
        try await group.close()
        return value
    }

    private func makeGroup(
        key: String, lane: String?, executor: String?, primer: JSONValue?, followers: [JSONValue], isClosed: Bool,
        groupContext: JSONValue?, cacheKey: String?, cacheContext: JSONValue?, options: GroupOptions
    ) async throws -> NewGroup {
        try checkRunning()
        guard !key.isEmpty, key.utf8.count <= 1024 else {
            throw ActyError(.invalidArgument, "a group key must have 1 to 1024 bytes")
        }
        let lane = lane ?? "default"
        try LaneConfiguration.validateName(lane)
        try await checkLane(lane)
        let laneConfiguration = configuration.lanes[lane] ?? configuration.defaultLane
        let executor = try executorName(executor)
        let retryPolicy = options.retryPolicy ?? configuration.retryPolicy
        try retryPolicy.validate()
        let timeout = options.jobTimeout ?? configuration.jobTimeout
        if let timeout, timeout <= .zero {
            throw ActyError(.invalidArgument, "the job timeout of group '\(key)' must be positive")
        }
        var group = NewGroup(
            key: key, lane: lane, laneWeight: laneConfiguration.weight, laneMaxInflight: laneConfiguration.maxInflight,
            primer: try primer.map {
                try newJob($0, executor: executor, maxAttempts: retryPolicy.maxAttempts, what: "the primer of group '\(key)'")
            },
            followers: try followers.enumerated().map { index, payload in
                try newJob(payload, executor: executor, maxAttempts: retryPolicy.maxAttempts, what: "follower \(index) of group '\(key)'")
            },
            isClosed: isClosed, primerPolicy: options.primerFailurePolicy ?? configuration.primerFailurePolicy,
            followerPolicy: options.followerFailurePolicy ?? configuration.followerFailurePolicy,
            cacheKey: cacheKey,
            cacheContext: try cacheContext.map { try encode($0, what: "the cache context of '\(key)'") },
            groupContext: try groupContext.map { try encode($0, what: "the group context of '\(key)'") },
            retryPolicy: retryPolicy,
            jobTimeout: timeout?.seconds
        )
        if let primer, let skip = primerSkip(primer, cacheKey: cacheKey, cacheContext: cacheContext) {
            group.skipPrimerOnCacheHit = (skip.provider, skip.fingerprint)
        }
        return group
    }

    /// The cache entry that lets a primer be skipped (its key, provider and fingerprint) when
    /// ``EngineConfiguration/runPrimerOnCacheHit`` is off and the group has a cache key; `nil` when the primer
    /// always runs.
    func primerSkip(_ primer: JSONValue, cacheKey: String?, cacheContext: JSONValue?) -> PrimerSkip? {
        guard let provider = cacheRegistry?.provider, let cacheKey, !configuration.runPrimerOnCacheHit else { return nil }
        return (cacheKey, provider.name, provider.fingerprint(primer: primer, context: cacheContext))
    }

    /// The cache entry whose being ready lets a primer be skipped.
    typealias PrimerSkip = (cacheKey: String, provider: String, fingerprint: String)

    func newJob(_ payload: JSONValue, executor: String, maxAttempts: Int, what: String) throws -> NewJob {
        guard maxAttempts >= 1 else {
            throw ActyError(.invalidArgument, "\(what) needs maxAttempts of at least 1, not \(maxAttempts)")
        }
        return NewJob(
            executor: executor, payload: try encode(payload, what: what), maxAttempts: maxAttempts,
            maxAbandonedAttempts: configuration.maxAbandonedAttempts
        )
    }

    /// The value's JSON text, refused unless it reads back as the same value and fits in the store: what submission
    /// accepts, the store, the executor and `result()` give back unchanged.
    private func encode(_ value: JSONValue, what: String) throws -> String {
        do {
            return try StoredJSON.text(value).get()
        } catch {
            throw ActyError(.encodingFailed, "\(what) \(error.message)")
        }
    }

    /// Inserts a group; its jobs' result slots are registered as soon as it has committed, before they can finish.
    private func insert(_ group: NewGroup) async throws -> GroupSubmission {
        let registry = registry
        return try await store.submitGroup(group, worker: workerID) { submitted, _ in
            var slots = registry.register((submitted.primer.map { [$0] } ?? []) + submitted.followers)[...]
            let primer = submitted.primer.map { JobHandle(id: $0, role: .primer, groupKey: group.key, slot: slots.removeFirst(), registry: registry) }
            let followers = submitted.followers.map { JobHandle(id: $0, role: .follower, groupKey: group.key, slot: slots.removeFirst(), registry: registry) }
            return GroupSubmission(groupKey: group.key, groupID: submitted.id, primer: primer, followers: followers)
        }
    }

    /// Adds a job to an open group; its result slot is registered as soon as it has committed.
    ///
    /// - Parameter skip: for a primer, the cache entry that lets it be skipped (see ``primerSkip(_:cacheKey:cacheContext:)``).
    func add(
        _ job: NewJob, role: JobRole, to group: GroupID, key: String,
        skipOnCacheHit skip: PrimerSkip? = nil
    ) async throws -> JobHandle {
        try checkRunning()
        let registry = registry
        return try await store.addJob(
            job, role: role, toGroup: group, skipPrimerOnCacheHit: skip.map { ($0.provider, $0.fingerprint) }, worker: workerID
        ) { id, _ in
            JobHandle(id: id, role: role, groupKey: key, slot: registry.register([id])[0], registry: registry)
        }
    }

    /// Closes an open group.
    func close(_ group: GroupID) async throws {
        _ = try await store.closeGroup(group, worker: workerID)
    }
}
