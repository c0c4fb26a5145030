/// A submitted job, to wait for its result.
public struct JobHandle: Sendable, Hashable {
    /// The job's id.
    public let id: JobID
    /// The job's role in its group.
    public let role: JobRole
    /// The key of the job's group.
    public let groupKey: String
    private let slot: ResultSlot
    private let registry: ResultRegistry

    init(id: JobID, role: JobRole, groupKey: String, slot: ResultSlot, registry: ResultRegistry) {
        self.id = id
        self.role = role
        self.groupKey = groupKey
        self.slot = slot
        self.registry = registry
    }

    /// Waits until the job is terminal and returns how its latest run ended.
    ///
    /// A job that fails or is cancelled is a result too (see ``JobResult/status``), not an error. A failed or
    /// cancelled job that was retried since (``ActyEngine/retry(job:)``, `acty-query retry`, another engine) is
    /// waited for again: the handle returns the outcome of the new run, never the stale one. A success is final.
    ///
    /// A job whose executor no live engine has registered (renamed since it was submitted, say) keeps waiting until
    /// an engine that has it runs the job; meanwhile the engine logs a warning and records an `executor_missing`
    /// event, `acty-query summary` counts such jobs, and ``ActyEngine/drain()`` throws instead of waiting.
    ///
    /// - Throws: ``ActyError/Code/engineStopped`` when the engine shuts down before the job finished (the job stays
    ///   in the database for the next process), or `CancellationError` when the waiting task is cancelled.
    public func result() async throws -> JobResult {
        // Another engine on the database may run the job: the poll timer then looks for its outcome.
        registry.markAwaited(id)
        return try await registry.latestResult(of: id, slot: slot)
    }

    public static func == (lhs: JobHandle, rhs: JobHandle) -> Bool { lhs.id == rhs.id }
    public func hash(into hasher: inout Hasher) { hasher.combine(id) }
}

/// The handles of a group submitted with ``ActyEngine/submitGroup(_:primer:followers:lane:executor:groupContext:cacheKey:cacheContext:options:)``
/// or ``ActyEngine/submitGroups(_:)``.
public struct GroupSubmission: Sendable {
    /// The group's key.
    public let groupKey: String
    /// The group's row id.
    public let groupID: GroupID
    /// The primer's handle, if the group has a primer.
    public let primer: JobHandle?
    /// The followers' handles, in submission order.
    public let followers: [JobHandle]

    /// Every job's handle: the primer first.
    public var jobs: [JobHandle] { (primer.map { [$0] } ?? []) + followers }
}
