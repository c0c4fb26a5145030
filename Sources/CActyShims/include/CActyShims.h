#ifndef ACTY_SHIMS_H
#define ACTY_SHIMS_H

/// Keeps glibc from returning freed heap memory to the kernel after every burst of allocations.
///
/// A job queue allocates and frees the same few megabytes over and over (claim batches, statement arguments,
/// results). With glibc's default trim threshold every free of the top chunk gives memory back with `brk`, and the
/// next batch faults it in again; measured, that costs 2-3x on claim loops. Does nothing on other C libraries.
void acty_tune_malloc(void);

#endif
