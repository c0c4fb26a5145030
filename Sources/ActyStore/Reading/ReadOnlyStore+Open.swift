import ActyCore
import Foundation
import GRDB

extension ReadOnlyStore {
    /// Opens the read-only connections to `path`; in a folder this process cannot write, as an immutable file.
    ///
    /// Reading a database in WAL mode takes its `-shm` file, which SQLite creates beside the database when it is
    /// missing: in a read-only folder that fails, and SQLite reports the database as read-only. When the log is
    /// empty (an engine that shut down folded it into the file) nothing is lost by reading the file alone, so it is
    /// opened with `immutable=1`, which needs no `-shm`; when the log holds changes, the error says what to do.
    ///
    /// Related SQLite documentation: <https://www.sqlite.org/wal.html#readonly>, <https://www.sqlite.org/uri.html#uriimmutable>
    static func openPool(_ path: String, configuration: Configuration) throws -> (pool: DatabasePool, isImmutable: Bool) {
        _ = SQLiteBackend.configureSQLiteOnce
        let fileManager = FileManager.default
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        guard !fileManager.isWritableFile(atPath: folder), !fileManager.fileExists(atPath: path + "-shm") else {
            return (try DatabasePool(path: path, configuration: configuration), false)
        }
        let log = (try? fileManager.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? 0
        guard log == 0 else {
            throw ActyError(
                .databaseReadOnly,
                """
                \(path): its folder is read-only, and SQLite must create \(URL(fileURLWithPath: path).lastPathComponent)-shm \
                beside it to read the changes in its -wal. Make the folder writable, or copy the database with its -wal \
                to a writable folder
                """
            )
        }
        var uri = URLComponents()
        uri.scheme = "file"
        uri.path = URL(fileURLWithPath: path).path
        uri.queryItems = [URLQueryItem(name: "immutable", value: "1")]
        return (try DatabasePool(path: uri.string ?? path, configuration: configuration), true)
    }
}
