/*
 * stores/exec_chan.c - one adapter process of an exec: store: started
 * with posix_spawn on a socketpair, one request and one reply at a time
 * within a deadline, stopped at close by end-of-file, SIGTERM, SIGKILL
 * (killed at once when it is out of step), and always reaped by pid.
 * EXEC_PROTOCOL.md is the contract with the adapter; exec_proto.c the
 * codec this file feeds.
 *
 * Choices:
 * - posix_spawn, not fork: glibc spawns with CLONE_VFORK, so a process
 *   with threads (or a large ASan heap) starts an adapter safely and
 *   cheaply, and an exec failure (missing interpreter, not executable)
 *   comes back as the call's errno instead of a child's exit code.
 * - The adapter sees the socket as fds 0 and 1 and our stderr as fd 2
 *   (its diagnostics go where ours do) and nothing else: closefrom(3)
 *   in the spawn, besides every fd of ours being CLOEXEC already. Its
 *   signals start at their defaults, unblocked, whatever ours are. It
 *   stays in our process group, so whoever kills our group (rdv conform,
 *   rdv run) kills it too.
 * - Our end is non-blocking; every wait is one ppoll() on it and the
 *   handle's cancel eventfd with the deadline in ns, retried on EINTR,
 *   so a signal neither ends nor stretches a call. Writes use sendmsg
 *   with MSG_NOSIGNAL: a dead adapter is EPIPE, never SIGPIPE.
 * - A reply is read in 64 KiB pieces fed to the parser; bytes beyond
 *   the reply are a protocol error (the adapter may send only replies).
 * - Death is reported with its cause: after end-of-file we give the
 *   process 100 ms to be reaped, so the message says "exited with status
 *   3" or "was killed by signal 11 (Segmentation fault)".
 */
#define _GNU_SOURCE /* posix_spawn_file_actions_addclosefrom_np, ppoll */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exec_chan.h"
#include "rdv/store_ops.h"

#define EXIT_GRACE_NS 100000000LL /* for exit after end-of-file */
#define TERM_GRACE_NS 500000000LL /* for exit after SIGTERM */
#define READ_CHUNK 65536

extern char **environ;

/* Waits until fd is ready for events, the deadline, or cancel. */
static int wait_fd(int fd, short events, int64_t deadline, int cancel_fd)
{
    struct pollfd pfd[2] = {{fd, events, 0}, {cancel_fd, POLLIN, 0}};

    for (;;) {
        struct timespec ts, *tp = NULL;
        int n;

        if (deadline != RDV_DEADLINE_NONE) {
            int64_t left = deadline - rdv_now_ns();

            if (left <= 0)
                return RDV_ETIMEDOUT;
            ts.tv_sec = left / 1000000000LL;
            ts.tv_nsec = left % 1000000000LL;
            tp = &ts;
        }
        n = ppoll(pfd, cancel_fd >= 0 ? 2 : 1, tp, NULL);
        if (n < 0 && errno != EINTR)
            return RDV_EIO;
        if (n > 0 && cancel_fd >= 0 && pfd[1].revents)
            return RDV_ECANCELED;
        if (n > 0 && pfd[0].revents)
            return RDV_OK;
    }
}

/* Reaps c if it has exited (or was reaped elsewhere); 1 when reaped. */
static int try_reap(rdv_exec_chan *c, int *status)
{
    pid_t r;

    if (c->reaped || c->pid <= 0)
        return 1;
    while ((r = waitpid(c->pid, status, WNOHANG)) < 0 && errno == EINTR)
        ;
    if (r == c->pid || (r < 0 && errno == ECHILD)) {
        if (r < 0)
            *status = -1; /* reaped by someone else (SIGCHLD ignored?) */
        c->reaped = 1;
    }
    return c->reaped;
}

/* Reaps every listed adapter or gives up at deadline. */
static void reap_until(rdv_exec_chan *const cs[], size_t n, int64_t deadline)
{
    struct timespec tick = {0, 1000000};

    for (;;) {
        size_t left = 0;
        int status;

        for (size_t i = 0; i < n; i++)
            left += !try_reap(cs[i], &status);
        if (left == 0 || rdv_now_ns() >= deadline)
            return;
        nanosleep(&tick, NULL);
        if (tick.tv_nsec < 8000000)
            tick.tv_nsec *= 2;
    }
}

