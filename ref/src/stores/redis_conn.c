/*
 * stores/redis_conn.c - one connection to a redis server: connect,
 * log in, exchange pipelined commands, reconnect; see redis_conn.h.
 *
 * Choices:
 * - The socket is ours (redis_net.c), not a redisContext's: CLOEXEC and
 *   non-blocking, written with sendmsg(MSG_NOSIGNAL) (a dead server must
 *   not raise SIGPIPE in the caller), and every wait is one ppoll() on
 *   the socket plus the cancel eventfd with the caller's deadline in ns.
 *   hiredis's reader parses the replies; redisFormatCommandArgv encodes
 *   the requests (binary-safe, so keys may hold any byte but NUL).
 * - A failed exchange always drops the connection: a reply still in
 *   flight would otherwise answer the next request.
 * - Reconnect: attempts start 1 ms apart and back off to 100 ms, with
 *   jitter, until the call's deadline (tries go on until 1 ms before
 *   it); each connect attempt is also bounded by timeout_ms. A
 *   refused or reset connection before anything was sent is always
 *   retried. Commands that are not idempotent are never resent once any
 *   of their bytes left; before sending one on an old connection a
 *   zero-timeout poll catches a server that has since closed it (the
 *   usual sign of a restart), so it goes out on a fresh one instead.
 * - A silent server (a blackholing proxy or a dead path: the socket stays
 *   open, nothing comes back) must not hold a call to its deadline when
 *   it recovers sooner. Every wait is bounded by the deadline, and for a
 *   login and an idempotent command also by a patience: 250 ms without a
 *   byte moving, doubling on each silent try up to 1 s (or timeout_ms if
 *   less). Past it the connection is in an unknown state (a reply may
 *   still come): it is dropped and the command goes out again on a new
 *   one. The doubling lets a merely slow server answer; the cap keeps
 *   recovery within about 1 s of the end of a long outage. A healthy
 *   redis answers in microseconds and the bytes of a large reply count as
 *   progress, so only a stalled server trips it; one that stays slower
 *   than 1 s ends the call at its deadline with RDV_ETIMEDOUT ("silent
 *   for 1000 ms"). A command that is not idempotent waits for its reply
 *   until the deadline instead: only the reply can say whether it ran.
 * - EINTR: ppoll, connect, sendmsg and read simply retry; deadlines are
 *   absolute, so a signal never stretches or ends a wait.
 */
#define _GNU_SOURCE /* POLLRDHUP, pthread_mutex_clocklock */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rdv/clock.h"
#include "rdv/status.h"
#include "redis_conn.h"
#include "redis_net.h"

#define RECONNECT_FIRST_NS 1000000LL  /* 1 ms */
#define RECONNECT_MAX_NS 100000000LL  /* 100 ms */
#define LAST_TRY_NS 1000000LL        /* 1 ms: a try needs some time */
#define PATIENCE_FIRST_NS 250000000LL /* 250 ms */
#define PATIENCE_MAX_NS 1000000000LL  /* 1 s */
#define READ_CHUNK 65536
/* hiredis (0.14) allocates an array's element vector when it reads the
 * array's header, as long as the header claims (up to INT_MAX): the 16
 * bytes "*200000000\r\n" made it calloc 1.6 GB (found by the
 * redis_reply fuzz target). No reply rdv asks for holds more elements
 * than its request has arguments, but for a SCAN page, whose size is the
 * server's (COUNT 1000 is a hint): ARRAY_FLOOR leaves it ample room.
 * A longer array is refused before anything is allocated for it. */
#define ARRAY_FLOOR 65536
/* Internal results, apart from the (negative) rdv_status values and
 * RDV_REDIS_SILENT (redis_net.h). */
#define RETRY_LATER 1 /* the server did not run it; try again */
#define SILENT RDV_REDIS_SILENT

int64_t rdv_redis_io_deadline(const rdv_redis_conn *c, int64_t deadline)
{
    int64_t now = rdv_now_ns();

    if (deadline == RDV_DEADLINE_NONE || deadline > now)
        return deadline;
    return now + c->conf->timeout_ms * 1000000LL;
}

