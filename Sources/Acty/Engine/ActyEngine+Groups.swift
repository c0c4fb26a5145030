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
    ///   - dependsOn: groups, by key, that must finish before any job of this group runs (see ``GroupDependency``):
    ///     until then the group is blocked and holds no worker. A dependency that fails under
    ///     ``GroupDependency/Policy/requireSuccess`` fails this group: its jobs end `failed` with error type
    ///     `DependencyFailed`.
    ///   - executor: the executor that runs the group's jobs; the engine's ``defaultExecutor`` when `nil`.
    ///   - groupContext: context every job of the group sees as ``Job/groupContext``.
    ///   - cacheKey: the cache or session entry the group's jobs share; every job sees it as ``Job/cache``.
    ///   - cacheContext: what a cache provider needs to build that entry.
    ///   - options: failure policies, retries and timeout for this group, overriding the engine's.
    /// - Throws: ``ActyError`` with code `groupKeyInUse`, `unknownExecutor`, `invalidArgument` (a bad key or lane
    ///   name, a dependency key given twice with different settings, a timeout that is not positive),
    ///   `dependencyCycle` (the dependencies would close a cycle, or name the group's own key; the message prints
    ///   the cycle) or `encodingFailed` (a NaN or infinite number in a payload, arrays and objects nested deeper than
    ///   ``JSONValue/maximumParsingDepth``, or more JSON text than SQLite stores in one value).
    @discardableResult
    public func submitGroup(
        _ key: String,
        primer: JSONValue?,
        followers: [JSONValue] = [],
        lane: String? = nil,
        dependsOn: [GroupDependency] = [],
        executor: String? = nil,
        groupContext: JSONValue? = nil,
        cacheKey: String? = nil,
        cacheContext: JSONValue? = nil,
        options: GroupOptions = GroupOptions()
    ) async throws -> GroupSubmission {
        let spec = GroupSpec(
            key, primer: primer, followers: followers, lane: lane, dependsOn: dependsOn, executor: executor, groupContext: groupContext,
            cacheKey: cacheKey, cacheContext: cacheContext, options: options
        )
        return try await submitGroups([spec])[0]
    }

    /// Submits many closed groups in one transaction. Returns once all of them are committed, with their
    /// submissions in the order of `specs`.
    ///
    /// One call is all or nothing: when one spec is refused, the call throws and stores none of the groups. The
    /// groups go into the database with multi-row inserts in one write request, which shares its commit with the
    /// engine's other writes; each group is recorded, and runs, exactly as if it had been submitted alone. A call
    /// costs one write request and one commit however many groups it holds; a very large call holds the database's
    /// write lock while it is inserted, so other writes wait for it.
    ///
    /// ```swift
    /// let submissions = try await engine.submitGroups([
    ///     GroupSpec("review-1", primer: ["agent": "coordinator"], followers: [["agent": "ops"]], lane: "priority"),
    ///     GroupSpec("review-2", primer: ["agent": "coordinator"]),
    /// ])
    /// for job in submissions.flatMap(\.jobs) { print(try await job.result().status) }
    /// ```
    ///
    /// Related SQLite documentation: <https://www.sqlite.org/lang_transaction.html>
    ///
    /// - Parameter specs: the groups, each described as for
    ///   ``submitGroup(_:primer:followers:lane:dependsOn:executor:groupContext:cacheKey:cacheContext:options:)``. An empty list
    ///   stores nothing.
    /// - Returns: one ``GroupSubmission`` per spec, in order.
    /// - Throws: ``ActyError`` with the codes of ``submitGroup(_:primer:followers:lane:dependsOn:executor:groupContext:cacheKey:cacheContext:options:)``;
    ///   `groupKeyInUse` also when two specs share a key. With more than one spec, the message names the refused
    ///   spec by its index and key.
    public func submitGroups(_ specs: [GroupSpec]) async throws -> [GroupSubmission] {
        try checkRunning()
        guard !specs.isEmpty else { return [] }
        var groups: [NewGroup] = []
        groups.reserveCapacity(specs.count)
        for (index, spec) in specs.enumerated() {
            do {
                groups.append(try await makeGroup(spec, isClosed: true))
            } catch let error as ActyError {
                throw error.refusing(group: index, of: specs.count, key: spec.key)
            }
        }
        return try await insert(groups)
    }

    /// Opens a group whose work arrives over time, or re-attaches to the open group with this key (also one opened
    /// by a process that has since stopped).
    ///
    /// Add the primer with ``OpenGroup/submitPrimer(_:)`` and followers with ``OpenGroup/addFollower(_:)``, in any
    /// order: followers added before the primer wait for it. ``OpenGroup/close()`` says no more followers will come.
    ///
    /// A group opened with `dependsOn` is blocked until its dependencies are resolved (see ``GroupDependency``):
    /// jobs can be added meanwhile, and wait. Re-attaching keeps the dependencies the group was opened with.
    ///
    /// - Throws: ``ActyError`` with code `groupClosed` when the live group with this key is already closed, or the
    ///   codes of ``submitGroup(_:primer:followers:lane:dependsOn:executor:groupContext:cacheKey:cacheContext:options:)``.
    public func openGroup(
        _ key: String,
        lane: String? = nil,
        dependsOn: [GroupDependency] = [],
        executor: String? = nil,
        groupContext: JSONValue? = nil,
        cacheKey: String? = nil,
        cacheContext: JSONValue? = nil,
        options: GroupOptions = GroupOptions()
    ) async throws -> OpenGroup {
        try checkRunning()
        let executor = try executorName(executor)
        // Also when re-attaching: the handler of a group opened before a restart is found by name.
        _ = try await resultHandlerName(options)
        if let attached = try await attach(key, executor: executor) { return attached }
        let spec = GroupSpec(
            key, lane: lane, dependsOn: dependsOn, executor: executor, groupContext: groupContext, cacheKey: cacheKey,
            cacheContext: cacheContext, options: options
        )
        let group = try await makeGroup(spec, isClosed: false)
        do {
            let submission = try await insert([group])[0]
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
        dependsOn: [GroupDependency] = [],
        executor: String? = nil,
        groupContext: JSONValue? = nil,
        cacheKey: String? = nil,
        cacheContext: JSONValue? = nil,
        options: GroupOptions = GroupOptions(),
        _ body: (OpenGroup) async throws -> T
    ) async throws -> T {
        let group = try await openGroup(
            key, lane: lane, dependsOn: dependsOn, executor: executor, groupContext: groupContext, cacheKey: cacheKey, cacheContext: cacheContext,
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

    /// The group to insert for a spec, checked: key, lane, executor, retry policy, timeout and every payload.
    func makeGroup(_ spec: GroupSpec, isClosed: Bool) async throws -> NewGroup {
        let key = spec.key
        let options = spec.options
        try checkRunning()
        guard !key.isEmpty, key.utf8.count <= 1024 else {
            throw ActyError(.invalidArgument, "a group key must have 1 to 1024 bytes")
        }
        let lane = spec.lane ?? "default"
        try LaneConfiguration.validateName(lane)
        try await checkLane(lane)
        let laneConfiguration = configuration.lanes[lane] ?? configuration.defaultLane
        let executor = try executorName(spec.executor)
        let retryPolicy = options.retryPolicy ?? configuration.retryPolicy
        try retryPolicy.validate()
        let timeout = options.jobTimeout ?? configuration.jobTimeout
        if let timeout, timeout <= .zero {
            throw ActyError(.invalidArgument, "the job timeout of group '\(key)' must be positive")
        }
        var group = NewGroup(
            key: key, lane: lane, laneWeight: laneConfiguration.weight, laneMaxInflight: laneConfiguration.maxInflight,
            primer: try spec.primer.map {
                try newJob($0, executor: executor, maxAttempts: retryPolicy.maxAttempts, what: "the primer of group '\(key)'")
            },
            followers: try spec.followers.enumerated().map { index, payload in
                try newJob(payload, executor: executor, maxAttempts: retryPolicy.maxAttempts, what: "follower \(index) of group '\(key)'")
            },
            isClosed: isClosed, primerPolicy: options.primerFailurePolicy ?? configuration.primerFailurePolicy,
            followerPolicy: options.followerFailurePolicy ?? configuration.followerFailurePolicy,
            cacheKey: spec.cacheKey,
            cacheContext: try spec.cacheContext.map { try encode($0, what: "the cache context of '\(key)'") },
            groupContext: try spec.groupContext.map { try encode($0, what: "the group context of '\(key)'") },
            retryPolicy: retryPolicy,
            jobTimeout: timeout?.seconds
        )
        group.dependencies = try Self.checkedDependencies(spec.dependsOn, of: key)
        // The submitter's span becomes the parent of every attempt's span, wherever and whenever it runs.
        if let tracer { group.traceContext = TraceCarrier.current(tracer) }
        group.resultHandler = try await resultHandlerName(options)
        group.maxResubmits = configuration.maxResultHandlerAttempts
        let followersStart = options.followersStart ?? configuration.followersStart
        try followersStart.validate()
        group.followersWarmup = followersStart.warmupSeconds
        group.maxFollowersInflight = options.maxFollowersInflight ?? configuration.maxFollowersInflight
        if let cap = group.maxFollowersInflight, cap < 1 {
            throw ActyError(.invalidArgument, "group '\(key)' has maxFollowersInflight \(cap): use 1 or more, or nil for no cap")
        }
        if let primer = spec.primer, let skip = primerSkip(primer, cacheKey: spec.cacheKey, cacheContext: spec.cacheContext) {
            group.skipPrimerOnCacheHit = (skip.provider, skip.fingerprint)
        }
        return group
    }

    /// A group's dependencies, checked: keys as group keys are, positive timeouts, each key once (a key given twice
    /// with the same settings counts once).
    static func checkedDependencies(_ dependencies: [GroupDependency], of key: String) throws -> [GroupDependency] {
        var checked: [GroupDependency] = []
        var seen: [String: GroupDependency] = [:]
        for dependency in dependencies {
            guard !dependency.key.isEmpty, dependency.key.utf8.count <= 1024 else {
                throw ActyError(.invalidArgument, "group '\(key)' depends on a key that is empty or longer than 1024 bytes")
            }
            if let timeout = dependency.timeout, timeout <= .zero {
                throw ActyError(.invalidArgument, "the timeout of the dependency of group '\(key)' on '\(dependency.key)' must be positive")
            }
            if let earlier = seen.updateValue(dependency, forKey: dependency.key) {
                guard earlier == dependency else {
                    throw ActyError(
                        .invalidArgument, "group '\(key)' depends on '\(dependency.key)' twice with different policies or timeouts: give it once"
                    )
                }
                continue
            }
            checked.append(dependency)
        }
        return checked
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

    /// Inserts groups in one transaction; their jobs' result slots are registered as soon as it has committed,
    /// before they can finish.
    func insert(_ groups: [NewGroup]) async throws -> [GroupSubmission] {
        let registry = registry
        return try await store.submitGroups(groups, worker: workerID) { submitted, _ in
            var slots = registry.register(submitted.flatMap(\.jobs))[...]
            return zip(groups, submitted).map { group, submitted in
                let primer = submitted.primer.map {
                    JobHandle(id: $0, role: .primer, groupKey: group.key, slot: slots.removeFirst(), registry: registry)
                }
                let followers = submitted.followers.map {
                    JobHandle(id: $0, role: .follower, groupKey: group.key, slot: slots.removeFirst(), registry: registry)
                }
                return GroupSubmission(groupKey: group.key, groupID: submitted.id, primer: primer, followers: followers)
            }
        }
    }

    /// Adds the primer, or followers, to an open group in one transaction; their result slots are registered as
    /// soon as it has committed.
    ///
    /// - Parameter skip: for a primer, the cache entry that lets it be skipped (see ``primerSkip(_:cacheKey:cacheContext:)``).
    func add(
        _ jobs: [NewJob], role: JobRole, to group: GroupID, key: String,
        skipOnCacheHit skip: PrimerSkip? = nil
    ) async throws -> [JobHandle] {
        try checkRunning()
        guard !jobs.isEmpty else { return [] }
        let registry = registry
        return try await store.addJobs(
            jobs, role: role, toGroup: group, skipPrimerOnCacheHit: skip.map { ($0.provider, $0.fingerprint) }, worker: workerID
        ) { ids, _ in
            zip(ids, registry.register(ids)).map { id, slot in JobHandle(id: id, role: role, groupKey: key, slot: slot, registry: registry) }
        }
    }

    /// Closes an open group.
    func close(_ group: GroupID) async throws {
        _ = try await store.closeGroup(group, worker: workerID)
    }
}
