import ActyStore
import CoreMetrics
import Foundation
import Logging
import Tracing

/// The Acty engine: runs groups of jobs durably from a SQLite file.
///
/// Creating an engine opens (or creates) the database and registers this process in its `workers` table; the primer
/// and follower worker pools and the engine's housekeeping run in ``run()``. Work survives the process: what is
/// queued when it stops stays in the file for the next engine that opens it.
///
/// For scripts and tools, an engine runs in the background from its creation (its initialiser starts ``run()`` on a
/// task of its own) and ``shutdown()`` ends it:
///
/// ```swift
/// let engine = try await ActyEngine(
///     database: .file("acty.db"),
///     configuration: EngineConfiguration(primerWorkers: 2, followerWorkers: 8),
///     executors: [EchoExecutor()]
/// )
/// let submission = try await engine.submitGroup(
///     "release-readiness",
///     primer: ["agent": "coordinator"],
///     followers: [["agent": "specialist:ops"], ["agent": "specialist:perf"]]
/// )
/// for job in submission.jobs { print(try await job.result().status) }
/// try await engine.shutdown()
/// ```
///
/// In a server, create it with `runsInBackground: false` and let a swift-service-lifecycle `ServiceGroup` run it:
/// the engine then works in the group's task, and the group's graceful shutdown shuts it down (see ``run()``).
public final class ActyEngine: Sendable {
    /// This engine process's id in the `workers` table, lease owner of the jobs it runs.
    public let workerID: String
    /// The configuration the engine runs with.
    public let configuration: EngineConfiguration
    /// The name of the executor jobs use when none is given: the first one registered.
    public let defaultExecutor: String

    let store: Store
    let registry: ResultRegistry
    let executors: [String: any Executor]
    /// The result handlers this engine has, by name.
    let resultHandlers: ResultHandlerRegistry
    let dispatcher: Dispatcher
    /// The engine's metrics (disabled with swift-metrics' no-op factory).
    let metrics: EngineMetrics
    /// The tracer of attempt spans, or `nil` when tracing is off (the no-op tracer).
    let tracer: (any Tracer)?
    let runningJobs = RunningJobs()
    /// The cache registry, when the engine has a cache provider.
    let cacheRegistry: CacheRegistry?
    let lifecycle = EngineLifecycle()
    /// Whether another engine has been seen working on the database: handles are then also resolved from it.
    let sawPeers = Locked(false)
    /// Lanes known to exist: configured, found in the database, or created by this engine. A submit to any other
    /// lane looks in the database first (see ``checkLane(_:)``).
    let knownLanes = Locked<Set<String>>([])
    /// Executors this engine has reported missing (see ``reportMissingExecutors()``): each is reported once.
    let reportedMissingExecutors = Locked<Set<String>>([])
    /// When this engine started, in Unix epoch seconds.
    let startedAt = WallClock.now
    /// Committed events on their way to the sinks (`nil` without sinks): ``run()`` delivers them, or
    /// ``shutdown()`` when the engine never ran.
    let events: (stream: AsyncStream<[EventRecord]>, continuation: AsyncStream<[EventRecord]>.Continuation)?
    /// The task the engine runs on when it runs in the background.
    private let background = Locked<Task<Void, Never>?>(nil)

