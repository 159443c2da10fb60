/*
 * stores/tcp_conn.h - the tcp:// store's connections to its server: a
 * small pool of sockets per handle, each carrying one request at a
 * time, with deadlines, cancellation, reconnects and fork detection.
 * The protocol is tcp_codec.h's; the ops that fill requests and read
 * replies are tcp.c's.
 *
 * Threads: a call takes an idle connection from the pool (or opens a
 * new one) and owns it until its reply is read, so threads sharing a
 * handle never wait for each other's blocking get; a handle used by
 * one thread keeps one connection. The pool lock is held only to take
 * or return a connection.
 *
 * Fork: connections belong to the pid that made them. A call that
 * finds a new pid drops the inherited ones without any I/O (close only:
 * the parent still uses them) and connects afresh. Do not fork while
 * another thread is inside a call on the same handle.
 */
#ifndef RDV_STORES_TCP_CONN_H
#define RDV_STORES_TCP_CONN_H

#include <pthread.h>
#include <stdatomic.h>

#include "net_wait.h"
#include "tcp_codec.h"

/* Where the server is and how to talk to it; from the store URL. */
typedef struct rdv_tcp_conf {
    char *host;
    int port;
    char *token;     /* NULL: none */
    long timeout_ms; /* connect bound, and the bound of ops without one */
    int serve;       /* serve=1: this handle tries to run the server */
    int64_t spin_ns; /* how long a reply is awaited awake before sleeping
                        (rdv_cancel_wait_spin); spin_us=, 0 = never */
    char addr[160];  /* "127.0.0.1:29500" or "[::1]:29500", for errors */
} rdv_tcp_conf;

/* One connection; while a call uses it, nobody else does. */
typedef struct rdv_tcp_link {
    int fd;
    uint32_t max_body; /* the server's limit, from its hello */
    unsigned char *in; /* bytes received; the first `used` are the
                          frame last handed out */
    size_t in_len, in_cap, used;
    struct rdv_tcp_link *next;
} rdv_tcp_link;

typedef struct rdv_tcp_pool {
    const rdv_tcp_conf *conf;
    pthread_mutex_t lock; /* guards idle */
    rdv_tcp_link *idle;   /* belong to cancel.pid */
    rdv_cancel cancel;    /* close's switch, woken waits (net_wait.h) */
    _Atomic uint64_t next_id;
} rdv_tcp_pool;

/* A reply that arrived: m's spans point into link's buffer, valid until
 * rdv_tcp_done(). link is NULL when there is nothing to release. */
typedef struct rdv_tcp_reply {
    rdv_tcp_msg m;
    rdv_tcp_link *link;
} rdv_tcp_reply;

enum {
    /* May be sent again after a connection broke with it in flight.
     * Without it (add, compare_set, create-only set) a request whose
     * bytes may have reached the server is never resent: RDV_ECONN,
     * outcome unknown, instead of a double update. */
    RDV_TCP_IDEMPOTENT = 1 << 0,
    /* The body starts with i64 timeout_ns, written at each send from the
     * call's deadline (get, wait, multi_get). */
    RDV_TCP_TIMED = 1 << 1,
};

/* How long past a timed request's deadline the client waits for the
 * server's own RDV_ETIMEDOUT before it gives up on the connection. */
#define RDV_TCP_REPLY_GRACE_MS 250

/* Prepares p (no I/O). RDV_EIO when the eventfd cannot be made. */
int rdv_tcp_pool_init(rdv_tcp_pool *p, const rdv_tcp_conf *conf,
                      char *errbuf, size_t errlen);
/* Closes every idle connection and the eventfd. No call may run. */
void rdv_tcp_pool_destroy(rdv_tcp_pool *p);
/* Makes every current and future call return RDV_ECANCELED promptly.
 * Thread-safe. */
void rdv_tcp_pool_cancel(rdv_tcp_pool *p);

/* Sends the request frame in req (its id is chosen here) and reads the
 * reply with the same id, dropping any other. Connects or reconnects as
 * needed with backoff (1 ms growing to 100 ms, jittered) until the
 * call's I/O deadline: the request's deadline when it is timed and
 * still ahead, else now + timeout_ms. A timed request waits for its
 * reply until RDV_TCP_REPLY_GRACE_MS past its deadline.
 * Returns the reply's status with *rep set (RDV_OK or the server's
 * failure; rep->link to release), or a connection-level failure with
 * err naming the server and rep->link NULL: RDV_ECONN (no server, the
 * connection broke, or no reply by the I/O deadline; "outcome unknown"
 * when a request that is not idempotent may have run), RDV_ECANCELED,
 * RDV_EAUTH
 * (the token was refused), RDV_ENOTSUP (protocol version), RDV_EPROTO,
 * RDV_EINVAL (the request is larger than the server takes), RDV_ENOMEM. */
int rdv_tcp_call(rdv_tcp_pool *p, rdv_tcp_buf *req, int flags,
                 int64_t deadline, rdv_tcp_reply *rep, char *err,
                 size_t errlen);
/* Returns the reply's connection to the pool. NULL link: nothing. */
void rdv_tcp_done(rdv_tcp_pool *p, rdv_tcp_reply *rep);

#endif
