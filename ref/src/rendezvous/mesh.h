/*
 * rendezvous/mesh.h - state of one rank's full-mesh rendezvous, shared
 * by its three parts:
 *   mesh.c     the driver: listen, publish, read, run the event loop,
 *              hand the sockets to the transport, say what failed;
 *   records.c  the store side: publish, batched reads, validation,
 *              removal of this rank's key;
 *   links.c    the socket side: connects with retries, accepts, and
 *              the handshake in both directions.
 * Nothing here outlives rdv_context_connect_full_mesh().
 */
#ifndef RDV_RENDEZVOUS_MESH_H
#define RDV_RENDEZVOUS_MESH_H

#include <stdint.h>

#include "bind.h"
#include "codec.h"
#include "context_internal.h"
#include "rdv/exchange.h"

/* What this rank knows and does about one peer. */
enum {
    LINK_NONE,     /* no record yet, or (higher rank) not connected yet */
    LINK_WAIT,     /* connector: waiting to (re)try at retry_at */
    LINK_CONNECT,  /* connector: connect in flight */
    LINK_HELLO,    /* connector: sending our hello */
    LINK_ACK,      /* connector: reading the acceptor's answer */
    LINK_UP,       /* handshake complete; fd is the connection */
};

typedef struct rdv_mesh_peer {
    int have_record;
    rdv_record rec;
    char desc[64]; /* "127.0.0.1:40123" */
    int state;
    int fd;
    unsigned attempt;
    int hook_cleared; /* the connect hook already approved this attempt */
    int64_t retry_at;
    int last_err;     /* errno of the last failed attempt */
    const char *last_what; /* what failed: "connect", "handshake" */
    uint8_t tx[RDV_HELLO_SIZE], rx[RDV_HELLO_SIZE];
    size_t moved;
} rdv_mesh_peer;

/* An accepted connection that has not proved who it is yet. */
typedef struct rdv_mesh_inbound {
    int fd;   /* -1 = free slot */
    int peer; /* known once the hello is read */
    int parked; /* valid hello, waiting for the peer's record */
    int acking; /* sending our answer */
    uint32_t gen;      /* bumped at each reuse; part of every op's tag */
    int64_t accepted;  /* when: the oldest stranger is evicted first */
    int64_t budget_end; /* its hello must be whole by then */
    uint8_t tx[RDV_HELLO_SIZE], rx[RDV_HELLO_SIZE];
    size_t moved;
} rdv_mesh_inbound;

/* The incoming connections closed before they proved a peer: what the
 * failure message says about them. */
enum { STRANGER_SILENT, STRANGER_BAD, STRANGER_EVICTED, STRANGER_KINDS };
typedef struct rdv_mesh_strangers {
    unsigned long long count[STRANGER_KINDS];
    char from[4][64]; /* the first distinct source addresses */
    int nfrom;
} rdv_mesh_strangers;

typedef struct rdv_mesh {
    rdv_context *ctx;
    rdv_transport *t;
    rdv_store *store;         /* the store exchange, or NULL */
    rdv_exchange_fn exchange; /* the caller's exchange, or NULL */
    void *exchange_arg;
    int exchanged;            /* exchange was called (once, always) */
    rdv_context_counters *counters;
    int rank, size;
    const char *job;
    uint64_t token;
    rdv_record me;
    rdv_bind_addr bind;
    int listen_fd;
    int published;
    int up; /* peers in LINK_UP */
    int alive_next; /* where the next liveness look starts (mesh.c) */
    int64_t started, deadline;
    uint64_t rng;
    rdv_mesh_peer *peers;
    rdv_mesh_inbound **in; /* each slot allocated once: ops point in */
    size_t nin;
    int64_t handshake_ns; /* an inbound hello's budget; < 0 = none */
    int64_t recheck_ns;   /* the own record's check period; < 0 = never */
    rdv_mesh_strangers strangers;
} rdv_mesh;

/* records.c */
/* Writes "<job>/addr/<rank>" into buf. */
void rdv_mesh_key(const rdv_mesh *m, int rank, char *buf, size_t cap);
/* Create-only set of m->me; RDV_EEXIST names the record already there. */
int rdv_mesh_publish(rdv_mesh *m);
/* Reads every other rank's record in batches; after each batch calls
 * rdv_mesh_on_records(). Fails (context detail set) on a bad record,
 * a duplicate, the loopback pitfall, or at the deadline naming the
 * ranks that never published. */
int rdv_mesh_read_records(rdv_mesh *m);
/* Puts this rank's record back if it vanished from the store while
 * peers may still need it (a redis restart without persistence loses
 * every key). Called while waiting (every recheck_ns, and after a slow
 * read); does nothing when recheck_ns < 0. Counts and logs a republish.
 * An unreachable store is left for the next call. Always RDV_OK. */
int rdv_mesh_keep_published(rdv_mesh *m);
/* Removes this rank's key (once, if it was published). */
void rdv_mesh_unpublish(rdv_mesh *m);
/* Takes size records that arrived all at once (the caller's exchange,
 * rdv/exchange.h), slot k holding rank k's encoded record; this rank's own
 * slot is skipped. Every other record goes through the checks a store
 * read applies (format, rank against its slot, size, token, duplicates,
 * the loopback pitfall), then rdv_mesh_on_records() runs once. */
int rdv_mesh_take_records(rdv_mesh *m, const uint8_t *all);

/* links.c */
/* Starts connects to the lower ranks whose records just arrived, answers
 * parked hellos, and handles what is ready without blocking. */
int rdv_mesh_on_records(rdv_mesh *m);
/* Arms the multishot accept on the listener. */
int rdv_mesh_listen(rdv_mesh *m);
/* Waits for events until `until`, runs due retries, handles all. */
int rdv_mesh_pump(rdv_mesh *m, int64_t until);
/* Handles every event that is ready now, without waiting (bounded, so
 * a flood cannot hold the caller). For the store side to accept while
 * it reads. */
int rdv_mesh_drain(rdv_mesh *m);
/* 1 while strangers knock: an unproven inbound connection is open or
 * one was closed; the store side then reads in short pieces so the
 * listener keeps being served. */
int rdv_mesh_strangers_active(const rdv_mesh *m);
/* "; 12 incoming connections were not peers (...) from 127.0.0.1", or
 * "" when there were none: for failure messages. */
void rdv_mesh_strangers_note(const rdv_mesh *m, char *buf, size_t cap);
/* Closes every socket that is not an established link. */
void rdv_mesh_close_pending(rdv_mesh *m);

/* mesh.c */
/* Records a rendezvous failure in the context (and returns status). */
int rdv_mesh_fail(rdv_mesh *m, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
