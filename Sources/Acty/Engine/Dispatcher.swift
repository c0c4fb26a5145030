import ActyStore
import Foundation
import Logging
import Tracing

/// Hands ready jobs to idle workers and records what they finished, at the end of every write batch.
///
/// The dispatcher owns the engine's scheduling state: finished attempts waiting to be recorded, parked workers,
/// claimed jobs waiting for a worker, the fair-share planner, and the flags that say whether a claim could find
/// anything. Workers report here without a hop (``nextJob(pool:after:)`` takes a lock, and suspends only when no
/// claimed job waits); the store's writer calls ``takeWork(readyWork:)`` inside each batch's transaction, after
/// its requests, and ``batchEnded(_:_:effects:)`` after it, on the writer thread. So a job submitted while workers
/// are idle is claimed in the transaction that inserts it, a completion is recorded in the next transaction anyone
/// writes, and a batch that finds idle workers and ready work asks the writer for another batch itself
/// (ARCHITECTURE.md draws the whole path).
///
/// Claimed jobs go to their pool's queue and the writer wakes one parked worker per pool; that worker wakes the
/// next, and a worker that finishes a job takes the next from the queue before it parks. Waking a thread costs
/// more than recording a job, and every job waits for the writer: it wakes at most two a batch.
final class Dispatcher: Dispatch {
    /// What a worker reports when it asks for its next job.
    struct Finished: Sendable {
        var completion: Completion
        var output: JSONValue?
        /// The job goes back to the queue unfinished (the engine is shutting down): nothing is recorded of the attempt.
        var released = false
    }

    /// What a stopping engine could not record because the database could not be written: the jobs stay
    /// `running` under this engine's lease in the database, and the next engine rescues them.
    struct Unrecorded: Sendable {
        /// Finished attempts whose outcome was not recorded.
        var completions = 0
        /// Jobs the shutdown handed back that stayed `running`.
        var releases = 0
        /// The error the last try failed with.
        var lastError: (any Error)?

        var isEmpty: Bool { completions + releases == 0 }
    }

    /// A worker waiting for its next job (`nil` tells it to exit).
    private typealias IdleWorker = CheckedContinuation<ClaimedJob?, Never>

    /// What the batch in flight took: the attempts it records and how many workers it claims for.
    private struct Taken {
        var finished: [Finished] = []
        var claimedFor = 0
        var wasPollDue = false
        var at = ContinuousClock.now
    }

    private struct State {
        var finished: [Finished] = []
        /// Workers waiting for a job.
        var parked: [JobRole: [IdleWorker]] = [.primer: [], .follower: []]
        /// Claimed jobs no worker has taken yet (each has a parked worker, woken or about to be).
        var queued: [JobRole: [ClaimedJob]] = [.primer: [], .follower: []]
        var inFlight: Taken?
        var planner: ClaimPlanner
        /// The `data_version` the last claim saw: another connection's writes make every lane worth a look.
        var dataVersion: Int?
        /// The poll timer fired (or the engine started): claim even if every lane looked dry.
        var pollDue = true
        /// The last claim left workers idle, and nothing changed since: claiming again would find the same lanes
        /// empty, capped or paused, in a busy loop holding the write lock.
        var awaitsNews = false
        /// Writes are failing: no dispatch work until the backoff's pause is over.
        var pausedUntil: ContinuousClock.Instant?
        var backoff = WriteBackoff()
        var retryWakeAt: Double?
        var isStopping = false
        /// The shutdown's grace period is over: stop retrying writes that fail.
        var givesUp = false
        var liveWorkers: Int
        var unrecorded = Unrecorded()
        var stopWaiters: [CheckedContinuation<Void, Never>] = []

        var freeWorkers: (primer: Int, follower: Int) {
            isStopping ? (0, 0) : (free(.primer), free(.follower))
        }