    /// Opens the database and registers this engine in it; by default, also starts running it in the background.
    ///
    /// With `runsInBackground: true` (the default) the engine works as soon as it is created: ``run()`` runs on a
    /// task of the engine's own until ``shutdown()`` ends it and waits for it. That suits scripts, tools and tests.
    /// With `false`, nothing runs until you call ``run()``, typically as one of a `ServiceGroup`'s services, so the
    /// engine's work lives in a task you own; submissions are stored meanwhile and run once it does.
    ///
    /// Opening the file waits on a dispatch thread, not on the concurrency pool: it may wait for locks another
    /// process holds, up to ``EngineConfiguration/busyTimeout``.
    ///
    /// - Parameters:
    ///   - database: the SQLite file (created when missing) or an in-memory database.
    ///   - configuration: pools, lanes, policies and durability.
    ///   - executors: the executors jobs can name; the first is the default.
    ///   - cacheProvider: creates the cache or session state groups with a `cacheKey` share.
    ///   - runsInBackground: whether the engine starts ``run()`` on a task of its own now; `false` leaves calling
    ///     ``run()`` to you.
    /// - Throws: ``ActyError`` when the configuration is invalid, or the database cannot be opened, is read-only,
    ///   or was written by a newer version of Acty.
    public init(
        database: DatabaseLocation,
        configuration: EngineConfiguration = EngineConfiguration(),
        executors: [any Executor],
        cacheProvider: (any CacheProvider)? = nil,
        runsInBackground: Bool = true
    ) async throws {
        try configuration.validate()
        guard let first = executors.first else {
            throw ActyError(.invalidArgument, "register at least one executor, e.g. executors: [EchoExecutor()]")
        }
        var byName: [String: any Executor] = [:]
        for executor in executors {
            guard byName.updateValue(executor, forKey: executor.name) == nil else {
                throw ActyError(.invalidArgument, "two executors are named '\(executor.name)': executor names must be unique")
            }
        }
        for limit in configuration.rateLimits where byName[limit.executor] == nil {
            throw ActyError(
                .invalidArgument,
                "the rate limit names executor '\(limit.executor)', which this engine does not register (it has \(byName.keys.sorted().map { "'\($0)'" }.joined(separator: ", ")))"
            )
        }
        resultHandlers = try ResultHandlerRegistry(
            (configuration.resultHandler.map { [$0] } ?? []) + configuration.additionalResultHandlers
        )
        self.configuration = configuration
        self.executors = byName
        self.defaultExecutor = first.name
        self.workerID = Self.makeWorkerID()

        var observer: (@Sendable ([EventRecord]) -> Void)?
        if !configuration.eventSinks.isEmpty {
            let (stream, continuation) = AsyncStream.makeStream(of: [EventRecord].self)
            events = (stream, continuation)
            observer = { continuation.yield($0) }
        } else {
            events = nil
        }
        store = try await Store.open(database, durability: configuration.durability, busyTimeout: configuration.busyTimeout, eventObserver: observer)
        store.setAdmission(configuration.maxActiveGroups.map { AdmissionSettings(cap: $0, burstAllowance: configuration.burstAllowance) })
        registry = ResultRegistry(store: store)
        let metrics = EngineMetrics(factory: configuration.metricsFactory ?? MetricsSystem.factory)
        self.metrics = metrics
        let tracer = configuration.tracer ?? InstrumentationSystem.tracer
        self.tracer = tracer is NoOpTracer ? nil : tracer
        dispatcher = Dispatcher(
            store: store, workerID: workerID, executors: byName.keys.sorted(), resultHandlers: resultHandlers,
            workers: configuration.primerWorkers + configuration.followerWorkers, workStealing: configuration.workStealing,
            leaseDuration: configuration.leaseDuration, stopRetryLimit: configuration.busyTimeout, registry: registry,
            running: runningJobs, logger: configuration.logger, metrics: metrics,
            batchTracer: configuration.tracesWriteBatches ? self.tracer : nil
        )
        store.attach(dispatcher)
        if let cacheProvider {
            cacheRegistry = CacheRegistry(
                provider: cacheProvider, store: store, workerID: workerID, leaseDuration: configuration.leaseDuration,
                timeToLive: configuration.cacheTimeToLive, pollInterval: configuration.pollInterval, logger: configuration.logger,
                metrics: metrics
            )
        } else {
            cacheRegistry = nil
        }

        var lanes: [String: (weight: Double, maxInflight: Int?)] = [:]
        for (name, lane) in configuration.lanes { lanes[name] = (lane.weight, lane.maxInflight) }
        do {
            try await store.configureLanes(lanes, worker: workerID)
            try await store.configureRateLimits(configuration.rateLimits, executors: byName.keys.sorted(), worker: workerID)
            try await store.registerWorker(
                WorkerRegistration(
                    id: workerID, pid: Int(ProcessInfo.processInfo.processIdentifier), host: ProcessInfo.processInfo.hostName,
                    primerWorkers: configuration.primerWorkers, followerWorkers: configuration.followerWorkers,
                    executors: byName.keys.sorted(), resultHandlers: resultHandlers.names
                )
            )
        } catch {
            // Nothing runs yet: release the sinks and the database before reporting the failure.
            await deliverRemainingEvents()
            do {
                try await store.close()
            } catch let closeError {
                configuration.logger.error("closing the database failed", metadata: ["error": "\(closeError)"])
            }
            throw error
        }
        configuration.logger.debug("engine started", metadata: ["worker.id": "\(workerID)"])
        if runsInBackground {
            // The convenience for scripts: `run()` on a task of its own, which `shutdown()` ends and waits for. How
            // the shutdown went is kept in the lifecycle, and `shutdown()` throws it.
            _ = lifecycle.start()  // a new engine: always starts
            let task = Task { [self] in await runUntilShutDown() }
            background.withLock { $0 = task }
        }
    }

    /// A short id, unique per engine run: it is stored with every event, so it is kept small; the `workers` row
    /// holds the host and pid.
    private static func makeWorkerID() -> String {
        let pid = ProcessInfo.processInfo.processIdentifier
        let random = String(UInt32.random(in: 0x1000_0000...UInt32.max), radix: 16)
        return "w\(pid)-\(random)"
    }

