#ifndef ACTY_SHIMS_H
#define ACTY_SHIMS_H

/// Keeps glibc from returning freed heap memory to the kernel after every burst of allocations.
///
/// A job queue allocates and frees the same few megabytes over and over (claim batches, statement arguments,
/// results). With glibc's default trim threshold every free of the top chunk gives memory back with `brk`, and the
/// next batch faults it in again; measured, that costs 2-3x on claim loops. Does nothing on other C libraries.
void acty_tune_malloc(void);

/// Turns off SQLite's memory statistics before SQLite initializes.
///
/// With statistics on, every allocation SQLite makes takes a global mutex to update its counters; Acty never reads
/// them. Must run before the first connection opens; later it has no effect (SQLite refuses the change).
void acty_configure_sqlite(void);

#endif
