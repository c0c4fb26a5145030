package import ActyCore
import GRDB
import Synchronization

extension BackendStore {
    /// Runs a state change in the next group-commit transaction and returns once it has committed.
    ///
    /// - Parameters:
    ///   - worker: the engine process on whose behalf the events are recorded.
    ///   - body: the change, on the writer thread inside the transaction; it may run again when another request of
    ///     its batch fails, so it must have no effect outside the database.
    ///   - committed: on the writer thread once the transaction has committed, before the attached dispatch hears
    ///     of the batch (so a result slot registered here is there when the job's result comes): makes the caller's
    ///     value from the body's and its effects.
    func write<T: Sendable, U: Sendable>(
        worker: String?,
        _ body: @escaping @Sendable (inout WriteContext<Backend.Queue.Connection>) throws -> T,
        committed: @escaping @Sendable (T, WriteEffects) -> U
    ) async throws -> U {
        let batch = batch
        return try await writer.write({ db in
            var context = WriteContext(db: db, worker: worker, keepsEvents: batch.keepsEvents, admission: batch.admission)
            let value = try body(&context)
            try context.flushEvents()
            batch.add(context)
            return (value, context.effects)
        }, committed: { committed($0.0, $0.1) })
    }

    /// Runs a state change in the next group-commit transaction and returns its value and effects once committed.
    func write<T: Sendable>(
        worker: String?, _ body: @escaping @Sendable (inout WriteContext<Backend.Queue.Connection>) throws -> T
    ) async throws -> (T, WriteEffects) {
        try await write(worker: worker, body, committed: { ($0, $1) })
    }

    /// Makes `dispatch` take part in every batch of this store's writer, from the next one on.
    package func attach(_ dispatch: any Dispatch) {
        batch.attach(dispatch)
    }

    /// Applies admission control to this store's writes from the next one on (see WriteContext+Admission); `nil`
    /// for none, the default.
    package func setAdmission(_ settings: AdmissionSettings?) {
        batch.admission = settings
    }

    /// Runs a batch even if no request comes: the attached dispatch has work.
    package func requestBatch() {
        writer.kick()
    }

    /// Inserts groups with their primers and followers in one transaction; returns once committed, with the ids
    /// in the order of `groups`. All or nothing: when one group is refused, none is stored.
    ///
    /// - Parameter committed: makes the caller's value on the writer thread once the insert has committed, before
    ///   any later transaction: the engine registers the jobs' result slots there, before they can finish.
    /// - Throws: ``ActyError/Code/groupKeyInUse`` when a live group has one of the keys, or two groups share one.
    package func submitGroups<U: Sendable>(
        _ groups: [NewGroup], worker: String?, committed: @escaping @Sendable ([SubmittedGroup], WriteEffects) -> U
    ) async throws -> U {
        try await write(worker: worker, { try $0.insertGroups(groups) }, committed: committed)
    }

    /// Inserts groups in one transaction; returns their ids and the effects once committed.
    package func submitGroups(_ groups: [NewGroup], worker: String?) async throws -> ([SubmittedGroup], WriteEffects) {
        try await submitGroups(groups, worker: worker) { ($0, $1) }
    }

    /// Inserts one group with its primer and followers; returns its ids and the effects once committed.
    ///
    /// - Throws: ``ActyError/Code/groupKeyInUse`` when a live group has the key.
    package func submitGroup(_ group: NewGroup, worker: String?) async throws -> (SubmittedGroup, WriteEffects) {
        try await submitGroups([group], worker: worker) { ($0[0], $1) }
    }