        /// Whether a batch now would have dispatch work.
        var wantsBatch: Bool {
            if let pausedUntil, ContinuousClock.now < pausedUntil { return false }
            if !finished.isEmpty { return true }
            let free = freeWorkers
            guard free.primer + free.follower > 0, inFlight == nil else { return false }
            return pollDue
                || (!awaitsNews && planner.mayHaveWork(freePrimerWorkers: free.primer, freeFollowerWorkers: free.follower))
        }

        /// Parked workers no queued job is meant for.
        func free(_ pool: JobRole) -> Int { parked[pool]!.count - queued[pool]!.count }

        var isStopped: Bool { isStopping && liveWorkers == 0 && finished.isEmpty && inFlight == nil }
    }

    private let state: Locked<State>
    private let store: Store
    private let workerID: String
    private let executors: [String]
    private let resultHandlers: ResultHandlerRegistry
    private let leaseDuration: Double
    /// How long a stopping engine keeps trying to record its last completions while the database cannot be written.
    private let stopRetryLimit: Duration
    private let registry: ResultRegistry
    private let running: RunningJobs
    private let logger: Logger
    private let metrics: EngineMetrics
    /// The tracer of write batch spans; `nil` unless ``EngineConfiguration/tracesWriteBatches`` is on.
    private let batchTracer: (any Tracer)?

    init(
        store: Store, workerID: String, executors: [String], resultHandlers: ResultHandlerRegistry, workers: Int, workStealing: Bool, leaseDuration: Duration,
        stopRetryLimit: Duration, registry: ResultRegistry, running: RunningJobs, logger: Logger,
        metrics: EngineMetrics, batchTracer: (any Tracer)? = nil
    ) {
        self.metrics = metrics
        self.batchTracer = batchTracer
        state = Locked(State(planner: ClaimPlanner(workStealing: workStealing), liveWorkers: workers))
        self.store = store
        self.workerID = workerID
        self.executors = executors
        self.resultHandlers = resultHandlers
        self.leaseDuration = leaseDuration.seconds
        self.stopRetryLimit = stopRetryLimit
        self.registry = registry
        self.running = running
        self.logger = logger
    }

    /// What the engine gave up recording while it stopped.
    var unrecorded: Unrecorded { state.withLock { $0.unrecorded } }

    // MARK: Workers

    /// Reports a worker's finished job (if any) and waits for its next one; `nil` tells the worker to exit.
    func nextJob(pool: JobRole, after done: Finished?) async -> ClaimedJob? {
        let (queued, exits, wantsBatch) = state.withLock { state in
            if let done { state.finished.append(done) }
            if state.isStopping { state.liveWorkers -= 1 }
            let job = state.isStopping || state.queued[pool]!.isEmpty ? nil : state.queued[pool]!.removeFirst()
            return (job, state.isStopping, state.wantsBatch && (job != nil || state.isStopping))
        }
        if wantsBatch { store.requestBatch() }
        if exits {
            resumeStopWaitersIfStopped()
            return nil
        }
        if let queued { return queued }
        let job = await park(pool)
        if job != nil { wakeNext(pool) }
        return job
    }

    /// Waits for a job as one of the pool's parked workers.
    private func park(_ pool: JobRole) async -> ClaimedJob? {
        await withCheckedContinuation { worker in
            let (job, exits, wantsBatch) = state.withLock { state in
                if state.isStopping {
                    state.liveWorkers -= 1
                    return (nil as ClaimedJob?, true, false)
                }
                if !state.queued[pool]!.isEmpty { return (state.queued[pool]!.removeFirst(), false, false) }
                state.parked[pool]!.append(worker)
                return (nil, false, state.wantsBatch)
            }
            if let job { worker.resume(returning: job) }
            if exits { worker.resume(returning: nil) }
            if wantsBatch { store.requestBatch() }
            if exits { resumeStopWaitersIfStopped() }
        }
    }

    /// A woken worker wakes the next parked one while claimed jobs wait, so the writer wakes one a batch.
    private func wakeNext(_ pool: JobRole) {
        let next = state.withLock { state -> (IdleWorker, ClaimedJob)? in
            guard !state.queued[pool]!.isEmpty, let worker = state.parked[pool]!.popLast() else { return nil }
            return (worker, state.queued[pool]!.removeFirst())
        }
        if let (worker, job) = next { worker.resume(returning: job) }
    }

