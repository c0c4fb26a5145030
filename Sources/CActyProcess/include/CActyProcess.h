#ifndef ACTY_PROCESS_H
#define ACTY_PROCESS_H

#include <sys/types.h>

/// Starts a worker process with `posix_spawnp` (`file` is searched on this process's PATH when it has no slash).
///
/// The child gets `stdin_fd`, `stdout_fd` and `stderr_fd` as its descriptors 0, 1 and 2 and no other descriptor of
/// ours (everything from 3 up is closed in the child), runs in `cwd` when it is not NULL, leads a process group of its
/// own (so signalling `-pid` reaches the processes it starts), and has default signal dispositions and an empty
/// signal mask whatever this process set. `argv` and `envp` are NULL-terminated. Returns 0 and sets `*pid`, or an
/// errno value.
int acty_spawn_worker(const char *file, char *const argv[], char *const envp[], const char *cwd,
                      int stdin_fd, int stdout_fd, int stderr_fd, pid_t *pid);

/// A pipe whose two descriptors are close-on-exec (atomically on Linux, so no process spawned meanwhile inherits
/// them). `fds[0]` reads, `fds[1]` writes. Returns 0 or -1 with errno set.
int acty_cloexec_pipe(int fds[2]);

/// A Unix stream socket pair whose descriptors are close-on-exec and never raise SIGPIPE on macOS (Linux callers
/// pass MSG_NOSIGNAL to send). Returns 0 or -1 with errno set.
int acty_cloexec_socketpair(int fds[2]);

#endif