    /// Adds the primer, or followers, to an open group in one transaction; returns once committed, with the new
    /// ids in order.
    ///
    /// - Parameters:
    ///   - skipPrimerOnCacheHit: for a primer, the provider and fingerprint its cache entry must have for the primer
    ///     to be skipped: when the group's entry is ready and matches, the primer is recorded `succeeded` at once
    ///     with the output ``skippedPrimerOutput(cacheKey:)`` (it is in the effects' finished jobs) and the
    ///     followers start.
    ///   - committed: as for ``submitGroups(_:worker:committed:)``.
    /// - Throws: ``ActyError/Code/groupClosed`` unless the group is open.
    package func addJobs<U: Sendable>(
        _ jobs: [NewJob], role: JobRole, toGroup group: GroupID, skipPrimerOnCacheHit: (provider: String, fingerprint: String)? = nil,
        worker: String?, committed: @escaping @Sendable ([JobID], WriteEffects) -> U
    ) async throws -> U {
        try await write(worker: worker, {
            try $0.addJobs(jobs, role: role, toGroup: group, skipPrimerOnCacheHit: skipPrimerOnCacheHit)
        }, committed: committed)
    }

    /// Adds the primer, or followers, to an open group; returns their ids and the effects once committed.
    package func addJobs(
        _ jobs: [NewJob], role: JobRole, toGroup group: GroupID, skipPrimerOnCacheHit: (provider: String, fingerprint: String)? = nil,
        worker: String?
    ) async throws -> ([JobID], WriteEffects) {
        try await addJobs(jobs, role: role, toGroup: group, skipPrimerOnCacheHit: skipPrimerOnCacheHit, worker: worker) { ($0, $1) }
    }

    /// Adds a job to an open group as its primer when it has none yet, else as a follower; returns once committed,
    /// with the job's id and role.
    package func addJobAsPrimerIfNone<U: Sendable>(
        _ job: NewJob, toGroup group: GroupID, skipPrimerOnCacheHit: (provider: String, fingerprint: String)? = nil,
        worker: String?, committed: @escaping @Sendable ((JobID, JobRole), WriteEffects) -> U
    ) async throws -> U {
        try await write(worker: worker, {
            try $0.addJobAsPrimerIfNone(job, toGroup: group, skipPrimerOnCacheHit: skipPrimerOnCacheHit)
        }, committed: committed)
    }

    /// Takes a producer lease on an open group for `worker`; returns its id once committed.
    ///
    /// - Throws: ``ActyError/Code/groupClosed`` unless the group is open.
    package func acquireProducerLease(on group: GroupID, worker: String) async throws -> Int64 {
        try await write(worker: worker) { try $0.acquireProducerLease(on: group) }.0
    }

    /// Ends a producer lease; its group closes when it was the last. Returns whether the lease was still held.
    package func releaseProducerLease(_ lease: Int64, worker: String?) async throws -> Bool {
        try await write(worker: worker) { try $0.releaseProducerLease(lease) }.0
    }

    /// The output recorded for an open group's primer that was skipped because its cache entry was ready:
    /// `{"skipped": "cache_hit", "cache_key": <key>}`.
    package static func skippedPrimerOutput(cacheKey: String) -> JSONValue {
        ["skipped": "cache_hit", "cache_key": .string(cacheKey)]
    }

    /// Closes an open group; does nothing for a group that is already closed or finished.
    package func closeGroup(_ group: GroupID, worker: String?) async throws -> WriteEffects {
        try await write(worker: worker) { try $0.closeGroup(group) }.1
    }

    /// Records finished attempts, hands back released jobs, then fills idle workers, in a request of its own: what
    /// an engine's ``Dispatch`` does at the end of every batch, for tools and the store's tests.
    package func dispatch(_ work: DispatchWork) async throws -> (DispatchResult, WriteEffects) {
        try await write(worker: work.worker) { try $0.run(work) }
    }

