import Dispatch
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
/// itself as SQLite would, copying only what the background checkpoints had not, and the log restarts. Between
/// ``threshold`` and ``limit`` a background checkpoint starts each time the log grew by another ``step``: each copies
/// a page that commits keep rewriting once, where one per commit (one right after the other) copied it again and
/// again and cost ~12% of the fan-out's CPU.
///
/// Neither the file nor the log may lag far behind for long: a copy of the database file alone (without its
/// `-wal`) would miss everything since the last checkpoint, and a log that only restarts at ``limit`` can fill a
/// small disk. So while commits come, every ``interval`` a background checkpoint copies the log and the writer
/// then copies what came since, after its next commit, so that the log restarts; once the writer has been quiet
/// for ``idleDelay``, a `TRUNCATE` checkpoint copies the rest and empties the log file.
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
    /// Checkpoints started on the checkpointer's connection so far.
    var checkpointsStarted: Int { started.load(ordering: .relaxed) }
    /// Growth of the log between two background checkpoints: a quarter of ``threshold``.
    var step: Int32 { max(1, threshold / 4) }
    /// How long the writer stays quiet before the log is copied in full and truncated.
    let idleDelay: Duration
    /// The longest time between checkpoints while commits come.
    let interval: Duration

    private let connection: DatabaseQueue
    private let isCheckpointing = Atomic<Bool>(false)
    /// Whether the writer checkpoints after its next commit, as at ``limit``.
    private let isWriterCheckpointDue = Atomic<Bool>(false)
    /// Log size at which the next background checkpoint starts, and the size at the last commit (a smaller one
    /// means the log started over). The writer thread alone uses them.
    private let nextCheckpointAt: Atomic<Int32>
    private let lastFrames = Atomic<Int32>(0)
    /// Whether a look at the writer's activity is scheduled (see `watch(after:)`).
    private let isWatching = Atomic<Bool>(false)
    private let isClosed = Atomic<Bool>(false)
    private let started = Atomic<Int>(0)
    /// Uptime in nanoseconds of the last commit, and of the end of the last checkpoint.
    private let lastCommit = Atomic<UInt64>(0)
    private let lastCheckpoint = Atomic<UInt64>(0)

    /// Opens the checkpointer's connection to a database file in WAL mode.
    init(
        path: String, threshold: Int32 = defaultThreshold, limit: Int32 = defaultLimit,
        idleDelay: Duration = .milliseconds(500), interval: Duration = .seconds(2)
    ) throws {
        var configuration = Configuration()
        configuration.label = "acty.checkpointer"
        connection = try DatabaseQueue(path: path, configuration: configuration)
        self.threshold = threshold
        self.limit = limit
        self.idleDelay = idleDelay
        self.interval = interval
        nextCheckpointAt = Atomic(threshold)
        lastCheckpoint.store(Self.uptime, ordering: .relaxed)
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

    /// Closes the checkpointer's connection; checkpoints still scheduled do not run.
    func close() throws {
        isClosed.store(true, ordering: .releasing)
        try connection.close()
    }

    /// Called on the writer thread after each commit, with the log's length in frames.
    private func logGrew(to frames: Int32, writer: OpaquePointer) {
        lastCommit.store(Self.uptime, ordering: .relaxed)
        if !isWatching.load(ordering: .relaxed), !isWatching.exchange(true, ordering: .acquiringAndReleasing) {
            watch(after: min(idleDelay, interval))
        }
        if frames < lastFrames.exchange(frames, ordering: .relaxed) { nextCheckpointAt.store(threshold, ordering: .relaxed) }
        if frames >= limit || isWriterCheckpointDue.load(ordering: .relaxed) {
            // Returns at once (SQLITE_BUSY) while a background checkpoint runs: the next commit tries again.
            if sqlite3_wal_checkpoint_v2(writer, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil) == SQLITE_OK {
                isWriterCheckpointDue.store(false, ordering: .relaxed)
            }
            return
        }
        // A checkpoint that fails (a full disk, say) is tried again one step later, and at `limit` by the writer.
        if frames >= nextCheckpointAt.load(ordering: .relaxed), checkpoint(.passive) {
            nextCheckpointAt.store(frames + step, ordering: .relaxed)
        }
    }

    /// Looks at the writer's activity after `delay`: checkpoints when it went quiet or when the last checkpoint is
    /// ``interval`` old, and looks again while commits come. Commits schedule the first look; one at a time.
    private func watch(after delay: Duration) {
        let nanoseconds = Int(clamping: delay.components.seconds * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000)
        DispatchQueue.global(qos: .utility).asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) { [weak self] in
            self?.look()
        }
    }

    private func look() {
        guard !isClosed.load(ordering: .acquiring) else { return }
        let now = Self.uptime
        let quiet = Duration.nanoseconds(now &- lastCommit.load(ordering: .relaxed))
        guard quiet >= idleDelay else {
            var sinceCheckpoint = Duration.nanoseconds(now &- lastCheckpoint.load(ordering: .relaxed))
            if sinceCheckpoint >= interval, checkpoint(.passive) {
                isWriterCheckpointDue.store(true, ordering: .relaxed)
                sinceCheckpoint = .zero
            }
            watch(after: min(idleDelay - quiet, max(interval - sinceCheckpoint, .milliseconds(1))))
            return
        }
        // The next commit schedules the next look. Until then, a checkpoint that could not run or finish (a reader
        // of another process holds an old snapshot, say) is tried again.
        isWatching.store(false, ordering: .releasing)
        let started = checkpoint(.truncate) { emptied in
            if !emptied { self.watchAgain() }
        }
        if !started { watchAgain() }
    }

    private func watchAgain() {
        guard !isWatching.exchange(true, ordering: .acquiringAndReleasing) else { return }
        watch(after: interval)
    }

    /// Starts a checkpoint on the checkpointer's connection unless one runs; `completion` gets whether the log was
    /// copied in full (for `TRUNCATE`: and emptied).
    @discardableResult
    private func checkpoint(_ mode: Database.CheckpointMode, completion: (@Sendable (Bool) -> Void)? = nil) -> Bool {
        guard !isCheckpointing.exchange(true, ordering: .acquiringAndReleasing) else { return false }
        started.add(1, ordering: .relaxed)
        connection.asyncWriteWithoutTransaction { db in
            // Without a busy handler, a checkpoint that must wait for a writer or a reader returns SQLITE_BUSY.
            var copied = false
            if !self.isClosed.load(ordering: .acquiring), let result = try? db.checkpoint(mode) {
                copied = result.checkpointedFrameCount == result.walFrameCount
            }
            self.lastCheckpoint.store(Self.uptime, ordering: .relaxed)
            self.isCheckpointing.store(false, ordering: .releasing)
            completion?(copied)
        }
        return true
    }

    private static var uptime: UInt64 { DispatchTime.now().uptimeNanoseconds }
}

/// What the writer's WAL hook points to.
private final class HookContext: Sendable {
    weak let checkpointer: BackgroundCheckpointer?

    init(_ checkpointer: BackgroundCheckpointer) {
        self.checkpointer = checkpointer
    }
}
