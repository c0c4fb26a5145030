/// The storage seam: what the state transitions (`WriteContext`) and the group-commit writer need from a database,
/// and all they may use.
///
/// SQLite implements it with GRDB's `Database` and `Statement` (`Statement+Fast.swift`), PostgreSQL with its own
/// connection, so one set of transitions serves both. SQL is written once, with `?` placeholders, in the subset the
/// two dialects share; where they differ, the statement asks the connection's ``SQLConnection/dialect``.
///
/// Everything here runs on the writer's thread, inside one write transaction: calls block until the database
/// answered.
package protocol SQLConnection {
    associatedtype Statement: SQLStatement

    /// A prepared statement for `sql`, kept and reused for the connection's lifetime.
    func cachedStatement(sql: String) throws -> Statement

    /// Runs a multi-row `INSERT` of `rowCount` rows (a ``MultiRowInsert`` statement, which ends in `RETURNING` the
    /// table's key except in SQLite) and returns the key of its first row; the rows' keys are consecutive.
    func insertRows(_ rowCount: Int, with statement: Statement, _ bind: (inout Statement.Bindings) -> Void) throws -> Int64

    /// The number of rows the last `INSERT`, `UPDATE` or `DELETE` changed.
    var changesCount: Int { get }

    /// Which SQL the connection speaks.
    var dialect: SQLDialect { get }
}

/// The SQL dialects the storage layer writes.
package enum SQLDialect: Sendable {
    case sqlite
    case postgres
}

/// A prepared statement. It is left ready to run again after each call, whether the call succeeded or threw.
package protocol SQLStatement {
    associatedtype Bindings: SQLBindings
    associatedtype Columns: SQLColumns

    /// Binds the values `bind` appends and runs the statement to completion.
    func run(_ bind: (inout Bindings) -> Void) throws

    /// Binds the values `bind` appends and calls `row` for each result row.
    func forEachRow(_ bind: (inout Bindings) -> Void, _ row: (Columns) throws -> Void) throws
}

/// The values bound to a statement's `?` parameters, in order.
package protocol SQLBindings {
    mutating func add(_ value: Int64)
    mutating func add(_ value: Double)
    mutating func add(_ value: String)
    mutating func addNull()
}

extension SQLBindings {
    package mutating func add(_ value: Int) { add(Int64(value)) }
    package mutating func add(_ value: Int64?) { if let value { add(value) } else { addNull() } }
    package mutating func add(_ value: Int?) { if let value { add(Int64(value)) } else { addNull() } }
    package mutating func add(_ value: Double?) { if let value { add(value) } else { addNull() } }
    package mutating func add(_ value: String?) { if let value { add(value) } else { addNull() } }
}

/// The columns of the current result row, by position. Values convert the way SQLite converts them: an integer
/// read as text is its decimal digits, a null read as a number is 0.
package protocol SQLColumns {
    func int64(_ column: Int32) -> Int64
    func double(_ column: Int32) -> Double
    func string(_ column: Int32) -> String
    func isNull(_ column: Int32) -> Bool
}

extension SQLColumns {
    package func int(_ column: Int32) -> Int { Int(int64(column)) }
    package func optionalInt(_ column: Int32) -> Int? { isNull(column) ? nil : int(column) }
    package func optionalInt64(_ column: Int32) -> Int64? { isNull(column) ? nil : int64(column) }
    package func optionalDouble(_ column: Int32) -> Double? { isNull(column) ? nil : double(column) }
    package func optionalString(_ column: Int32) -> String? { isNull(column) ? nil : string(column) }
}

extension SQLConnection {
    /// Runs a statement that returns no rows.
    func run(sql: String, arguments: [any SQLArgument]) throws {
        try cachedStatement(sql: sql).run { bindings in
            for argument in arguments { argument.bind(to: &bindings) }
        }
    }

    /// Runs a query and decodes each row with `decode`.
    func fetchAll<T>(_ decode: (Statement.Columns) throws -> T, sql: String, arguments: [any SQLArgument] = []) throws -> [T] {
        var values: [T] = []
        try cachedStatement(sql: sql).forEachRow { bindings in
            for argument in arguments { argument.bind(to: &bindings) }
        } _: { values.append(try decode($0)) }
        return values
    }

    /// Runs a query and decodes its first row with `decode`, if it has one.
    func fetchOne<T>(_ decode: (Statement.Columns) throws -> T, sql: String, arguments: [any SQLArgument] = []) throws -> T? {
        var value: T?
        try cachedStatement(sql: sql).forEachRow { bindings in
            for argument in arguments { argument.bind(to: &bindings) }
        } _: { row in
            if value == nil { value = try decode(row) }
        }
        return value
    }
}

/// A value bound to a `?` parameter of a query that is not on the hot path (where statements bind with
/// ``SQLBindings`` directly).
package protocol SQLArgument: Sendable {
    func bind(to bindings: inout some SQLBindings)
}

extension Int64: SQLArgument {
    package func bind(to bindings: inout some SQLBindings) { bindings.add(self) }
}

extension Int: SQLArgument {
    package func bind(to bindings: inout some SQLBindings) { bindings.add(self) }
}

extension Double: SQLArgument {
    package func bind(to bindings: inout some SQLBindings) { bindings.add(self) }
}

extension String: SQLArgument {
    package func bind(to bindings: inout some SQLBindings) { bindings.add(self) }
}

extension Optional: SQLArgument where Wrapped: SQLArgument {
    package func bind(to bindings: inout some SQLBindings) {
        if let self { self.bind(to: &bindings) } else { bindings.addNull() }
    }
}

/// The connection the group-commit writer owns: SQL plus the transactions around each batch.
package protocol WriterConnection: SQLConnection {
    /// Begins a transaction that excludes every other writer of the database (in any process) until it ends, so
    /// the transitions read and write without racing anyone: SQLite's `BEGIN IMMEDIATE`, PostgreSQL's `BEGIN` and
    /// a transaction-scoped advisory lock.
    func beginWriteTransaction() throws
    func commit() throws
    /// Rolls back the open transaction, if any. Never throws: a connection that cannot roll back ends the
    /// transaction some other way (PostgreSQL: by closing the connection).
    func rollbackTransaction()
    var isInsideTransaction: Bool { get }
}

/// Runs blocks one at a time, in order, on the writer's thread, each with the writer's connection.
package protocol WriterQueue<Connection>: Sendable {
    associatedtype Connection: WriterConnection
    func async(_ block: @escaping @Sendable (Connection) -> Void)

    /// The error callers get for `error`: an ``ActyError`` saying what happened to which database and what to do,
    /// with the original as its cause.
    func mapError(_ error: any Error) -> any Error

    /// Whether `error` (as thrown, or as mapped) means the database cannot be written at the moment, whatever is
    /// written: a full disk, an I/O error, a read-only file, a lock held too long, a lost server. Such an error is
    /// not the fault of the request that met it.
    func isWriteFault(_ error: any Error) -> Bool
}
