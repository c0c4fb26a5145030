import CActyShims
import GRDBSQLite

/// Makes writes to a database fail on demand, as a full disk or a failing device would, so tests can check how the
/// engine copes on any machine, without root or a tiny mount.
///
/// It works through a SQLite VFS that wraps the default one (CActyShims' `write_faults.c`): only `xWrite`,
/// `xTruncate` and `xSync` of files under an armed path fail; reads, locks and the WAL index keep working. Call
/// ``install()`` before opening the database: connections opened earlier do not go through it.
package enum WriteFaults {
    /// A kind of write failure.
    package enum Fault: Sendable {
        /// `SQLITE_FULL` (`ENOSPC`) from every write.
        case diskFull
        /// `SQLITE_IOERR_WRITE`/`_FSYNC` (`EIO`) from every write and sync, as from a failing device, or from a
        /// file system remounted read-only under open files.
        case ioError

        var code: Int32 {
            switch self {
            case .diskFull: Int32(ACTY_FAULT_DISK_FULL)
            case .ioError: Int32(ACTY_FAULT_IO_ERROR)
            }
        }
    }

    /// Routes the connections opened from now on, in this process, through the fault-injecting VFS. Idempotent.
    package static func install() {
        precondition(acty_write_faults_install() == SQLITE_OK, "the fault-injection VFS could not be registered")
    }

    /// Makes writes to every file whose path starts with `path` (the database, its `-wal` and `-shm`) fail with
    /// `fault`, or work again with `nil`.
    package static func inject(_ fault: Fault?, under path: String) {
        precondition(acty_write_faults_arm(path, fault?.code ?? Int32(ACTY_FAULT_NONE)) == SQLITE_OK, "too many fault paths armed")
    }

    /// How many writes under `path` failed since ``inject(_:under:)`` armed a fault there.
    package static func failedWrites(under path: String) -> Int { acty_write_faults_failed(path) }
}
