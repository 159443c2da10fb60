/*
 * harness/run/own_server.c - the tcp:// store server a run starts itself
 * (own_server.h).
 *
 * The serving process is forked, blocks the stop signals, starts
 * librdv's server (rdv/store_server.h) on its own thread and says on a
 * pipe how that went: one line, "ok", "taken" (someone else serves the
 * address) or "error: <why>". Then it waits in sigwait() for SIGTERM.
 * It dies with the harness (PR_SET_PDEATHSIG), and it is in no rank's
 * process group, so the no-leak check never counts it.
 *
 * A restart binds the same address again. The killed server's io_uring
 * can hold the listening socket for a moment after the process is gone
 * (the ring is torn down asynchronously), so the new process retries
 * its bind until the restart's deadline instead of giving up on the
 * first EADDRINUSE, and a stop waits until the address binds again.
 *
 * A restart forks while the ranks run (and, in a sequenced run, beside
 * the sequencer's thread): the new server closes every fd it inherited
 * but its pipe, or it would hold the fault proxy's command pipe (and the
 * ranks' sockets) open for as long as it serves.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rdv/clock.h"
#include "rdv/status.h"
#include "rdv/store_server.h"
#include "rdv/url.h"
#include "run/own_server.h"

#define START_MS 10000     /* a first start: the address is free or not */
#define BIND_RETRY_MS 20
#define FREE_WAIT_MS 3000  /* a stop, until the address binds again */
#define PIPE_FD 3          /* the serving process's pipe, all it keeps */

static void log_line(void *arg, const char *line)
{
    (void)arg;
    fprintf(stderr, "rdv: the run's store server: %s\n", line);
}

static void say(int fd, const char *line)
{
    size_t n = strlen(line);

    if (write(fd, line, n) != (ssize_t)n)
        return; /* the parent is gone or gave up: nothing to tell */
}

/* The serving process. retry_ms > 0: a restart, which retries a bind
 * refused because the address is still held. */
static void serve(const rdv_own_server *s, int fd, int retry_ms)
{
    rdv_store_server_options o = rdv_store_server_options_default();
    int64_t until = rdv_now_ns() + (int64_t)retry_ms * 1000000;
    rdv_store_server *srv = NULL;
    char err[512], line[600];
    sigset_t stop;
    int rc, sig;

    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGHUP);
    sigprocmask(SIG_BLOCK, &stop, NULL);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* Only stdio and the pipe stay open (see the head comment). */
    if (fd != PIPE_FD) {
        dup2(fd, PIPE_FD);
        close(fd);
        fd = PIPE_FD;
    }
    close_range(PIPE_FD + 1, ~0U, 0);
    o.bind = s->addr;
    o.token = s->token[0] ? s->token : NULL;
    o.log = log_line;
    while ((rc = rdv_store_server_start(&o, &srv, err, sizeof err)) ==
               RDV_EEXIST && rdv_now_ns() < until)
        nanosleep(&(struct timespec){0, BIND_RETRY_MS * 1000000L}, NULL);
    if (rc == RDV_EEXIST && retry_ms == 0)
        snprintf(line, sizeof line, "taken\n");
    else if (rc != RDV_OK)
        snprintf(line, sizeof line, "error: %s\n", err);
    else
        snprintf(line, sizeof line, "ok\n");
    say(fd, line);
    close(fd);
    if (rc != RDV_OK)
        exit(3);
    while (sigwait(&stop, &sig) != 0)
        ;
    rdv_store_server_stop(srv);
    exit(0);
}

/* Reads the serving process's one line, within timeout_ms. */
static void hear(int fd, int timeout_ms, char *line, size_t cap)
{
    int64_t until = rdv_now_ns() + (int64_t)timeout_ms * 1000000;
    size_t o = 0;

    line[0] = '\0';
    while (o + 1 < cap) {
        int64_t left = (until - rdv_now_ns()) / 1000000;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t n;

        if (left <= 0 || poll(&p, 1, (int)left) != 1)
            break;
        n = read(fd, line + o, cap - 1 - o);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        o += (size_t)n;
        if (memchr(line, '\n', o))
            break;
    }
    line[o] = '\0';
    line[strcspn(line, "\n")] = '\0';
}

/* Reaps pid, killing it if it has not exited within grace_ms. */
static void reap(pid_t pid, int grace_ms)
{
    int64_t until = rdv_now_ns() + (int64_t)grace_ms * 1000000;

    while (waitpid(pid, NULL, WNOHANG) == 0) {
        if (rdv_now_ns() >= until) {
            kill(pid, SIGKILL);
            grace_ms = -1;
            break;
        }
        nanosleep(&(struct timespec){0, 5 * 1000000L}, NULL);
    }
    if (grace_ms < 0)
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
}

/* The pidfile the fault driver reads at each server.pause. */
static int pidfile_write(rdv_own_server *s, char *err, size_t errlen)
{
    int fd;

    if (!s->pidfile[0]) {
        snprintf(s->pidfile, sizeof s->pidfile,
                 "/tmp/rdv-own-server-XXXXXX");
        fd = mkostemp(s->pidfile, O_CLOEXEC);
    } else {
        fd = open(s->pidfile, O_WRONLY | O_TRUNC | O_CLOEXEC);
    }
    if (fd < 0 || dprintf(fd, "%d\n", (int)s->pid) < 0) {
        snprintf(err, errlen, "the run's store server: pidfile %s: %s",
                 s->pidfile, strerror(errno));
        if (fd >= 0)
            close(fd);
        return RDV_EIO;
    }
    close(fd);
    return RDV_OK;
}

