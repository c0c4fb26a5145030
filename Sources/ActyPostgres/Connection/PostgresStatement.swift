import ActyCore
import ActyStore
import PostgresNIO

/// A statement of a ``PostgresWriterConnection``: the shared SQL with its `?` placeholders turned into `$n` once,
/// run through PostgreSQL's extended protocol (parse, bind and execute in one round trip) each time.
package final class PostgresStatement: SQLStatement {
    /// The statement as PostgreSQL receives it.
    package let sql: String
    /// How many values each run binds.
    package let parameterCount: Int
    private unowned let connection: PostgresWriterConnection

    init(sql: String, connection: PostgresWriterConnection) {
        (self.sql, parameterCount) = PostgresSQLText.translatingPlaceholders(sql)
        self.connection = connection
    }

    package func run(_ bind: (inout PostgresStatementBindings) -> Void) throws {
        _ = try connection.query(sql: sql, binds: bindings(bind))
    }

    /// Runs the statement and decodes every row before calling `row` for the first, so a column of a type the
    /// storage layer cannot read fails the call before any row was handled.
    package func forEachRow(_ bind: (inout PostgresStatementBindings) -> Void, _ row: (PostgresRowColumns) throws -> Void) throws {
        let rows = try connection.query(sql: sql, binds: bindings(bind)).map { try PostgresRowColumns($0, sql: sql) }
        for columns in rows { try row(columns) }
    }

    private func bindings(_ bind: (inout PostgresStatementBindings) -> Void) throws -> PostgresBindings {
        var bindings = PostgresStatementBindings(capacity: parameterCount)
        bind(&bindings)
        guard bindings.values.count == parameterCount else {
            throw ActyError(.storage, "the statement takes \(parameterCount) values but \(bindings.values.count) were bound: \(sql)")
        }
        return bindings.values
    }
}

/// The values bound to a statement, with PostgreSQL's types: `int8`, `float8`, `text`, and a null of no type
/// (PostgreSQL takes its type from where the parameter stands).
package struct PostgresStatementBindings: SQLBindings {
    var values: PostgresBindings

    init(capacity: Int) {
        values = PostgresBindings(capacity: capacity)
    }

    package mutating func add(_ value: Int64) { values.append(value) }
    package mutating func add(_ value: Double) { values.append(value) }
    package mutating func add(_ value: String) { values.append(value) }
    package mutating func addNull() { values.appendNull() }
}