    /// Sets lane rows to the given settings, creating missing ones; records `lane_configs_updated` when any changed.
    package func configureLanes(_ lanes: [String: (weight: Double, maxInflight: Int?)], worker: String?) async throws {
        guard !lanes.isEmpty else { return }
        _ = try await write(worker: worker) { context in
            let statement = try context.db.cachedStatement(sql: """
                INSERT INTO lanes (name, weight, max_inflight, paused, created_at, updated_at) VALUES (?, ?, ?, 0, ?, ?)
                ON CONFLICT (name) DO UPDATE SET weight = excluded.weight, max_inflight = excluded.max_inflight,
                    updated_at = excluded.updated_at
                WHERE weight IS NOT excluded.weight OR max_inflight IS NOT excluded.max_inflight
                """)
            var changed: [JSONValue] = []
            for (name, lane) in lanes.sorted(by: { $0.key < $1.key }) {
                try statement.run { [now = context.now] in
                    $0.add(name); $0.add(lane.weight); $0.add(lane.maxInflight); $0.add(now); $0.add(now)
                }
                if context.db.changesCount > 0 {
                    changed.append([
                        "lane": .string(name), "weight": .number(lane.weight),
                        "max_inflight": lane.maxInflight.map { .number(Double($0)) } ?? .null,
                    ])
                }
            }
            if !changed.isEmpty {
                try context.record(.laneConfigsUpdated, data: JSONValue.object(["lane_configs": .array(changed)]).jsonString)
            }
        }
    }

    /// Sets the rate limits of an engine's executors (see ``WriteContext/configureRateLimits(_:executors:)``).
    package func configureRateLimits(_ limits: [RateLimit], executors: [String], worker: String?) async throws {
        _ = try await write(worker: worker) { try $0.configureRateLimits(limits, executors: executors) }
    }

