import ActyStore
import Foundation
import Logging
import Tracing

/// One worker of a pool: runs the jobs the dispatcher hands it, one at a time, until told to exit.
struct Worker {
    let pool: JobRole
    let dispatcher: Dispatcher
    let executors: [String: any Executor]
    let running: RunningJobs
    let store: Store
    let isRetryable: @Sendable (any Error) -> Bool
    let cache: CacheRegistry?
    let resultHandlers: ResultHandlerRegistry
    let resultHandlerErrorPolicy: ResultHandlerErrorPolicy
    let resultHandlerRetry: ResultHandlerRetry
    /// The tracer of attempt spans; `nil` when tracing is off.
    let tracer: (any Tracer)?
    let logger: Logger

    func run() async {
        var done: Dispatcher.Finished?
        while let job = await dispatcher.nextJob(pool: pool, after: done) {
            done = await execute(job)
        }
    }

    /// Runs one attempt and describes its outcome, with the tokens the executor reported. Never throws: every
    /// failure is an outcome to record. With a tracer, the attempt runs in its span (see `Worker+Tracing.swift`).
    private func execute(_ claimed: ClaimedJob) async -> Dispatcher.Finished {
        let context = AttemptContext { [store, group = claimed.groupID] in try await store.primerOutcome(ofGroup: group) }
        var finished: Dispatcher.Finished
        if let tracer {
            finished = await traced(claimed, tracer: tracer) { await attempt(claimed, context: context) }
        } else {
            finished = await attempt(claimed, context: context)
        }
        finished.completion.usage = context.recordedUsage
        logger.debug("attempt finished", metadata: Self.metadata(of: finished))
        return finished
    }

    private func attempt(_ claimed: ClaimedJob, context: AttemptContext) async -> Dispatcher.Finished {
        var job: Job
        do {
            job = try makeJob(claimed)
            job.attemptContext = context
        } catch {
            return failed(claimed, JobError(type: "InvalidPayload", message: "the stored payload is not valid JSON: \(error)"), retryable: false)
        }
        if let cache, let key = claimed.cacheKey {
            var providerRef = claimed.providerRef
            if claimed.role == .primer {
                do {
                    let context = try claimed.cacheContext.map { try JSONValue(jsonString: $0) }
                    providerRef = try await cache.providerRef(forPrimer: job.payload, key: key, context: context, group: claimed.groupID, job: claimed.id)
                } catch {
                    // Shut down past the grace period while creating or waiting for the entry, or the cache entry
                    // could not be written (a full disk, say): not the job's failure, so hand the job back.
                    if Task.isCancelled || store.isWriteFault(error) {
                        return interrupted(claimed)
                    }
                    return failed(claimed, JobError(thrown: error), retryable: !(error is CancellationError) && isRetryable(error))
                }
            }
            job.cache = cache.handle(key: key, providerRef: providerRef, group: claimed.groupID)
        }
        guard let executor = executors[claimed.executor] else {
            return failed(claimed, JobError(type: "UnknownExecutor", message: "no executor named '\(claimed.executor)' is registered"), retryable: false)
        }
        // The executor runs in its own task so that cancelling this one job (or timing it out) does not need the
        // cooperation of anything else. The attempt's outcome is whichever comes first: the executor's result, the
        // timeout, or this worker's cancellation.
        let race = OutcomeRace()
        let task = Task {
            do {
                let output = try await executor.execute(job)
                race.decide(.finished(.success(output)))
                return output
            } catch {
                race.decide(.finished(.failure(error)))
                throw error
            }
        }
        running.insert(claimed.id, attempt: claimed.attempt, task)
        defer { running.remove(claimed.id, attempt: claimed.attempt) }
        let result = await withTaskCancellationHandler {
            await Self.outcome(of: task, timeout: claimed.timeout, race: race)
        } onCancel: {
            task.cancel()
            // The engine is shutting down past its grace period: an executor that ignores cancellation must not
            // hold the shutdown, so stop waiting for it.
            race.decide(.interrupted)
        }
        // A success that came in before the shutdown cut the attempt off is recorded; any other outcome of an
        // attempt the shutdown cancelled (typically the executor's CancellationError) hands the job back.
        let outcome: Outcome =
            switch result {
            case .finished(.success): result
            default: Task.isCancelled ? .interrupted : result
            }
        switch outcome {
        case .interrupted:
            // The engine is shutting down past its grace period: hand the job back without using up an attempt.
            return interrupted(claimed)
        case .finished(.success(let output)):
            if let handler = claimed.resultHandler { return await handle(output, of: job, claimed, handler: handler) }
            return succeeded(claimed, output)
        case .finished(.failure(let error)):
            if let invalid = error as? CacheInvalidError, let cache, let handle = job.cache {
                await cache.invalidate(key: handle.key, providerRef: handle.providerRef, reason: invalid.reason, group: claimed.groupID)
            }
            if let retryAfter = error as? RetryAfterError {
                return failed(claimed, JobError(thrown: error), retryable: true, delay: retryAfter.delay, rateLimited: retryAfter.isRateLimit)
            }
            return failed(claimed, JobError(thrown: error), retryable: !(error is NonRetryableError) && !(error is CancellationError) && isRetryable(error))
        case .timedOut(let seconds):
            let error = JobError(type: "timeout", message: "the attempt ran longer than the job timeout of \(seconds) s and was cancelled")
            return failed(claimed, error, retryable: true, timedOut: true)
        }
    }