/* Forks the serving process and waits for its word. RDV_OK with s->pid
 * set; RDV_EEXIST when the address was taken (first start only); else
 * a status with err. */
static int spawn(rdv_own_server *s, int retry_ms, int timeout_ms, char *err,
                 size_t errlen)
{
    char line[600];
    int fds[2];
    pid_t pid;

    if (pipe2(fds, O_CLOEXEC)) {
        snprintf(err, errlen, "the run's store server: pipe: %s",
                 strerror(errno));
        return RDV_EIO;
    }
    fflush(NULL); /* the child exits through exit(): no double output */
    if ((pid = fork()) < 0) {
        snprintf(err, errlen, "the run's store server: fork: %s",
                 strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return RDV_EIO;
    }
    if (pid == 0) {
        close(fds[0]);
        serve(s, fds[1], retry_ms);
    }
    close(fds[1]);
    hear(fds[0], timeout_ms, line, sizeof line);
    close(fds[0]);
    if (strcmp(line, "ok") == 0) {
        s->pid = pid;
        return pidfile_write(s, err, errlen);
    }
    kill(pid, SIGKILL);
    reap(pid, 0);
    if (strcmp(line, "taken") == 0)
        return RDV_EEXIST;
    snprintf(err, errlen, "the run's store server on %s: %s", s->addr,
             line[0] ? line : "no answer in time");
    return RDV_EIO;
}

/* Parses url; 1 when it asks to be served (then u stays parsed, for
 * the caller to free), else 0 with u freed. */
static int wants_serving(const char *url, rdv_url *u)
{
    const char *serve_opt;

    if (rdv_url_parse(url, u, NULL, 0))
        return 0;
    serve_opt = rdv_url_option(u, "serve");
    if (strcmp(u->scheme, "tcp") == 0 && serve_opt &&
        strcmp(serve_opt, "1") == 0 && u->host[0])
        return 1;
    rdv_url_free(u);
    return 0;
}

int rdv_own_server_wanted(const char *url)
{
    rdv_url u;

    if (!wants_serving(url, &u))
        return 0;
    rdv_url_free(&u);
    return 1;
}

int rdv_own_server_start(const char *url, rdv_own_server *s, char *err,
                         size_t errlen)
{
    const char *token;
    rdv_url u;
    int rc;

    memset(s, 0, sizeof *s);
    snprintf(s->url, sizeof s->url, "%s", url);
    /* Not ours, or malformed: the store's open judges the URL. */
    if (!wants_serving(url, &u))
        return RDV_OK;
    token = rdv_url_option(&u, "token");
    snprintf(s->addr, sizeof s->addr, strchr(u.host, ':') ? "[%s]:%d"
             : "%s:%d", u.host, rdv_url_port(&u));
    snprintf(s->host, sizeof s->host, "%s", u.host);
    s->port = rdv_url_port(&u);
    if (token && strlen(token) >= sizeof s->token) {
        rdv_url_free(&u); /* the store's open names the too-long token */
        return RDV_OK;
    }
    snprintf(s->token, sizeof s->token, "%s", token ? token : "");
    rdv_url_free(&u);
    if ((rc = rdv_url_with_option(url, "serve", "0", s->url, sizeof s->url,
                                  err, errlen)))
        return rc;
    rc = spawn(s, 0, START_MS, err, errlen);
    return rc == RDV_EEXIST ? RDV_OK : rc;
}

/* Whether host:port can be bound now (as the server binds it, with
 * SO_REUSEADDR): the last server's listener is gone. */
static int port_free(const rdv_own_server *s)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV}, *ai = NULL;
    char port[16];
    int fd, one = 1, ok = 0;

    snprintf(port, sizeof port, "%d", s->port);
    if (getaddrinfo(s->host, port, &hints, &ai) || !ai)
        return 1; /* cannot tell: do not wait */
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        ok = bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
             errno != EADDRINUSE;
        close(fd);
    }
    freeaddrinfo(ai);
    return ok;
}

int rdv_own_server_restart(rdv_own_server *s, int timeout_ms, char *err,
                           size_t errlen)
{
    if (s->pid <= 0) {
        snprintf(err, errlen, "server.restart: the run owns no server");
        return RDV_EINVAL;
    }
    kill(s->pid, SIGKILL);
    reap(s->pid, 0);
    s->pid = 0;
    return spawn(s, timeout_ms, timeout_ms + 1000, err, errlen);
}

void rdv_own_server_stop(rdv_own_server *s)
{
    if (s->pid > 0) {
        int64_t until = rdv_now_ns() + (int64_t)FREE_WAIT_MS * 1000000;

        kill(s->pid, SIGCONT); /* a paused server must hear SIGTERM */
        kill(s->pid, SIGTERM);
        reap(s->pid, 3000);
        while (!port_free(s) && rdv_now_ns() < until)
            nanosleep(&(struct timespec){0, BIND_RETRY_MS * 1000000L},
                      NULL);
    }
    s->pid = 0;
    if (s->pidfile[0])
        unlink(s->pidfile);
    s->pidfile[0] = '\0';
}
