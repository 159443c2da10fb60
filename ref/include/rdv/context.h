/*
 * rdv/context.h - a rank's view of the job, and the full-mesh rendezvous.
 *
 * A context is created per process (after fork, never inherited), given
 * its rank, the job size and a job name, and then connected:
 *
 *   rdv_context_options o = rdv_context_options_default();
 *   o.rank = r; o.size = n; o.job = "job7"; o.bind = "127.0.0.1";
 *   rdv_context *ctx;
 *   rdv_context_create(&o, &ctx, err, sizeof err);
 *   rdv_context_connect_full_mesh(ctx, store);   // every rank, same store
 *   ... rdv_send / rdv_recv / collectives ...
 *   rdv_context_destroy(ctx);
 *
 * Rendezvous protocol (see rendezvous/ for the details and the why):
 * listen first, publish one versioned record with a create-only set
 * under "<job>/addr/<rank>", read everyone's record with batched
 * multi_get, the higher rank connects to the lower, a handshake carrying
 * the job token and the nonce proves each connection, then this rank's
 * keys are removed.
 *
 * Errors: RDV_OK or a negative rdv_status; rdv_context_errmsg() names
 * ranks, keys and addresses, e.g. "rendezvous timed out after 5000 ms:
 * ranks 3, 6 never published (job7)". After a failed connect or a failed
 * collective the context is unusable: later calls return RDV_ESTATE.
 *
 * Threads: a context is used by one thread at a time. With the io_uring
 * backend the ring is single-issuer when the kernel allows it: after
 * rdv_context_connect_full_mesh(), keep driving the context from the
 * thread that connected it (another thread gets RDV_EIO saying so).
 *
 * Fork: create contexts after fork, in the process that uses them; the
 * ring and the sockets are made by the connect call, never inherited.
 */
#ifndef RDV_CONTEXT_H
#define RDV_CONTEXT_H

#include <limits.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "rdv/export.h"
#include "rdv/hooks.h"
#include "rdv/status.h"
#include "rdv/store.h"

RDV_API_BEGIN

/* Timeouts. Every librdv call that takes a timeout in milliseconds
 * reads it the same way (the stores too, see rdv/store.h):
 *   > 0                  the limit;
 *   0                    try once: take what is already there, never
 *                        wait (each call says what its one try covers);
 *   < 0                  no limit (RDV_TIMEOUT_NONE), except for
 *   RDV_TIMEOUT_DEFAULT  "the context's timeout" (INT_MIN). The calls
 *                        that run on a context take it (rdv_send,
 *                        rdv_recv, rdv_wait, the collectives), and so
 *                        does rdv_context_options.timeout_ms, where it
 *                        means RDV_CONTEXT_TIMEOUT_MS. A store has no
 *                        default: there it is just negative, no limit. */
#define RDV_TIMEOUT_NONE (-1)
#define RDV_TIMEOUT_DEFAULT INT_MIN
#define RDV_CONTEXT_TIMEOUT_MS 30000
/* How long an incoming connection may stay before it has sent a whole
 * valid handshake when rdv_context_options.handshake_ms is 0: the
 * larger of RDV_CONTEXT_HANDSHAKE_MS and RDV_CONTEXT_HANDSHAKE_MS_PER_RANK
 * times the size (250 ms up to 250 ranks, 1024 ms at 1024). A peer
 * sends its handshake the moment its connect completes, so only a
 * stranger (a port scanner, an idle or garbage client) or a peer not
 * given the CPU outlives it; with all N ranks on one host that wait
 * grows with N (at N = 1024 under load, 250 ms closed real peers). A
 * longer budget never shuts a peer out under a flood: the listener's
 * slots are capped, and the oldest unproven connection makes room. */
#define RDV_CONTEXT_HANDSHAKE_MS 250
#define RDV_CONTEXT_HANDSHAKE_MS_PER_RANK 1
/* How often a rank whose links are still coming up checks that its own
 * record is still in the store when rdv_context_options.recheck_ms is 0
 * (a store restarted without persistence loses it; the rank publishes
 * it again). */
