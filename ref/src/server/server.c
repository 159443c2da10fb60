/*
 * server/server.c - the store server's public face (rdv/store_server.h):
 * options, binding the listener, starting and stopping the thread that
 * runs the event loop (loop.c), and the stats.
 *
 * Choices:
 *  - A thread, not a forked process: a server started by a rank
 *    (tcp://...?serve=1) must not leave a child behind for the harness
 *    to reap or count as a leaked process, and it dies with the process
 *    that owns it. The thread blocks every signal, so signals keep
 *    going to the application's threads, and it owns its backend (an
 *    io_uring may be single-issuer: it is made on the thread that
 *    submits to it).
 *  - bind() and listen() happen in start(), on the caller's thread, so
 *    "address in use" (the loser of a serve=1 race) is a plain return
 *    value; the thread reports whether its backend came up before start
 *    returns, so a returned server accepts connections.
 *  - SO_REUSEADDR lets a restarted server bind while the old one's
 *    connections sit in TIME_WAIT; it never lets two servers listen on
 *    one address.
 *  - The soft RLIMIT_NOFILE is raised (never above the hard limit) when
 *    max_clients needs more fds than it allows, and the log says so: a
 *    default limit of 1024 would otherwise cap the server near 1000
 *    clients with EMFILE.
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "options.h"
#include "server.h"
#include "self_pid.h"
#include "transport/sockaddr.h"

#define DEFAULT_MAX_CLIENTS 4096u
#define DEFAULT_OUT_LIMIT (4u << 20)
#define DEFAULT_MAX_WAITING 1024u
#define LISTEN_BACKLOG 4096
#define FDS_SPARE 64 /* fds beside the clients: listener, files, ... */

static const rdv_store_server_options defaults = {
    .struct_size = sizeof(rdv_store_server_options),
    .bind = "127.0.0.1:0",
    .max_clients = DEFAULT_MAX_CLIENTS,
    .max_frame = RDV_TCP_BODY_MAX,
    .out_limit = DEFAULT_OUT_LIMIT,
    .max_waiting = DEFAULT_MAX_WAITING,
};

void rdv_store_server_options_init(rdv_store_server_options *o, size_t size)
{
    rdv_options_fill(o, size, &defaults, sizeof defaults);
}

/* "host:port" or "[v6]:port" into host[] and port[]. */
static int split_bind(const char *bind, char *host, size_t hcap, char *port,
                      size_t pcap)
{
    const char *colon = strrchr(bind, ':');
    const char *h = bind;
    size_t hlen;
    char *end;
    long p;

    if (!colon || !colon[1])
        return -1;
    hlen = (size_t)(colon - bind);
    if (hlen >= 2 && bind[0] == '[' && colon[-1] == ']') {
        h++;
        hlen -= 2;
    } else if (memchr(bind, ':', hlen)) {
        return -1; /* an IPv6 literal needs brackets */
    }
    p = strtol(colon + 1, &end, 10);
    if (*end || p < 0 || p > 65535 || hlen == 0 || hlen >= hcap)
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    snprintf(port, pcap, "%ld", p);
    return 0;
}

/* A listening socket on bind; fills s->listen_fd, address and port. */
static int listen_on(srv *s, char *errbuf, size_t errlen)
{
    struct addrinfo hints = {0}, *ai, *a;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char host[256], port[8];
    int rc, err = 0, fd = -1, one = 1;

    if (split_bind(s->bind, host, sizeof host, port, sizeof port)) {
        snprintf(errbuf, errlen, "store server: bind '%s' is not host:port "
                 "(or [v6]:port) with a port from 0 to 65535", s->bind);
        return RDV_EINVAL;
    }
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if ((rc = getaddrinfo(host, port, &hints, &ai))) {
        snprintf(errbuf, errlen, "store server: cannot resolve '%s': %s",
                 host, gai_strerror(rc));
        return RDV_ECONN;
    }
    for (a = ai; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            err = errno;
            continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) < 0 ||
            listen(fd, LISTEN_BACKLOG) < 0) {
            err = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd < 0) {
        snprintf(errbuf, errlen, "store server: cannot listen on %s: %s",
                 s->bind, strerror(err));
        return err == EADDRINUSE ? RDV_EEXIST : RDV_ECONN;
    }
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    rdv_sockaddr_format(&ss, s->address, sizeof s->address);
    s->port = ntohs(ss.ss_family == AF_INET6
                        ? ((struct sockaddr_in6 *)&ss)->sin6_port
                        : ((struct sockaddr_in *)&ss)->sin_port);
    s->listen_fd = fd;
    return RDV_OK;
}

static void raise_nofile(srv *s)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)s->max_clients + FDS_SPARE;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
        return;
    rlim_t was = rl.rlim_cur;
    rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
        srv_log(s, "raised the soft RLIMIT_NOFILE from %llu to %llu for "
                "%u clients%s", (unsigned long long)was,
                (unsigned long long)rl.rlim_cur, s->max_clients,
                rl.rlim_cur < want ? " (the hard limit; fewer will fit)"
                                   : "");
}

static char *dup_or_null(const char *p, int *oom)
{
    char *d = p ? strdup(p) : NULL;

    *oom |= p && !d;
    return d;
}

