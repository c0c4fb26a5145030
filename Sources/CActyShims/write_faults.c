// A SQLite VFS that passes everything through to the default VFS, except writes to files under an armed path:
// those fail the way a full disk or a failing device makes them fail.
//
// Tests install it as the default VFS of their process and arm it for one database at a time, so the engine's
// handling of write failures can be checked on any machine, without root or a tiny mount. Reads, locks and the
// shared-memory index keep working, as they do on a real full disk.

#include "CActyShims.h"
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <string.h>

#define MAX_ARMED 32
#define MAX_PREFIX 1024

typedef struct {
    char prefix[MAX_PREFIX];
    int fault;
    long failed;
} Armed;

static pthread_mutex_t armed_lock = PTHREAD_MUTEX_INITIALIZER;
static Armed armed[MAX_ARMED];
static atomic_int armed_count = 0;

static sqlite3_vfs *base_vfs;
static sqlite3_vfs fault_vfs;

typedef struct {
    sqlite3_file base;
    sqlite3_file *real;
    const char *name;  // valid until xClose (SQLite's guarantee); NULL for temporary files
} FaultFile;

/// The fault armed for a file, or ACTY_FAULT_NONE; counts the write it fails. A full disk does not fail syncs:
/// what was written before it filled up is kept.
static int fault_for(const char *name, int is_sync) {
    if (name == NULL || atomic_load(&armed_count) == 0) return ACTY_FAULT_NONE;
    int fault = ACTY_FAULT_NONE;
    pthread_mutex_lock(&armed_lock);
    for (int i = 0; i < MAX_ARMED; i++) {
        size_t length = strlen(armed[i].prefix);
        if (length > 0 && strncmp(name, armed[i].prefix, length) == 0) {
            if (!(is_sync && armed[i].fault == ACTY_FAULT_DISK_FULL)) {
                fault = armed[i].fault;
                armed[i].failed += 1;
            }
            break;
        }
    }
    pthread_mutex_unlock(&armed_lock);
    return fault;
}

/// The result of a write under `fault`, with errno set as the failing system call would leave it (SQLite reports
/// it through sqlite3_system_errno()).
static int failed_write(int fault, int ioerr) {
    if (fault == ACTY_FAULT_DISK_FULL) {
        errno = ENOSPC;
        return SQLITE_FULL;
    }
    errno = EIO;
    return ioerr;
}

#define REAL(file) (((FaultFile *)(file))->real)

