import ActyCore
import Foundation
import GRDB

extension ReadOnlyStore {
    /// Writes a consistent copy of the database to `destination`, also while an engine writes to it.
    ///
    /// The copy holds everything committed when it began, in one self-contained file: it uses a rollback journal,
    /// so it needs no `-wal` beside it (an engine that opens it later switches it back to WAL). SQLite's online
    /// backup copies every page in one step, inside one read transaction, into a temporary file next to
    /// `destination` that is renamed into place once complete: a failed copy leaves nothing behind, and an
    /// existing `destination` is replaced only by a whole copy.
    ///
    /// - Throws: ``ActyError`` with code `databaseUnavailable` when `destination` is this database, a folder, a
    ///   database in use (it has a `-wal`), or cannot be written.
    ///
    /// Related SQLite documentation: <https://www.sqlite.org/backup.html>
    package func backup(to destination: String) throws {
        let fileManager = FileManager.default
        let target = URL(fileURLWithPath: destination).standardizedFileURL.resolvingSymlinksInPath()
        let source = URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath()
        guard target.path != source.path, target.path != source.path + "-wal", target.path != source.path + "-shm" else {
            throw ActyError(.databaseUnavailable, "\(destination) is the database being copied: choose another file")
        }
        var isDirectory: ObjCBool = false
        if fileManager.fileExists(atPath: destination, isDirectory: &isDirectory), isDirectory.boolValue {
            throw ActyError(.databaseUnavailable, "\(destination) is a folder: give the copy a file name")
        }
        if fileManager.fileExists(atPath: destination + "-wal") {
            throw ActyError(
                .databaseUnavailable, "\(destination) has a -wal beside it: it may be a database in use, which a copy must not replace"
            )
        }
        let temporary = target.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).\(UUID().uuidString).partial").path
        do {
            let copy = try DatabaseQueue(path: temporary)
            do {
                try pool.backup(to: copy)
                try copy.writeWithoutTransaction { try $0.execute(sql: "PRAGMA journal_mode = DELETE") }
                try copy.close()
            } catch {
                try? copy.close()
                throw error
            }
            guard rename(temporary, destination) == 0 else {
                let reason = String(cString: strerror(errno))
                throw ActyError(.databaseUnavailable, "cannot write the copy to \(destination): \(reason)")
            }
        } catch {
            for file in [temporary, temporary + "-journal", temporary + "-wal", temporary + "-shm"] { try? fileManager.removeItem(atPath: file) }
            if let error = error as? DatabaseError, [.SQLITE_CANTOPEN, .SQLITE_READONLY, .SQLITE_PERM].contains(error.resultCode) {
                throw ActyError(.databaseUnavailable, "cannot write the copy to \(destination): check that its folder exists and is writable", cause: error)
            }
            throw StoreErrors.map(error, path: destination)
        }
    }
}
