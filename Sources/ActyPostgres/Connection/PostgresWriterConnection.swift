import ActyCore
package import ActyStore
import Dispatch
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PostgresNIO

/// The PostgreSQL connection the group-commit writer owns: the storage seam's ``WriterConnection`` over postgres-nio.
///
/// Every call blocks the calling thread until PostgreSQL answered, for at most ``timeout``: call it from the writer's
/// own thread (``PostgresWriterQueue``), never from an event loop or the cooperative pool. A connection lost between
/// transactions is opened again by the next statement; one lost inside a transaction fails the transaction.
package final class PostgresWriterConnection: WriterConnection {
    package typealias Statement = PostgresStatement

    /// The advisory lock every Acty writer of a database holds for the length of its write transaction, so writers
    /// in any process take turns, as SQLite's `BEGIN IMMEDIATE` makes them (the ASCII of "actywrit").
    static let writeLockKey: Int64 = 0x6163_7479_7772_6974

    /// Where the connection goes.
    package let url: PostgresURL
    /// The longest a call waits for PostgreSQL's answer before it closes the connection and throws.
    package let timeout: Duration
    private var connection: PostgresConnection?
    private var statements: [String: PostgresStatement] = [:]
    /// Set by ``close()``: the connection is not opened again.
    private var isClosedForGood = false
    package private(set) var changesCount = 0
    package private(set) var isInsideTransaction = false
    package var dialect: SQLDialect { .postgres }

    /// The statement ends in `RETURNING` the table's key: the keys come back, and must be consecutive, as the
    /// transitions number the rows they inserted from the first one.
    package func insertRows(
        _ rowCount: Int, with statement: PostgresStatement, _ bind: (inout PostgresStatementBindings) -> Void
    ) throws -> Int64 {
        var keys: [Int64] = []
        keys.reserveCapacity(rowCount)
        try statement.forEachRow(bind) { keys.append($0.int64(0)) }
        guard let first = keys.min(), keys.count == rowCount, keys.max()! - first == Int64(rowCount - 1) else {
            throw ActyError(.storage, "PostgreSQL gave \(keys.count) keys for \(rowCount) inserted rows, not consecutive: \(keys)")
        }
        return first
    }

    /// Connects and logs in, blocking until PostgreSQL answered.
    ///
    /// - Throws: ``ActyError/Code/databaseUnavailable`` saying what failed: the server unreachable, the login
    ///   refused, the database missing.
    package init(url: PostgresURL, timeout: Duration = .seconds(30)) throws {
        self.url = url
        self.timeout = timeout
        connection = try connect()
    }

    // Without waiting: the last reference may go on any thread, the cooperative pool's included.
    deinit { if let connection { Self.closeInBackground(connection) } }

    package func cachedStatement(sql: String) throws -> PostgresStatement {
        if let statement = statements[sql] { return statement }
        let statement = PostgresStatement(sql: sql, connection: self)
        statements[sql] = statement
        return statement
    }

    /// `BEGIN`, then the transaction-scoped ``writeLockKey`` advisory lock: a second writer waits here until the
    /// first commits or rolls back.
    package func beginWriteTransaction() throws {
        try execute("BEGIN")
        isInsideTransaction = true
        do {
            try execute("SELECT pg_advisory_xact_lock(\(Self.writeLockKey))")
        } catch {
            rollbackTransaction()
            throw error
        }
    }

    package func commit() throws {
        do {
            try execute("COMMIT")
        } catch {
            // A failed COMMIT (a deferred constraint, a lost connection) has ended the transaction anyway.
            isInsideTransaction = false
            throw error
        }
        isInsideTransaction = false
    }

    /// Rolls back the open transaction. When even that fails, drops the connection: PostgreSQL then ends the
    /// transaction itself, and the next statement connects again.
    package func rollbackTransaction() {
        guard isInsideTransaction else { return }
        isInsideTransaction = false
        do {
            try execute("ROLLBACK")
        } catch {
            disconnect()
        }
    }

    /// Closes the connection for good: later statements throw.
    package func close() {
        isClosedForGood = true
        disconnect()
    }

    private func disconnect() {
        guard let connection else { return }
        self.connection = nil
        isInsideTransaction = false
        // Waits for the close: a test that stops the server right after must not find this connection alive.
        _ = try? wait(Self.closeInBackground(connection), doing: "closing the connection", closeOnTimeout: false)
    }

    /// Runs one statement without parameters, such as a migration's.
    package func execute(_ sql: String) throws {
        _ = try query(sql: sql, binds: PostgresBindings())
    }

    /// Runs `sql` (already in PostgreSQL's `$n` form) with `binds`, blocking until every row arrived.
    func query(sql: String, binds: PostgresBindings) throws -> [PostgresRow] {
        let connection = try liveConnection()
        let logger = Self.logger
        let future = connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
        let result: PostgresQueryResult
        do {
            result = try wait(future, doing: "a statement")
        } catch {
            let mapped = PostgresErrors.statement(error, sql: sql, url: url)
            if mapped.code == .databaseUnavailable { drop() }
            throw mapped
        }
        switch result.metadata.command {
        case "INSERT", "UPDATE", "DELETE", "MERGE": changesCount = result.metadata.rows ?? 0
        default: break
        }
        return result.rows
    }

    /// The open connection, or a new one when the last was lost outside a transaction.
    private func liveConnection() throws -> PostgresConnection {
        if let connection, !connection.isClosed { return connection }
        connection = nil
        guard !isClosedForGood else { throw ActyError(.engineStopped, "the connection to PostgreSQL at \(url) was closed") }
        guard !isInsideTransaction else {
            isInsideTransaction = false
            throw ActyError(.databaseUnavailable, "lost the connection to PostgreSQL at \(url) inside a transaction; the transaction was rolled back")
        }
        let connection = try connect()
        self.connection = connection
        return connection
    }

    private func connect() throws -> PostgresConnection {
        var configuration = PostgresConnection.Configuration(
            host: url.host, port: url.port, username: url.user, password: url.password, database: url.database, tls: .disable
        )
        configuration.options.connectTimeout = .milliseconds(Int64(timeoutMilliseconds))
        // The server gives up waiting for a lock (the write lock of a writer that does not commit) before this side
        // gives up waiting for the server: the statement then fails with "lock timeout" and the connection stays.
        configuration.options.additionalStartupParameters = [("lock_timeout", "\(timeoutMilliseconds * 4 / 5)ms")]
        let future = PostgresConnection.connect(
            on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration, id: 1, logger: Self.logger
        )
        do {
            return try wait(future, doing: "connecting")
        } catch {
            // A connection that completes after the wait gave up is closed, not leaked.
            future.whenSuccess { Self.closeInBackground($0) }
            throw PostgresErrors.connecting(error, url: url)
        }
    }

    /// Forgets a connection that failed, closing it without waiting.
    private func drop() {
        if let connection { Self.closeInBackground(connection) }
        connection = nil
        isInsideTransaction = false
    }

    private var timeoutMilliseconds: Int {
        Int(timeout.components.seconds) * 1000 + Int(timeout.components.attoseconds / 1_000_000_000_000_000)
    }

    /// Blocks until `future` completes, for at most ``timeout``. On timeout the connection is closed (PostgreSQL
    /// then ends any transaction and releases its locks) and the call throws.
    private func wait<Value: Sendable>(_ future: EventLoopFuture<Value>, doing what: String, closeOnTimeout: Bool = true) throws -> Value {
        let done = DispatchSemaphore(value: 0)
        let outcome = NIOLockedValueBox<Result<Value, any Error>?>(nil)
        future.whenComplete { result in
            outcome.withLockedValue { $0 = result }
            done.signal()
        }
        if done.wait(timeout: .now() + .milliseconds(timeoutMilliseconds)) == .timedOut {
            if closeOnTimeout { drop() }
            throw ActyError(
                .databaseUnavailable, "PostgreSQL at \(url) did not answer \(what) within \(timeout); the connection was closed"
            )
        }
        return try outcome.withLockedValue { $0! }.get()
    }

    /// Closes `connection` without waiting, keeping it alive until closed (postgres-nio asserts that a connection
    /// is closed before it goes).
    @discardableResult
    private static func closeInBackground(_ connection: PostgresConnection) -> EventLoopFuture<Void> {
        let closed: EventLoopFuture<Void> = connection.close()
        closed.whenComplete { _ in _ = connection }
        return closed
    }

    private static let logger: Logger = {
        var logger = Logger(label: "acty.postgres")
        logger.logLevel = .error
        return logger
    }()
}
