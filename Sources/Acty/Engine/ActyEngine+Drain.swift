import ActyStore
import Logging
import Foundation

extension ActyEngine {
    /// Waits until the database has no job that is ready, scheduled or running: everything queued in the file is
    /// done, also work submitted by other processes and by processes that have died (their running jobs are rescued
    /// and run here or in another live engine).
    ///
    /// What drain waits for, precisely:
    /// - every job that is `ready`, `scheduled` (a retry waiting for its backoff) or `running`, in any engine;
    /// - followers `blocked` behind a primer that is still to run: that primer is ready, scheduled or running, and
    ///   the followers become ready when it succeeds, so drain waits for them too;
    /// - groups blocked by a dependency (see ``GroupDependency``) on a group that still runs, which become ready in
    ///   the transaction that finishes it, and groups waiting for a dependency that has a timeout.
    ///
    /// What it does not wait for: followers of an open group that has no primer yet (they wait for
    /// ``OpenGroup/submitPrimer(_:maxAttempts:)`` or ``OpenGroup/close()``, which only you can call), and open
    /// groups themselves, which stay open until closed; groups waiting without timeout for a key no group has yet.
    /// List them with ``groups(state:limit:)``.
    ///
    /// Work that no live engine can run does not make drain hang: when nothing runs or can run and jobs remain
    /// whose executor no live engine (this one or another process on the file) has registered, drain throws
    /// ``ActyError/Code/unknownExecutor`` naming those executors and how many jobs need each; register the executor
    /// (or cancel the jobs) and call drain again. Likewise, jobs whose group's result handler no live engine has
    /// make it throw ``ActyError/Code/unknownResultHandler``. Ready jobs of a paused lane are waited for, with a warning in the
    /// log, since resuming the lane lets them run.
    ///
    /// Drain checks with indexed lookups that stop at the first row they find, once per
    /// ``EngineConfiguration/pollInterval``, so it returns within about one poll interval of the last job ending.
    ///
    /// - Throws: ``ActyError/Code/unknownExecutor`` as above; ``ActyError/Code/engineStopped`` when the engine shuts
    ///   down first; `CancellationError` when the waiting task is cancelled.
    public func drain() async throws {
        var warnedPaused = false
        while true {
            try checkRunning()
            do {
                let live = try await liveExecutors()
                let handlers = try await liveResultHandlers()
                let work = try await store.unfinishedWork(executors: live, resultHandlers: handlers)
                if work.isDone { return }
                if !work.isRunning, !work.isRunnable {
                    let missing = try await store.jobsWaitingForExecutors(notIn: live)
                    if !missing.isEmpty { throw Self.cannotDrain(missing, registered: live) }
                    let missingHandlers = try await store.jobsWaitingForResultHandlers(notIn: handlers)
                    if !missingHandlers.isEmpty { throw Self.cannotDrain(missingHandlers: missingHandlers, registered: handlers) }
                    if !warnedPaused {
                        warnedPaused = true
                        configuration.logger.warning("drain waits for ready jobs of paused lanes: resume the lanes to let them run")
                    }
                }
            } catch let error as ActyError where error.code != .unknownExecutor && error.code != .unknownResultHandler {
                // A read that failed because the engine shut down meanwhile (its store closed) says so.
                try checkRunning()
                throw error
            }
            try await Task.sleep(for: configuration.pollInterval)
        }
    }

    private static func cannotDrain(_ missing: [String: Int], registered: Set<String>) -> ActyError {
        let needs = missing.sorted { $0.key < $1.key }.map { "\($0.value) need executor '\($0.key)'" }.joined(separator: ", ")
        return ActyError(
            .unknownExecutor,
            "drain cannot finish: jobs wait for executors no running engine has registered (\(needs)); "
                + "running engines have: \(registered.sorted().joined(separator: ", ")). "
                + "Register the executor in an engine, or cancel those jobs, then drain again"
        )
    }

    private static func cannotDrain(missingHandlers: [String: Int], registered: Set<String>) -> ActyError {
        let needs = missingHandlers.sorted { $0.key < $1.key }.map { "\($0.value) need result handler '\($0.key)'" }.joined(separator: ", ")
        let have = registered.isEmpty ? "none" : registered.sorted().joined(separator: ", ")
        return ActyError(
            .unknownResultHandler,
            "drain cannot finish: jobs wait for result handlers no running engine has (\(needs)); running engines have: \(have). "
                + "Give an engine the handler (EngineConfiguration.resultHandler or additionalResultHandlers), or cancel those jobs, "
                + "then drain again"
        )
    }

    /// Groups in one state, for a process that resumes work it did not submit: re-attach open groups by key with
    /// ``openGroup(_:lane:dependsOn:executor:groupContext:cacheKey:cacheContext:options:)``, wait for closed ones with
    /// ``waitForGroup(_:)``.
    ///
    /// ```swift
    /// for info in try await engine.groups(state: .open) {
    ///     let group = try await engine.openGroup(info.key)
    ///     try await group.close()
    /// }
    /// ```
    ///
    /// - Parameters:
    ///   - state: the state to list.
    ///   - limit: the most groups returned. Live groups (`open`, `closed`) come newest first, finished ones most
    ///     recently finished first.
    /// - Throws: ``ActyError/Code/invalidArgument`` for a limit below 1.
    public func groups(state: GroupState, limit: Int = 100) async throws -> [GroupInfo] {
        try checkRunning()
        guard limit >= 1 else { throw ActyError(.invalidArgument, "the limit must be at least 1, not \(limit)") }
        return try await store.groups(state: state, limit: limit).map(GroupInfo.init)
    }

    /// The executors of the live engines on the database: this one's, and those registered by other engines that
    /// have not stopped (an engine on this host whose process is gone does not count, even before it is marked lost).
    func liveExecutors() async throws -> Set<String> {
        try await liveNames(Set(executors.keys)) { $0.executors }
    }

    /// The result handlers of the live engines on the database, as ``liveExecutors()`` finds executors.
    func liveResultHandlers() async throws -> Set<String> {
        try await liveNames(Set(resultHandlers.names)) { $0.resultHandlers }
    }

    /// This engine's `own` names and those other live engines registered (a JSON array in their `workers` row).
    private func liveNames(_ own: Set<String>, _ registered: (WorkerRecord) -> String?) async throws -> Set<String> {
        var names = own
        for worker in try await store.activeWorkers() where worker.id != workerID {
            if LocalProcess.isGone(host: worker.host, pid: worker.pid) { continue }
            let list = registered(worker).flatMap { try? JSONValue(jsonString: $0) }?.arrayValue ?? []
            names.formUnion(list.compactMap(\.stringValue))
        }
        return names
    }
}
