// glibc declares posix_spawn_file_actions_addchdir_np and _addclosefrom_np only with _GNU_SOURCE, which Swift's
// Glibc module does not set: hence this file.
#define _GNU_SOURCE
#include "CActyProcess.h"
#include <signal.h>
#include <spawn.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

int acty_spawn_worker(const char *file, char *const argv[], char *const envp[], const char *cwd,
                      int stdin_fd, int stdout_fd, int stderr_fd, pid_t *pid) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    int code = posix_spawn_file_actions_init(&actions);
    if (code != 0) return code;
    code = posix_spawnattr_init(&attributes);
    if (code != 0) {
        posix_spawn_file_actions_destroy(&actions);
        return code;
    }
    if (code == 0) code = posix_spawn_file_actions_adddup2(&actions, stdin_fd, 0);
    if (code == 0) code = posix_spawn_file_actions_adddup2(&actions, stdout_fd, 1);
    if (code == 0) code = posix_spawn_file_actions_adddup2(&actions, stderr_fd, 2);
#if defined(__linux__)
    if (code == 0) code = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
#endif
    if (code == 0 && cwd != NULL) code = posix_spawn_file_actions_addchdir_np(&actions, cwd);

    sigset_t empty, defaults;
    sigemptyset(&empty);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGHUP);
    sigaddset(&defaults, SIGQUIT);
    short flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
#if defined(__APPLE__)
    // macOS has no closefrom action: close every descriptor not named in the file actions.
    flags |= POSIX_SPAWN_CLOEXEC_DEFAULT;
#endif
    if (code == 0) code = posix_spawnattr_setflags(&attributes, flags);
    if (code == 0) code = posix_spawnattr_setpgroup(&attributes, 0);
    if (code == 0) code = posix_spawnattr_setsigmask(&attributes, &empty);
    if (code == 0) code = posix_spawnattr_setsigdefault(&attributes, &defaults);
    if (code == 0) code = posix_spawnp(pid, file, &actions, &attributes, argv, envp);

    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    return code;
}

int acty_cloexec_pipe(int fds[2]) {
#if defined(__linux__)
    return pipe2(fds, O_CLOEXEC);
#else
    if (pipe(fds) != 0) return -1;
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    return 0;
#endif
}

int acty_cloexec_socketpair(int fds[2]) {
#if defined(__linux__)
    return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds);
#else
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) return -1;
    int on = 1;
    for (int i = 0; i < 2; i++) {
        fcntl(fds[i], F_SETFD, FD_CLOEXEC);
        setsockopt(fds[i], SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof on);
    }
    return 0;
#endif
}
