import ActyStore
import Dispatch

/// The writer's thread for a PostgreSQL database: a serial dispatch queue (neither an event loop nor the
/// cooperative pool, so its blocking calls stall neither) that owns one ``PostgresWriterConnection`` and runs the
/// blocks given to ``async(_:)`` one at a time, in order.
// @unchecked Sendable: `connection` is created, used and closed only on `queue`, which runs one block at a time.
package final class PostgresWriterQueue: WriterQueue, @unchecked Sendable {
    private let queue = DispatchQueue(label: "acty.postgres.writer")
    // Set once by `open`, before any block runs.
    private var connection: PostgresWriterConnection!

    private init() {}

    /// Connects to `url` on the writer's thread.
    ///
    /// - Throws: ``ActyError/Code/databaseUnavailable`` when the server cannot be reached or refuses the login.
    package static func open(url: PostgresURL, timeout: Duration = .seconds(30)) async throws -> PostgresWriterQueue {
        let writer = PostgresWriterQueue()
        try await writer.onQueue { writer.connection = try PostgresWriterConnection(url: url, timeout: timeout) }
        return writer
    }

    /// Runs `block` with the connection after every block given before.
    package func async(_ block: @escaping @Sendable (PostgresWriterConnection) -> Void) {
        queue.async { block(self.connection) }
    }

    /// The connection already throws ``ActyError``s that name the server and say what failed.
    package func mapError(_ error: any Error) -> any Error { error }

    package func isWriteFault(_ error: any Error) -> Bool { PostgresErrors.isWriteFault(error) }

    /// Runs `work` with the connection after every block given before, and returns its result.
    package func perform<Value: Sendable>(_ work: @escaping @Sendable (PostgresWriterConnection) throws -> Value) async throws -> Value {
        try await onQueue { try work(self.connection) }
    }

    /// Closes the connection once the blocks given before have run; blocks given after find it closed (their
    /// statements throw).
    package func close() async {
        try? await onQueue { self.connection.close() }
    }

    private func onQueue<Value: Sendable>(_ work: @escaping @Sendable () throws -> Value) async throws -> Value {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Value, any Error>) in
            queue.async { continuation.resume(with: Result { try work() }) }
        }
    }
}