/* The adapter closed its end: says how it ended, waiting briefly. */
static void describe_end(rdv_exec_chan *c, const char *how, char *why,
                         size_t whylen)
{
    struct timespec tick = {0, 1000000};
    int64_t until = rdv_now_ns() + EXIT_GRACE_NS;
    int status = 0;

    while (!try_reap(c, &status) && rdv_now_ns() < until)
        nanosleep(&tick, NULL);
    if (!c->reaped)
        snprintf(why, whylen, "%s (it is still running)", how);
    else if (status == -1)
        snprintf(why, whylen, "exited");
    else if (WIFEXITED(status))
        snprintf(why, whylen, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(why, whylen, "was killed by signal %d (%s)",
                 WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(why, whylen, "%s", how);
}

static int broke(rdv_exec_chan *c, int rc, char *why, size_t whylen,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int broke(rdv_exec_chan *c, int rc, char *why, size_t whylen,
                 const char *fmt, ...)
{
    char how[256];
    va_list ap;

    c->broken = 1;
    va_start(ap, fmt);
    vsnprintf(how, sizeof how, fmt, ap);
    va_end(ap);
    if (rc == RDV_ECONN)
        describe_end(c, how, why, whylen);
    else
        snprintf(why, whylen, "%s", how);
    return rc;
}

/* The failure of a wait_fd() while the adapter was doing something. */
static int wait_failed(rdv_exec_chan *c, int rc, const char *doing,
                       char *why, size_t whylen)
{
    if (rc == RDV_ECANCELED)
        return broke(c, rc, why, whylen, "was interrupted while %s: the "
                     "store was closed", doing);
    if (rc == RDV_ETIMEDOUT)
        return broke(c, rc, why, whylen, "was still %s at the deadline",
                     doing);
    return broke(c, rc, why, whylen, "could not be polled %s: %s", doing,
                 strerror(errno));
}

static int send_all(rdv_exec_chan *c, const rdv_exec_req *req,
                    int64_t deadline, int cancel_fd, char *why,
                    size_t whylen)
{
    size_t n, at = 0;
    struct iovec *iov = rdv_exec_req_iov(req, &n);
    int rc = RDV_OK;

    if (!iov)
        return broke(c, RDV_ENOMEM, why, whylen, "out of memory");
    while (at < n && rc == RDV_OK) {
        struct msghdr m = {.msg_iov = iov + at,
                           .msg_iovlen = n - at < 1024 ? n - at : 1024};
        ssize_t put = sendmsg(c->fd, &m, MSG_NOSIGNAL);

        if (put < 0 && errno == EINTR)
            continue;
        if (put < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if ((rc = wait_fd(c->fd, POLLOUT, deadline, cancel_fd)))
                rc = wait_failed(c, rc, "taking the request", why,
                                 whylen);
            continue;
        }
        if (put < 0) {
            rc = broke(c, RDV_ECONN, why, whylen, "closed its socket (%s) "
                       "while rdv was sending the request", strerror(errno));
            break;
        }
        for (size_t done = (size_t)put; at < n && done;) {
            size_t step = done < iov[at].iov_len ? done : iov[at].iov_len;

            iov[at].iov_base = (char *)iov[at].iov_base + step;
            iov[at].iov_len -= step;
            done -= step;
            if (iov[at].iov_len == 0)
                at++;
        }
        while (at < n && iov[at].iov_len == 0)
            at++;
    }
    free(iov);
    return rc;
}

static int read_reply(rdv_exec_chan *c, rdv_exec_parser *p, int64_t deadline,
                      int cancel_fd, char *why, size_t whylen)
{
    unsigned char *buf = malloc(READ_CHUNK);
    int rc = 0;

    if (!buf)
        return broke(c, RDV_ENOMEM, why, whylen, "out of memory");
    while (rc == 0) {
        ssize_t got = recv(c->fd, buf, READ_CHUNK, 0);
        size_t used;

        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if ((rc = wait_fd(c->fd, POLLIN, deadline, cancel_fd)) != 0)
                rc = wait_failed(c, rc, "working on the request", why,
                                 whylen);
            continue;
        }
        if (got <= 0) {
            rc = broke(c, RDV_ECONN, why, whylen, "closed its socket%s%s "
                       "before replying", got < 0 ? ": " : "",
                       got < 0 ? strerror(errno) : "");
            break;
        }
        rc = rdv_exec_parser_feed(p, buf, (size_t)got, &used);
        if (rc < 0)
            rc = broke(c, rc, why, whylen, "sent a bad reply: %s", p->err);
        else if (rc == 1 && used < (size_t)got)
            rc = broke(c, RDV_EPROTO, why, whylen, "sent %zu bytes more "
                       "than its reply", (size_t)got - used);
    }
    free(buf);
    return rc == 1 ? RDV_OK : rc;
}

int rdv_exec_chan_call(rdv_exec_chan *c, const rdv_exec_req *req,
                       rdv_exec_parser *p, int64_t deadline, int cancel_fd,
                       char *why, size_t whylen)
{
    int rc = send_all(c, req, deadline, cancel_fd, why, whylen);

    if (rc == RDV_OK)
        rc = read_reply(c, p, deadline, cancel_fd, why, whylen);
    if (rc != RDV_OK)
        rdv_exec_parser_free(p);
    return rc;
}

/* Spawns argv on sv (the adapter's end); RDV_OK or errno text in why. */
static int spawn(rdv_exec_chan *c, char *const argv[], int sv, char *why,
                 size_t whylen)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, all;
    int err;

    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_adddup2(&fa, sv, 0);
    posix_spawn_file_actions_adddup2(&fa, sv, 1);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    err = (strchr(argv[0], '/') ? posix_spawn : posix_spawnp)(
        &c->pid, argv[0], &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (err) {
        c->pid = 0;
        snprintf(why, whylen, "cannot be started: %s%s", strerror(err),
                 err == ENOENT || err == ENOEXEC
                     ? " (for a script: is the interpreter its #! line "
                       "names installed?)"
                     : "");
        return RDV_ECONN;
    }
    return RDV_OK;
}

int rdv_exec_chan_start(rdv_exec_chan *c, char *const argv[],
                        int64_t deadline, int cancel_fd,
                        rdv_exec_reply *hello, char *why, size_t whylen)
{
    rdv_exec_req req = {0};
    rdv_exec_parser p;
    int sv[2], rc;

    *c = (rdv_exec_chan){.fd = -1};
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        snprintf(why, whylen, "cannot be started: socketpair: %s",
                 strerror(errno));
        return RDV_EIO;
    }
    if (sv[1] < 3) { /* dup2 onto itself would keep CLOEXEC */
        int moved = fcntl(sv[1], F_DUPFD_CLOEXEC, 3);

        close(sv[1]);
        sv[1] = moved;
    }
    rc = sv[1] < 0 ? RDV_EIO : spawn(c, argv, sv[1], why, whylen);
    if (sv[1] >= 0)
        close(sv[1]);
    if (rc) {
        close(sv[0]);
        return rc;
    }
    c->fd = sv[0];
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    rdv_exec_req_hello(&req);
    rdv_exec_parser_init(&p, RDV_EXEC_HELLO, 0);
    rc = rdv_exec_chan_call(c, &req, &p, deadline, cancel_fd, why, whylen);
    rdv_exec_req_free(&req);
    if (rc == RDV_OK) {
        *hello = p.reply;
        return RDV_OK;
    }
    rdv_exec_chan_kill(c);
    return rc;
}

void rdv_exec_chan_forget(rdv_exec_chan *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/* SIGKILLs c unless it was reaped, and reaps it. */
static void kill_reap(rdv_exec_chan *c)
{
    int status;

    if (c->reaped || c->pid <= 0)
        return;
    kill(c->pid, SIGKILL);
    while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
        ;
    c->reaped = 1;
}

void rdv_exec_chan_kill(rdv_exec_chan *c)
{
    rdv_exec_chan_forget(c);
    kill_reap(c);
}

void rdv_exec_chan_stop(rdv_exec_chan *const cs[], size_t n)
{
    for (size_t i = 0; i < n; i++)
        rdv_exec_chan_forget(cs[i]);
    reap_until(cs, n, rdv_now_ns() + EXIT_GRACE_NS);
    for (size_t i = 0; i < n; i++)
        if (!cs[i]->reaped && cs[i]->pid > 0)
            kill(cs[i]->pid, SIGTERM);
    reap_until(cs, n, rdv_now_ns() + TERM_GRACE_NS);
    for (size_t i = 0; i < n; i++)
        kill_reap(cs[i]);
}
