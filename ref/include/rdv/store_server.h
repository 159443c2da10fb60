/*
 * rdv/store_server.h - the server behind tcp:// stores, inside librdv.
 *
 * It keeps keys and values in memory and answers the whole store
 * contract (rdv/store.h) for clients that open
 * tcp://host:port[?token=T]. Start one with rdv_store_server_start(),
 * by opening tcp://host:port?serve=1 (the handle that binds first owns
 * a server for as long as it stays open), or run `rdv store-server
 * --bind ADDR:PORT [--token T]`.
 *
 *   rdv_store_server_options o = rdv_store_server_options_default();
 *   o.bind = "127.0.0.1:0";             // 0: the kernel picks the port
 *   rdv_store_server *srv;
 *   if (rdv_store_server_start(&o, &srv, err, sizeof err)) die(err);
 *   printf("tcp://%s\n", rdv_store_server_address(srv));
 *   ...
 *   rdv_store_server_stop(srv);
 *
 * What it promises:
 *  - A blocking get, wait or multi_get is parked on the server and
 *    answered by the set that completes it, or at the deadline the
 *    request carried: nothing polls, on either side.
 *  - Every request gets exactly one reply, with the request's id.
 *  - A client that sends bytes that are no frame of the protocol, a
 *    frame over max_frame, or requests before its hello, is dropped and
 *    the log says why; so is a client whose token is wrong (it first
 *    gets an RDV_EAUTH reply). Nothing it sends can grow the server's
 *    buffers for it past one frame in and out_limit out: while its
 *    replies are unsent the server stops reading from it.
 *  - A client that goes away (closed, killed) takes its parked
 *    requests with it; other clients are not affected.
 *
 * Stopping: every connection is closed; clients see the connection
 * drop, reconnect within their call's deadline and fail with RDV_ECONN
 * if no server comes back. The keys are gone with the server.
 *
 * Threads and fork: the server runs its event loop (io_uring, or epoll
 * where io_uring is refused; RDV_TRANSPORT or o.transport chooses, as
 * for contexts) on a thread of its own, with every signal blocked.
 * Start it after forking your ranks: a forked child inherits neither
 * the thread nor the clients. The functions below may be called from
 * any thread of the process that started the server; in a forked child,
 * rdv_store_server_stop() only closes the child's copies of the
 * server's fds (the server itself lives on in the parent) and leaves
 * the rest of the memory, which may be mid-update, alone.
 *
 * Files: a server holds one fd per client, its listener and two more.
 * When max_clients needs more than the soft RLIMIT_NOFILE, start raises
 * the soft limit toward the hard one and logs that it did.
 */
#ifndef RDV_STORE_SERVER_H
#define RDV_STORE_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "rdv/export.h"
#include "rdv/status.h"

RDV_API_BEGIN

typedef struct rdv_store_server rdv_store_server;

/* One line of the server's log (no newline): clients dropped and why,
 * refused logins, accept errors, limits raised. Called on the server's
 * thread; it must not call back into the server. Never holds a token. */
typedef void (*rdv_store_server_log_fn)(void *arg, const char *line);

/* Grows like rdv_context_options (struct_size, see rdv/context.h). */
typedef struct rdv_store_server_options {
    uint32_t struct_size;  /* set by rdv_store_server_options_init() */
    const char *bind;      /* "host:port", "[v6]:port"; port 0 picks
                              one; default "127.0.0.1:0" */
    const char *token;     /* shared secret clients must present
                              (?token=); NULL or "" for none; compared
                              in constant time, never logged */
    uint32_t max_clients;  /* connections at once; default 4096; more
                              are accepted and closed with a log line */
    uint32_t max_frame;    /* largest request body, bytes; default and
                              upper bound: a 64 MiB value and its key */
    uint32_t out_limit;    /* unsent reply bytes per client above which
                              the server stops reading from it; default
                              4 MiB */
    uint32_t max_waiting;  /* parked requests per client; default 1024;
                              more are answered RDV_ENOMEM */
    const char *transport; /* "uring", "epoll" or NULL ($RDV_TRANSPORT,
                              else io_uring with the epoll fallback) */
    rdv_store_server_log_fn log; /* optional: nothing is printed */
    void *log_arg;
} rdv_store_server_options;

/* Fills the size bytes at o (pass sizeof *o) with the defaults above.
 * Thread-safe. */
void rdv_store_server_options_init(rdv_store_server_options *o,
                                   size_t size);

/* The defaults, by value, built with the caller's sizeof. */
static inline rdv_store_server_options rdv_store_server_options_default(void)
{
    rdv_store_server_options o;

    rdv_store_server_options_init(&o, sizeof o);
    return o;
}

/* Binds, listens and starts the server thread; returns once the server
 * accepts connections. The options (strings too) are copied. RDV_OK and
 * *out; else no thread, no fd, and errbuf says why:
 *   RDV_EINVAL  a bad option (bind not host:port, unknown transport,
 *               bad struct_size);
 *   RDV_EEXIST  the address is in use (another server, perhaps the
 *               winner of a serve=1 race);
 *   RDV_ECONN   the host does not resolve, or bind/listen failed;
 *   RDV_ENOTSUP io_uring forced but refused; RDV_ENOMEM; RDV_EIO. */
int rdv_store_server_start(const rdv_store_server_options *o,
                           rdv_store_server **out, char *errbuf,
                           size_t errlen);

/* Closes every connection, ends the thread and frees srv. NULL is
 * allowed. See the head comment for a forked child. */
void rdv_store_server_stop(rdv_store_server *srv);

/* The bound address, "127.0.0.1:40123" or "[::1]:40123", for
 * tcp://ADDRESS. Owned by srv. */
const char *rdv_store_server_address(const rdv_store_server *srv);
/* The bound port. */
int rdv_store_server_port(const rdv_store_server *srv);

/* A snapshot of the server's counters (also sent to clients that ask
 * with the protocol's STATS request). */
typedef struct rdv_store_server_stats {
    uint64_t clients;  /* connections open now */
    uint64_t waiting;  /* requests parked now (get, wait, multi_get) */
    uint64_t keys;     /* keys stored now */
    uint64_t accepted; /* connections accepted since start */
    uint64_t dropped;  /* connections dropped for breaking the protocol
                          or a limit */
    uint64_t refused;  /* connections refused: wrong token or version,
                          max_clients reached */
} rdv_store_server_stats;

void rdv_store_server_stats_get(const rdv_store_server *srv,
                                rdv_store_server_stats *out);

RDV_API_END
#endif
