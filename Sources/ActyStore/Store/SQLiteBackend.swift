package import ActyCore
import CActyShims
import Foundation
package import GRDB

/// A SQLite file (or an in-memory database) under a ``BackendStore``: opened and migrated on creation, written by
/// GRDB's writer queue, read through its pool of reader connections (WAL), so readers never wait for the writer.
///
/// Opening creates the file when it is missing and migrates it to the newest schema; a database written by a newer
/// version of Acty is refused before anything in it is changed.
///
/// Related SQLite documentation: <https://www.sqlite.org/wal.html>
package final class SQLiteBackend: StorageBackend {
    /// Where the database lives.
    package let location: DatabaseLocation
    /// The durability the writer commits with.
    package let durability: Durability
    /// The database file, or `nil` in memory.
    package var path: String? {
        if case .file(let path) = location { return path }
        return nil
    }

    package let database: any DatabaseWriter
    package let writerQueue: SQLiteWriterQueue
    /// Checkpoints a file database's WAL in the background, until `close()`.
    private let checkpointer: Locked<BackgroundCheckpointer?>

    /// Opens (creating if needed) and migrates a database.
    ///
    /// - Parameters:
    ///   - location: a file path, or an in-memory database.
    ///   - durability: `.process` (WAL, `synchronous = NORMAL`) or `.power` (`synchronous = FULL`).
    ///   - busyTimeout: how long a write waits for another process's write lock before failing.
    /// - Throws: ``ActyError`` with code `databaseUnavailable`, `databaseReadOnly` or `incompatibleSchema`.
    package init(_ location: DatabaseLocation, durability: Durability = .process, busyTimeout: Duration = .seconds(10)) throws {
        _ = Self.configureSQLiteOnce
        self.location = location
        self.durability = durability
        var configuration = Configuration()
        configuration.busyMode = .timeout(busyTimeout.seconds)
        configuration.foreignKeysEnabled = true
        configuration.label = "acty"
        configuration.prepareDatabase { db in
            // Checkpoints are the BackgroundCheckpointer's, off the writer's thread. An 8 MiB page cache holds the
            // hot pages (the ends of the tables and indexes the queue works on); a larger one costs time at every
            // commit, where SQLite walks the cache's whole hash table (measured: 32 MiB cost 4% of fan-out jobs/s).
            // Once a checkpoint has copied the whole log, the next commit starts it over and cuts the file to
            // `journal_size_limit`, so a log that outgrew the writer's checkpoint limit (a reader held it back)
            // gives the space back.
            try db.execute(
                sql: "PRAGMA cache_size = -\(SQLiteBackend.pageCacheKiB); PRAGMA temp_store = MEMORY; PRAGMA journal_size_limit = \(SQLiteBackend.walSizeLimit)"
            )
        }
        let database: any DatabaseWriter
        let path: String?
        var checkpointer: BackgroundCheckpointer?
        switch location {
        case .inMemory:
            path = nil
            database = try DatabaseQueue(configuration: configuration)
        case .file(let file):
            path = file
            do {
                try Self.checkExistingFile(file, busyTimeout: busyTimeout)
                // SQLite gives the -wal and -shm files the database file's mode. When the folder is missing or
                // read-only, SQLite's own open reports it.
                _ = try? PrivateFile.createIfMissing(file)
                database = try Self.openPool(file, configuration: configuration, busyTimeout: busyTimeout)
            } catch {
                throw StoreErrors.map(error, path: file)
            }
        }
        do {
            try database.writeWithoutTransaction { db in
                try SchemaMigrator.migrate(db)
                if durability == .power {
                    // GRDB sets synchronous = NORMAL when it enables WAL: raise it afterwards.
                    try db.execute(sql: "PRAGMA synchronous = FULL")
                }
            }
            if let path {
                let background = try BackgroundCheckpointer(path: path)
                database.writeWithoutTransaction { db in
                    // The schema goes into the file at once: a copy of the file alone is an Acty database.
                    _ = try? db.checkpoint(.passive)
                    background.install(on: db)
                }
                checkpointer = background
            }
        } catch {
            throw StoreErrors.map(error, path: path)
        }
        self.database = database
        self.checkpointer = Locked(checkpointer)
        writerQueue = SQLiteWriterQueue(database: database, path: path)
    }

    /// Process-wide SQLite settings, made once before the first connection opens.
    static let configureSQLiteOnce: Void = acty_configure_sqlite()

    /// Opens the connection pool, retrying while another process holds the file exclusively.
    ///
    /// A process whose last connection closes folds the WAL into the file and deletes it under an exclusive lock;
    /// the `PRAGMA journal_mode = WAL` GRDB runs on opening fails at once with SQLITE_BUSY meanwhile, without
    /// SQLite's busy handler, so the wait is here, up to the busy timeout. It blocks the thread, like SQLite's own
    /// busy handler: async callers open through ``open(_:durability:busyTimeout:eventObserver:)``, off the
    /// concurrency pool.
    private static func openPool(_ path: String, configuration: Configuration, busyTimeout: Duration) throws -> DatabasePool {
        let deadline = ContinuousClock.now + busyTimeout
        while true {
            do {
                return try DatabasePool(path: path, configuration: configuration)
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY && ContinuousClock.now < deadline {
                Thread.sleep(forTimeInterval: 0.005)
            }
        }
    }

    /// Checks the schema of an existing file through a read-only connection, so that a database of a newer schema
    /// (or a file that is not an Acty database) is refused before the writer touches it.
    ///
    /// The connection waits for locks like the others: while another process recovers the WAL of a process that
    /// was killed, or checkpoints it on close, opening the file returns SQLITE_BUSY.
    private static func checkExistingFile(_ path: String, busyTimeout: Duration) throws {
        guard FileManager.default.fileExists(atPath: path) else { return }
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(busyTimeout.seconds)
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        defer { try? queue.close() }
        do {
            try queue.read { try SchemaMigrator.checkCompatible($0) }
        } catch let error as ActyError {
            throw ActyError(error.code, "\(path): \(error.message)", cause: error.cause)
        }
    }

    /// The newest schema version this build knows.
    package static var schemaVersion: Int { SchemaMigrator.latestVersion }

    /// The SQLite page cache of each connection, in KiB.
    package static let pageCacheKiB = 8192

    /// The most bytes one text value (a payload, an output) may have: SQLite's default `SQLITE_MAX_LENGTH`, past which
    /// it refuses to store the row.
    ///
    /// Related SQLite documentation: <https://www.sqlite.org/limits.html#max_length>
    package static let maximumTextBytes = 1_000_000_000

    /// The size in bytes a WAL file is cut back to when the log starts over (`PRAGMA journal_size_limit`): a little
    /// more than the log holds at the writer's checkpoint limit (frames of 4 KiB + 24 bytes). A lower one cuts the
    /// file at every restart under load and grows it again (16 MiB cost ~7% of fan-out jobs/s); an idle store
    /// empties its log anyway (see ``BackgroundCheckpointer``).
    static let walSizeLimit = Int(BackgroundCheckpointer.defaultLimit) * 5 * 1024

    /// WAL sizes (in frames) at which a background checkpoint starts, and at which the writer checkpoints itself.
    package static var checkpointFrames: (background: Int, writer: Int) {
        (Int(BackgroundCheckpointer.defaultThreshold), Int(BackgroundCheckpointer.defaultLimit))
    }

    package func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await database.read(body)
        } catch {
            throw StoreErrors.map(error, path: path)
        }
    }

    /// Closes the database connections, waiting on a dispatch thread: closing blocks until pending writes and
    /// reads are done, and blocking the concurrency pool's few threads could leave those reads none to finish on.
    package func close() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try self.close() })
            }
        }
    }

    /// Closes the database connections. Pending writes finish first.
    package func close() throws {
        if let checkpointer = checkpointer.withLock({ $0.take() }) {
            database.writeWithoutTransaction { checkpointer.uninstall(from: $0) }
            try checkpointer.close()
        }
        switch database {
        case let pool as DatabasePool:
            // GRDB closes the writer before the readers, and SQLite folds the WAL into the file and deletes it only
            // when the last connection closes: closing the readers first leaves one file behind instead of a WAL.
            pool.releaseMemory()
            try pool.close()
        case let queue as DatabaseQueue: try queue.close()
        default: break
        }
    }
}