static int f_close(sqlite3_file *file) {
    int rc = REAL(file)->pMethods->xClose(REAL(file));
    file->pMethods = NULL;
    return rc;
}
static int f_read(sqlite3_file *file, void *buffer, int amount, sqlite3_int64 offset) {
    return REAL(file)->pMethods->xRead(REAL(file), buffer, amount, offset);
}
static int f_write(sqlite3_file *file, const void *buffer, int amount, sqlite3_int64 offset) {
    int fault = fault_for(((FaultFile *)file)->name, 0);
    if (fault != ACTY_FAULT_NONE) return failed_write(fault, SQLITE_IOERR_WRITE);
    return REAL(file)->pMethods->xWrite(REAL(file), buffer, amount, offset);
}
static int f_truncate(sqlite3_file *file, sqlite3_int64 size) {
    int fault = fault_for(((FaultFile *)file)->name, 0);
    if (fault != ACTY_FAULT_NONE) return failed_write(fault, SQLITE_IOERR_TRUNCATE);
    return REAL(file)->pMethods->xTruncate(REAL(file), size);
}
static int f_sync(sqlite3_file *file, int flags) {
    int fault = fault_for(((FaultFile *)file)->name, 1);
    if (fault != ACTY_FAULT_NONE) return failed_write(fault, SQLITE_IOERR_FSYNC);
    return REAL(file)->pMethods->xSync(REAL(file), flags);
}
static int f_file_size(sqlite3_file *file, sqlite3_int64 *size) {
    return REAL(file)->pMethods->xFileSize(REAL(file), size);
}
static int f_lock(sqlite3_file *file, int lock) { return REAL(file)->pMethods->xLock(REAL(file), lock); }
static int f_unlock(sqlite3_file *file, int lock) { return REAL(file)->pMethods->xUnlock(REAL(file), lock); }
static int f_check_reserved_lock(sqlite3_file *file, int *out) {
    return REAL(file)->pMethods->xCheckReservedLock(REAL(file), out);
}
static int f_file_control(sqlite3_file *file, int op, void *argument) {
    return REAL(file)->pMethods->xFileControl(REAL(file), op, argument);
}
static int f_sector_size(sqlite3_file *file) { return REAL(file)->pMethods->xSectorSize(REAL(file)); }
static int f_device_characteristics(sqlite3_file *file) {
    return REAL(file)->pMethods->xDeviceCharacteristics(REAL(file));
}
static int f_shm_map(sqlite3_file *file, int page, int size, int extend, void volatile **out) {
    return REAL(file)->pMethods->xShmMap(REAL(file), page, size, extend, out);
}
static int f_shm_lock(sqlite3_file *file, int offset, int n, int flags) {
    return REAL(file)->pMethods->xShmLock(REAL(file), offset, n, flags);
}
static void f_shm_barrier(sqlite3_file *file) { REAL(file)->pMethods->xShmBarrier(REAL(file)); }
static int f_shm_unmap(sqlite3_file *file, int delete_flag) {
    return REAL(file)->pMethods->xShmUnmap(REAL(file), delete_flag);
}
static int f_fetch(sqlite3_file *file, sqlite3_int64 offset, int amount, void **out) {
    return REAL(file)->pMethods->xFetch(REAL(file), offset, amount, out);
}
static int f_unfetch(sqlite3_file *file, sqlite3_int64 offset, void *pointer) {
    return REAL(file)->pMethods->xUnfetch(REAL(file), offset, pointer);
}

static const sqlite3_io_methods fault_methods = {
    3, f_close, f_read, f_write, f_truncate, f_sync, f_file_size, f_lock, f_unlock, f_check_reserved_lock,
    f_file_control, f_sector_size, f_device_characteristics, f_shm_map, f_shm_lock, f_shm_barrier, f_shm_unmap,
    f_fetch, f_unfetch,
};

static int f_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file, int flags, int *out_flags) {
    (void)vfs;
    FaultFile *wrapper = (FaultFile *)file;
    wrapper->real = (sqlite3_file *)&wrapper[1];
    wrapper->name = name;
    int rc = base_vfs->xOpen(base_vfs, name, wrapper->real, flags, out_flags);
    // SQLite calls xClose only on files whose pMethods is set.
    file->pMethods = wrapper->real->pMethods ? &fault_methods : NULL;
    return rc;
}
static int f_delete(sqlite3_vfs *vfs, const char *name, int sync_dir) {
    (void)vfs;
    return base_vfs->xDelete(base_vfs, name, sync_dir);
}
static int f_access(sqlite3_vfs *vfs, const char *name, int flags, int *out) {
    (void)vfs;
    return base_vfs->xAccess(base_vfs, name, flags, out);
}
static int f_full_pathname(sqlite3_vfs *vfs, const char *name, int size, char *out) {
    (void)vfs;
    return base_vfs->xFullPathname(base_vfs, name, size, out);
}
static void *f_dl_open(sqlite3_vfs *vfs, const char *name) { (void)vfs; return base_vfs->xDlOpen(base_vfs, name); }
static void f_dl_error(sqlite3_vfs *vfs, int size, char *out) { (void)vfs; base_vfs->xDlError(base_vfs, size, out); }
static void (*f_dl_sym(sqlite3_vfs *vfs, void *handle, const char *symbol))(void) {
    (void)vfs;
    return base_vfs->xDlSym(base_vfs, handle, symbol);
}
static void f_dl_close(sqlite3_vfs *vfs, void *handle) { (void)vfs; base_vfs->xDlClose(base_vfs, handle); }
static int f_randomness(sqlite3_vfs *vfs, int size, char *out) {
    (void)vfs;
    return base_vfs->xRandomness(base_vfs, size, out);
}
static int f_sleep(sqlite3_vfs *vfs, int microseconds) { (void)vfs; return base_vfs->xSleep(base_vfs, microseconds); }
static int f_current_time(sqlite3_vfs *vfs, double *out) { (void)vfs; return base_vfs->xCurrentTime(base_vfs, out); }
static int f_get_last_error(sqlite3_vfs *vfs, int size, char *out) {
    (void)vfs;
    return base_vfs->xGetLastError(base_vfs, size, out);
}
static int f_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *out) {
    (void)vfs;
    return base_vfs->xCurrentTimeInt64(base_vfs, out);
}
static int f_set_system_call(sqlite3_vfs *vfs, const char *name, sqlite3_syscall_ptr call) {
    (void)vfs;
    return base_vfs->xSetSystemCall(base_vfs, name, call);
}
static sqlite3_syscall_ptr f_get_system_call(sqlite3_vfs *vfs, const char *name) {
    (void)vfs;
    return base_vfs->xGetSystemCall(base_vfs, name);
}
static const char *f_next_system_call(sqlite3_vfs *vfs, const char *name) {
    (void)vfs;
    return base_vfs->xNextSystemCall(base_vfs, name);
}

