import ActyStore
import Foundation
import Logging

/// The Acty engine: runs groups of jobs durably from a SQLite file.
///
/// Creating an engine opens (or creates) the database, registers this process in its `workers` table and starts the
/// primer and follower worker pools. Work survives the process: what is queued when it stops stays in the file for
/// the next engine that opens it.
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
    let dispatcher: Dispatcher
    let runningJobs = RunningJobs()
    /// The cache registry, when the engine has a cache provider.
    let cacheRegistry: CacheRegistry?
    private let finished = ShutdownSignal()
    /// Whether another engine has been seen working on the database: handles are then also resolved from it.
    let sawPeers = Locked(false)
    /// Lanes known to exist: configured, found in the database, or created by this engine. A submit to any other
    /// lane looks in the database first (see ``checkLane(_:)``).
    let knownLanes = Locked<Set<String>>([])
    /// Executors this engine has reported missing (see ``reportMissingExecutors()``): each is reported once.
    let reportedMissingExecutors = Locked<Set<String>>([])
    /// When this engine started, in Unix epoch seconds.
    let startedAt = WallClock.now
    private let events: AsyncStream<[EventRecord]>.Continuation?
    private let running: Locked<Task<Void, Never>?>
    private let delivery: Task<Void, Never>?
    private let stopped = Locked(false)

    /// Opens the database and starts the worker pools.
    ///
    /// - Parameters:
    ///   - database: the SQLite file (created when missing) or an in-memory database.
    ///   - configuration: pools, lanes, policies and durability.
    ///   - executors: the executors jobs can name; the first is the default.
    ///   - cacheProvider: creates the cache or session state groups with a `cacheKey` share.
    /// - Throws: ``ActyError`` when the configuration is invalid, or the database cannot be opened, is read-only,
    ///   or was written by a newer version of Acty.
    public init(
        database: DatabaseLocation,
        configuration: EngineConfiguration = EngineConfiguration(),
        executors: [any Executor],
        cacheProvider: (any CacheProvider)? = nil
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
        self.configuration = configuration
        self.executors = byName
        self.defaultExecutor = first.name
        self.workerID = Self.makeWorkerID()

        var sinkStream: AsyncStream<[EventRecord]>?
        var observer: (@Sendable ([EventRecord]) -> Void)?
        if !configuration.eventSinks.isEmpty {
            let (stream, continuation) = AsyncStream.makeStream(of: [EventRecord].self)
            sinkStream = stream
            events = continuation
            observer = { continuation.yield($0) }
        } else {
            events = nil
        }
        store = try await Store.open(database, durability: configuration.durability, busyTimeout: configuration.busyTimeout, eventObserver: observer)
        registry = ResultRegistry(store: store)
        dispatcher = Dispatcher(
            store: store, workerID: workerID, executors: byName.keys.sorted(),
            workers: configuration.primerWorkers + configuration.followerWorkers, workStealing: configuration.workStealing,
            leaseDuration: configuration.leaseDuration, stopRetryLimit: configuration.busyTimeout, registry: registry,
            running: runningJobs, logger: configuration.logger
        )
        store.attach(dispatcher)
        running = Locked(nil)
        if let cacheProvider {
            cacheRegistry = CacheRegistry(
                provider: cacheProvider, store: store, workerID: workerID, leaseDuration: configuration.leaseDuration,
                timeToLive: configuration.cacheTimeToLive, pollInterval: configuration.pollInterval, logger: configuration.logger
            )
        } else {
            cacheRegistry = nil
        }
        if let sinkStream {
            delivery = Task { [configuration] in
                await EventDelivery.run(sinkStream, to: configuration.eventSinks, logger: configuration.logger)
            }
        } else {
            delivery = nil
        }

        var lanes: [String: (weight: Double, maxInflight: Int?)] = [:]
        for (name, lane) in configuration.lanes { lanes[name] = (lane.weight, lane.maxInflight) }
        do {
            try await store.configureLanes(lanes, worker: workerID)
            try await store.registerWorker(
                WorkerRegistration(
                    id: workerID, pid: Int(ProcessInfo.processInfo.processIdentifier), host: ProcessInfo.processInfo.hostName,
                    primerWorkers: configuration.primerWorkers, followerWorkers: configuration.followerWorkers,
                    executors: byName.keys.sorted()
                )
            )
        } catch {
            // Nothing runs yet: release the sinks and the database before reporting the failure.
            events?.finish()
            await delivery?.value
            try? await store.close()
            throw error
        }
        // The pools run on their own task so that the engine works as soon as it is created, as its API promises;
        // `shutdown()` ends that task and waits for it.
        let task = Task { [self] in
            await self.runPools()
        }
        running.withLock { $0 = task }
        configuration.logger.debug("engine started", metadata: ["worker.id": "\(workerID)"])
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
    /// Calling `shutdown()` again waits for the first call to finish.
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
        let first = stopped.withLock { stopped in
            defer { stopped = true }
            return !stopped
        }
        guard first else { return await finished.wait() }
        defer { finished.signal() }
        dispatcher.stop()
        if let pools = running.withLock({ $0 }) {
            let grace = configuration.gracefulShutdownTimeout
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await pools.value }
                group.addTask {
                    try? await Task.sleep(for: grace)
                    pools.cancel()
                }
                await group.next()
                group.cancelAll()
            }
            await pools.value
        }
        // Every step runs even when an earlier one failed; the first failure is reported at the end.
        var failures: [any Error] = []
        let unrecorded = dispatcher.unrecorded
        if unrecorded.isEmpty {
            do { try await store.unregisterWorker(workerID) } catch { failures.append(error) }
        } else {
            // Still registered, this engine's jobs are rescued as soon as the next engine on this host sees that its
            // process is gone, instead of when their leases expire.
            failures.append(Self.notRecordedError(unrecorded))
        }
        events?.finish()
        await delivery?.value
        registry.failAll(
            ActyError(.engineStopped, "the engine shut down before the job finished; it stays queued in the database for the next engine")
        )
        do { try await store.close() } catch { failures.append(error) }
        for failure in failures.dropFirst() {
            configuration.logger.error("shutting down failed", metadata: ["error": "\(failure)"])
        }
        if let first = failures.first { throw first }
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

    /// Waits until the engine has shut down.
    func waitUntilShutDown() async {
        await finished.wait()
    }

    /// Throws when the engine has been shut down.
    func checkRunning() throws {
        if stopped.withLock({ $0 }) {
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