int rdv_redis_conn_init(rdv_redis_conn *c, const rdv_redis_conf *conf,
                        char *errbuf, size_t errlen)
{
    int rc;

    memset(c, 0, sizeof *c);
    c->conf = conf;
    c->fd = -1;
    if ((rc = rdv_cancel_init(&c->cancel, "redis store", errbuf, errlen)))
        return rc;
    pthread_mutex_init(&c->lock, NULL);
    return RDV_OK;
}

/* Forgets the connection. Lock held. */
static void conn_drop(rdv_redis_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    if (c->reader)
        redisReaderFree(c->reader);
    c->reader = NULL;
}

void rdv_redis_conn_destroy(rdv_redis_conn *c)
{
    conn_drop(c);
    rdv_cancel_destroy(&c->cancel);
    pthread_mutex_destroy(&c->lock);
}

void rdv_redis_conn_cancel(rdv_redis_conn *c)
{
    rdv_cancel_fire(&c->cancel);
}

/* After fork(), the child drops what it inherited, without any I/O on
 * it: the parent still uses that socket. Lock held. */
static int conn_own(rdv_redis_conn *c, char *err, size_t errlen)
{
    int rc = rdv_cancel_adopt(&c->cancel);

    if (rc < 0) {
        snprintf(err, errlen, "redis %s: eventfd after fork: %s",
                 c->conf->addr, strerror(errno));
        return rc;
    }
    if (rc == 1)
        conn_drop(c);
    return RDV_OK;
}

static int exchange(rdv_redis_conn *c, const rdv_redis_cmd *cmds, size_t n,
                    redisReply **replies, rdv_redis_io b, int *sent,
                    char *err, size_t errlen);

static void *bounded_array(const redisReadTask *t, int n)
{
    rdv_redis_conn *c = t->privdata;

    if (n > 0 && (size_t)n > c->array_max) {
        c->array_refused = n;
        return NULL; /* the reader fails; recv_all says why */
    }
    return c->create_array(t, n);
}

/* AUTH and SELECT on a new connection. Lock held, fd set. Resending
 * them is harmless, so they always have a patience. */
