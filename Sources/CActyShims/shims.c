#include "CActyShims.h"

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
