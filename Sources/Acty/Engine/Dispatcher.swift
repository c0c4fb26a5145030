import ActyStore
import Logging

/// Hands ready jobs to idle workers and records what they finished, in shared transactions.
///
/// The dispatcher runs one loop: take every completion reported since the last transaction, claim as many jobs as
/// there are idle workers, and do both in one write (which the store's writer may in turn share with concurrent
/// submissions). While that write commits, workers keep finishing jobs, and the next write takes all of them:
/// the busier the engine, the more work each commit carries.
///
/// Fair sharing between lanes is decided in the claim (see ``ClaimPlanner``); the dispatcher only keeps the
/// planner's state between claims and tells it which lanes got new work.
actor Dispatcher {
    /// What a worker reports when it asks for its next job.
    struct Finished: Sendable {
        var completion: Completion
        var output: JSONValue?
    }

    private let store: Store
    private let workerID: String
    private let executors: [String]
    private let leaseDuration: Double
    private let pollInterval: Duration
    private let registry: ResultRegistry
    private let logger: Logger

    private var planner: ClaimPlanner
    private var dataVersion: Int?
    private var idle: [JobRole: [CheckedContinuation<ClaimedJob?, Never>]] = [.primer: [], .follower: []]
    private var finished: [Finished] = []
    private var liveWorkers: Int
    private var isStopping = false
    private var isInCycle = false
    /// Work that arrived while a claim was in flight: the claim's planner, which replaces ours when it returns,
    /// has not seen it.
    private var arrivedDuringCycle: Set<WorkKind> = []
    private var pollDue = true
    private var signalled = false
    private var wakeUp: CheckedContinuation<Void, Never>?

    init(
        store: Store, workerID: String, executors: [String], workers: Int, workStealing: Bool, leaseDuration: Duration,
        pollInterval: Duration, registry: ResultRegistry, logger: Logger
    ) {
        self.store = store
        self.workerID = workerID
        self.executors = executors
        self.liveWorkers = workers
        self.planner = ClaimPlanner(workStealing: workStealing)
        self.leaseDuration = leaseDuration.seconds
        self.pollInterval = pollInterval
        self.registry = registry
        self.logger = logger
    }

    // MARK: Workers

    /// Reports a worker's finished job (if any) and waits for its next one; `nil` tells the worker to exit.
    func nextJob(pool: JobRole, after done: Finished?) async -> ClaimedJob? {
        if let done {
            finished.append(done)
            signal()
        }
        if isStopping {
            liveWorkers -= 1
            signal()
            return nil
        }
        return await withCheckedContinuation { continuation in
            idle[pool]!.append(continuation)
            signal()
        }
    }

    // MARK: Signals from the engine

    /// New work became ready in these lanes.
    func workArrived(_ kinds: Set<WorkKind>) {
        guard !kinds.isEmpty else { return }
        for kind in kinds { planner[kind.role].activate(kind.lane) }
        if isInCycle { arrivedDuringCycle.formUnion(kinds) }
        signal()
    }

    /// Time to look for work other processes may have written.
    func tick() {
        guard !isStopping, !(idle[.primer]!.isEmpty && idle[.follower]!.isEmpty) else { return }
        pollDue = true
        signal()
    }

    /// Stops claiming: idle workers exit now (or, during a claim, once its jobs are handed out), busy ones after
    /// their current job.
    func stop() {
        isStopping = true
        if !isInCycle { releaseIdleWorkers() }
        signal()
    }

    private func releaseIdleWorkers() {
        for pool in [JobRole.primer, .follower] {
            for continuation in idle[pool]! {
                liveWorkers -= 1
                continuation.resume(returning: nil)
            }
            idle[pool] = []
        }
    }

    private func signal() {
        signalled = true
        if let wakeUp {
            self.wakeUp = nil
            wakeUp.resume()
        }
    }

    // MARK: The loop

    /// Runs until ``stop()`` was called, every worker has exited and every completion is recorded.
    func run() async {
        while true {
            // Checked before waiting too: the cycle that records the last completion after `stop()` leaves nobody
            // to signal.
            if isStopping, liveWorkers == 0, finished.isEmpty { return }
            if !signalled {
                await withCheckedContinuation { wakeUp = $0 }
            }
            signalled = false
            if isStopping, liveWorkers == 0, finished.isEmpty { return }
            await cycle()
        }
    }

    /// One transaction: record finished jobs, claim jobs for idle workers.
    private func cycle() async {
        let freePrimer = idle[.primer]!.count
        let freeFollower = idle[.follower]!.count
        var claim: ClaimRequest?
        if !isStopping, pollDue || planner.mayHaveWork(freePrimerWorkers: freePrimer, freeFollowerWorkers: freeFollower) {
            claim = ClaimRequest(
                planner: planner, freePrimerWorkers: freePrimer, freeFollowerWorkers: freeFollower, worker: workerID,
                leaseDuration: leaseDuration, executors: executors, dataVersion: dataVersion
            )
        }
        guard claim != nil || !finished.isEmpty else { return }
        let batch = finished
        finished.removeAll(keepingCapacity: true)
        let wasPollDue = pollDue
        pollDue = false
        isInCycle = true
        defer {
            isInCycle = false
            arrivedDuringCycle.removeAll()
            if isStopping { releaseIdleWorkers() }
        }

        let outcome: (ClaimResult?, WriteEffects)
        do {
            outcome = try await store.completeAndClaim(batch.map(\.completion), claim: claim, worker: workerID)
        } catch {
            // Nothing of the transaction was kept: keep the completions for the next try, after a pause so a full
            // disk or a long lock does not turn into a busy loop.
            logger.error("recording completions and claiming failed; retrying", metadata: ["error": "\(error)"])
            finished = batch + finished
            pollDue = wasPollDue
            try? await Task.sleep(for: pollInterval)
            signal()
            return
        }
        let (result, effects) = outcome
        if let result {
            planner = result.planner
            for kind in arrivedDuringCycle { planner[kind.role].activate(kind.lane) }
            dataVersion = result.dataVersion
            assign(result.jobs)
        }
        for kind in effects.readyWork { planner[kind.role].activate(kind.lane) }
        resolve(effects, outputs: batch)
        // Workers that went idle during the transaction, or work this transaction made ready after its claim
        // (followers released by a primer that just finished), need another cycle. A claim that left workers idle
        // took all it could: lanes still active are at their cap or paused and wait for a completion, new work or
        // the poll tick, instead of a busy loop of empty transactions.
        let mayClaimMore = claim == nil || !effects.readyWork.isEmpty
        if !finished.isEmpty
            || (!isStopping && mayClaimMore
                && planner.mayHaveWork(freePrimerWorkers: idle[.primer]!.count, freeFollowerWorkers: idle[.follower]!.count))
        {
            signalled = true
        }
    }

    private func assign(_ jobs: [ClaimedJob]) {
        for job in jobs {
            guard let worker = idle[job.pool]!.popLast() else {
                preconditionFailure("claimed more jobs than idle workers of the \(job.pool) pool")
            }
            worker.resume(returning: job)
        }
    }

    private func resolve(_ effects: WriteEffects, outputs batch: [Finished]) {
        guard !effects.finishedJobs.isEmpty else { return }
        var outputs: [JobID: JSONValue] = [:]
        for done in batch { if let output = done.output { outputs[done.completion.job.id] = output } }
        registry.resolve(effects.finishedJobs.map { $0.result(output: outputs[$0.id]) })
    }
}

extension FinishedJob {
    /// The result a handle returns.
    func result(output: JSONValue?) -> JobResult {
        let status: JobResult.Status =
            switch state {
            case .succeeded: .succeeded
            case .cancelled: .cancelled
            default: .failed
            }
        return JobResult(jobID: id, groupKey: groupKey, role: role, status: status, output: output, error: error, attempts: attempts)
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
