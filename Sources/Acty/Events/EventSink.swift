/// Receives every event the engine commits, in commit order.
///
/// Sinks run on their own task, after the events are safely in the database: a slow sink delays nothing but
/// itself. Errors a sink throws are logged and do not stop the engine.
public protocol EventSink: Sendable {
    /// Handles a batch of committed events, oldest first.
    func consume(_ events: [EventRecord]) async throws
    /// Flushes and releases resources; called once when the engine shuts down.
    func close() async throws
}
