/*
 * rdv/exchange.h - the full-mesh rendezvous with the address records
 * exchanged by the caller instead of a store: the seam for bootstraps
 * that already have a way to gather one small blob from every rank
 * (MPI_Allgather, a launcher's pipes, another library's allgather).
 * librdv-mpi (rdv/mpi.h) is built on it and uses nothing else.
 *
 *   static int gather(void *arg, const rdv_exchange *x)
 *   {
 *       if (!x->mine)   // this rank failed first: tell the others
 *           return my_drop_out(arg, x->reason);
 *       return my_allgather(arg, x->mine, x->all, x->record_size,
 *                           x->err, x->errlen);
 *   }
 *   ...
 *   rdv_context_connect_full_mesh_exchange(ctx, gather, &my_comm);
 *
 * Everything but the exchange is what rdv_context_connect_full_mesh()
 * does: this rank listens first, then its record (address, port, pid,
 * hostname, job token, nonce; versioned and checksummed) is exchanged,
 * every peer's record is checked as a store read is (format, rank
 * against its slot, job size, job token, duplicates, the loopback
 * pitfall), the higher rank connects to the lower with retries, and a
 * handshake proves each connection.
 *
 * Who calls what:
 *   - every rank of the job calls rdv_context_connect_full_mesh_exchange()
 *     once, with its own fresh context (same job name and size on all);
 *   - librdv calls exchange exactly once during that call, on the
 *     calling thread, whenever ctx and exchange are not NULL: also for
 *     a job of one rank, and also when this rank failed before its
 *     record existed (see "Dropping out"). So an exchange that is a
 *     collective (MPI) is always matched on every rank;
 *   - exchange must not call into ctx, and must not keep x or its
 *     buffers after it returns.
 *
 * What exchange does with a record (x->mine != NULL): it fills x->all
 * with every rank's record, rank-major. Slot k (x->record_size bytes at
 * offset k * x->record_size) must hold exactly the bytes rank k was
 * given as its x->mine; this rank's own slot is not read. Every rank's
 * record must be delivered: when one cannot be (a rank died, dropped
 * out, or the transport failed), exchange fails instead. Records are
 * opaque and fixed-size: x->record_size is RDV_EXCHANGE_RECORD_SIZE on
 * every rank. A wrong or corrupted record is caught by the checks above
 * (RDV_EPROTO naming the rank), never a crossed mesh.
 *
 * Dropping out (x->mine == NULL, x->all == NULL): this rank failed
 * before its exchange (the context was not fresh, the bind address did
 * not resolve, the listener could not be opened, no memory); x->reason
 * says why. exchange is called anyway so that a bootstrap whose
 * exchange cannot time out tells the other ranks, which must then fail
 * naming this rank rather than wait for it (librdv-mpi: one
 * MPI_Allreduce every rank makes before its MPI_Allgather). Its return
 * value is ignored: the call returns this rank's own failure.
 *
 * exchange returns RDV_OK, or a negative rdv_status after writing what
 * failed (naming ranks) into x->err; any other value counts as RDV_EIO.
 * The call then fails with that status and the detail
 * "rank R: record exchange: <x->err>".
 *
 * Deadline: rdv puts none on the exchange itself (an MPI collective
 * has none); a bootstrap applies its own. The context's timeout starts
 * when exchange returns and bounds the connects and handshakes.
 *
 * Threads and fork: as for every context; exchange runs on the thread
 * that called rdv_context_connect_full_mesh_exchange().
 */
#ifndef RDV_EXCHANGE_H
#define RDV_EXCHANGE_H

#include <stddef.h>

#include "rdv/context.h"
#include "rdv/export.h"

RDV_API_BEGIN

/* Bytes in one rank's record; a bootstrap may size its buffers by it.
 * It changes only with the record's format version. */
#define RDV_EXCHANGE_RECORD_SIZE 128

/* What exchange is given; owned by librdv, valid during the call. */
typedef struct rdv_exchange {
    int rank;           /* this rank (the context's) */
    int size;           /* ranks in the job: x->all has size slots */
    size_t record_size; /* RDV_EXCHANGE_RECORD_SIZE */
    const void *mine;   /* this rank's record; NULL: dropping out */
    void *all;          /* size * record_size bytes to fill; NULL with mine */
    const char *reason; /* why this rank drops out; NULL otherwise */
    char *err;          /* where exchange says what failed */
    size_t errlen;      /* bytes at err (> 0) */
} rdv_exchange;

/* Moves every rank's record to every rank (see above). arg is the one
 * given to rdv_context_connect_full_mesh_exchange(). */
typedef int (*rdv_exchange_fn)(void *arg, const rdv_exchange *x);

/* Connects every pair of ranks with the records moved by exchange.
 * Returns RDV_OK, or:
 *   RDV_EINVAL     ctx or exchange is NULL (exchange is not called);
 *                  a bad bind value, or the loopback pitfall;
 *   RDV_ESTATE     ctx already connected, or failed before;
 *   what exchange returned, with its message;
 *   RDV_EPROTO     a malformed record, one in the wrong slot, or one
 *                  from another job or job size (naming the rank);
 *   RDV_EEXIST     two ranks sent the same nonce or address;
 *   RDV_ETIMEDOUT  peers not reached or never connected within the
 *                  context's timeout (named, with addresses);
 *   RDV_EPEER      a peer on this host exited.
 * The detail is in rdv_context_errmsg(ctx). On failure every socket is
 * closed and the context is unusable. */
int rdv_context_connect_full_mesh_exchange(rdv_context *ctx,
                                           rdv_exchange_fn exchange,
                                           void *arg);

RDV_API_END
#endif