#define RDV_CONTEXT_RECHECK_MS 250

typedef struct rdv_context rdv_context;

typedef void (*rdv_log_fn)(void *arg, int rank, const char *line);

/* Growing without breaking the ABI (as rdv/plugin.h's table does):
 * struct_size is sizeof(rdv_context_options) as the caller was built,
 * set by rdv_context_options_init() / _default(), and later versions
 * only append fields. rdv_context_create() takes a smaller struct from
 * a caller built against an older header (what it lacks keeps its
 * default), a larger one whose extra fields are all zero, and refuses
 * anything else with RDV_EINVAL: struct_size 0 (never initialised),
 * below the first version's size, not a size at all, or a newer
 * caller's struct that sets fields this library does not know. */
typedef struct rdv_context_options {
    uint32_t struct_size;  /* set by rdv_context_options_init() */
    int rank;
    int size;
    int timeout_ms;        /* every call's deadline unless the call has
                              its own: > 0 ms, 0 try once, < 0 none,
                              RDV_TIMEOUT_DEFAULT = RDV_CONTEXT_TIMEOUT_MS
                              (the default) */
    const char *job;       /* key namespace; "rdv" when NULL */
    const char *bind;      /* IP literal or interface name; NULL = the
                              host's address */
    const char *transport; /* "uring", "epoll" or NULL: $RDV_TRANSPORT,
                              else io_uring with an epoll fallback */
    rdv_log_fn log;        /* optional; the library prints nothing
                              without it */
    void *log_arg;
    const rdv_hooks *hooks; /* optional; must outlive the context */
    int handshake_ms;      /* an incoming connection that has not sent a
                              valid handshake this many ms after it was
                              accepted is closed and its slot reused
                              while the listener is crowded (half of
                              its 4N+64 slots unproven): > 0 ms, 0 =
                              the default, max(RDV_CONTEXT_HANDSHAKE_MS,
                              size * RDV_CONTEXT_HANDSHAKE_MS_PER_RANK),
                              < 0 = until the rendezvous deadline */
    int recheck_ms;        /* while its links come up, a rank checks this
                              often that its record is still in the store
                              (one store call each time): > 0 ms, 0 =
                              RDV_CONTEXT_RECHECK_MS, < 0 = never. Never
                              is for a caller that orders every store call
                              (rdv run --schedule): a call made on a clock
                              lands wherever the clock puts it */
} rdv_context_options;

/* Fills the size bytes at o (pass sizeof *o) with the defaults: rank 0,
 * size 1, timeout RDV_CONTEXT_TIMEOUT_MS, everything else NULL, and
 * struct_size = size. Thread-safe. */
void rdv_context_options_init(rdv_context_options *o, size_t size);

/* The defaults for this header's struct, by value. Inline so that it
 * is built with the caller's sizeof: a by-value return from the library
 * would write the library's size into the caller's smaller struct. */
static inline rdv_context_options rdv_context_options_default(void)
{
    rdv_context_options o;

    rdv_context_options_init(&o, sizeof o);
    return o;
}

/* Fills o's rank, size and job from the environment, as launchers set
 * it: RDV_RANK (else PyTorch's RANK), RDV_SIZE (else WORLD_SIZE), and
 * RDV_JOB (else TORCHELASTIC_RUN_ID; when neither is set o->job stays as
 * it was). o must be initialised (rdv_context_options_default()); the
 * other fields are left alone, and o->job points into the environment
 * until rdv_context_create() copies it. RDV_OK, or RDV_EINVAL with errbuf
 * naming the variable that is missing or malformed ("environment:
 * neither RDV_RANK nor RANK is set", "RANK='x' is not a number from 0 to
 * 65535", "RDV_RANK=4 is not below RDV_SIZE=4"). The store comes from
 * rdv_store_open("env://") (rdv/store.h). Reads the environment only:
 * thread-safe as long as nobody changes it meanwhile. */
