#ifndef ACTY_SHIMS_H
#define ACTY_SHIMS_H

/// Turns off SQLite's memory statistics before SQLite initializes.
///
/// With statistics on, every allocation SQLite makes takes a global mutex to update its counters; Acty never reads
/// them. Must run before the first connection opens; later it has no effect (SQLite refuses the change).
void acty_configure_sqlite(void);

#endif
