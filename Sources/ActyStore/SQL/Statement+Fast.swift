import GRDB
import GRDBSQLite

/// Binds and steps prepared statements through SQLite's C API, for the writer's hot paths.
///
/// GRDB's `StatementArguments` box every value in an existential and copy it twice before binding; on statements
/// that run several times per job, that overhead rivals SQLite's own work. These helpers bind values directly and
/// always leave the statement reset, so GRDB can still use the same cached statement afterwards.
extension Statement {
    /// Binds the values `bind` appends, runs the statement to completion and resets it.
    func run(_ bind: (inout Bindings) -> Void) throws {
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
    func forEachRow(_ bind: (inout Bindings) -> Void, _ row: (Columns) throws -> Void) throws {
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
    struct Bindings {
        let handle: OpaquePointer
        private var index: Int32 = 1

        init(handle: OpaquePointer) {
            self.handle = handle
        }

        mutating func add(_ value: Int64) {
            sqlite3_bind_int64(handle, index, value)
            index += 1
        }

        mutating func add(_ value: Int) {
            add(Int64(value))
        }

        mutating func add(_ value: Double) {
            sqlite3_bind_double(handle, index, value)
            index += 1
        }

        mutating func add(_ value: String) {
            var value = value
            value.withUTF8 { bytes in
                _ = sqlite3_bind_text(handle, index, bytes.baseAddress, Int32(bytes.count), sqliteTransient)
            }
            index += 1
        }

        mutating func add(_ value: Int64?) {
            if let value { add(value) } else { addNull() }
        }

        mutating func add(_ value: Int?) {
            if let value { add(Int64(value)) } else { addNull() }
        }

        mutating func add(_ value: Double?) {
            if let value { add(value) } else { addNull() }
        }

        mutating func add(_ value: String?) {
            if let value { add(value) } else { addNull() }
        }

        mutating func addNull() {
            sqlite3_bind_null(handle, index)
            index += 1
        }
    }

    /// The columns of the current result row.
    struct Columns {
        let handle: OpaquePointer

        func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

        func int(_ column: Int32) -> Int { Int(sqlite3_column_int64(handle, column)) }

        func optionalInt(_ column: Int32) -> Int? {
            sqlite3_column_type(handle, column) == SQLITE_NULL ? nil : int(column)
        }

        func double(_ column: Int32) -> Double { sqlite3_column_double(handle, column) }

        func optionalDouble(_ column: Int32) -> Double? {
            sqlite3_column_type(handle, column) == SQLITE_NULL ? nil : double(column)
        }

        func string(_ column: Int32) -> String {
            guard let text = sqlite3_column_text(handle, column) else { return "" }
            let count = Int(sqlite3_column_bytes(handle, column))
            return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
        }

        func optionalString(_ column: Int32) -> String? {
            sqlite3_column_type(handle, column) == SQLITE_NULL ? nil : string(column)
        }
    }
}

/// Tells SQLite to copy bound text, since Swift may move the buffer after the call.
private let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