static void server_free(srv *s)
{
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->wake[0] >= 0)
        close(s->wake[0]);
    if (s->wake[1] >= 0)
        close(s->wake[1]);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    free(s->bind);
    if (s->token)
        memset(s->token, 0, s->token_len);
    free(s->token);
    free(s->transport);
    free(s);
}

/* Copies the options into a new server. */
static int server_new(const rdv_store_server_options *in, srv **out,
                      char *errbuf, size_t errlen)
{
    rdv_store_server_options o = defaults;
    int oom = 0;
    srv *s;

    if (!in) {
        snprintf(errbuf, errlen, "store server: options are NULL");
        return RDV_EINVAL;
    }
    if (rdv_options_take(&o, sizeof o, in,
                         sizeof(rdv_store_server_options),
                         "rdv_store_server_options", errbuf, errlen))
        return RDV_EINVAL;
    s = calloc(1, sizeof *s);
    if (!s)
        return RDV_ENOMEM;
    s->listen_fd = s->wake[0] = s->wake[1] = -1;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    s->bind = dup_or_null(o.bind ? o.bind : defaults.bind, &oom);
    s->token = dup_or_null(o.token && *o.token ? o.token : NULL, &oom);
    s->token_len = s->token ? strlen(s->token) : 0;
    s->transport = dup_or_null(o.transport, &oom);
    s->max_clients = o.max_clients ? o.max_clients : DEFAULT_MAX_CLIENTS;
    s->max_frame = o.max_frame && o.max_frame < RDV_TCP_BODY_MAX
                       ? o.max_frame
                       : RDV_TCP_BODY_MAX;
    s->out_limit = o.out_limit ? o.out_limit : DEFAULT_OUT_LIMIT;
    s->max_waiting = o.max_waiting ? o.max_waiting : DEFAULT_MAX_WAITING;
    s->log = o.log;
    s->log_arg = o.log_arg;
    if (oom) {
        server_free(s);
        return RDV_ENOMEM;
    }
    if (s->token_len > RDV_TCP_TOKEN_MAX) {
        snprintf(errbuf, errlen, "store server: the token is longer than "
                 "%u bytes", RDV_TCP_TOKEN_MAX);
        server_free(s);
        return RDV_EINVAL;
    }
    *out = s;
    return RDV_OK;
}

/* Starts the loop thread with every signal blocked; waits for its
 * verdict on the backend. */
static int thread_start(srv *s, char *errbuf, size_t errlen)
{
    sigset_t all, old;
    int err;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    err = pthread_create(&s->thread, NULL, srv_loop_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err) {
        snprintf(errbuf, errlen, "store server: cannot start its thread: "
                 "%s", strerror(err));
        return err == EAGAIN ? RDV_ENOMEM : RDV_EIO;
    }
    pthread_mutex_lock(&s->lock);
    while (!s->started)
        pthread_cond_wait(&s->cond, &s->lock);
    pthread_mutex_unlock(&s->lock);
    if (s->start_rc != RDV_OK) {
        pthread_join(s->thread, NULL);
        snprintf(errbuf, errlen, "store server: %s", s->start_err);
    }
    return s->start_rc;
}

int rdv_store_server_start(const rdv_store_server_options *o,
                           rdv_store_server **out, char *errbuf,
                           size_t errlen)
{
    srv *s = NULL;
    int rc;

    if (errbuf && errlen)
        errbuf[0] = '\0';
    if (!out)
        return RDV_EINVAL;
    *out = NULL;
    if ((rc = server_new(o, &s, errbuf, errlen)) != RDV_OK)
        return rc;
    raise_nofile(s);
    rc = listen_on(s, errbuf, errlen);
    if (rc == RDV_OK &&
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s->wake) < 0)
        rc = rdv_backend_sys_fail(errbuf, errlen, "store server: "
                                  "socketpair", errno);
    s->pid = rdv_self_pid();
    if (rc == RDV_OK)
        rc = thread_start(s, errbuf, errlen);
    if (rc != RDV_OK) {
        server_free(s);
        return rc;
    }
    *out = s;
    return RDV_OK;
}

void rdv_store_server_stop(rdv_store_server *s)
{
    char one = 1;

    if (!s)
        return;
    if (s->pid != rdv_self_pid()) {
        /* A forked child's copy: the thread runs in the parent only. */
        close(s->listen_fd);
        close(s->wake[0]);
        close(s->wake[1]);
        return;
    }
    while (write(s->wake[1], &one, 1) < 0 && errno == EINTR)
        ;
    pthread_join(s->thread, NULL);
    server_free(s);
}

const char *rdv_store_server_address(const rdv_store_server *s)
{
    return s ? s->address : "";
}

int rdv_store_server_port(const rdv_store_server *s)
{
    return s ? s->port : -1;
}

void rdv_store_server_stats_get(const rdv_store_server *s,
                                rdv_store_server_stats *out)
{
    rdv_store_server *m = (rdv_store_server *)s; /* atomics: loads only */

    memset(out, 0, sizeof *out);
    if (!s)
        return;
    out->clients = atomic_load(&m->st_clients);
    out->waiting = atomic_load(&m->st_waiting);
    out->keys = atomic_load(&m->st_keys);
    out->accepted = atomic_load(&m->st_accepted);
    out->dropped = atomic_load(&m->st_dropped);
    out->refused = atomic_load(&m->st_refused);
}