int rdv_context_options_from_env(rdv_context_options *o, char *errbuf,
                                 size_t errlen);

/* Copies the options (strings included; hooks are kept by pointer) into
 * a new context. RDV_EINVAL for a struct_size it cannot take (see
 * rdv_context_options), a rank outside [0, size), a size outside
 * 1..65536, an empty job or an unknown transport name, with the reason
 * in errbuf. Opens no socket and no ring. */
int rdv_context_create(const rdv_context_options *opts, rdv_context **out,
                       char *errbuf, size_t errlen);
/* Closes every socket and the ring, frees ctx. NULL is allowed. A peer
 * still reading from this rank sees EOF: a link is reset only when its
 * peer has closed already and has every byte this rank sent. */
void rdv_context_destroy(rdv_context *ctx);

/* Connects every pair of ranks; every rank calls it with a handle to the
 * same store. With a timeout of 0 (try once) it makes one pass: listen,
 * publish, read the records once and start the connects; a link needs
 * a round trip, so unless size is 1 that pass ends in RDV_ETIMEDOUT
 * naming the ranks not connected. Within the context's timeout it
 * returns RDV_OK, or:
 *   RDV_ETIMEDOUT  ranks never published, or published but could not be
 *                  reached or never connected (named with addresses);
 *   RDV_EPEER      a peer on this host published and then exited;
 *   RDV_EPROTO     a malformed record (naming the rank and key), or a
 *                  process at a published address that is not that rank;
 *   RDV_EEXIST     this rank's key already holds a record (a duplicate
 *                  rank, or a record left by an earlier run), or two
 *                  ranks published the same nonce or address;
 *   RDV_EINVAL     a bad bind value, or the loopback pitfall (a default
 *                  address on loopback while a peer runs on another host);
 *   RDV_ESTATE     already connected, or failed before;
 *   a store error  passed through, with the store's detail.
 * On success and on failure this rank's key is removed and every socket
 * it no longer needs is closed. The store is only used during the call;
 * the caller keeps ownership. */
int rdv_context_connect_full_mesh(rdv_context *ctx, rdv_store *store);

/* The detail of the last failure; "" when none. Owned by ctx. */
const char *rdv_context_errmsg(const rdv_context *ctx);
int rdv_context_rank(const rdv_context *ctx);
int rdv_context_size(const rdv_context *ctx);
/* The context's timeout as resolved: RDV_TIMEOUT_DEFAULT has become
 * RDV_CONTEXT_TIMEOUT_MS; 0 and negative values are kept. */
int rdv_context_timeout_ms(const rdv_context *ctx);
/* "uring" or "epoll": the backend actually in use; "none" before the
 * context connects. */
const char *rdv_context_transport_name(const rdv_context *ctx);

/* The socket pair to one peer, as this rank sees it. */
typedef struct rdv_peer_info {
    int peer;
    struct sockaddr_storage local;
    struct sockaddr_storage remote;
} rdv_peer_info;

/* RDV_EINVAL for peer == own rank or out of range; RDV_ESTATE before the
 * mesh is connected; RDV_EIO with errno set when the socket cannot tell
 * its addresses. Sets no detail (the context is const here). */
int rdv_context_peer_info(const rdv_context *ctx, int peer,
                          rdv_peer_info *out);

typedef struct rdv_context_counters {
    uint64_t store_ops;          /* store calls made by rendezvous */
    uint64_t connect_retries;    /* refused/failed connects retried */
    uint64_t strangers_rejected; /* bad handshakes or garbage closed */
    uint64_t records_republished; /* own record lost by the store, put back */
    uint64_t bytes_sent;
    uint64_t bytes_received;
} rdv_context_counters;

/* A snapshot of the counters; valid at any time, also after a failure. */
void rdv_context_get_counters(const rdv_context *ctx,
                              rdv_context_counters *out);

RDV_API_END
#endif
