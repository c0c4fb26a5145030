/// Where an engine is in its life, and how its shutdown went: the one place ``ActyEngine/run()``,
/// ``ActyEngine/shutdown()`` and the API's checks agree on it.
///
/// An engine is created, runs in one call of `run()` until a stop is asked for, then finishes with an outcome: done,
/// or the error its shutdown ran into. An engine asked to stop before it ever ran finishes without running.
final class EngineLifecycle: Sendable {
    private struct State {
        var isRunning = false
        var isStopping = false
        var outcome: Result<Void, any Error>?
        var stopWaiters: [CheckedContinuation<Void, Never>] = []
        var outcomeWaiters: [CheckedContinuation<Result<Void, any Error>, Never>] = []
    }

    private let state = Locked(State())

    /// Whether a stop was asked for: the engine takes no new work.
    var isStopping: Bool { state.withLock { $0.isStopping } }

    /// Marks the engine running; `false` when it already runs or a stop was asked for (the caller must not run it).
    func start() -> Bool {
        state.withLock { state in
            guard !state.isRunning, !state.isStopping else { return false }
            state.isRunning = true
            return true
        }
    }

    /// Asks the engine to stop; returns `true` to the first caller when the engine never ran, which then finishes
    /// it (the running engine's `run()` does otherwise).
    func requestStop() -> Bool {
        let (finishesIdle, waiters) = state.withLock { state in
            let finishesIdle = !state.isStopping && !state.isRunning
            state.isStopping = true
            defer { state.stopWaiters = [] }
            return (finishesIdle, state.stopWaiters)
        }
        for waiter in waiters { waiter.resume() }
        return finishesIdle
    }

    /// Waits until a stop is asked for.
    func stopRequested() async {
        await withCheckedContinuation { continuation in
            let isStopping = state.withLock { state in
                if !state.isStopping { state.stopWaiters.append(continuation) }
                return state.isStopping
            }
            if isStopping { continuation.resume() }
        }
    }

    /// Records how the shutdown went: the engine is finished.
    func finish(_ outcome: Result<Void, any Error>) {
        let waiters = state.withLock { state in
            precondition(state.outcome == nil, "an engine finishes once")
            state.outcome = outcome
            defer { state.outcomeWaiters = [] }
            return state.outcomeWaiters
        }
        for waiter in waiters { waiter.resume(returning: outcome) }
    }

    /// Waits until the engine has finished, and returns how its shutdown went.
    func outcome() async -> Result<Void, any Error> {
        await withCheckedContinuation { continuation in
            let outcome = state.withLock { state in
                if state.outcome == nil { state.outcomeWaiters.append(continuation) }
                return state.outcome
            }
            if let outcome { continuation.resume(returning: outcome) }
        }
    }
}