static int conn_login(rdv_redis_conn *c, rdv_redis_io b, char *err,
                      size_t errlen)
{
    const rdv_redis_conf *cf = c->conf;
    const char *auth[3] = {"AUTH"}, *sel[2] = {"SELECT"};
    size_t auth_len[3] = {4}, sel_len[2] = {6};
    rdv_redis_cmd cmds[2];
    redisReply *rep[2] = {0};
    char db[24];
    size_t n = 0;
    int sent = 0, rc;

    if (cf->password) {
        int argc = 1;

        if (cf->user) {
            auth[argc] = cf->user;
            auth_len[argc++] = strlen(cf->user);
        }
        auth[argc] = cf->password;
        auth_len[argc++] = strlen(cf->password);
        cmds[n++] = (rdv_redis_cmd){argc, auth, auth_len};
    }
    if (cf->db) {
        sel_len[1] = (size_t)snprintf(db, sizeof db, "%ld", cf->db);
        sel[1] = db;
        cmds[n++] = (rdv_redis_cmd){2, sel, sel_len};
    }
    if (n == 0)
        return RDV_OK;
    rc = exchange(c, cmds, n, rep, b, &sent, err, errlen);
    for (size_t i = 0; rc == RDV_OK && i < n; i++) {
        if (rep[i]->type != REDIS_REPLY_ERROR)
            continue;
        if (cmds[i].argv == auth) {
            snprintf(err, errlen, "redis %s: authentication failed%s%s: "
                     "%s", cf->addr, cf->user ? " for user " : "",
                     cf->user ? cf->user : "", rep[i]->str);
            rc = RDV_EAUTH;
        } else if (strncmp(rep[i]->str, "LOADING", 7) == 0) {
            /* the call's error if its deadline ends the retries */
            snprintf(err, errlen, "redis %s: %s", cf->addr, rep[i]->str);
            rc = RETRY_LATER;
        } else {
            snprintf(err, errlen, "redis %s: cannot select db %ld: %s",
                     cf->addr, cf->db, rep[i]->str);
            rc = strncmp(rep[i]->str, "NOAUTH", 6) ? RDV_EINVAL
                                                   : RDV_EAUTH;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (rep[i])
            freeReplyObject(rep[i]);
    return rc;
}

/* A new connection, logged in. Lock held. RDV_ECONN and SILENT are
 * retryable: nothing of the caller's was sent. */
static int conn_open(rdv_redis_conn *c, rdv_redis_io b, char *err,
                     size_t errlen)
{
    int64_t bound = rdv_now_ns() + c->conf->timeout_ms * 1000000LL;
    int fd = -1, rc;

    err[0] = '\0';
    rc = rdv_redis_sock_open(c, b.deadline < bound ? b.deadline : bound, &fd,
                             err, errlen);
    if (rc == 1)
        return RDV_ECANCELED;
    if (rc < 0) {
        if (!err[0])
            snprintf(err, errlen, "redis %s: connect: %s", c->conf->addr,
                     rc == -ETIMEDOUT ? "timed out" : strerror(-rc));
        return RDV_ECONN;
    }
    c->fd = fd;
    c->reader = redisReaderCreate();
    if (!c->reader) {
        conn_drop(c);
        snprintf(err, errlen, "redis %s: out of memory", c->conf->addr);
        return RDV_ENOMEM;
    }
    c->fns = *c->reader->fn;
    c->create_array = c->fns.createArray;
    c->fns.createArray = bounded_array;
    c->reader->fn = &c->fns;
    c->reader->privdata = c;
    rc = conn_login(c, b, err, errlen);
    if (rc)
        conn_drop(c);
    return rc;
}

/* hiredis grows its read buffer by 1 MiB at a time once it holds 1 MiB,
 * so a 64 MiB reply would be reallocated (and copied) ~64 times; doubling
 * it ahead of the feed keeps that to a handful. Only mid-reply: an empty
 * buffer is the reader's to shrink. */
static int reader_reserve(redisReader *rd)
{
    size_t len = sdslen(rd->buf);
    sds grown;

    if (len < SDS_MAX_PREALLOC || sdsavail(rd->buf) >= READ_CHUNK)
        return 0;
    grown = sdsMakeRoomFor(rd->buf, len);
    if (!grown)
        return -1;
    rd->buf = grown;
    return 0;
}

/* Reads until n replies are parsed. */
static int recv_all(rdv_redis_conn *c, redisReply **replies, size_t n,
                    rdv_redis_io *b, char *err, size_t errlen)
{
    char buf[READ_CHUNK];
    size_t got = 0;

    while (got < n) {
        void *rep = NULL;
        ssize_t r;
        int rc;

        if (redisReaderGetReply(c->reader, &rep) != REDIS_OK) {
            if (c->array_refused)
                snprintf(err, errlen, "redis %s: bad reply: an array of "
                         "%ld elements, more than a reply to this request "
                         "holds (at most %zu)", c->conf->addr,
                         c->array_refused, c->array_max);
            else
                snprintf(err, errlen, "redis %s: bad reply: %s",
                         c->conf->addr, c->reader->errstr);
            return RDV_EPROTO;
        }
        if (rep) {
            replies[got++] = rep;
            continue;
        }
        if ((rc = rdv_redis_io_wait(c, b, POLLIN)) != RDV_OK)
            return rc;
        r = read(c->fd, buf, sizeof buf);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r <= 0) {
            snprintf(err, errlen, "redis %s: %s", c->conf->addr,
                     r == 0 ? "the server closed the connection"
                            : strerror(errno));
            return RDV_ECONN;
        }
        b->progress = rdv_now_ns();
        if (reader_reserve(c->reader) ||
            redisReaderFeed(c->reader, buf, (size_t)r) != REDIS_OK) {
            snprintf(err, errlen, "redis %s: out of memory reading a "
                     "reply", c->conf->addr);
            return RDV_ENOMEM;
        }
    }
    return RDV_OK;
}

/* One request/reply exchange on the open connection. On failure no
 * reply is kept and the caller drops the connection. */
static int exchange(rdv_redis_conn *c, const rdv_redis_cmd *cmds, size_t n,
                    redisReply **replies, rdv_redis_io b, int *sent,
                    char *err, size_t errlen)
{
    struct iovec iov[RDV_REDIS_PIPELINE_MAX];
    char *req[RDV_REDIS_PIPELINE_MAX] = {0};
    int rc = RDV_OK;

    c->array_max = ARRAY_FLOOR;
    c->array_refused = 0;
    for (size_t i = 0; i < n; i++)
        c->array_max += (size_t)cmds[i].argc;
    for (size_t i = 0; i < n && rc == RDV_OK; i++) {
        int len = redisFormatCommandArgv(&req[i], cmds[i].argc,
                                         cmds[i].argv, cmds[i].argvlen);

        if (len < 0) {
            snprintf(err, errlen, "redis %s: out of memory formatting a "
                     "request", c->conf->addr);
            rc = RDV_ENOMEM;
        }
        iov[i] = (struct iovec){req[i], len < 0 ? 0 : (size_t)len};
    }
    b.progress = rdv_now_ns();
    if (rc == RDV_OK)
        rc = rdv_redis_send_all(c, iov, n, &b, sent, err, errlen);
    if (rc == RDV_OK)
        rc = recv_all(c, replies, n, &b, err, errlen);
    /* Bytes past the replies asked for are no answer to anything yet:
     * kept, they would answer the next request. */
    if (rc == RDV_OK && sdslen(c->reader->buf) > c->reader->pos) {
        snprintf(err, errlen, "redis %s: bad reply: %zu bytes after the "
                 "%zu repl%s asked for", c->conf->addr,
                 sdslen(c->reader->buf) - c->reader->pos, n,
                 n == 1 ? "y" : "ies");
        rc = RDV_EPROTO;
    }
    for (size_t i = 0; i < n; i++)
        redisFreeCommand(req[i]);
    if (rc == RDV_ETIMEDOUT)
        snprintf(err, errlen, "redis %s: no reply before the deadline",
                 c->conf->addr);
    if (rc == SILENT)
        snprintf(err, errlen, "redis %s: silent for %lld ms (connection "
                 "open, nothing answered)", c->conf->addr,
                 (long long)(b.patience / 1000000));
    if (rc) {
        for (size_t i = 0; i < n; i++) {
            if (replies[i])
                freeReplyObject(replies[i]);
            replies[i] = NULL;
        }
    }
    return rc;
}

/* True when the server has closed (or written to) an idle connection. */
static int conn_stale(rdv_redis_conn *c)
{
    struct pollfd p = {c->fd, POLLIN | POLLRDHUP, 0};

    return poll(&p, 1, 0) > 0;
}

static int conn_lock(rdv_redis_conn *c, int64_t deadline, char *err,
                     size_t errlen)
{
    struct timespec ts;

    if (deadline == RDV_DEADLINE_NONE) {
        pthread_mutex_lock(&c->lock);
        return RDV_OK;
    }
    ts.tv_sec = deadline / 1000000000;
    ts.tv_nsec = deadline % 1000000000;
    if (pthread_mutex_clocklock(&c->lock, CLOCK_MONOTONIC, &ts) == 0)
        return RDV_OK;
    snprintf(err, errlen, "redis %s: another thread kept the connection "
             "busy past the deadline", c->conf->addr);
    return RDV_ETIMEDOUT;
}

/* Server replies that mean the command did not run at all. */
static int reply_status(rdv_redis_conn *c, redisReply **rep, size_t n,
                        char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        if (rep[i]->type != REDIS_REPLY_ERROR)
            continue;
        if (strncmp(rep[i]->str, "NOAUTH", 6) == 0) {
            snprintf(err, errlen, "redis %s: the server requires a "
                     "password (redis://:password@host:port or "
                     "?password=): %s", c->conf->addr, rep[i]->str);
            return RDV_EAUTH;
        }
        if (strncmp(rep[i]->str, "LOADING", 7) == 0 ||
            strncmp(rep[i]->str, "BUSY", 4) == 0) {
            snprintf(err, errlen, "redis %s: %s", c->conf->addr,
                     rep[i]->str);
            return RETRY_LATER;
        }
    }
    return RDV_OK;
}

