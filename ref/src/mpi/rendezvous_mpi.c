/*
 * mpi/rendezvous_mpi.c - rdv_context_connect_full_mesh_mpi(): the full
 * mesh with the address records exchanged through an MPI communicator.
 *
 * Only the record exchange differs from the store path, so this file is
 * only that exchange: the mesh driver (rendezvous/mesh.c) runs with an
 * exchange function that does one MPI_Allgather of the fixed-size
 * records, and records.c validates them exactly as it validates store
 * reads. The listener, connects, retries and handshake are the same
 * code.
 *
 * Choices:
 * - Before the exchange every rank learns, through one MPI_Allreduce of
 *   an int, whether every rank's context fits the communicator. A rank
 *   that refused locally and returned would otherwise leave the others
 *   blocked in MPI_Allgather forever (MPI collectives have no timeout).
 * - comm's error handler is MPI_ERRORS_RETURN during the call, so an MPI
 *   failure becomes RDV_EIO with MPI's own words instead of an abort of
 *   the job from inside a library; the caller's handler is restored.
 * - Nothing keeps comm: MPI is not used after the call returns.
 */
#include <limits.h>
#include <mpi.h>
#include <stdio.h>

#include "context_internal.h"
#include "rdv/mpi.h"
#include "rendezvous/mesh.h"

/* MPI's words for an error code. */
static void mpi_reason(int code, char *buf, size_t cap)
{
    char s[MPI_MAX_ERROR_STRING];
    int len = 0;

    if (MPI_Error_string(code, s, &len) != MPI_SUCCESS || len <= 0)
        snprintf(buf, cap, "MPI error %d", code);
    else
        snprintf(buf, cap, "%.*s", len, s);
}

/* The exchange handed to the mesh driver: one MPI_Allgather. */
static int allgather_records(void *arg, const uint8_t *mine, uint8_t *all,
                             size_t record_size, char *err, size_t errlen)
{
    MPI_Comm comm = *(MPI_Comm *)arg;
    char why[MPI_MAX_ERROR_STRING + 1];
    int rc = MPI_Allgather(mine, (int)record_size, MPI_BYTE, all,
                           (int)record_size, MPI_BYTE, comm);

    if (rc == MPI_SUCCESS)
        return RDV_OK;
    mpi_reason(rc, why, sizeof why);
    snprintf(err, errlen, "MPI_Allgather of the %zu-byte records failed: %s",
             record_size, why);
    return RDV_EIO;
}

/* Why this rank cannot take part, or NULL when it can: ctx against the
 * communicator. *status gets the status this rank returns. */
static const char *local_refusal(rdv_context *ctx, int size, int rank,
                                 char *buf, size_t cap, int *status)
{
    *status = RDV_EINVAL;
    if (!ctx)
        return "ctx is NULL";
    if (rdv_context_size(ctx) != size) {
        snprintf(buf, cap,
                 "context size %d != size %d of the MPI communicator "
                 "(communicator rank %d, context rank %d); create the "
                 "context with the communicator's size",
                 rdv_context_size(ctx), size, rank, rdv_context_rank(ctx));
        return buf;
    }
    if (rdv_context_rank(ctx) != rank) {
        snprintf(buf, cap,
                 "context rank %d != rank %d in the MPI communicator (size "
                 "%d); create the context with the communicator's rank",
                 rdv_context_rank(ctx), rank, size);
        return buf;
    }
    if (!rdv_context_is_fresh(ctx)) {
        *status = RDV_ESTATE;
        snprintf(buf, cap, "rank %d: already connected or failed", rank);
        return buf;
    }
    return NULL;
}

static int refuse(rdv_context *ctx, int status, const char *why)
{
    return ctx ? rdv_context_fail(ctx, status, "MPI rendezvous: %s", why)
               : status;
}

/* Every rank learns the lowest rank that refused (INT_MAX: none). */
static int agree(rdv_context *ctx, MPI_Comm comm, int rank, int size)
{
    char buf[RDV_DETAIL_MAX - 64], why[MPI_MAX_ERROR_STRING + 1];
    int status, first = INT_MAX;
    const char *no = local_refusal(ctx, size, rank, buf, sizeof buf, &status);
    int mine = no ? rank : INT_MAX;
    int rc = MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm);

    if (rc != MPI_SUCCESS) {
        mpi_reason(rc, why, sizeof why);
        snprintf(buf, sizeof buf,
                 "rank %d of %d: MPI_Allreduce (checking every rank's "
                 "context) failed: %s",
                 rank, size, why);
        return refuse(ctx, RDV_EIO, buf);
    }
    if (no)
        return refuse(ctx, status, no);
    if (first != INT_MAX) {
        snprintf(buf, sizeof buf,
                 "rank %d of %d: communicator rank %d refused the "
                 "rendezvous (its context's size or rank disagrees with "
                 "the communicator, or it is not fresh; see that rank's "
                 "error); nothing was exchanged",
                 rank, size, first);
        return refuse(ctx, RDV_EPEER, buf);
    }
    return RDV_OK;
}

/* What can be checked without talking to anyone. */
static int check_mpi(rdv_context *ctx, MPI_Comm comm)
{
    int inited = 0, finalized = 0, inter = 0;

    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    if (!inited || finalized)
        return refuse(ctx, RDV_EINVAL,
                      finalized ? "MPI is already finalized"
                                : "MPI is not initialized (call MPI_Init "
                                  "first)");
    if (comm == MPI_COMM_NULL)
        return refuse(ctx, RDV_EINVAL, "the communicator is MPI_COMM_NULL");
    if (MPI_Comm_test_inter(comm, &inter) != MPI_SUCCESS || inter)
        return refuse(ctx, RDV_EINVAL,
                      "the communicator is an intercommunicator; pass an "
                      "intracommunicator such as MPI_COMM_WORLD");
    return RDV_OK;
}

int rdv_context_connect_full_mesh_mpi(rdv_context *ctx, MPI_Comm comm)
{
    MPI_Errhandler theirs;
    int ret, size = 0, rank = 0;

    if ((ret = check_mpi(ctx, comm)) != RDV_OK)
        return ret;
    if (MPI_Comm_get_errhandler(comm, &theirs) != MPI_SUCCESS)
        return refuse(ctx, RDV_EIO, "cannot read the communicator's error "
                                    "handler");
    MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
    if (MPI_Comm_size(comm, &size) != MPI_SUCCESS ||
        MPI_Comm_rank(comm, &rank) != MPI_SUCCESS)
        ret = refuse(ctx, RDV_EIO, "cannot read the communicator's size "
                                   "and rank");
    if (ret == RDV_OK)
        ret = agree(ctx, comm, rank, size);
    if (ret == RDV_OK)
        ret = rdv_mesh_connect_exchange(ctx, allgather_records, &comm);
    MPI_Comm_set_errhandler(comm, theirs);
    MPI_Errhandler_free(&theirs);
    return ret;
}
