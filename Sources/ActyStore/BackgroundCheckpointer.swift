import GRDB
import GRDBSQLite
import Synchronization

/// Copies the write-ahead log back into the database file on a connection and thread of its own, so that the
/// writer does not stop for it.
///
/// SQLite's automatic checkpoint runs inside the commit that crosses its threshold: the writer copies the log and
/// syncs the file while every transaction queued behind it waits. On the fan-out workload that was ~5% of the
/// writer's time, and it made the longest enqueue→start delays. Instead, the writer's WAL hook only notes how long
/// the log is; past ``threshold`` frames a `PASSIVE` checkpoint runs on the checkpointer's connection, alongside
/// the writer's next transactions.
///
/// A passive checkpoint cannot copy frames committed while it runs, and the log only starts over once everything
/// in it was copied. So under steady writes the log keeps growing until ``limit``, where the writer checkpoints
/// itself as SQLite would, copying only what the background checkpoints had not, and the log restarts.
///
/// Related SQLite documentation: <https://www.sqlite.org/wal.html#ckpt>, <https://www.sqlite.org/c3ref/wal_hook.html>
final class BackgroundCheckpointer: Sendable {
    /// The default ``threshold``: 16 MiB of 4 KiB pages.
    static let defaultThreshold: Int32 = 4_000
    /// The default ``limit``: 64 MiB of 4 KiB pages.
    static let defaultLimit: Int32 = 16_000

    /// Log size (frames, i.e. pages) from which a background checkpoint starts.
    let threshold: Int32
    /// Log size at which the writer checkpoints in its own commit.
    let limit: Int32

    private let connection: DatabaseQueue
    private let isCheckpointing = Atomic<Bool>(false)

    /// Opens the checkpointer's connection to a database file in WAL mode.
    init(path: String, threshold: Int32 = defaultThreshold, limit: Int32 = defaultLimit) throws {
        var configuration = Configuration()
        configuration.label = "acty.checkpointer"
        connection = try DatabaseQueue(path: path, configuration: configuration)
        self.threshold = threshold
        self.limit = limit
    }

    /// Replaces SQLite's automatic checkpoints on the writer connection `db` with this checkpointer.
    func install(on db: Database) {
        // The hook holds the checkpointer weakly: a store dropped without `close()` frees it, and commits still
        // queued on the writer then skip the hook.
        let context = Unmanaged.passRetained(HookContext(self)).toOpaque()
        sqlite3_wal_hook(db.sqliteConnection, { context, connection, _, frames in
            guard let context, let connection else { return SQLITE_OK }
            Unmanaged<HookContext>.fromOpaque(context).takeUnretainedValue().checkpointer?.logGrew(to: frames, writer: connection)
            return SQLITE_OK
        }, context)
    }

    /// Removes the hook from the writer connection (SQLite's automatic checkpoints stay off).
    func uninstall(from db: Database) {
        let previous = sqlite3_wal_hook(db.sqliteConnection, nil, nil)
        if let previous { Unmanaged<HookContext>.fromOpaque(previous).release() }
    }

    /// Closes the checkpointer's connection.
    func close() throws {
        try connection.close()
    }

    /// Called on the writer thread after each commit, with the log's length in frames.
    private func logGrew(to frames: Int32, writer: OpaquePointer) {
        if frames >= limit {
            // Returns at once (SQLITE_BUSY) while a background checkpoint runs: the next commit tries again.
            sqlite3_wal_checkpoint_v2(writer, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
            return
        }
        guard frames >= threshold, !isCheckpointing.exchange(true, ordering: .acquiringAndReleasing) else { return }
        connection.asyncWriteWithoutTransaction { db in
            // A failed checkpoint (a full disk, say) leaves the log to grow to `limit`, where the writer tries.
            _ = try? db.checkpoint(.passive)
            self.isCheckpointing.store(false, ordering: .releasing)
        }
    }
}

/// What the writer's WAL hook points to.
private final class HookContext: Sendable {
    weak let checkpointer: BackgroundCheckpointer?

    init(_ checkpointer: BackgroundCheckpointer) {
        self.checkpointer = checkpointer
    }
}
