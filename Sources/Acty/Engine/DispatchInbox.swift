import ActyCore
import ActyStore

/// What the next dispatch transaction will carry: finished jobs to record and idle workers to fill.
///
/// The dispatcher adds to it; the writer thread empties it when a dispatch transaction begins (``take(claiming:)``),
/// not when the transaction was queued. While one transaction commits, everything workers report accumulates here
/// and goes into the next one, so under load commits grow instead of multiplying.
///
/// Idle workers are kept as the continuations they wait on. A transaction that takes them *reserves* them: once it
/// has committed, ``handOut(_:from:)`` gives each claimed job to one of them, on the writer thread, and puts the
/// rest back; nothing else can take or send home a reserved worker meanwhile.
final class DispatchInbox: Sendable {
    /// A worker waiting for its next job (`nil` tells it to exit).
    typealias IdleWorker = CheckedContinuation<ClaimedJob?, Never>

    /// What one transaction took.
    struct Taken: Sendable {
        var finished: [Dispatcher.Finished] = []
        var workers: [JobRole: [IdleWorker]] = [:]

        var primerWorkers: Int { workers[.primer]?.count ?? 0 }
        var followerWorkers: Int { workers[.follower]?.count ?? 0 }
    }

    private struct State {
        var finished: [Dispatcher.Finished] = []
        var idle: [JobRole: [IdleWorker]] = [.primer: [], .follower: []]
        var isStopping = false
    }

    private let state = Locked(State())

    /// A worker finished a job.
    func add(_ finished: Dispatcher.Finished) {
        state.withLock { $0.finished.append(finished) }
    }

    /// Finished jobs of a transaction that failed, to record in the next one (before later ones).
    func putBack(_ finished: [Dispatcher.Finished]) {
        guard !finished.isEmpty else { return }
        state.withLock { $0.finished = finished + $0.finished }
    }

    var hasFinished: Bool { state.withLock { !$0.finished.isEmpty } }

    /// Jobs whose finished attempt waits to be recorded (not the ones handed back unfinished).
    var finishedJobs: Set<JobID> {
        state.withLock { Set($0.finished.lazy.filter { !$0.released }.map(\.completion.job.id)) }
    }

    /// A worker of `pool` waits for a job.
    func workerIdle(_ pool: JobRole, _ worker: IdleWorker) {
        state.withLock { $0.idle[pool]!.append(worker) }
    }

    /// Idle workers of `pool` no transaction has reserved.
    func free(_ pool: JobRole) -> Int {
        state.withLock { $0.idle[pool]!.count }
    }

    /// Reserves no more workers: the engine is stopping.
    func stopReserving() {
        state.withLock { $0.isStopping = true }
    }

    /// Takes the idle workers no transaction counts on, for the caller to send home.
    func takeUnreserved() -> [IdleWorker] {
        state.withLock { state in
            defer { state.idle = [.primer: [], .follower: []] }
            return state.idle[.primer]! + state.idle[.follower]!
        }
    }

    /// Empties the inbox for a transaction that begins now; with `claiming`, also reserves every idle worker.
    func take(claiming: Bool) -> Taken {
        state.withLock { state in
            var taken = Taken(finished: state.finished)
            state.finished = []
            if claiming, !state.isStopping {
                taken.workers = state.idle
                state.idle = [.primer: [], .follower: []]
            }
            return taken
        }
    }

    /// Gives each job a worker `taken` reserved for its pool and puts the other reserved workers back.
    func handOut(_ jobs: [ClaimedJob], from taken: Taken) {
        var workers = taken.workers
        var assignments: [(IdleWorker, ClaimedJob)] = []
        assignments.reserveCapacity(jobs.count)
        for job in jobs {
            guard let worker = workers[job.pool]?.popLast() else {
                preconditionFailure("claimed more jobs than idle workers of the \(job.pool) pool")
            }
            assignments.append((worker, job))
        }
        release(Taken(workers: workers))
        for (worker, job) in assignments { worker.resume(returning: job) }
    }

    /// Puts reserved workers back (their transaction failed, or claimed fewer jobs than workers).
    func release(_ taken: Taken) {
        guard taken.primerWorkers + taken.followerWorkers > 0 else { return }
        state.withLock { state in
            for (pool, workers) in taken.workers { state.idle[pool]! += workers }
        }
    }
}

/// The inbox contents one transaction took, taken at most once however often the transaction body runs.
final class TakenOnce: Sendable {
    private let value = Locked<DispatchInbox.Taken?>(nil)

    /// What was taken, taking it with `take` the first time.
    func callAsFunction(_ take: () -> DispatchInbox.Taken) -> DispatchInbox.Taken {
        value.withLock { value in
            if let value { return value }
            let taken = take()
            value = taken
            return taken
        }
    }

    /// What was taken, if the transaction body ran.
    var taken: DispatchInbox.Taken? { value.withLock { $0 } }
}