    /// Registers an engine process in `workers` and records `worker_started` and `run_started`.
    package func registerWorker(_ worker: WorkerRegistration) async throws {
        _ = try await write(worker: worker.id) { context in
            try context.db.run(
                sql: """
                    INSERT INTO workers (id, pid, host, started_at, heartbeat_at, primer_workers, follower_workers, executors,
                        result_handlers)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    worker.id, worker.pid, worker.host, context.now, context.now, worker.primerWorkers,
                    worker.followerWorkers, JSONValue.array(worker.executors.map { .string($0) }).jsonString,
                    JSONValue.array(worker.resultHandlers.map { .string($0) }).jsonString,
                ]
            )
            let data = JSONValue.object([
                "pid": .number(Double(worker.pid)), "host": .string(worker.host),
                "primer_workers": .number(Double(worker.primerWorkers)),
                "follower_workers": .number(Double(worker.followerWorkers)),
                "executors": .array(worker.executors.map { .string($0) }),
            ]).jsonString
            try context.record(.workerStarted, data: data)
            try context.record(.runStarted, data: data)
        }
    }

    /// Updates the result handlers an engine process has, once it learned one from a group's options.
    package func updateResultHandlers(_ names: [String], worker: String) async throws {
        _ = try await write(worker: worker) { context in
            try context.db.run(
                sql: "UPDATE workers SET result_handlers = ? WHERE id = ?",
                arguments: [JSONValue.array(names.map { .string($0) }).jsonString, worker]
            )
        }
    }

    /// Marks an engine process as stopped, ends its producer leases, and records `run_finished` and `worker_stopped`.
    package func unregisterWorker(_ id: String) async throws {
        _ = try await write(worker: id) { context in
            try context.db.run(sql: "UPDATE workers SET stopped_at = ?, heartbeat_at = ?, stop_reason = 'shutdown' WHERE id = ?", arguments: [context.now, context.now, id])
            try context.releaseProducerLeasesOfStoppedWorkers()
            try context.record(.runFinished)
            try context.record(.workerStopped)
        }
    }
}

/// An engine process, as registered in the `workers` table.
package struct WorkerRegistration: Sendable, Hashable {
    /// The worker id: unique per engine process and run.
    package var id: String
    /// The operating-system process id.
    package var pid: Int
    /// The host name.
    package var host: String
    /// Size of the primer pool.
    package var primerWorkers: Int
    /// Size of the follower pool.
    package var followerWorkers: Int
    /// Registered executor names.
    package var executors: [String]
    /// Names of the result handlers the engine has.
    package var resultHandlers: [String]

    /// Creates a registration.
    package init(
        id: String, pid: Int, host: String, primerWorkers: Int, followerWorkers: Int, executors: [String], resultHandlers: [String] = []
    ) {
        self.id = id
        self.pid = pid
        self.host = host
        self.primerWorkers = primerWorkers
        self.followerWorkers = followerWorkers
        self.executors = executors
        self.resultHandlers = resultHandlers
    }
}

/// The store's tail of every batch (see ``GroupCommitWriter``): collects what the batch's requests changed, runs
/// the attached ``Dispatch``'s work after them, and hands the events to the observer once committed.
final class BatchRecorder<Connection: WriterConnection>: BatchTail {
    private struct State {
        /// Weak: the engine's dispatch holds the store.
        weak var dispatch: (any Dispatch)?
        var events: [EventRecord] = []
        var effects = WriteEffects()
        var work: DispatchWork?
        var result = DispatchResult()
        var lastEventSeq: Int64 = 0
    }

    private let state = Locked(State())
    private let eventObserver: (@Sendable ([EventRecord]) -> Void)?
    private let committedEventSeq: Atomic<Int64>
    /// The admission settings of this store's writes (``Store/setAdmission(_:)``); `nil` for none.
    private let admissionSettings = Locked<AdmissionSettings?>(nil)

    /// The admission control applied by the writes of this store; `nil` for none.
    var admission: AdmissionSettings? {
        get { admissionSettings.withLock { $0 } }
        set { admissionSettings.withLock { $0 = newValue } }
    }

    /// The seq of the last event committed through this recorder (the log's end when it was made, before any).
    var lastCommittedEventSeq: Int64 { committedEventSeq.load(ordering: .acquiring) }

    /// Whether committed events are kept in memory for the observer.
    var keepsEvents: Bool { eventObserver != nil }

    init(eventObserver: (@Sendable ([EventRecord]) -> Void)?, lastEventSeq: Int64) {
        self.eventObserver = eventObserver
        committedEventSeq = Atomic(lastEventSeq)
    }

    func attach(_ dispatch: any Dispatch) {
        state.withLock { $0.dispatch = dispatch }
    }

    /// Adds what one request wrote.
    func add(_ context: WriteContext<Connection>) {
        state.withLock { state in
            state.effects.merge(context.effects)
            state.lastEventSeq = max(state.lastEventSeq, context.lastEventSeq)
            if keepsEvents { state.events += context.events }
        }
    }

    func beforeCommit(_ db: Connection) throws {
        let (dispatch, readyWork) = state.withLock { ($0.dispatch, $0.effects.readyWork) }
        guard let dispatch, let work = dispatch.takeWork(readyWork: readyWork) else { return }
        state.withLock { $0.work = work }
        var context = WriteContext(db: db, worker: work.worker, keepsEvents: keepsEvents, admission: admission)
        let result = try context.run(work)
        try context.flushEvents()
        add(context)
        state.withLock { $0.result = result }
    }

    func afterTransaction(_ outcome: TransactionOutcome) {
        let finished = state.withLock { state in
            defer {
                state.events.removeAll(keepingCapacity: true)
                state.effects = WriteEffects()
                state.work = nil
                state.result = DispatchResult()
                state.lastEventSeq = 0
            }
            return (state.dispatch, state.work, state.result, state.effects, state.events, state.lastEventSeq)
        }
        let (dispatch, work, result, effects, events, lastEventSeq) = finished
        switch outcome {
        case .rolledBackToRetry:
            // The batch runs again without the failed request; the dispatch's work has not been taken yet.
            return
        case .committed(let statistics):
            var result = result
            result.batch = statistics
            if lastEventSeq > 0 { committedEventSeq.store(lastEventSeq, ordering: .releasing) }
            if let eventObserver, !events.isEmpty { eventObserver(events) }
            dispatch?.batchEnded(work, .success(result), effects: effects)
        case .failed(let error):
            dispatch?.batchEnded(work, .failure(error), effects: WriteEffects())
        }
    }
}