    // MARK: Signals from the engine

    /// Time to look for work other processes may have written.
    func tick() {
        signal { $0.pollDue = true }
    }

    /// Claims again when the retry due at `time` can run, instead of waiting for the poll timer.
    private func wake(at time: Double) {
        let arms = state.withLock { state in
            if let armed = state.retryWakeAt, armed <= time { return false }
            state.retryWakeAt = time
            return true
        }
        guard arms else { return }
        let delay = max(0, time - WallClock.now)
        Task { [weak self] in
            try? await Task.sleep(for: .seconds(delay))
            self?.signal { state in
                guard state.retryWakeAt == time else { return }
                state.retryWakeAt = nil
                state.pollDue = true
            }
        }
    }

    /// Changes the state, then asks for a batch if there is work for one.
    private func signal(_ change: (inout State) -> Void) {
        let wantsBatch = state.withLock { state in
            change(&state)
            state.awaitsNews = false
            return state.wantsBatch
        }
        if wantsBatch { store.requestBatch() }
    }

    /// Stops claiming: parked workers exit now, busy ones after their current job; the attempts they finish are
    /// still recorded, and claimed jobs no worker took go back to the queue.
    func stop() {
        let idle = state.withLock { state in
            state.isStopping = true
            return Self.takeIdle(&state)
        }
        for worker in idle { worker.resume(returning: nil) }
        if state.withLock({ $0.wantsBatch }) { store.requestBatch() }
        resumeStopWaitersIfStopped()
    }

