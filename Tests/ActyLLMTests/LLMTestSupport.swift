import ActyLLMTestServer
import ActyTestSupport
@testable import Acty
@testable import ActyStore
import Foundation
import Testing

/// Runs `body` with a fresh test server, shutting it down afterwards, also when `body` throws.
func withServer<T>(_ options: LLMTestServer.Options = .init(), _ body: (LLMTestServer) async throws -> T) async throws -> T {
    let server = try await LLMTestServer.start(options: options)
    do {
        let value = try await body(server)
        try await server.shutdown()
        return value
    } catch {
        try? await server.shutdown()
        throw error
    }
}

/// Runs `body` with an engine on a database file in `dir` that has `executors`, then shuts the engine down (failing
/// the test rather than hanging when that takes over 20 s) and calls `afterShutdown` (closing the executors' HTTP
/// clients), also when `body` throws.
func withLLMEngine<T>(
    _ dir: TemporaryDirectory,
    _ configuration: EngineConfiguration = EngineConfiguration(),
    executors: [any Executor],
    afterShutdown: @escaping @Sendable () async throws -> Void = {},
    _ body: (ActyEngine) async throws -> T
) async throws -> T {
    let engine = try await ActyEngine(database: .file(dir.file()), configuration: configuration, executors: executors)
    func stop() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await engine.shutdown() }
            group.addTask {
                try await Task.sleep(for: .seconds(20))
                throw ShutdownTimedOut()
            }
            defer { group.cancelAll() }
            try await group.next()
        }
        try await afterShutdown()
    }
    do {
        let value = try await body(engine)
        try await stop()
        return value
    } catch {
        try? await stop()
        throw error
    }
}

struct ShutdownTimedOut: Error, CustomStringConvertible {
    var description: String { "the engine did not shut down within 20 s" }
}

/// A retry policy with tiny fixed delays, so retries in tests take milliseconds.
func quickRetries(_ attempts: Int) -> RetryPolicy {
    RetryPolicy(maxAttempts: attempts, initialDelay: .milliseconds(5), maximumDelay: .milliseconds(5), jitter: .none)
}

/// Every event of the engine's database, oldest first.
func events(of engine: ActyEngine) async throws -> [EventRecord] {
    try await engine.store.events(after: 0, limit: 1_000_000)
}

/// The data of an event as JSON.
func data(_ event: EventRecord) throws -> JSONValue {
    try JSONValue(jsonString: event.data ?? "null")
}

/// The bytes of the database file and its write-ahead log, as one blob, for searching for secrets.
func databaseBytes(_ dir: TemporaryDirectory) -> Data {
    let path = dir.file()
    var bytes = Data()
    for suffix in ["", "-wal", "-shm", "-journal"] {
        if let data = FileManager.default.contents(atPath: path + suffix) { bytes.append(data) }
    }
    return bytes
}
