#include "CActyShims.h"
#include <sqlite3.h>

#if defined(__GLIBC__)
#include <malloc.h>

void acty_tune_malloc(void) {
    mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
    mallopt(M_TOP_PAD, 16 * 1024 * 1024);
    mallopt(M_MMAP_THRESHOLD, 16 * 1024 * 1024);
}
#else
void acty_tune_malloc(void) {}
#endif

void acty_configure_sqlite(void) {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}
