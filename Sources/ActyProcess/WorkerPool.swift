import ActyCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Up to `poolSize` worker processes, started when a request first needs one and reused while they stay healthy.
///
/// A request takes a worker for itself (``acquire()``) and gives it back (``release(_:reusable:)``); when every worker
/// is busy it waits for one, in order of arrival. A worker given back as not reusable is stopped and its slot freed,
/// so the next request starts a fresh one.
final class WorkerPool: Sendable {
    private struct Waiter: Sendable {
        let id: UInt64
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State: Sendable {
        var idle: [WorkerProcess] = []
        /// Every worker started and not yet given back as broken, busy or idle.
        var live: [pid_t: WorkerProcess] = [:]
        /// Slots taken: live workers plus those being started.
        var slots = 0
        var waiters: [Waiter] = []
        /// Waiters cancelled before they were queued.
        var cancelled: Set<UInt64> = []
        var nextWaiter: UInt64 = 0
        var isShutDown = false
    }

    private let configuration: ProcessExecutorConfiguration
    private let state = Locked(State())

    init(_ configuration: ProcessExecutorConfiguration) {
        self.configuration = configuration
    }

    /// The process ids of the running workers.
    var processIDs: [Int32] { state.withLock { Array($0.live.keys).sorted() } }

    /// A worker for one request: an idle one, a new one when the pool has room, or the next one given back.
    func acquire() async throws -> WorkerProcess {
        enum Step {
            case use(WorkerProcess), start, wait, shutDown
        }
        while true {
            try Task.checkCancellation()
            let step = state.withLock { state -> Step in
                if state.isShutDown { return .shutDown }
                if let worker = state.idle.popLast() { return .use(worker) }
                guard state.slots < configuration.poolSize else { return .wait }
                state.slots += 1
                return .start
            }
            switch step {
            case .use(let worker):
                // An idle worker may have died since its last request: replace it.
                guard worker.isStopped else { return worker }
                release(worker, reusable: false)
            case .start:
                do {
                    let worker = try WorkerProcess.start(configuration)
                    let shutDown = state.withLock { state in
                        if !state.isShutDown { state.live[worker.pid] = worker }
                        return state.isShutDown
                    }
                    if shutDown { worker.stop(.shutdown) }
                    return worker
                } catch {
                    freeSlot()
                    throw error
                }
            case .wait:
                try await waitForWorker()
            case .shutDown:
                throw ProcessExecutorError(.shutDown, "the executor was shut down")
            }
        }
    }

    /// Gives a worker back after a request: an idle worker for the next request when `reusable` and the pool is
    /// running, otherwise stopped, its slot free for a fresh one.
    func release(_ worker: WorkerProcess, reusable: Bool) {
        let keep = reusable && !worker.isStopped
        let waiter = state.withLock { state -> Waiter? in
            if keep, !state.isShutDown {
                state.idle.append(worker)
            } else if state.live.removeValue(forKey: worker.pid) != nil {
                state.slots -= 1
            }
            return state.waiters.isEmpty ? nil : state.waiters.removeFirst()
        }
        if !keep || state.withLock({ $0.isShutDown }) { worker.stop(keep ? WorkerProcess.Stop.shutdown : .discarded) }
        waiter?.continuation.resume()
    }

    private func freeSlot() {
        let waiter = state.withLock { state -> Waiter? in
            state.slots -= 1
            return state.waiters.isEmpty ? nil : state.waiters.removeFirst()
        }
        waiter?.continuation.resume()
    }

    /// Waits until a worker is given back (or a slot frees up); throws `CancellationError` when the task is
    /// cancelled meanwhile.
    private func waitForWorker() async throws {
        let id = state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let outcome = state.withLock { state -> Result<Void, any Error>? in
                    if state.cancelled.remove(id) != nil { return .failure(CancellationError()) }
                    if state.isShutDown { return .failure(ProcessExecutorError(.shutDown, "the executor was shut down")) }
                    // Something came free between the check in acquire() and now.
                    if !state.idle.isEmpty || state.slots < configuration.poolSize { return .success(()) }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> Waiter? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else {
                    state.cancelled.insert(id)
                    return nil
                }
                return state.waiters.remove(at: index)
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Stops every worker and fails the waiting requests; returns once the workers have exited (each gets its
    /// standard input closed, then `SIGTERM` and `SIGKILL` after the grace periods).
    func shutdown() async {
        let workers = stopAll()
        for worker in workers { await worker.waitForExit() }
    }

    /// Stops every worker without waiting for them: for `deinit`.
    @discardableResult
    func stopAll() -> [WorkerProcess] {
        let (workers, waiters) = state.withLock { state in
            state.isShutDown = true
            let workers = Array(state.live.values)
            let waiters = state.waiters
            state.waiters = []
            state.idle = []
            state.live = [:]
            return (workers, waiters)
        }
        for waiter in waiters { waiter.continuation.resume(throwing: ProcessExecutorError(.shutDown, "the executor was shut down")) }
        for worker in workers { worker.stop(.shutdown) }
        return workers
    }
}
