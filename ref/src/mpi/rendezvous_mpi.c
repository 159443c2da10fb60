/*
 * mpi/rendezvous_mpi.c - rdv_context_connect_full_mesh_mpi(): the full
 * mesh with the address records exchanged through an MPI communicator.
 *
 * A bootstrap outside librdv, built on its public seam (rdv/exchange.h)
 * and nothing else: librdv listens, checks the records, connects and
 * shakes hands, and calls exchange_records() once on every rank. This
 * file is only that exchange: one MPI_Allgather of the fixed-size
 * records, after the agreement below.
 *
 * Choices:
 * - Before the MPI_Allgather every rank learns, through one
 *   MPI_Allreduce of an int, whether every rank can take part: its
 *   context fits the communicator and librdv did not make it drop out
 *   (context not fresh, bad bind address, ...). A rank that refused
 *   alone would leave the others blocked in MPI_Allgather forever (MPI
 *   collectives have no timeout).
 * - A NULL context drops out the same way, so a bad call on one rank
 *   is an error on every rank, never a hang.
 * - comm's error handler is MPI_ERRORS_RETURN during the exchange, so
 *   an MPI failure becomes RDV_EIO with MPI's own words instead of an
 *   abort of the job from inside a library; the caller's handler is
 *   restored.
 * - Nothing keeps comm: MPI is not used after the call returns.
 */
#include <limits.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>

#include "rdv/exchange.h"
#include "rdv/mpi.h"

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

/* Says what failed in the exchange's message; returns status. */
__attribute__((format(printf, 3, 4)))
static int say(const rdv_exchange *x, int status, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(x->err, x->errlen, fmt, ap);
    va_end(ap);
    return status;
}

/* Why this rank cannot take part, or NULL when it can: the context's
 * rank and size against the communicator's. */
static const char *local_refusal(const rdv_exchange *x, int rank, int size,
                                 char *buf, size_t cap)
{
    if (!x->mine)
        return x->reason ? x->reason : "this rank dropped out";
    if (x->size != size) {
        snprintf(buf, cap,
                 "context size %d != size %d of the MPI communicator "
                 "(communicator rank %d, context rank %d); create the "
                 "context with the communicator's size",
                 x->size, size, rank, x->rank);
        return buf;
    }
    if (x->rank != rank) {
        snprintf(buf, cap,
                 "context rank %d != rank %d in the MPI communicator (size "
                 "%d); create the context with the communicator's rank",
                 x->rank, rank, size);
        return buf;
    }
    return NULL;
}

/* Every rank learns the lowest rank that cannot take part. */
static int agree(MPI_Comm comm, const rdv_exchange *x, int rank, int size)
{
    char buf[512], why[MPI_MAX_ERROR_STRING + 1];
    const char *no = local_refusal(x, rank, size, buf, sizeof buf);
    int mine = no ? rank : INT_MAX, first = INT_MAX;
    int rc = MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm);

    if (rc != MPI_SUCCESS) {
        mpi_reason(rc, why, sizeof why);
        return say(x, RDV_EIO,
                   "communicator rank %d of %d: MPI_Allreduce (checking that "
                   "every rank can take part) failed: %s",
                   rank, size, why);
    }
    if (no)
        return say(x, RDV_EINVAL, "%s", no);
    if (first != INT_MAX)
        return say(x, RDV_EPEER,
                   "communicator rank %d refused the rendezvous (its "
                   "context's size or rank disagrees with the communicator, "
                   "or it failed before the exchange; see that rank's "
                   "error); nothing was exchanged",
                   first);
    return RDV_OK;
}

static int allgather(MPI_Comm comm, const rdv_exchange *x)
{
    char why[MPI_MAX_ERROR_STRING + 1];
    int rc = MPI_Allgather(x->mine, (int)x->record_size, MPI_BYTE, x->all,
                           (int)x->record_size, MPI_BYTE, comm);

    if (rc == MPI_SUCCESS)
        return RDV_OK;
    mpi_reason(rc, why, sizeof why);
    return say(x, RDV_EIO, "MPI_Allgather of the %zu-byte records failed: %s",
               x->record_size, why);
}

/* Why MPI cannot be used on comm at all, or NULL: what can be checked
 * without talking to anyone. */
static const char *mpi_unusable(MPI_Comm comm)
{
    int inited = 0, finalized = 0, inter = 0;

    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    if (finalized)
        return "MPI is already finalized";
    if (!inited)
        return "MPI is not initialized (call MPI_Init first)";
    if (comm == MPI_COMM_NULL)
        return "the communicator is MPI_COMM_NULL";
    if (MPI_Comm_test_inter(comm, &inter) != MPI_SUCCESS || inter)
        return "the communicator is an intercommunicator; pass an "
               "intracommunicator such as MPI_COMM_WORLD";
    return NULL;
}

/* The exchange librdv calls once on every rank (rdv_exchange_fn). */
static int exchange_records(void *arg, const rdv_exchange *x)
{
    MPI_Comm comm = *(MPI_Comm *)arg;
    const char *no = mpi_unusable(comm);
    MPI_Errhandler theirs;
    int ret, rank = 0, size = 0;

    if (no)
        return say(x, RDV_EINVAL, "%s", no);
    if (MPI_Comm_get_errhandler(comm, &theirs) != MPI_SUCCESS)
        return say(x, RDV_EIO, "cannot read the communicator's error handler");
    MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
    if (MPI_Comm_size(comm, &size) != MPI_SUCCESS ||
        MPI_Comm_rank(comm, &rank) != MPI_SUCCESS)
        ret = say(x, RDV_EIO, "cannot read the communicator's size and rank");
    else if ((ret = agree(comm, x, rank, size)) == RDV_OK)
        ret = allgather(comm, x);
    MPI_Comm_set_errhandler(comm, theirs);
    MPI_Errhandler_free(&theirs);
    return ret;
}

int rdv_context_connect_full_mesh_mpi(rdv_context *ctx, MPI_Comm comm)
{
    char err[256];
    rdv_exchange none = {.rank = -1, .reason = "ctx is NULL", .err = err,
                         .errlen = sizeof err};

    if (ctx)
        return rdv_context_connect_full_mesh_exchange(ctx, exchange_records,
                                                      &comm);
    exchange_records(&comm, &none); /* drop out: the others must not wait */
    return RDV_EINVAL;
}
