/*
 * stores/redis_conn.h - the redis store's connection layer: where the
 * server is (the parsed URL), one socket to it, and the request/reply
 * exchange with deadlines, cancellation, reconnect and fork detection.
 *
 * Layers, as in hiredis itself: hiredis's reader (read.h) parses replies
 * and redisFormatCommandArgv() encodes requests; this layer owns the
 * socket (CLOEXEC, non-blocking, TCP_NODELAY), every wait (ppoll on the
 * socket and an eventfd that cancel makes readable) and the retry
 * policy; redis.c and redis_scan.c say which commands to send.
 *
 * Fork: the connection belongs to the pid that made it. A call that
 * finds a new pid drops the inherited socket and eventfd without any
 * I/O on them (the parent still owns them) and connects afresh. Do not
 * fork while another thread is inside a call on the same handle.
 *
 * Threads: one connection per handle, guarded by a mutex that is held
 * for one exchange only; waits sleep and reconnect backoffs happen with
 * the mutex released.
 */
#ifndef RDV_STORES_REDIS_CONN_H
#define RDV_STORES_REDIS_CONN_H

#include <hiredis/hiredis.h>
#include <pthread.h>

#include "net_wait.h"
#include "rdv/url.h"

/* Where the server is and how to talk to it; from the store URL. */
typedef struct rdv_redis_conf {
    char *host;       /* TCP host; NULL for a unix socket */
    int port;
    char *path;       /* unix socket path; NULL for TCP */
    char *user;       /* ACL user; NULL for the default user */
    char *password;   /* NULL: no AUTH */
    long db;
    long timeout_ms;  /* connect bound, and the bound of ops without one */
    int64_t spin_ns;  /* how long a reply is awaited awake before sleeping
                         (rdv_cancel_wait_spin); spin_us=, 0 = never */
    char addr[160];   /* "127.0.0.1:6379" or "/run/redis.sock", for errors */
} rdv_redis_conf;

/* Reads redis://[[user]:password@]host[:port][/db][?db=N&password=P&
 * timeout_ms=N&spin_us=N] or unix:///path[?db=N&password=P&user=U&
 * timeout_ms=N&spin_us=N]
 * from u (marking the options used). RDV_EINVAL with a message naming
 * the bad part; on failure nothing needs freeing. */
int rdv_redis_conf_parse(rdv_url *u, rdv_redis_conf *conf, char *errbuf,
                         size_t errlen);
void rdv_redis_conf_free(rdv_redis_conf *conf);

typedef struct rdv_redis_conn {
    const rdv_redis_conf *conf;
    pthread_mutex_t lock; /* guards fd and reader */
    int fd;               /* -1: not connected; belongs to cancel.pid */
    redisReader *reader;
    rdv_cancel cancel;    /* close's switch, woken waits (net_wait.h) */
    /* The reader's reply functions, with createArray bounded (see
     * redis_conn.c); lock held for all of these. */
    redisReplyObjectFunctions fns;
    void *(*create_array)(const redisReadTask *t, int n); /* hiredis's */
    size_t array_max;  /* most elements a reply array of this exchange
                          may claim */
    long array_refused; /* the length of an array refused; 0: none */
} rdv_redis_conn;

/* The most commands one call pipelines. */
#define RDV_REDIS_PIPELINE_MAX 4

/* One request: argv[i] holds argvlen[i] bytes (binary-safe). */
typedef struct rdv_redis_cmd {
    int argc;
    const char **argv;
    const size_t *argvlen;
} rdv_redis_cmd;

enum {
    /* The commands may be sent again after a connection broke midway.
     * Without it (INCRBY, SET NX, compare_set) a call whose bytes may
     * have reached the server is never resent: RDV_ECONN, outcome
     * unknown, instead of a double update. */
    RDV_REDIS_IDEMPOTENT = 1 << 0,
};

/* Prepares c (no I/O). RDV_ENOMEM/RDV_EIO when the eventfd cannot be
 * made; errbuf says why. conf must outlive c. */
int rdv_redis_conn_init(rdv_redis_conn *c, const rdv_redis_conf *conf,
                        char *errbuf, size_t errlen);
/* Closes the socket and eventfd. No other call may be running. */
void rdv_redis_conn_destroy(rdv_redis_conn *c);
/* Makes every current and future call return RDV_ECANCELED promptly.
 * Thread-safe; callable while other threads are inside calls. In a
 * forked child that has not used the handle yet it touches only the
 * child's copy: the eventfd it inherited still belongs to the parent. */
void rdv_redis_conn_cancel(rdv_redis_conn *c);

/* The deadline a call's I/O may use: an op's own deadline, or for an op
 * that has none or whose deadline has passed (try once) now+timeout_ms. */
int64_t rdv_redis_io_deadline(const rdv_redis_conn *c, int64_t deadline);

/* Sends n (<= RDV_REDIS_PIPELINE_MAX) pipelined commands and reads
 * their n replies into replies[] (the caller frees each with
 * freeReplyObject). Connects or reconnects as needed, with backoff,
 * until deadline (RDV_DEADLINE_NONE: no end). Every connect, login and
 * reply wait is bounded by deadline; a server silent for longer than a
 * growing patience (see redis_conn.c) costs its connection, and an
 * idempotent command is sent again on a new one. Redis error replies are
 * returned as replies, except those that say the command did not run
 * (LOADING, BUSY: retried) or that the login failed (RDV_EAUTH).
 * Returns RDV_OK, RDV_ECONN, RDV_ETIMEDOUT (no reply in time),
 * RDV_ECANCELED, RDV_EAUTH, RDV_EINVAL (no such db), RDV_EPROTO or
 * RDV_ENOMEM; then err names the server and the cause, and no reply is
 * returned. */
int rdv_redis_conn_call(rdv_redis_conn *c, const rdv_redis_cmd *cmds,
                        size_t n, redisReply **replies, int64_t deadline,
                        int flags, char *err, size_t errlen);

#endif
