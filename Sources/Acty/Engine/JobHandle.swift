import ActyStore

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

/// The handles of a group submitted with ``ActyEngine/submitGroup(_:primer:followers:lane:dependsOn:executor:groupContext:cacheKey:cacheContext:options:)``
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

/// Where one job's result arrives: waiters suspend here until the engine resolves it.
final class ResultSlot: Sendable {
    /// A caller waiting for the result, and since when.
    private struct Waiter {
        var continuation: CheckedContinuation<JobResult, any Error>
        var since: ContinuousClock.Instant
    }

    private enum State {
        case waiting([Int: Waiter], nextToken: Int)
        case done(Result<JobResult, any Error>)
    }

    private let state = Locked(State.waiting([:], nextToken: 0))

    /// The result, once resolved; otherwise waits for it. A cancelled waiter throws `CancellationError`.
    func value() async throws -> JobResult {
        let token = Locked<Int?>(nil)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let immediate: Result<JobResult, any Error>? = state.withLock { state in
                    switch state {
                    case .done(let result):
                        return result
                    case .waiting(var waiters, let next):
                        if Task.isCancelled { return .failure(CancellationError()) }
                        waiters[next] = Waiter(continuation: continuation, since: .now)
                        state = .waiting(waiters, nextToken: next + 1)
                        token.withLock { $0 = next }
                        return nil
                    }
                }
                if let immediate { continuation.resume(with: immediate) }
            }
        } onCancel: {
            let continuation: CheckedContinuation<JobResult, any Error>? = state.withLock { state in
                guard case .waiting(var waiters, let next) = state, let mine = token.withLock({ $0 }) else { return nil }
                let waiter = waiters.removeValue(forKey: mine)
                state = .waiting(waiters, nextToken: next)
                return waiter?.continuation
            }
            continuation?.resume(throwing: CancellationError())
        }
    }

    /// Gives the callers that were already waiting at `instant` an error instead of the result, which is still to
    /// come: later waiters wait for the result again. (A write that failed tells only those who waited when it
    /// began: one that started before a fault was lifted must not fail a caller who asked after.)
    func interrupt(_ error: any Error, waitingSince instant: ContinuousClock.Instant) {
        let interrupted: [CheckedContinuation<JobResult, any Error>] = state.withLock { state in
            guard case .waiting(var waiters, let next) = state, !waiters.isEmpty else { return [] }
            let tokens = waiters.filter { $0.value.since <= instant }.keys
            let interrupted = tokens.compactMap { waiters.removeValue(forKey: $0)?.continuation }
            state = .waiting(waiters, nextToken: next)
            return interrupted
        }
        for waiter in interrupted { waiter.resume(throwing: error) }
    }

    /// Delivers the result to every waiter, now and later. Only the first resolution counts.
    func resolve(_ result: Result<JobResult, any Error>) {
        let waiters: [Waiter] = state.withLock { state in
            guard case .waiting(let waiters, _) = state else { return [] }
            state = .done(result)
            return Array(waiters.values)
        }
        for waiter in waiters { waiter.continuation.resume(with: result) }
    }
}

/// The result slots of jobs this process waits for: the ones it submitted, and the ones it watches for a handle
/// obtained by id (see ``ActyEngine/handle(for:)``), which may run in another process.
///
/// A resolved slot keeps its result for the handles that hold it, but only a success is final: a failed or cancelled
/// job can be retried (``ActyEngine/retry(job:)``, `acty-query retry`, another engine), so ``latestResult(of:slot:)``
/// checks such a result against the job's row and waits again for a job that was queued again.
final class ResultRegistry: Sendable {
    private struct State {
        var slots: [JobID: ResultSlot] = [:]
        /// Slots whose job may finish in another process: the poll timer checks them in the database.
        var watched: Set<JobID> = []
        /// Slots someone waits on; checked in the database too once other processes write to it.
        var awaited: Set<JobID> = []
        /// Set by ``failAll(_:)``: slots registered afterwards (by a submission that committed while the engine
        /// stopped) fail at once instead of waiting for a result no one will deliver.
        var stoppedWith: (any Error)?
    }

    private let state = Locked(State())
    private let store: Store
    /// Wakes ``JobResults`` iterators when outcomes are recorded.
    let feed = ResultsFeed()

    init(store: Store) {
        self.store = store
    }

