#ifndef ACTY_SHIMS_H
#define ACTY_SHIMS_H

/// Turns off SQLite's memory statistics before SQLite initializes, and accepts `file:` URIs as file names.
///
/// With statistics on, every allocation SQLite makes takes a global mutex to update its counters; Acty never reads
/// them. URIs let a read-only tool open a file as immutable (`file:…?immutable=1`). Must run before the first connection opens; later it has no effect (SQLite refuses the change).
void acty_configure_sqlite(void);

#endif
