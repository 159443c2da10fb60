/*
 * server/server.h - what the store server's files share (the public API
 * is rdv/store_server.h):
 *
 *   server.c   start and stop: options, bind, the thread, stats
 *   loop.c     the event loop on the transport's backend engine:
 *              accept, per-client receive and send buffers, drops
 *   serve.c    one decoded request in, its reply (or a parked waiter)
 *   table.c    keys and values in memory
 *   waiters.c  parked get/wait/multi_get requests: woken by the sets
 *              that complete them, expired by a deadline heap
 *
 * Everything below the public API runs on the server's thread only,
 * except the stats counters (atomics) and the fields start/stop set
 * before the thread exists or after it ended.
 */
#ifndef RDV_SERVER_H
#define RDV_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "rdv/store_server.h"
#include "stores/tcp_codec.h"
#include "transport/transport.h"

typedef struct srv_entry srv_entry;
typedef struct srv_waiter srv_waiter;
typedef struct srv_client srv_client;

/* ---- table.c ---- */

/* One waiter's interest in one key, linked into the key's entry. */
typedef struct srv_link {
    srv_waiter *w;
    srv_entry *e;
    struct srv_link *prev, *next;
    uint8_t missing; /* e was absent when last looked at */
} srv_link;

/* A key: present (with a value) or absent but watched by waiters. */
struct srv_entry {
    srv_entry *next; /* bucket chain */
    uint64_t hash;
    unsigned char *val; /* malloc'd, vlen bytes; NULL when empty */
    uint32_t vlen;
    uint8_t present;
    srv_link *links; /* waiters on this key */
    uint32_t klen;
    unsigned char key[];
};

typedef struct srv_table {
    srv_entry **buckets;
    size_t nbuckets; /* a power of two */
    size_t nentries; /* present or watched */
    size_t npresent; /* keys, as num_keys counts them */
} srv_table;

int srv_table_init(srv_table *t); /* RDV_OK or RDV_ENOMEM */
void srv_table_free(srv_table *t);
srv_entry *srv_table_find(srv_table *t, const unsigned char *key,
                          uint32_t klen);
/* The entry for key, made absent when there is none; NULL when out of
 * memory. Pair with srv_table_release. */
srv_entry *srv_table_intern(srv_table *t, const unsigned char *key,
                            uint32_t klen);
/* Frees e when it is absent and nobody watches it. */
void srv_table_release(srv_table *t, srv_entry *e);
/* Copies the value into e and makes it present. RDV_OK or RDV_ENOMEM
 * (e unchanged). */
int srv_entry_store(srv_table *t, srv_entry *e, const void *val,
                    size_t len);
/* Makes e absent (frees its value). */
void srv_entry_clear(srv_table *t, srv_entry *e);
/* Calls fn for every present entry whose key starts with the prefix;
 * fn may clear and release its entry. */
void srv_table_each(srv_table *t, const unsigned char *prefix, uint32_t plen,
                    void (*fn)(srv_entry *e, void *arg), void *arg);

/* ---- waiters.c ---- */

struct srv_waiter {
    srv_client *c;
    uint64_t id;
    uint8_t op;       /* RDV_TCP_GET, _WAIT or _MGET */
    int64_t deadline; /* RDV_DEADLINE_NONE: none */
    size_t heap_i;    /* index in the deadline heap; SIZE_MAX: none */
    uint32_t n;       /* keys */
    uint32_t missing; /* keys absent now */
    srv_waiter *cprev, *cnext; /* the client's parked requests */
    srv_waiter *ready_next;
    uint8_t ready;
    srv_link links[]; /* one per key, in request order */
};

typedef struct srv_heap {
    srv_waiter **v;
    size_t n, cap;
} srv_heap;

/* ---- the server ---- */

struct srv_client {
    uint32_t idx, gen; /* slot in srv.clients; gen tags its events */
    int fd;
    char addr[64];
    uint8_t hello_done;
    uint8_t recv_busy, send_busy;
    uint8_t closing; /* send what is queued, then drop */
    uint8_t dead;    /* drop at the end of this loop turn */
    uint8_t dirty;   /* has replies to flush this turn */
    unsigned char *in; /* received bytes not yet decoded */
    size_t in_len, in_cap;
    rdv_tcp_buf out;     /* replies queued */
    rdv_tcp_buf sending; /* replies the kernel is sending */
    size_t sent;         /* bytes of sending already sent */
    srv_waiter *waiters;
    uint32_t nwaiting;
};

struct rdv_store_server {
    /* options, copied */
    char *bind, *token, *transport;
    size_t token_len;
    uint32_t max_clients, max_frame, out_limit, max_waiting;
    rdv_store_server_log_fn log;
    void *log_arg;

    char address[80];
    int port;
    int listen_fd;
    int wake[2]; /* the loop reads wake[0]; stop writes wake[1] */
    pid_t pid;   /* the process the thread runs in */
    pthread_t thread;

    /* start-up: the thread reports here, start() waits */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int started, start_rc;
    char start_err[256];

    /* the loop's own state */
    const rdv_backend_ops *ops;
    rdv_backend *be;
    srv_client **clients;
    uint32_t nslots, nclients;
    uint32_t *free_slots;
    uint32_t nfree, next_gen;
    srv_client **dirty, **dead;
    size_t ndirty, ndead, dirty_cap, dead_cap;
    srv_table table;
    srv_heap heap;
    int64_t accept_retry_at; /* 0: accept is armed */
    unsigned char wake_buf[8];
    int stopping;

    /* stats: written by the loop, read anywhere */
    _Atomic uint64_t st_clients, st_waiting, st_keys, st_accepted,
        st_dropped, st_refused;
};

typedef struct rdv_store_server srv;

/* loop.c */
void *srv_loop_main(void *arg); /* the thread */
/* A line in the log, if there is one. */
void srv_log(srv *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* c has replies queued: flush them at the end of this turn. */
void srv_client_dirty(srv *s, srv_client *c);
/* Drops c at the end of this turn; why (NULL: a normal close) is
 * logged, and counted as a drop. */
void srv_client_kill(srv *s, srv_client *c, const char *why);

/* serve.c */
void srv_serve(srv *s, srv_client *c, const rdv_tcp_msg *m);
/* The reply of a waiter that is ready (every key present) or expired. */
void srv_serve_waiter(srv *s, srv_waiter *w, int expired);

/* waiters.c */
/* Parks request m of c, its keys interned. NULL when out of memory. */
srv_waiter *srv_waiter_park(srv *s, srv_client *c, const rdv_tcp_msg *m,
                            int64_t deadline);
/* Unlinks w from its keys, client and the heap, and frees it. */
void srv_waiter_free(srv *s, srv_waiter *w);
/* e just became present (answers the waiters it completes) or absent. */
void srv_waiters_present(srv *s, srv_entry *e);
void srv_waiters_absent(srv_entry *e);
/* Answers every waiter whose deadline passed; returns the next
 * deadline, or RDV_DEADLINE_NONE. */
int64_t srv_waiters_expire(srv *s, int64_t now);
/* Frees every waiter of c, unanswered (c is going away). */
void srv_waiters_drop_client(srv *s, srv_client *c);
void srv_heap_free(srv_heap *h);

#endif
