#ifndef ACTY_SHIMS_H
#define ACTY_SHIMS_H

/// Turns off SQLite's memory statistics before SQLite initializes, and accepts `file:` URIs as file names.
///
/// With statistics on, every allocation SQLite makes takes a global mutex to update its counters; Acty never reads
/// them. URIs let a read-only tool open a file as immutable (`file:…?immutable=1`). Must run before the first connection opens; later it has no effect (SQLite refuses the change).
void acty_configure_sqlite(void);


/// Write failures the fault-injection VFS can simulate (see write_faults.c).
enum {
    ACTY_FAULT_NONE = 0,
    /// Writes fail with SQLITE_FULL (errno ENOSPC), as on a full disk; syncs still succeed.
    ACTY_FAULT_DISK_FULL = 1,
    /// Writes and syncs fail with SQLITE_IOERR_* (errno EIO), as on a failing device, or on a file system
    /// remounted read-only under open files (EROFS).
    ACTY_FAULT_IO_ERROR = 2,
};

/// Makes the fault-injection VFS the process's default SQLite VFS; connections opened afterwards use it. It passes
/// everything to the previous default VFS until a fault is armed. Returns a SQLite result code. For tests.
int acty_write_faults_install(void);

/// Makes writes to files whose path starts with `path_prefix` fail with `fault` (ACTY_FAULT_NONE lifts it).
/// Returns SQLITE_OK, or SQLITE_FULL when too many prefixes are armed.
int acty_write_faults_arm(const char *path_prefix, int fault);

/// How many writes the VFS failed under `path_prefix` since it was armed (0 when it is not armed).
long acty_write_faults_failed(const char *path_prefix);

#endif