/* One try: connect if needed, then exchange. Takes the lock. The login
 * always has the patience; the command only when it may be resent. */
static int attempt(rdv_redis_conn *c, const rdv_redis_cmd *cmds, size_t n,
                   redisReply **replies, int64_t deadline, int64_t patience,
                   int flags, int *sent, char *err, size_t errlen)
{
    rdv_redis_io login = {deadline, patience, 0};
    rdv_redis_io cmd = {deadline,
                        flags & RDV_REDIS_IDEMPOTENT ? patience : 0, 0};
    int rc = conn_lock(c, deadline, err, errlen);

    if (rc)
        return rc;
    rc = conn_own(c, err, errlen);
    if (rc == RDV_OK && c->fd >= 0 && !(flags & RDV_REDIS_IDEMPOTENT) &&
        conn_stale(c))
        conn_drop(c);
    if (rc == RDV_OK && c->fd < 0)
        rc = conn_open(c, login, err, errlen);
    if (rc == RDV_OK) {
        rc = exchange(c, cmds, n, replies, cmd, sent, err, errlen);
        if (rc)
            conn_drop(c);
    }
    if (rc == RDV_OK && (rc = reply_status(c, replies, n, err, errlen))) {
        for (size_t i = 0; i < n; i++) {
            freeReplyObject(replies[i]);
            replies[i] = NULL;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

/* Whether a failed try may be repeated: 1, or 0 with *rc the call's
 * final status and err saying so. Refused connects, broken connections
 * and silent servers are retried, unless the request may have reached
 * the server and is not idempotent: its outcome is then unknown. */
static int may_retry(int *rc, int sent, int flags, char *err, size_t errlen)
{
    int resendable = !sent || (flags & RDV_REDIS_IDEMPOTENT);
    size_t o;

    if (*rc == RDV_OK)
        return 0;
    o = strlen(err);
    if (*rc != RDV_ECONN && *rc != RETRY_LATER && *rc != SILENT) {
        if (*rc == RDV_ETIMEDOUT && !resendable)
            snprintf(err + o, errlen - o, " (the request was sent: its "
                     "outcome is unknown)");
        return 0;
    }
    if (*rc != RETRY_LATER && !resendable) {
        snprintf(err + o, errlen - o, " (the connection broke after the "
                 "request was sent: its outcome is unknown)");
        *rc = RDV_ECONN;
        return 0;
    }
    return 1;
}

/* Appends how hard the call tried, when it tried more than once. */
static void note_attempts(char *err, size_t errlen, int attempts,
                          int64_t start)
{
    size_t o = strlen(err);

    if (attempts > 1)
        snprintf(err + o, errlen - o, " (%d attempts in %lld ms)", attempts,
                 (long long)((rdv_now_ns() - start) / 1000000));
}

int rdv_redis_conn_call(rdv_redis_conn *c, const rdv_redis_cmd *cmds,
                        size_t n, redisReply **replies, int64_t deadline,
                        int flags, char *err, size_t errlen)
{
    int64_t start = rdv_now_ns(), backoff = RECONNECT_FIRST_NS;
    int64_t most = c->conf->timeout_ms * 1000000LL < PATIENCE_MAX_NS
                       ? c->conf->timeout_ms * 1000000LL
                       : PATIENCE_MAX_NS;
    int64_t patience = PATIENCE_FIRST_NS < most ? PATIENCE_FIRST_NS : most;
    uint64_t seed = (uint64_t)start ^ (uint64_t)(uintptr_t)&start;
    int attempts = 0;

    err[0] = '\0';
    for (size_t i = 0; i < n; i++)
        replies[i] = NULL;
    for (;;) {
        int sent = 0, rc;
        int64_t left, nap;

        if (rdv_cancel_fired(&c->cancel)) {
            snprintf(err, errlen, "redis %s: the store was closed",
                     c->conf->addr);
            return RDV_ECANCELED;
        }
        attempts++;
        rc = attempt(c, cmds, n, replies, deadline, patience, flags, &sent,
                     err, errlen);
        if (rc == RDV_ECANCELED)
            snprintf(err, errlen, "redis %s: the store was closed",
                     c->conf->addr);
        if (!may_retry(&rc, sent, flags, err, errlen)) {
            if (rc != RDV_OK && rc != RDV_ECANCELED)
                note_attempts(err, errlen, attempts, start);
            return rc;
        }
        if (rc == SILENT)
            patience = patience * 2 < most ? patience * 2 : most;
        left = deadline - rdv_now_ns();
        if (left < LAST_TRY_NS) {
            note_attempts(err, errlen, attempts, start);
            return rc == RDV_ECONN ? RDV_ECONN : RDV_ETIMEDOUT;
        }
        nap = rdv_jitter(&seed, backoff);
        if (rdv_cancel_sleep(&c->cancel, nap < left - LAST_TRY_NS
                                             ? nap
                                             : left - LAST_TRY_NS,
                             deadline) == RDV_ECANCELED)
            continue; /* reported at the top of the loop */
        backoff = backoff * 2 < RECONNECT_MAX_NS ? backoff * 2
                                                 : RECONNECT_MAX_NS;
    }
}