    /// Waits until ``stop()`` was called, every worker has exited and every attempt they finished is recorded (or
    /// given up). Cancelling the waiting task ends the grace period: writes that keep failing are not retried.
    func waitUntilStopped() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let stopped = state.withLock { state in
                    if !state.isStopped { state.stopWaiters.append(continuation) }
                    return state.isStopped
                }
                if stopped { continuation.resume() }
            }
        } onCancel: {
            giveUp()
        }
    }

    /// The grace period is over: what cannot be written now is left to the next engine.
    private func giveUp() {
        state.withLock { state in
            state.givesUp = true
            if state.pausedUntil != nil {
                // Writes are failing: drop what waits instead of trying again.
                Self.dropUnrecorded(&state, error: state.unrecorded.lastError)
            }
        }
        resumeStopWaitersIfStopped()
    }

    private func resumeStopWaitersIfStopped() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard state.isStopped else { return [] }
            defer { state.stopWaiters = [] }
            return state.stopWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Parked workers to send home, taken from the state (they have exited); the jobs queued for them are given back.
    private static func takeIdle(_ state: inout State) -> [IdleWorker] {
        let idle = state.parked[.primer]! + state.parked[.follower]!
        state.parked = [.primer: [], .follower: []]
        state.liveWorkers -= idle.count
        for job in state.queued.values.joined() {
            state.finished.append(Finished(completion: Completion(job: job, outcome: .failed(.init(error: .shutdown)), finishedAt: WallClock.now), released: true))
        }
        state.queued = [.primer: [], .follower: []]
        return idle
    }

    private static func dropUnrecorded(_ state: inout State, error: (any Error)?) {
        state.unrecorded.completions += state.finished.count(where: { !$0.released })
        state.unrecorded.releases += state.finished.count(where: \.released)
        state.unrecorded.lastError = error ?? state.unrecorded.lastError
        state.finished = []
        state.pausedUntil = nil
    }

    // MARK: The batch (on the writer thread)

    func takeWork(readyWork: Set<WorkKind>) -> DispatchWork? {
        state.withLock { state in
            for kind in readyWork { state.planner[kind.role].activate(kind.lane) }
            if !readyWork.isEmpty { state.awaitsNews = false }
            if let pausedUntil = state.pausedUntil, ContinuousClock.now < pausedUntil { return nil }
            let free = state.freeWorkers
            let claims =
                free.primer + free.follower > 0
                && (state.pollDue || !state.finished.isEmpty
                    || (!state.awaitsNews && state.planner.mayHaveWork(freePrimerWorkers: free.primer, freeFollowerWorkers: free.follower)))
            guard claims || !state.finished.isEmpty else { return nil }
            var taken = Taken(finished: state.finished, wasPollDue: state.pollDue)
            state.finished = []
            state.pollDue = false
            var claim: ClaimRequest?
            if claims {
                taken.claimedFor = free.primer + free.follower
                claim = ClaimRequest(
                    planner: state.planner, dataVersion: state.dataVersion, freePrimerWorkers: free.primer,
                    freeFollowerWorkers: free.follower, worker: workerID, leaseDuration: leaseDuration, executors: executors,
                    resultHandlers: resultHandlers.names
                )
            }
            state.inFlight = taken
            return DispatchWork(
                worker: workerID,
                completions: taken.finished.lazy.filter { !$0.released }.map(\.completion),
                releases: taken.finished.lazy.filter(\.released).map(\.completion.job),
                claim: claim
            )
        }
    }

    func batchEnded(_ work: DispatchWork?, _ outcome: Result<DispatchResult, any Error>, effects: WriteEffects) {
        switch outcome {
        case .success(let result): committed(result, effects: effects)
        case .failure(let error): failed(error)
        }
        resumeStopWaitersIfStopped()
    }

    /// The batch committed: hand the claimed jobs to their workers, then act on what the batch changed.
    private func committed(_ result: DispatchResult, effects: WriteEffects) {
        let (woken, exiting, taken, failedBefore, wantsBatch) = state.withLock { state in
            let taken = state.inFlight ?? Taken()
            state.inFlight = nil
            for job in result.claimed { state.queued[job.pool]!.append(job) }
            if let planner = result.planner {
                // The claim saw every kind of work the batch made ready.
                state.planner = planner
                state.dataVersion = result.dataVersion
                state.awaitsNews = result.claimed.count < taken.claimedFor
            } else if !effects.readyWork.isEmpty {
                for kind in effects.readyWork { state.planner[kind.role].activate(kind.lane) }
                state.awaitsNews = false
            }
            let failedBefore = state.backoff.succeeded()
            // Jobs claimed while the engine began to stop have no worker left: they are given back.
            let exiting = state.isStopping ? Self.takeIdle(&state) : []
            var woken: [(IdleWorker, ClaimedJob)] = []
            for pool in [JobRole.primer, .follower] where !state.queued[pool]!.isEmpty {
                guard let worker = state.parked[pool]!.popLast() else { continue }
                woken.append((worker, state.queued[pool]!.removeFirst()))
            }
            return (woken, exiting, taken, failedBefore, state.wantsBatch)
        }
        for (worker, job) in woken { worker.resume(returning: job) }
        for worker in exiting { worker.resume(returning: nil) }
        if wantsBatch { store.requestBatch() }
        if failedBefore > 0 {
            logger.info("writing to the database works again", metadata: ["failed.tries": "\(failedBefore)"])
        }
        running.cancel(effects.cancelledRunning)
        if metrics.isEnabled { recordMetrics(result, effects: effects, recorded: taken.finished) }
        if let batchTracer, let batch = result.batch {
            Self.traceBatch(batch, tracer: batchTracer, recorded: taken.finished.count, claimed: result.claimed.count, finished: effects.finishedJobs.count)
        }
        if let due = effects.nextRetryAt { wake(at: due) }
        resolveResults(effects.finishedJobs, recorded: taken.finished)
    }

    /// A span `acty.batch` for a committed batch, from its `BEGIN` to the end of its `COMMIT`.
    private static func traceBatch(_ batch: BatchStatistics, tracer: any Tracer, recorded: Int, claimed: Int, finished: Int) {
        let end = DefaultTracerClock.now
        let start = DefaultTracerClock.Instant(
            nanosecondsSinceEpoch: end.nanosecondsSinceEpoch - min(end.nanosecondsSinceEpoch, UInt64(max(0, batch.duration.nanoseconds)))
        )
        let span = tracer.startSpan("acty.batch", context: .topLevel, ofKind: .internal, at: start)
        span.updateAttributes { attributes in
            attributes["acty.batch.requests"] = batch.requests
            attributes["acty.batch.recorded"] = recorded
            attributes["acty.batch.claimed"] = claimed
            attributes["acty.batch.finished"] = finished
        }
        span.end(at: end)
    }

    /// Counts what the batch recorded, finished and claimed.
    private func recordMetrics(_ result: DispatchResult, effects: WriteEffects, recorded: [Finished]) {
        let unrecorded = Set(effects.unrecordedCompletions)
        let completions = recorded.lazy.filter { !$0.released && !unrecorded.contains($0.completion.job.id) }.map(\.completion)
        metrics.batchCommitted(recorded: Array(completions), finished: effects.finishedJobs, claimed: result.claimed, batch: result.batch)
    }

    /// Resolves the handles of the jobs the batch finished. Recorded attempts that finished no job (a retry is now
    /// scheduled, or another writer decided the job's outcome meanwhile) are watched: the poll timer resolves them
    /// once the database says they ended, wherever that happens.
    private func resolveResults(_ finishedJobs: [FinishedJob], recorded: [Finished]) {
        var outputs: [JobID: JSONValue] = [:]
        for done in recorded { if let output = done.output { outputs[done.completion.job.id] = output } }
        if !finishedJobs.isEmpty {
            registry.resolve(finishedJobs.map { $0.result(output: outputs[$0.id] ?? $0.output) })
        }
        guard !recorded.isEmpty else { return }
        let finished = Set(finishedJobs.map(\.id))
        registry.watchRegistered(recorded.lazy.filter { !$0.released }.map(\.completion.job.id).filter { !finished.contains($0) })
    }

    /// Nothing of the batch was kept. Its completions are tried again after a pause that grows while writes keep
    /// failing, so that a full disk or a long lock is not a busy loop; whoever waits for a result learns why it does
    /// not come.
    ///
    /// A stopping engine gives up once writes have failed for the stop retry limit, or at once when its grace period
    /// is over: what it could not record stays `running` under its lease in the database, for the next engine to
    /// rescue, and ``unrecorded`` counts it.
    private func failed(_ error: any Error) {
        let (delay, failures, triedAt, waiting, exiting) = state.withLock { state in
            let taken = state.inFlight ?? Taken()
            state.inFlight = nil
            state.finished = taken.finished + state.finished
            // Lanes the claim found dry may hold work again once nothing of it was kept.
            state.planner.primers.activateAll()
            state.planner.followers.activateAll()
            state.pollDue = state.pollDue || taken.wasPollDue
            let delay = state.backoff.failed(triedAt: taken.at)
            state.pausedUntil = .now + delay
            state.unrecorded.lastError = error
            if state.isStopping, state.givesUp || state.backoff.hasFailed(for: stopRetryLimit) {
                Self.dropUnrecorded(&state, error: error)
            }
            let waiting = Set(state.finished.lazy.filter { !$0.released }.map(\.completion.job.id))
            let exiting = state.isStopping ? Self.takeIdle(&state) : []
            return (delay, state.backoff.failures, taken.at, waiting, exiting)
        }
        for worker in exiting { worker.resume(returning: nil) }
        if failures == 1 {
            logger.error("recording completions and claiming failed; retrying with backoff", metadata: ["error": "\(error)"])
        } else {
            logger.debug("recording completions and claiming failed again", metadata: ["error": "\(error)", "failed.tries": "\(failures)"])
        }
        registry.interruptWaiters(cannotWrite: error, finished: waiting, triedAt: triedAt)
        Task { [weak self] in
            try? await Task.sleep(for: delay)
            self?.signal { $0.pausedUntil = nil }
        }
    }
}

extension FinishedJob {
    /// The result a handle returns.
    func result(output: JSONValue?) -> JobResult {
        JobResult(jobID: id, groupKey: groupKey, role: role, status: .init(state), output: output, error: error, attempts: attempts)
    }
}