    /// Stops the engine gracefully: no new jobs are claimed, running jobs get
    /// ``EngineConfiguration/gracefulShutdownTimeout`` to finish and be recorded, then the ones still running are
    /// cancelled and handed back to the queue without using up an attempt. Queued work stays in the database for
    /// the next process; the event sinks are flushed and closed.
    ///
    /// Waiting ``JobHandle/result()`` calls for jobs that did not finish throw ``ActyError/Code/engineStopped``.
    /// The engine's ``run()`` returns once it has shut down. Calling `shutdown()` again, or while a graceful shutdown
    /// of `run()` is under way, waits for that shutdown and reports how it went.
    ///
    /// When the database cannot be written (a full disk, a read-only file system, an I/O error, a lock held by
    /// another process), the engine keeps trying to record its last completions for
    /// ``EngineConfiguration/busyTimeout``, then shuts down anyway and throws: the jobs it could not record stay
    /// `running` under its lease in the database, and the next engine that opens it rescues and runs them again.
    ///
    /// - Throws: ``ActyError/Code/outcomeNotRecorded`` with the number of outcomes that were not recorded, and the
    ///   write error as ``ActyError/cause``; or the error that kept the engine from recording that it stopped, or
    ///   from closing the database. The engine is shut down in every case.
    public func shutdown() async throws {
        if requestShutdown() {
            // The engine never ran: there is nothing to stop, only its registration to end.
            lifecycle.finish(await finishShutdown(delivery: nil))
        }
        let outcome = await lifecycle.outcome()
        await background.withLock({ $0 })?.value
        try outcome.get()
    }

    /// Asks the engine to stop: it claims no new jobs from now on, and ``run()`` gives the running ones the grace
    /// period, then shuts down. Returns `true` to the first caller when the engine never ran: it then finishes the
    /// shutdown itself (see ``finishShutdown(delivery:)``).
    @discardableResult
    func requestShutdown() -> Bool {
        let finishesIdle = lifecycle.requestStop()
        dispatcher.stop()
        return finishesIdle
    }

    /// The last steps of a shutdown, once no worker runs: records that this engine stopped, delivers the last
    /// events, fails the handles still waiting and closes the database. Every step runs even when an earlier one
    /// failed; the first failure is the outcome, the others are logged.
    ///
    /// - Parameter delivery: the task delivering events to the sinks, when ``run()`` started one.
    func finishShutdown(delivery: Task<Void, Never>?) async -> Result<Void, any Error> {
        var failures: [any Error] = []
        let unrecorded = dispatcher.unrecorded
        if unrecorded.isEmpty {
            do { try await store.unregisterWorker(workerID) } catch { failures.append(error) }
        } else {
            // Still registered, this engine's jobs are rescued as soon as the next engine on this host sees that its
            // process is gone, instead of when their leases expire.
            failures.append(Self.notRecordedError(unrecorded))
        }
        if let delivery {
            events?.continuation.finish()
            await delivery.value
        } else {
            await deliverRemainingEvents()
        }
        registry.failAll(
            ActyError(.engineStopped, "the engine shut down before the job finished; it stays queued in the database for the next engine")
        )
        do { try await store.close() } catch { failures.append(error) }
        for failure in failures.dropFirst() {
            configuration.logger.error("shutting down failed", metadata: ["error": "\(failure)"])
        }
        return failures.first.map { .failure($0) } ?? .success(())
    }

    /// Ends the event stream and hands what it holds to the sinks, then closes them: for an engine that never ran.
    private func deliverRemainingEvents() async {
        guard let events else { return }
        events.continuation.finish()
        await EventDelivery.run(events.stream, to: configuration.eventSinks, logger: configuration.logger)
    }

    private static func notRecordedError(_ unrecorded: Dispatcher.Unrecorded) -> ActyError {
        var parts = ["\(unrecorded.completions) finished attempt\(unrecorded.completions == 1 ? "" : "s")"]
        if unrecorded.releases > 0 { parts.append("\(unrecorded.releases) interrupted job\(unrecorded.releases == 1 ? "" : "s")") }
        let reason = unrecorded.lastError.map { " (\(ResultRegistry.reason($0)))" } ?? ""
        return ActyError(
            .outcomeNotRecorded,
            "the engine shut down without recording \(parts.joined(separator: " and "))\(reason): they stay running in the database "
                + "under this engine's lease, and the next engine that opens it rescues and runs them again",
            cause: unrecorded.lastError
        )
    }

    /// Throws when the engine has been shut down.
    func checkRunning() throws {
        if lifecycle.isStopping {
            throw ActyError(.engineStopped, "the engine has been shut down: create a new ActyEngine to submit work")
        }
    }

    /// The executor name a job uses, checked against the registered executors.
    func executorName(_ requested: String?) throws -> String {
        let name = requested ?? defaultExecutor
        guard executors[name] != nil else {
            throw ActyError(
                .unknownExecutor,
                "no executor named '\(name)' is registered; registered: \(executors.keys.sorted().joined(separator: ", "))"
            )
        }
        return name
    }
}
