import ActyCore
import GRDB

/// Turns SQLite errors into ``ActyError``s that say what happened and what to do, keeping the original as `cause`.
enum StoreErrors {
    static func map(_ error: any Error, path: String? = nil) -> any Error {
        guard let error = error as? DatabaseError else { return error }
        let file = path.map { " \($0)" } ?? ""
        switch error.resultCode {
        case .SQLITE_FULL:
            return ActyError(.databaseFull, "the disk or database\(file) is full; the write was not saved. Free some space and retry", cause: error)
        case .SQLITE_READONLY:
            return ActyError(.databaseReadOnly, "the database\(file) cannot be written: check the permissions of the file and its folder", cause: error)
        case .SQLITE_CANTOPEN:
            return ActyError(.databaseUnavailable, "cannot open the database\(file): check that the folder exists and is writable", cause: error)
        case .SQLITE_NOTADB:
            return ActyError(.databaseUnavailable, "the file\(file) is not a SQLite database", cause: error)
        case .SQLITE_CORRUPT:
            return ActyError(.databaseUnavailable, "the database\(file) is corrupt", cause: error)
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return ActyError(.storage, "the database\(file) stayed locked by another connection for longer than the busy timeout", cause: error)
        case .SQLITE_IOERR:
            return ActyError(.storage, "an I/O error occurred on the database\(file); the write was not saved", cause: error)
        default:
            return ActyError(.storage, error.message ?? "SQLite error \(error.resultCode.rawValue)", cause: error)
        }
    }
}
