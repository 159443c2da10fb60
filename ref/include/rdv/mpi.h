/*
 * rdv/mpi.h - the full-mesh rendezvous through an MPI communicator
 * (librdv-mpi; link rdv::rdv_mpi, or -lrdv-mpi -lrdv and MPI's flags).
 *
 * For jobs that are already launched with mpirun: instead of a key/value
 * store, the ranks exchange their address records with one MPI_Allgather
 * and then build exactly the mesh rdv_context_connect_full_mesh() builds
 * (same listener, record checks, connects with retries, handshake). From
 * then on rdv uses its own TCP sockets; MPI is never touched again.
 *
 *   MPI_Init(&argc, &argv);
 *   MPI_Comm_rank(MPI_COMM_WORLD, &r); MPI_Comm_size(MPI_COMM_WORLD, &n);
 *   rdv_context_options o = rdv_context_options_default();
 *   o.rank = r; o.size = n; o.job = "train";
 *   rdv_context_create(&o, &ctx, err, sizeof err);
 *   rdv_context_connect_full_mesh_mpi(ctx, MPI_COMM_WORLD);
 *   ... rdv_allreduce(ctx, ...) ...    (MPI may be finalized here)
 *
 * librdv itself never links MPI: only this library does. It is built on
 * librdv's public record-exchange seam (rdv/exchange.h) and nothing
 * else, so it is also an example of a bootstrap kept outside librdv.
 */
#ifndef RDV_MPI_H
#define RDV_MPI_H

#include <mpi.h>

#include "rdv/context.h"
#include "rdv/export.h"

RDV_API_BEGIN

/* Connects every pair of ranks of comm; collective over comm: every rank
 * of it calls this once, with its own fresh context.
 *
 * Rank and size come from the communicator: the context must have been
 * created with rank == MPI_Comm_rank(comm) and size == MPI_Comm_size(comm)
 * and the same job name on every rank (the job token is checked in every
 * record and handshake).
 *
 * MPI traffic: one MPI_Allreduce of one int (every rank agrees that every
 * rank can take part before anything is exchanged, so a bad rank never
 * leaves the others blocked in MPI) and one MPI_Allgather of fixed-size
 * 128-byte records: O(N) memory and traffic per rank, unlike Gloo's
 * O(N^2) address exchange. The error handler of comm is set to
 * MPI_ERRORS_RETURN during the exchange and restored after it. MPI is
 * not touched after the call returns; nothing refers to comm then.
 *
 * Deadline: the MPI calls wait like any MPI collective (no timeout: a
 * rank that never calls this blocks the others inside MPI). The
 * context's timeout starts when the records have been exchanged and
 * bounds the connects and handshakes.
 *
 * Returns RDV_OK, or:
 *   RDV_EINVAL  on this rank: ctx is NULL, MPI is not initialized or is
 *               finalized, comm is MPI_COMM_NULL or an intercommunicator,
 *               or the context's size or rank disagrees with comm; the
 *               detail names both values, e.g. "context size 3 != size 2
 *               of the MPI communicator (communicator rank 1)";
 *   RDV_ESTATE  this context already connected or failed;
 *   RDV_EPEER   another rank of comm refused for one of those reasons,
 *               or failed before the exchange (a bad bind value, a used
 *               context: see rdv/exchange.h, "Dropping out"), named:
 *               "communicator rank 2 refused ...";
 *   RDV_EIO     an MPI call failed (its MPI error string is given);
 *   otherwise   what rdv_context_connect_full_mesh() returns once the
 *               records are in: RDV_EPROTO for a bad record or a
 *               different job name, RDV_ETIMEDOUT naming unreachable
 *               ranks and their addresses, RDV_EEXIST, RDV_EINVAL for the
 *               loopback pitfall, RDV_EPEER for a peer on this host that
 *               exited.
 * The detail is in rdv_context_errmsg(ctx) (none when ctx is NULL). On
 * failure every socket is closed and the context is unusable.
 *
 * Threads: call it from the thread that will drive the context; MPI must
 * allow calls from that thread (any MPI thread level does for the
 * thread that initialized MPI). Fork: as for every context, create and
 * connect it in the process that uses it.
 */
int rdv_context_connect_full_mesh_mpi(rdv_context *ctx, MPI_Comm comm);

RDV_API_END
#endif
