import ActyCore
@testable import ActyPostgres
import ActyTestSupport
import Testing

extension Trait where Self == ConditionTrait {
    /// Runs the test only where a PostgreSQL server can be had, saying why it is skipped otherwise.
    static var postgres: Self {
        .enabled(if: PostgresTestServer.isAvailable, Comment(rawValue: PostgresTestServer.unavailableReason))
    }
}

/// Runs `body` with a writer connected to a new, empty database, closing it and dropping the database afterwards.
func withWriter<T>(_ body: (PostgresWriterQueue, String) async throws -> T) async throws -> T {
    try await PostgresTestServer.withDatabase { url in
        try await withWriter(url: url) { try await body($0, url) }
    }
}

/// Runs `body` with a writer connected to `url`, closing it afterwards, also when `body` throws.
func withWriter<T>(url: String, timeout: Duration = .seconds(30), _ body: (PostgresWriterQueue) async throws -> T) async throws -> T {
    let writer = try await PostgresWriterQueue.open(url: PostgresURL(url), timeout: timeout)
    do {
        let result = try await body(writer)
        await writer.close()
        return result
    } catch {
        await writer.close()
        throw error
    }
}

/// Waits until `condition` holds, failing the test with `what` after `timeout`.
func require(_ what: String, timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async throws {
    if try await waitUntil(timeout: timeout, condition) { return }
    Issue.record("timed out waiting until \(what)")
    throw CancellationError()
}

extension PostgresWriterConnection {
    /// The rows of `sql` as text, column by column.
    func strings(_ sql: String) throws -> [[String]] {
        var rows: [[String]] = []
        try cachedStatement(sql: sql).forEachRow { _ in } _: { row in
            rows.append(row.values.indices.map { row.isNull(Int32($0)) ? "NULL" : row.string(Int32($0)) })
        }
        return rows
    }

    /// The single integer `sql` returns.
    func integer(_ sql: String) throws -> Int64 {
        var value: Int64 = -1
        try cachedStatement(sql: sql).forEachRow { _ in } _: { value = $0.int64(0) }
        return value
    }
}

/// The ``ActyError`` `body` throws, or `nil` when it throws none (another error is recorded as an issue).
func thrownError(_ body: () throws -> Void) -> ActyError? {
    do {
        try body()
        return nil
    } catch let error as ActyError {
        return error
    } catch {
        Issue.record("expected an ActyError, got \(error)")
        return nil
    }
}
