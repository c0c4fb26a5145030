public import ServiceLifecycle

/// The engine runs in a ServiceLifecycle `ServiceGroup`: `run()` returns once the engine has shut down, and a
/// graceful shutdown of the group (SIGTERM or SIGINT, when the group installs them) shuts the engine down.
///
/// ```swift
/// let engine = try await ActyEngine(database: .file("acty.db"), executors: [MyExecutor()])
/// let group = ServiceGroup(services: [engine], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
/// try await group.run()
/// ```
extension ActyEngine: Service {
    /// Waits until the engine shuts down; starts the shutdown on graceful shutdown or cancellation.
    public func run() async throws {
        await withTaskCancellationOrGracefulShutdownHandler {
            await self.waitUntilShutDown()
        } onCancelOrGracefulShutdown: {
            // The handler cannot await: shut down on a task of its own; `run()` returns when it has finished.
            Task { try? await self.shutdown() }
        }
    }
}
