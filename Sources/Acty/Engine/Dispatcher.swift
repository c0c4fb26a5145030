import ActyStore
import Foundation
import Logging

/// Hands ready jobs to idle workers and records what they finished, in shared transactions.
///
/// A dispatch cycle takes every completion reported since the previous cycle and claims as many jobs as there are
/// idle workers, in one write (which the store's writer may in turn share with concurrent submissions). Up to two
/// cycles are in flight: while the writer commits one, workers run the jobs of the other and report back, so the
/// writer always has the next transaction waiting and the engine's own work overlaps SQLite's. A cycle takes its
/// completions and idle workers from the ``DispatchInbox`` when its transaction begins, so the waiting one carries
/// everything reported while the other committed.
///
/// With idle workers and nothing to give them, the dispatcher parks a cycle on the writer's standby: it runs in the
/// next transaction anyone writes, after the rest of it, so a job submitted then is claimed in the transaction that
/// enqueues it and starts as soon as that commits.
///
/// Fair sharing between lanes is decided inside the claim (see ``ClaimPlanner``); the dispatcher only tells the
/// shared ``ClaimState`` which lanes got new work.
actor Dispatcher {
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

    /// How many dispatch cycles may wait at the writer at once.
    private static let maximumCyclesInFlight = 2

    private let store: Store
    private let workerID: String
    private let executors: [String]
    private let leaseDuration: Double
    /// How long a stopping engine keeps trying to record its last completions while the database cannot be written.
    private let stopRetryLimit: Duration
    private let registry: ResultRegistry
    private let logger: Logger
    private let claims: ClaimState
    private let running: RunningJobs

    /// Finished jobs and idle workers for the next cycle.
    private let inbox = DispatchInbox()
    private var liveWorkers: Int
    private var cyclesInFlight = 0
    /// Whether a cycle waits on the writer's standby (it counts as in flight).
    private var isStandbyParked = false
    private var isStopping = false
    private var pollDue = true
    /// Set when a claim left workers idle: claiming again before something changes (a finished job, new work, the
    /// poll timer) would only find the same lanes empty, capped or paused, in a busy loop holding the write lock.
    private var awaitsNews = false
    private var signalled = false
    /// When an armed timer will look for due retries.
    private var retryWakeAt: Double?
    /// Paces dispatch writes while they fail.
    private var backoff = WriteBackoff()
    /// What the engine gave up recording while it stopped.
    private(set) var unrecorded = Unrecorded()
    private var wakeUp: CheckedContinuation<Void, Never>?

    init(
        store: Store, workerID: String, executors: [String], workers: Int, workStealing: Bool, leaseDuration: Duration,
        stopRetryLimit: Duration, registry: ResultRegistry, running: RunningJobs, logger: Logger
    ) {
        self.stopRetryLimit = stopRetryLimit
        self.running = running
        self.store = store
        self.workerID = workerID
        self.executors = executors
        self.liveWorkers = workers
        self.claims = ClaimState(workStealing: workStealing)
        self.leaseDuration = leaseDuration.seconds
        self.registry = registry
        self.logger = logger
    }

    // MARK: Workers

    /// Reports a worker's finished job (if any) and waits for its next one; `nil` tells the worker to exit.
    func nextJob(pool: JobRole, after done: Finished?) async -> ClaimedJob? {
        if let done {
            inbox.add(done)
            awaitsNews = false
            signal()
        }
        if isStopping {
            liveWorkers -= 1
            signal()
            return nil
        }
        return await withCheckedContinuation { continuation in
            inbox.workerIdle(pool, continuation)
            signal()
        }
    }

    // MARK: Signals from the engine

    /// Time to look for work other processes may have written.
    func tick() {
        guard !isStopping, free(.primer) + free(.follower) > 0 else { return }
        pollDue = true
        awaitsNews = false
        signal()
    }

    /// Claims again when the retry due at `time` can run, instead of waiting for the poll timer.
    private func wake(at time: Double) {
        if let armed = retryWakeAt, armed <= time { return }
        retryWakeAt = time
        let delay = max(0, time - WallClock.now)
        Task { [weak self] in
            try? await Task.sleep(for: .seconds(delay))
            await self?.retryTimerFired(armedFor: time)
        }
    }

    private func retryTimerFired(armedFor time: Double) {
        guard retryWakeAt == time else { return }
        retryWakeAt = nil
        pollDue = true
        awaitsNews = false
        signal()
    }

    /// Stops claiming: idle workers exit now (or, during a claim, once its jobs are handed out), busy ones after
    /// their current job.
    func stop() {
        isStopping = true
        inbox.stopReserving()
        releaseIdleWorkers()
        if isStandbyParked { store.runStandbyClaim() }
        signal()
    }

    /// Lets idle workers that no cycle in flight is counting on exit.
    private func releaseIdleWorkers() {
        for worker in inbox.takeUnreserved() {
            liveWorkers -= 1
            worker.resume(returning: nil)
        }
    }

    private func signal() {
        signalled = true
        if let wakeUp {
            self.wakeUp = nil
            wakeUp.resume()
        }
    }

    private func free(_ pool: JobRole) -> Int {
        inbox.free(pool)
    }

    // MARK: The loop

    /// Runs until ``stop()`` was called, every worker has exited and every completion is recorded.
    ///
    /// Cycles run in a discarding task group: a plain task group keeps every finished child until `next()` collects
    /// it, and this loop never does, so a long drain held one finished task per cycle (about 300 MB for 1M jobs).
    func run() async {
        await withDiscardingTaskGroup { cycles in
            while true {
                if !signalled {
                    await withCheckedContinuation { wakeUp = $0 }
                }
                signalled = false
                if isStopping, liveWorkers == 0, !inbox.hasFinished, cyclesInFlight == 0 { return }
                guard mayStartCycle, let cycle = nextCycle() ?? standbyCycle() else { continue }
                cyclesInFlight += 1
                cycles.addTask { await self.run(cycle) }
            }
        }
    }

    /// Whether another cycle may go to the writer. While writes fail, only one at a time (besides one parked on
    /// standby) does, so that the backoff paces every try.
    private var mayStartCycle: Bool {
        if backoff.failures > 0 { return cyclesInFlight - (isStandbyParked ? 1 : 0) < 1 }
        return cyclesInFlight < Self.maximumCyclesInFlight
    }

    /// A cycle as decided when it is queued: whether it fills idle workers. What it records and how many workers it
    /// fills are taken from the inbox when its transaction begins.
    private struct Cycle: Sendable {
        var fillsWorkers: Bool
        var wasPollDue: Bool
        /// Waits on the writer's standby for another write to ride along with.
        var isStandby = false
    }

    private func nextCycle() -> Cycle? {
        let freePrimer = isStopping ? 0 : free(.primer)
        let freeFollower = isStopping ? 0 : free(.follower)
        let fillsWorkers =
            freePrimer + freeFollower > 0 && (!awaitsNews || pollDue)
            && (pollDue || claims.mayHaveWork(freePrimerWorkers: freePrimer, freeFollowerWorkers: freeFollower))
        guard fillsWorkers || inbox.hasFinished else { return nil }
        let cycle = Cycle(fillsWorkers: fillsWorkers, wasPollDue: pollDue)
        pollDue = false
        return cycle
    }

    /// A cycle to park on the writer's standby: idle workers wait while every lane looked dry.
    private func standbyCycle() -> Cycle? {
        guard !isStopping, !isStandbyParked, awaitsNews, !pollDue, free(.primer) + free(.follower) > 0 else { return nil }
        isStandbyParked = true
        return Cycle(fillsWorkers: true, wasPollDue: false, isStandby: true)
    }

    private func run(_ cycle: Cycle) async {
        let taken = TakenOnce()
        let started = ContinuousClock.now
        let outcome: Result<([ClaimedJob], WriteEffects), any Error>
        do {
            let (inbox, state, worker, leaseDuration, executors) = (inbox, claims, workerID, leaseDuration, executors)
            outcome = .success(try await store.completeAndClaim(worker: workerID, standby: cycle.isStandby) {
                let work = taken { inbox.take(claiming: cycle.fillsWorkers) }
                let claim =
                    work.primerWorkers + work.followerWorkers == 0
                    ? nil
                    : ClaimRequest(
                        state: state, freePrimerWorkers: work.primerWorkers, freeFollowerWorkers: work.followerWorkers,
                        worker: worker, leaseDuration: leaseDuration, executors: executors
                    )
                return DispatchWork(
                    completions: work.finished.filter { !$0.released }.map(\.completion),
                    releases: work.finished.filter(\.released).map(\.completion.job),
                    claim: claim
                )
            } handOut: { jobs in
                // On the writer thread, right after the commit: the workers start without waiting for this actor.
                inbox.handOut(jobs, from: taken.taken ?? DispatchInbox.Taken())
            })
        } catch {
            outcome = .failure(error)
        }
        if cycle.isStandby { isStandbyParked = false }
        let work = taken.taken ?? DispatchInbox.Taken()
        switch outcome {
        case .success(let (jobs, effects)):
            let failedBefore = backoff.succeeded()
            if failedBefore > 0 {
                logger.info("writing to the database works again", metadata: ["failed.tries": "\(failedBefore)"])
            }
            if work.primerWorkers + work.followerWorkers > 0, jobs.count < work.primerWorkers + work.followerWorkers,
                effects.readyWork.isEmpty
            {
                awaitsNews = true
            }
            apply(effects, outputs: work.finished)
            watchUnfinished(work.finished, effects: effects)
        case .failure(let error):
            inbox.release(work)
            pollDue = pollDue || cycle.wasPollDue
            await writeFailed(error, work: work.finished, triedAt: started)
        }
        if isStopping { releaseIdleWorkers() }
        cyclesInFlight -= 1
        // Workers that went idle meanwhile, or lanes that still have work, need another cycle.
        signal()
    }

    /// Nothing of the cycle's transaction was kept. The completions are tried again, after a pause that grows while
    /// writes keep failing, so that a full disk or a long lock is not a busy loop; whoever waits for a result
    /// learns why it does not come.
    ///
    /// A stopping engine gives up once writes have failed for the stop retry limit, or at once when its grace period
    /// is over (the pools are cancelled): what it could not record stays `running` under its lease in the database,
    /// for the next engine to rescue, and ``unrecorded`` counts it.
    private func writeFailed(_ error: any Error, work finished: [Finished], triedAt: ContinuousClock.Instant) async {
        let delay = backoff.failed(triedAt: triedAt)
        if backoff.failures == 1 {
            logger.error("recording completions and claiming failed; retrying with backoff", metadata: ["error": "\(error)"])
        } else {
            logger.debug("recording completions and claiming failed again", metadata: ["error": "\(error)", "failed.tries": "\(backoff.failures)"])
        }
        inbox.putBack(finished)
        if isStopping, Task.isCancelled || backoff.hasFailed(for: stopRetryLimit) {
            // Everything still to record, also what a transaction that never began did not take.
            let dropped = inbox.take(claiming: false).finished
            unrecorded.completions += dropped.count(where: { !$0.released })
            unrecorded.releases += dropped.count(where: \.released)
            unrecorded.lastError = error
            return
        }
        registry.interruptWaiters(cannotWrite: error, finished: inbox.finishedJobs, triedAt: triedAt)
        // Cancellation ends the sleep early: the grace period is over, and the next failed try gives up.
        try? await Task.sleep(for: delay)
    }

    /// Completions that finished no job: a retry now scheduled, or a job whose outcome another writer decided
    /// meanwhile (cancelled or rescued by another process, whose completion did not count). Their handles in this
    /// process would otherwise wait forever: the poll timer resolves them once the database says they ended.
    private func watchUnfinished(_ batch: [Finished], effects: WriteEffects) {
        guard !batch.isEmpty else { return }
        let finished = Set(effects.finishedJobs.map(\.id))
        registry.watchRegistered(batch.lazy.filter { !$0.released }.map(\.completion.job.id).filter { !finished.contains($0) })
    }

    /// Acts on what a write changed: lanes with new work, handles to resolve, executors to cancel.
    func apply(_ effects: WriteEffects, outputs batch: [Finished] = []) {
        if !effects.readyWork.isEmpty {
            claims.activate(effects.readyWork)
            awaitsNews = false
            signal()
        }
        running.cancel(effects.cancelledRunning)
        if let due = effects.nextRetryAt { wake(at: due) }
        guard !effects.finishedJobs.isEmpty else { return }
        var outputs: [JobID: JSONValue] = [:]
        for done in batch { if let output = done.output { outputs[done.completion.job.id] = output } }
        registry.resolve(effects.finishedJobs.map { $0.result(output: outputs[$0.id]) })
    }
}

extension FinishedJob {
    /// The result a handle returns.
    func result(output: JSONValue?) -> JobResult {
        JobResult(jobID: id, groupKey: groupKey, role: role, status: .init(state), output: output, error: error, attempts: attempts)
    }
}