    /// A successful attempt. An output the store cannot give back unchanged fails the attempt rather than being lost
    /// on reading.
    func succeeded(_ claimed: ClaimedJob, _ output: JSONValue, handlerEvent: Completion.HandlerEvent? = nil) -> Dispatcher.Finished {
        let text: String
        switch StoredJSON.text(output) {
        case .success(let stored): text = stored
        case .failure(let refusal):
            return failed(claimed, JobError(type: "InvalidOutput", message: "the output \(refusal.message)"), retryable: false)
        }
        return Dispatcher.Finished(
            completion: Completion(job: claimed, outcome: .succeeded(output: text), finishedAt: Self.now, handlerEvent: handlerEvent),
            output: output
        )
    }

    /// The attempt was cut off because the engine is shutting down past its grace period: the job goes back without
    /// using up an attempt.
    func interrupted(_ claimed: ClaimedJob) -> Dispatcher.Finished {
        Dispatcher.Finished(completion: Completion(job: claimed, outcome: .failed(.init(error: .shutdown)), finishedAt: Self.now), output: nil, released: true)
    }

    private func makeJob(_ claimed: ClaimedJob) throws -> Job {
        Job(
            id: claimed.id, groupKey: claimed.groupKey, role: claimed.role, followerIndex: claimed.followerIndex,
            lane: claimed.lane, attempt: claimed.attempt, payload: try JSONValue(jsonString: claimed.payload),
            groupContext: try claimed.groupContext.map { try JSONValue(jsonString: $0) },
            cache: claimed.cacheKey.map { CacheHandle(key: $0, providerRef: nil) }, resubmits: claimed.resubmits
        )
    }

    /// A failed attempt: retried after `delay`, or else the policy's backoff, while attempts are left and the error
    /// allows it. Attempts abandoned by a process that died count neither against the budget nor in the backoff.
    func failed(
        _ claimed: ClaimedJob, _ error: JobError, retryable: Bool, timedOut: Bool = false, delay: Duration? = nil,
        rateLimited: Bool = false, handlerEvent: Completion.HandlerEvent? = nil
    ) -> Dispatcher.Finished {
        var retryAfter: Double?
        if retryable, claimed.hasAttemptsLeft {
            retryAfter = max(0, (delay ?? claimed.retryPolicy.delay(afterAttempt: claimed.countedAttempt, random: Double.random(in: 0..<1))).seconds)
        }
        let failure = Completion.Failure(error: error, timedOut: timedOut, retryAfter: retryAfter, rateLimited: rateLimited)
        return Dispatcher.Finished(
            completion: Completion(job: claimed, outcome: .failed(failure), finishedAt: Self.now, handlerEvent: handlerEvent), output: nil
        )
    }

    static var now: Double { WallClock.now }

    fileprivate enum Outcome {
        case finished(Result<JSONValue, any Error>)
        case timedOut(Double)
        /// The worker was cancelled (the engine is shutting down past its grace period).
        case interrupted
    }

    /// Waits for the first outcome of the attempt. With a timeout, the executor task is cancelled when it comes
    /// first and left to finish on its own, so an executor that ignores cancellation cannot hold the worker.
    private static func outcome(of task: Task<JSONValue, any Error>, timeout: Double?, race: OutcomeRace) async -> Outcome {
        let timer = timeout.map { timeout in
            Task {
                try? await Task.sleep(for: .seconds(timeout))
                if race.decide(.timedOut(timeout)) { task.cancel() }
            }
        }
        let outcome = await race.wait()
        timer?.cancel()
        return outcome
    }
}

/// The first outcome of an attempt; later ones are ignored.
private final class OutcomeRace: Sendable {
    private struct State {
        var decided: Worker.Outcome?
        var waiter: CheckedContinuation<Worker.Outcome, Never>?
    }

    private let state = Locked(State())

    /// Records `outcome` if none was yet; returns whether it was the first.
    @discardableResult
    func decide(_ outcome: Worker.Outcome) -> Bool {
        let (first, waiter) = state.withLock { state -> (Bool, CheckedContinuation<Worker.Outcome, Never>?) in
            guard state.decided == nil else { return (false, nil) }
            state.decided = outcome
            defer { state.waiter = nil }
            return (true, state.waiter)
        }
        waiter?.resume(returning: outcome)
        return first
    }

    /// Waits for the first outcome (returns at once when it is known).
    func wait() async -> Worker.Outcome {
        await withCheckedContinuation { continuation in
            let known = state.withLock { state -> Worker.Outcome? in
                if state.decided == nil { state.waiter = continuation }
                return state.decided
            }
            if let known { continuation.resume(returning: known) }
        }
    }
}

extension JobError {
    /// Records a thrown error: its type name and description, with secrets redacted.
    init(thrown error: any Error) {
        if let error = error as? JobError {
            self.init(type: error.type, message: SecretRedactor.redact(error.message))
        } else if let error = error as? NonRetryableError {
            self.init(thrown: error.underlying)
        } else if let error = error as? RetryAfterError {
            self.init(thrown: error.underlying)
        } else if error is CancellationError {
            self.init(type: "cancelled", message: "the attempt was cancelled")
        } else {
            self.init(type: String(describing: Swift.type(of: error)), message: SecretRedactor.redact(String(describing: error)))
        }
    }

    /// The attempt was stopped because its engine shut down.
    static let shutdown = JobError(type: "shutdown", message: "the engine shut down while the attempt ran")
}
