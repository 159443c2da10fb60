/*
 * harness/run/server_restart.c - the server.restart cue, carried out.
 *
 * The command runs under /bin/sh while the ranks keep running: that is
 * the point of the fault. It is spawned with posix_spawn (every fd of
 * ours is close-on-exec, so it inherits only stdio), put in its own
 * process group so a timeout can kill whatever it started in the
 * foreground, and waited for with a pidfd and a deadline. A server the
 * command leaves running in the background is the command's business:
 * that is the restarted server.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "run/server_restart.h"

extern char **environ;

static int wait_exit(pid_t pid, int timeout_ms, int *status)
{
    int fd = pidfd_open(pid, 0), rc = -1;
    struct timespec t0, t;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        long spent;
        int n;

        clock_gettime(CLOCK_MONOTONIC, &t);
        spent = (t.tv_sec - t0.tv_sec) * 1000 +
                (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (fd < 0 || spent >= timeout_ms)
            break;
        n = poll(&p, 1, (int)(timeout_ms - spent));
        if (n > 0) {
            rc = 0;
            break;
        }
        if (n < 0 && errno != EINTR)
            break;
    }
    if (rc != 0)
        kill(-pid, SIGKILL);
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
    if (fd >= 0)
        close(fd);
    return rc;
}

int rdv_server_restart_run(const char *cmd, int timeout_ms, char *err,
                           size_t errlen)
{
    char *argv[] = {"sh", "-c", (char *)cmd, NULL};
    posix_spawnattr_t attr;
    pid_t pid;
    int rc, status = 0;

    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    rc = posix_spawn(&pid, "/bin/sh", NULL, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);
    if (rc) {
        snprintf(err, errlen, "server.restart: cannot run '%s': %s", cmd,
                 strerror(rc));
        return -1;
    }
    if (wait_exit(pid, timeout_ms, &status)) {
        snprintf(err, errlen, "server.restart: '%s' did not finish within "
                 "%d ms", cmd, timeout_ms);
        return -1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(err, errlen, "server.restart: '%s' failed (status 0x%x)",
                 cmd, status);
        return -1;
    }
    return 0;
}
