import ActyCore
import ActyStore
import Synchronization

/// What the next dispatch transaction will carry: finished jobs to record and idle workers to fill.
///
/// The dispatcher adds to it; the writer thread empties it when a dispatch transaction begins (``take(claiming:)``),
/// not when the transaction was queued. While one transaction commits, everything workers report accumulates here
/// and goes into the next one, so under load commits grow instead of multiplying.
///
/// Idle workers taken by a transaction are *reserved* for it until the dispatcher has handed out its jobs: they
/// cannot be taken twice, nor sent home by a stopping engine while their jobs are on the way.
final class DispatchInbox: Sendable {
    /// What one transaction took.
    struct Taken: Sendable {
        var finished: [Dispatcher.Finished] = []
        var primerWorkers = 0
        var followerWorkers = 0
    }

    private struct State {
        var finished: [Dispatcher.Finished] = []
        var idle: [JobRole: Int] = [.primer: 0, .follower: 0]
        var reserved: [JobRole: Int] = [.primer: 0, .follower: 0]
        var isStopping = false
    }

    private let state = Mutex(State())

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

    /// A worker of `pool` waits for a job.
    func workerIdle(_ pool: JobRole) {
        state.withLock { $0.idle[pool]! += 1 }
    }

    /// Idle workers of `pool` no transaction has reserved.
    func free(_ pool: JobRole) -> Int {
        state.withLock { $0.idle[pool]! - $0.reserved[pool]! }
    }

    /// Reserves no more workers: the engine is stopping.
    func stopReserving() {
        state.withLock { $0.isStopping = true }
    }

    /// Takes the idle workers no transaction counts on, for the caller to send home.
    func takeUnreserved() -> [JobRole: Int] {
        state.withLock { state in
            var taken: [JobRole: Int] = [:]
            for pool in [JobRole.primer, .follower] {
                taken[pool] = state.idle[pool]! - state.reserved[pool]!
                state.idle[pool]! = state.reserved[pool]!
            }
            return taken
        }
    }

    /// Empties the inbox for a transaction that begins now; with `claiming`, also reserves every free worker.
    func take(claiming: Bool) -> Taken {
        state.withLock { state in
            var taken = Taken(finished: state.finished)
            state.finished = []
            if claiming, !state.isStopping {
                taken.primerWorkers = state.idle[.primer]! - state.reserved[.primer]!
                taken.followerWorkers = state.idle[.follower]! - state.reserved[.follower]!
                state.reserved[.primer]! += taken.primerWorkers
                state.reserved[.follower]! += taken.followerWorkers
            }
            return taken
        }
    }

    /// Ends a transaction's reservation, `assigned` of its workers now having jobs (and no longer idle).
    func release(_ taken: Taken, assigned: [JobRole: Int]) {
        state.withLock { state in
            state.reserved[.primer]! -= taken.primerWorkers
            state.reserved[.follower]! -= taken.followerWorkers
            state.idle[.primer]! -= assigned[.primer, default: 0]
            state.idle[.follower]! -= assigned[.follower, default: 0]
        }
    }
}

/// The inbox contents one transaction took, taken at most once however often the transaction body runs.
final class TakenOnce: Sendable {
    private let value = Mutex<DispatchInbox.Taken?>(nil)

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
