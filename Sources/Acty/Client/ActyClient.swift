import ActyStore

/// Request/response calls over an engine: each call submits a job and returns its result.
///
/// ```swift
/// let client = ActyClient(engine: engine)
/// let plan = try await client.call("ticket-42", primer: ["agent": "planner"])      // opens the group, runs its primer
/// let ops = try await client.callFollower("ticket-42", ["agent": "specialist:ops"])
/// try await client.closeGroup("ticket-42")
/// ```
///
/// A ``call(_:primer:lane:)`` leaves its group open for
/// followers until ``closeGroup(_:)``: an open group stays live (and would count against an admission cap), so close
/// groups you are done with, or end them all with ``ActyEngine/closeAllGroups(mode:timeout:)``.
public struct ActyClient: Sendable {
    /// The engine the calls go through.
    public let engine: ActyEngine

    /// Creates a client over an engine.
    public init(engine: ActyEngine) {
        self.engine = engine
    }

    /// Opens a new group with this key, runs `primer` in it and returns the primer's result; the group stays open.
    ///
    /// - Throws: ``ActyError/Code/groupKeyInUse`` when a live group has the key, the codes of
    ///   ``ActyEngine/openGroup(_:lane:executor:groupContext:cacheKey:cacheContext:options:)``, and those of
    ///   ``JobHandle/result()``.
    public func call(_ key: String, primer: JSONValue, lane: String? = nil) async throws -> JobResult {
        try await call(GroupSpec(key, primer: primer, lane: lane))
    }

    /// Opens a new group as `spec` describes (its followers included), runs it and returns the primer's result; the
    /// group stays open.
    public func call(_ spec: GroupSpec) async throws -> JobResult {
        guard spec.primer != nil else {
            throw ActyError(.invalidArgument, "a call needs a primer: the spec of group '\(spec.key)' has none")
        }
        let (_, submission) = try await engine.openNewGroup(spec)
        return try await submission.primer!.result()
    }

    /// Adds a follower to the open group with this key and returns its result.
    ///
    /// - Throws: ``ActyError/Code/unknownGroup``, ``ActyError/Code/groupClosed``, and the codes of
    ///   ``JobHandle/result()``.
    public func callFollower(_ key: String, _ payload: JSONValue, executor: String? = nil) async throws -> JobResult {
        try await engine.existingOpenGroup(key, executor: executor).addFollower(payload).result()
    }

    /// Submits a payload to the open group with this key (its primer when it has none yet, else a follower) and
    /// returns its result.
    public func submit(_ payload: JSONValue, to key: String, executor: String? = nil) async throws -> JobResult {
        try await engine.submit(payload, to: key, executor: executor).result()
    }

    /// Closes the open group with this key: it takes no more followers and finishes once its jobs are done. Does
    /// nothing for a group that is already closed.
    ///
    /// - Throws: ``ActyError/Code/unknownGroup`` when no live group has the key.
    public func closeGroup(_ key: String) async throws {
        try engine.checkRunning()
        guard let live = try await engine.store.liveGroup(key: key) else {
            throw ActyError(.unknownGroup, "no live group has the key '\(key)'")
        }
        try await engine.close(live.id)
    }
}
