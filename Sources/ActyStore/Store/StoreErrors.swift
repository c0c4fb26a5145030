import ActyCore
import Foundation
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
            return ActyError(
                .databaseBusy, "the database\(file) stayed locked by another connection for longer than the busy timeout; the write was not saved",
                cause: error
            )
        case .SQLITE_IOERR where path.map(isOnReadOnlyFileSystem) == true:
            // A file system remounted read-only under open files fails their writes with EROFS, which SQLite
            // reports as an I/O error.
            return ActyError(.databaseReadOnly, "the file system holding the database\(file) is read-only; the write was not saved", cause: error)
        case .SQLITE_IOERR:
            return ActyError(.storage, "an I/O error occurred on the database\(file); the write was not saved", cause: error)
        default:
            return ActyError(.storage, error.message ?? "SQLite error \(error.resultCode.rawValue)", cause: error)
        }
    }

    /// Whether the file system holding `path` is mounted read-only.
    static func isOnReadOnlyFileSystem(_ path: String) -> Bool {
        var info = statvfs()
        let folder = (path as NSString).deletingLastPathComponent
        return statvfs(folder.isEmpty ? "." : folder, &info) == 0 && info.f_flag & UInt(ST_RDONLY) != 0
    }

    /// Whether an error means the database cannot be written at the moment, whatever is written: a full disk, an
    /// I/O error, a read-only file, a lock held by another connection. Such an error is not the fault of the
    /// request that met it.
    static func isWriteFault(_ error: any Error) -> Bool {
        guard let error = error as? DatabaseError else { return false }
        switch error.resultCode {
        case .SQLITE_FULL, .SQLITE_IOERR, .SQLITE_READONLY, .SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_CANTOPEN, .SQLITE_NOMEM,
            .SQLITE_PROTOCOL, .SQLITE_CORRUPT, .SQLITE_NOTADB:
            return true
        default:
            return false
        }
    }
}
