import ActyStore

/// A group that accepts work over time: its primer and followers may arrive in any order until it is closed.
///
/// Get one from ``ActyEngine/openGroup(_:lane:dependsOn:executor:groupContext:cacheKey:cacheContext:options:)`` or
/// ``ActyEngine/withOpenGroup(_:lane:dependsOn:executor:groupContext:cacheKey:cacheContext:options:_:)``.
public struct OpenGroup: Sendable {
    /// The engine the group belongs to.
    public let engine: ActyEngine
    /// The group's row id.
    public let id: GroupID
    /// The group's key.
    public let key: String
    let executor: String
    let maxAttempts: Int
    let cacheKey: String?
    let cacheContext: JSONValue?

    init(engine: ActyEngine, id: GroupID, key: String, executor: String, maxAttempts: Int, cacheKey: String?, cacheContext: JSONValue?) {
        self.engine = engine
        self.id = id
        self.key = key
        self.executor = executor
        self.maxAttempts = maxAttempts
        self.cacheKey = cacheKey
        self.cacheContext = cacheContext
    }

    /// Submits the group's primer. Followers added before it start once it succeeded.
    ///
    /// With ``EngineConfiguration/runPrimerOnCacheHit`` off, a primer whose cache entry is already ready (same
    /// provider and fingerprint, not expired) is skipped, as in a closed group: it never runs and the followers start
    /// at once on the existing entry. The primer is still recorded, so the returned handle works like any other:
    /// its ``JobHandle/result()`` is `succeeded` with 0 attempts and the output
    /// `{"skipped": "cache_hit", "cache_key": <the group's cache key>}`, and the group's primer state is `skipped`.
    ///
    /// - Parameter maxAttempts: attempts this job may have, instead of the group's retry policy's.
    /// - Throws: ``ActyError`` with code `invalidArgument` when the group already has a primer, `groupClosed` when
    ///   the group is closed or finished, `encodingFailed` for a NaN or infinite number or nesting deeper than
    ///   ``JSONValue/maximumParsingDepth``.
    @discardableResult
    public func submitPrimer(_ payload: JSONValue, maxAttempts: Int? = nil) async throws -> JobHandle {
        let job = try engine.newJob(payload, executor: executor, maxAttempts: maxAttempts ?? self.maxAttempts, what: "the primer of group '\(key)'")
        let skip = engine.primerSkip(payload, cacheKey: cacheKey, cacheContext: cacheContext)
        return try await engine.add([job], role: .primer, to: id, key: key, skipOnCacheHit: skip)[0]
    }

    /// Adds a follower. It runs once the primer succeeded (at once if it already has).
    ///
    /// - Parameter maxAttempts: attempts this job may have, instead of the group's retry policy's.
    /// - Throws: ``ActyError`` with code `groupClosed` when the group is closed or finished, `encodingFailed` for a
    ///   NaN or infinite number or nesting deeper than ``JSONValue/maximumParsingDepth``.
    @discardableResult
    public func addFollower(_ payload: JSONValue, maxAttempts: Int? = nil) async throws -> JobHandle {
        try await addFollowers([payload], maxAttempts: maxAttempts)[0]
    }

    /// Adds followers in one transaction, in order; returns their handles in the same order. Each runs once the
    /// primer succeeded (at once if it already has). All or nothing: when one payload is refused, none is added.
    ///
    /// ```swift
    /// let handles = try await group.addFollowers([["agent": "billing"], ["agent": "refunds"]])
    /// ```
    ///
    /// - Parameters:
    ///   - payloads: the followers' payloads. An empty list adds nothing.
    ///   - maxAttempts: attempts each job may have, instead of the group's retry policy's.
    /// - Throws: ``ActyError`` with code `groupClosed` when the group is closed or finished, `encodingFailed` for a
    ///   NaN or infinite number or nesting deeper than ``JSONValue/maximumParsingDepth`` (the message names the
    ///   payload's index).
    @discardableResult
    public func addFollowers(_ payloads: [JSONValue], maxAttempts: Int? = nil) async throws -> [JobHandle] {
        let jobs = try payloads.enumerated().map { index, payload in
            try engine.newJob(
                payload, executor: executor, maxAttempts: maxAttempts ?? self.maxAttempts,
                what: payloads.count == 1 ? "a follower of group '\(key)'" : "follower \(index) of the \(payloads.count) added to group '\(key)'"
            )
        }
        return try await engine.add(jobs, role: .follower, to: id, key: key)
    }

    /// Closes the group: no more followers. The group finishes once its jobs are done. Closing twice, or closing a
    /// group that already finished (a failed one, say), does nothing.
    public func close() async throws {
        try await engine.close(id)
    }
}
