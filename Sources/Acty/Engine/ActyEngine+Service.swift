public import ServiceLifecycle

/// The engine is a swift-service-lifecycle `Service`: its worker pools and housekeeping run in ``run()``, which
/// returns once the engine has shut down, and a graceful shutdown of the group (SIGTERM or SIGINT, when the group
/// installs them) shuts the engine down.
///
/// ```swift
/// let engine = try await ActyEngine(database: .file("acty.db"), executors: [MyExecutor()], runsInBackground: false)
/// let group = ServiceGroup(services: [engine], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
/// try await group.run()
/// ```
extension ActyEngine: Service {
    /// Runs the engine until it shuts down: the worker pools, the poll timer, the heartbeat, the rescuer and the
    /// event delivery all run in this call, as child tasks it waits for before it returns.
    ///
    /// A graceful shutdown of the calling task's service group, or ``shutdown()``, stops the engine: it claims no
    /// new jobs, running jobs get ``EngineConfiguration/gracefulShutdownTimeout`` to finish and be recorded, then
    /// the rest are cancelled and handed back to the queue; the engine records that it stopped and closes the
    /// database, and `run()` returns. Cancelling the calling task does the same without the grace period: running
    /// jobs are cancelled at once and handed back (an executor's success that comes first is still recorded).
    ///
    /// When the engine already runs (created with `runsInBackground: true`, or `run()` called twice), this call
    /// waits for that run to end instead of starting another; its graceful shutdown or cancellation still shuts the
    /// engine down. After the engine has shut down, `run()` returns at once.
    ///
    /// - Throws: the error the shutdown ran into, as ``shutdown()`` describes (an outcome that could not be
    ///   recorded, a database that could not be written or closed). The engine is shut down in every case.
    public func run() async throws {
        if lifecycle.start() {
            await runUntilShutDown()
        } else {
            _ = await withTaskCancellationOrGracefulShutdownHandler {
                await self.lifecycle.outcome()
            } onCancelOrGracefulShutdown: {
                self.requestShutdown()
            }
        }
        try await lifecycle.outcome().get()
    }

    /// Runs the engine, which this caller started, until it has shut down, and records how the shutdown went.
    func runUntilShutDown() async {
        // The sinks also get the shutdown's events: delivery runs on a task that cancelling `run()` does not end,
        // and `finishShutdown` waits for it.
        let delivery = events.map { events in
            Task { [configuration] in
                await EventDelivery.run(events.stream, to: configuration.eventSinks, logger: configuration.logger)
            }
        }
        await withTaskCancellationOrGracefulShutdownHandler {
            await self.runPools()
        } onCancelOrGracefulShutdown: {
            self.requestShutdown()
        }
        // Recording that the engine stopped must happen also when `run()` was cancelled: its own task shields it.
        let outcome = await Task { await self.finishShutdown(delivery: delivery) }.value
        lifecycle.finish(outcome)
    }
}
