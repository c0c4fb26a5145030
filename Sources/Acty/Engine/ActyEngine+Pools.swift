import ActyStore
import Foundation
import Logging

extension ActyEngine {
    /// Runs the worker pools and the engine's housekeeping until the engine has stopped, as child tasks that have
    /// all ended when it returns:
    /// - the poll timer, which looks for work other processes wrote and for handles of jobs run elsewhere;
    /// - the heartbeat, which renews the leases of running jobs and notices leases this process lost;
    /// - the rescuer, which takes back jobs of workers that died or went silent, at start and periodically;
    /// - the executor watch, which reports jobs waiting for an executor no live engine has.
    ///
    /// Once a stop is asked for, workers take no new jobs; the running ones get the grace period, past which their
    /// workers are cancelled and hand them back. Housekeeping runs until every worker has exited and its last
    /// attempt is recorded (or given up), so the heartbeat keeps the leases of jobs finishing in the grace period.
    func runPools() async {
        await withDiscardingTaskGroup { housekeeping in
            housekeeping.addTask { await self.poll() }
            housekeeping.addTask { await self.heartbeat() }
            housekeeping.addTask { await self.rescue() }
            housekeeping.addTask { await self.watchMissingExecutors() }
            if metrics.isEnabled { housekeeping.addTask { await self.reportQueueDepths() } }
            await withDiscardingTaskGroup { workers in
                for (pool, count) in [(JobRole.primer, configuration.primerWorkers), (.follower, configuration.followerWorkers)] {
                    for _ in 0..<count {
                        workers.addTask {
                            await Worker(
                                pool: pool, dispatcher: self.dispatcher, executors: self.executors, running: self.runningJobs, store: self.store,
                                isRetryable: self.configuration.isRetryable, cache: self.cacheRegistry,
                                resultHandlers: self.resultHandlers, resultHandlerErrorPolicy: self.configuration.resultHandlerErrorPolicy,
                                resultHandlerRetry: self.configuration.resultHandlerRetry, tracer: self.tracer, logger: self.configuration.logger
                            ).run()
                        }
                    }
                }
                await lifecycle.stopRequested()
                await gracePeriod(cancelling: &workers)
            }
            // The workers have exited and the dispatcher has recorded (or given up) their last attempts.
            housekeeping.cancelAll()
        }
    }

    /// Waits until the workers have exited and their attempts are recorded, for at most the grace period: past it,
    /// cancels the workers, and the dispatcher stops retrying writes that fail.
    private func gracePeriod(cancelling workers: inout DiscardingTaskGroup) async {
        await withTaskGroup(of: Bool.self) { race in
            race.addTask {
                await self.dispatcher.waitUntilStopped()
                return true
            }
            race.addTask { [grace = configuration.gracefulShutdownTimeout] in
                // Ends at once when `run()` is cancelled: no grace period then.
                try? await Task.sleep(for: grace)
                return false
            }
            if await race.next() == false { workers.cancelAll() }
            // Cancelled, the dispatcher's wait gives up failing writes; it returns once the workers have exited.
            race.cancelAll()
        }
    }

    private func poll() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.pollInterval)
            dispatcher.tick()
            // Other processes and tools may have recorded outcomes.
            registry.feed.notify()
            await resolveWatchedHandles()
        }
    }

    /// Resolves handles of jobs this process did not run (see ``handle(for:)``) once the database says they ended.
    private func resolveWatchedHandles() async {
        var watched = registry.watchedIDs
        if sawPeers.withLock({ $0 }) {
            // Another engine works on the file (or did): it may finish jobs this process submitted.
            watched += registry.awaitedIDs(limit: 1_000)
        }
        guard !watched.isEmpty else { return }
        do {
            let finished = try await store.jobs(watched).filter { $0.state.isTerminal }
            registry.resolve(finished.map(JobResult.init(record:)))
        } catch {
            configuration.logger.warning("reading watched jobs failed", metadata: ["error": "\(error)"])
        }
    }

    private func heartbeat() async {
        let interval = configuration.leaseDuration / 3
        var lastBeat = ContinuousClock.now
        while !Task.isCancelled {
            try? await Task.sleep(for: min(interval, configuration.pollInterval * 2))
            if Task.isCancelled { return }
            // Jobs that were cancelled or rescued by someone else: stop their executors.
            let running = runningJobs.ids
            if !running.isEmpty, let lost = try? await store.jobsNotLeased(running, to: workerID), !lost.isEmpty {
                runningJobs.cancel(lost)
            }
            guard ContinuousClock.now - lastBeat >= interval else { continue }
            lastBeat = .now
            do {
                try await store.heartbeat(worker: workerID, leaseUntil: WallClock.now + configuration.leaseDuration.seconds)
            } catch {
                configuration.logger.error("heartbeat failed; leases may expire", metadata: ["error": "\(error)"])
            }
        }
    }

    private func rescue() async {
        // Expired leases only need a look every half lease, but a process on this host that died is found by its
        // pid at once: looking every second keeps its jobs from waiting for the lease.
        let interval = min(max(configuration.leaseDuration / 2, .milliseconds(50)), .seconds(1))
        while !Task.isCancelled {
            do {
                let now = WallClock.now
                let (rescued, _) = try await store.rescue(
                    silentSince: now - configuration.leaseDuration.seconds, deadWorkers: try await deadLocalWorkers(), worker: workerID
                )
                metrics.rescued(rescued)
                if rescued > 0 {
                    configuration.logger.info("rescued jobs of silent workers", metadata: ["jobs": "\(rescued)"])
                }
            } catch {
                configuration.logger.error("rescuing expired leases failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// Sets the queue gauges from the database every ``EngineConfiguration/queueMetricsInterval``: a read, never on
    /// the hot path.
    private func reportQueueDepths() async {
        while !Task.isCancelled {
            do {
                metrics.queueDepths(try await store.queueDepths())
            } catch {
                configuration.logger.warning("reading queue depths for the metrics failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: configuration.queueMetricsInterval)
        }
    }

    /// Workers on this host whose process no longer exists: their jobs can be rescued without waiting for their
    /// leases to expire. (A reused process id makes a dead worker look alive; its leases then expire as usual.)
    private func deadLocalWorkers() async throws -> [String] {
        let me = Int(ProcessInfo.processInfo.processIdentifier)
        let others = try await store.activeWorkers().filter { $0.id != workerID }
        if !sawPeers.withLock({ $0 }), try await store.otherWorkersActive(since: startedAt, excluding: workerID) {
            sawPeers.withLock { $0 = true }
        }
        return others.filter { $0.pid != me && LocalProcess.isGone(host: $0.host, pid: $0.pid) }.map(\.id)
    }
}

extension JobResult {
    /// The result of a finished job, as recorded in its row.
    init(record: JobRecord) {
        var output: JSONValue?
        var error = record.error.map(JobError.init(stored:))
        if let text = record.result {
            // The engine stores only outputs that read back; say so if the row was changed since.
            do {
                output = try JSONValue(jsonString: text)
            } catch let parseError {
                error = JobError(type: "InvalidOutput", message: "the stored output cannot be read back: \(parseError)")
            }
        }
        self.init(
            jobID: record.id, groupKey: record.groupKey, role: record.role, status: Status(record.state), output: output, error: error,
            attempts: record.attempts
        )
    }
}
