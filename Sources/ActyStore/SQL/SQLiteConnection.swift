import ActyCore
package import GRDB
import GRDBSQLite

/// SQLite's side of the storage seam (`SQLConnection.swift`): GRDB's connection and statements, binding and
/// stepping through SQLite's C API.
///
/// GRDB's `StatementArguments` box every value in an existential and copy it twice before binding; on statements
/// that run several times per job, that overhead rivals SQLite's own work. These helpers bind values directly and
/// always leave the statement reset, so GRDB can still use the same cached statement afterwards.
extension Statement: SQLStatement {
    /// Binds the values `bind` appends, runs the statement to completion and resets it.
    package func run(_ bind: (inout Bindings) -> Void) throws {
        // GRDB may have left the statement stepped (an `execute` through it): binding then would fail silently.
        sqlite3_reset(sqliteStatement)
        var bindings = Bindings(handle: sqliteStatement)
        bind(&bindings)
        defer { sqlite3_reset(sqliteStatement) }
        var code = sqlite3_step(sqliteStatement)
        while code == SQLITE_ROW { code = sqlite3_step(sqliteStatement) }
        guard code == SQLITE_DONE else { throw failure(code) }
    }

    /// Binds the values `bind` appends and calls `row` for each result row, then resets the statement.
    package func forEachRow(_ bind: (inout Bindings) -> Void, _ row: (Columns) throws -> Void) throws {
        sqlite3_reset(sqliteStatement)
        var bindings = Bindings(handle: sqliteStatement)
        bind(&bindings)
        defer { sqlite3_reset(sqliteStatement) }
        while true {
            let code = sqlite3_step(sqliteStatement)
            if code == SQLITE_DONE { return }
            guard code == SQLITE_ROW else { throw failure(code) }
            try row(Columns(handle: sqliteStatement))
        }
    }

    private func failure(_ code: Int32) -> DatabaseError {
        let connection = sqlite3_db_handle(sqliteStatement)
        let message = connection.map { String(cString: sqlite3_errmsg($0)) } ?? "SQLite error \(code)"
        return DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: sql)
    }

    /// Values bound to a statement's parameters, in order.
    package struct Bindings: SQLBindings {
        let handle: OpaquePointer
        private var index: Int32 = 1

        init(handle: OpaquePointer) {
            self.handle = handle
        }

        package mutating func add(_ value: Int64) {
            sqlite3_bind_int64(handle, index, value)
            index += 1
        }

        package mutating func add(_ value: Double) {
            sqlite3_bind_double(handle, index, value)
            index += 1
        }

        package mutating func add(_ value: String) {
            var value = value
            value.withUTF8 { bytes in
                _ = sqlite3_bind_text(handle, index, bytes.baseAddress, Int32(bytes.count), sqliteTransient)
            }
            index += 1
        }

        package mutating func addNull() {
            sqlite3_bind_null(handle, index)
            index += 1
        }
    }

    /// The columns of the current result row.
    package struct Columns: SQLColumns {
        let handle: OpaquePointer

        package func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

        package func double(_ column: Int32) -> Double { sqlite3_column_double(handle, column) }

        package func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

        package func string(_ column: Int32) -> String {
            guard let text = sqlite3_column_text(handle, column) else { return "" }
            let count = Int(sqlite3_column_bytes(handle, column))
            return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
        }
    }
}

/// Tells SQLite to copy bound text, since Swift may move the buffer after the call.
private let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

extension Database: WriterConnection {
    package var dialect: SQLDialect { .sqlite }

    /// One `INSERT` statement's rows get consecutive rowids, the last one known without `RETURNING`.
    package func insertRows(_ rowCount: Int, with statement: Statement, _ bind: (inout Statement.Bindings) -> Void) throws -> Int64 {
        try statement.run(bind)
        return lastInsertedRowID - Int64(rowCount - 1)
    }

    /// `BEGIN IMMEDIATE`: another process's writer waits for the busy timeout instead of failing halfway through.
    package func beginWriteTransaction() throws { try beginTransaction(.immediate) }

    package func rollbackTransaction() { if isInsideTransaction { try? rollback() } }
}

/// The writer thread of a SQLite database: GRDB's writer queue.
package struct SQLiteWriterQueue: WriterQueue {
    let database: any DatabaseWriter
    /// The database file, named in error messages.
    let path: String?

    package func async(_ block: @escaping @Sendable (Database) -> Void) {
        database.asyncWriteWithoutTransaction(block)
    }

    package func mapError(_ error: any Error) -> any Error { StoreErrors.map(error, path: path) }

    package func isWriteFault(_ error: any Error) -> Bool { StoreErrors.isWriteFault((error as? ActyError)?.cause ?? error) }
}

extension GroupCommitWriter where Queue == SQLiteWriterQueue {
    /// Creates a writer over a GRDB database writer.
    convenience init(database: any DatabaseWriter, path: String? = nil, tail: any BatchTail<Database> = NoTail()) {
        self.init(queue: SQLiteWriterQueue(database: database, path: path), tail: tail)
    }
}