static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static int install_result = SQLITE_OK;

static void install(void) {
    // Finding the default VFS initializes SQLite: the process-wide settings must come first.
    acty_configure_sqlite();
    base_vfs = sqlite3_vfs_find(NULL);
    if (base_vfs == NULL || base_vfs->iVersion < 3) {
        install_result = SQLITE_ERROR;
        return;
    }
    fault_vfs = (sqlite3_vfs){
        3, (int)sizeof(FaultFile) + base_vfs->szOsFile, base_vfs->mxPathname, NULL, "acty-write-faults", NULL,
        f_open, f_delete, f_access, f_full_pathname, f_dl_open, f_dl_error, f_dl_sym, f_dl_close, f_randomness,
        f_sleep, f_current_time, f_get_last_error, f_current_time_int64, f_set_system_call, f_get_system_call,
        f_next_system_call,
    };
    install_result = sqlite3_vfs_register(&fault_vfs, 1);
}

int acty_write_faults_install(void) {
    pthread_once(&install_once, install);
    return install_result;
}

int acty_write_faults_arm(const char *path_prefix, int fault) {
    if (path_prefix == NULL || strlen(path_prefix) == 0 || strlen(path_prefix) >= MAX_PREFIX) return SQLITE_MISUSE;
    int rc = SQLITE_FULL;
    pthread_mutex_lock(&armed_lock);
    int free_slot = -1;
    for (int i = 0; i < MAX_ARMED; i++) {
        if (strcmp(armed[i].prefix, path_prefix) == 0) {
            free_slot = i;
            break;
        }
        if (free_slot < 0 && armed[i].prefix[0] == '\0') free_slot = i;
    }
    if (fault == ACTY_FAULT_NONE) {
        if (free_slot >= 0 && strcmp(armed[free_slot].prefix, path_prefix) == 0) {
            armed[free_slot].prefix[0] = '\0';
            atomic_fetch_sub(&armed_count, 1);
        }
        rc = SQLITE_OK;
    } else if (free_slot >= 0) {
        if (armed[free_slot].prefix[0] == '\0') {
            atomic_fetch_add(&armed_count, 1);
            armed[free_slot].failed = 0;
        }
        strcpy(armed[free_slot].prefix, path_prefix);
        armed[free_slot].fault = fault;
        rc = SQLITE_OK;
    }
    pthread_mutex_unlock(&armed_lock);
    return rc;
}

long acty_write_faults_failed(const char *path_prefix) {
    long failed = 0;
    pthread_mutex_lock(&armed_lock);
    for (int i = 0; i < MAX_ARMED; i++) {
        if (armed[i].prefix[0] != '\0' && strcmp(armed[i].prefix, path_prefix) == 0) failed = armed[i].failed;
    }
    pthread_mutex_unlock(&armed_lock);
    return failed;
}