    /// The outcome of the job's latest run: waits on `slot` while the job runs, and again while a retry reruns it.
    func latestResult(of id: JobID, slot: ResultSlot) async throws -> JobResult {
        var slot = slot
        while true {
            let result = try await slot.value()
            // Only a failed or cancelled job can be queued again. A read that fails (the engine has shut down and
            // closed its store) leaves the outcome this engine knew.
            guard result.status != .succeeded, let record = try? await store.job(id) else { return result }
            if record.state.isTerminal { return JobResult(record: record) }
            // Queued again: wait for the new run, wherever it runs (watched slots are resolved from the database too).
            slot = watch(id)
        }
    }

    /// Creates slots for new jobs.
    func register(_ ids: some Sequence<JobID>) -> [ResultSlot] {
        state.withLock { state in
            ids.map { id in
                let slot = ResultSlot()
                if let error = state.stoppedWith {
                    slot.resolve(.failure(error))
                } else {
                    state.slots[id] = slot
                }
                return slot
            }
        }
    }

    /// The slot of a job, created if needed, and watched until the job finishes wherever it runs.
    func watch(_ id: JobID) -> ResultSlot {
        state.withLock { state in
            state.watched.insert(id)
            if let slot = state.slots[id] { return slot }
            let slot = ResultSlot()
            state.slots[id] = slot
            return slot
        }
    }

    /// Watches those of these jobs that have a slot, so the poll timer resolves them from the database: their
    /// outcome is decided by another writer, or later.
    func watchRegistered(_ ids: some Sequence<JobID>) {
        state.withLock { state in
            for id in ids where state.slots[id] != nil { state.watched.insert(id) }
        }
    }

    /// Jobs whose handles wait for them to finish in any process.
    var watchedIDs: [JobID] {
        state.withLock { Array($0.watched) }
    }

    /// Notes that a handle of this job is being awaited.
    func markAwaited(_ id: JobID) {
        state.withLock { state in
            if state.slots[id] != nil { state.awaited.insert(id) }
        }
    }

    /// Up to `limit` jobs whose handles are awaited, for when other processes may run them.
    func awaitedIDs(limit: Int) -> [JobID] {
        state.withLock { Array($0.awaited.prefix(limit)) }
    }

    /// Resolves the slots of finished jobs and forgets them.
    func resolve(_ results: [JobResult]) {
        guard !results.isEmpty else { return }
        feed.notify()
        let resolved: [(ResultSlot, JobResult)] = state.withLock { state in
            results.compactMap { result in
                state.watched.remove(result.jobID)
                state.awaited.remove(result.jobID)
                return state.slots.removeValue(forKey: result.jobID).map { ($0, result) }
            }
        }
        for (slot, result) in resolved { slot.resolve(.success(result)) }
    }

    /// Tells everyone waiting for a result now that the engine cannot write to the database: the outcomes of the
    /// `finished` jobs cannot be recorded, and no other job can make progress meanwhile. The slots stay: a later
    /// ``JobHandle/result()`` waits for the outcome again. Only callers waiting since before the failed write began
    /// (`triedAt`) are told.
    func interruptWaiters(cannotWrite cause: any Error, finished: Set<JobID>, triedAt: ContinuousClock.Instant) {
        let slots = state.withLock { Array($0.slots) }
        for (id, slot) in slots {
            let message =
                finished.contains(id)
                ? "job \(id) finished an attempt, but its outcome cannot be recorded in the database"
                : "job \(id) cannot make progress while the engine cannot write to the database"
            slot.interrupt(
                ActyError(
                    .outcomeNotRecorded, "\(message) (\(Self.reason(cause))); the engine keeps retrying, call result() again to wait for the outcome",
                    cause: cause
                ),
                waitingSince: triedAt
            )
        }
    }

    /// The short reason of a write failure: the ``ActyError`` code, such as "database full".
    static func reason(_ error: any Error) -> String {
        (error as? ActyError).map { "\($0.code)" } ?? "\(error)"
    }

    /// Fails every waiting slot, and every slot registered from now on, when the engine stops before their jobs
    /// finished.
    func failAll(_ error: any Error) {
        let all = state.withLock { state in
            defer { state = State(stoppedWith: error) }
            return Array(state.slots.values)
        }
        for slot in all { slot.resolve(.failure(error)) }
        feed.close()
    }
}
