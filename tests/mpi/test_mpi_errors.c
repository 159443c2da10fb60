/*
 * tests/mpi/test_mpi_errors.c - what the MPI rendezvous refuses, and
 * that a refusal never leaves a rank blocked in MPI:
 *   - every context sized N+1: RDV_EINVAL naming both sizes;
 *   - only the last rank's context sized N+1: it gets RDV_EINVAL, every
 *     other rank RDV_EPEER naming it;
 *   - ranks shifted by one: RDV_EINVAL naming both ranks;
 *   - a NULL context: RDV_EINVAL;
 *   - rank 0 on another job name: RDV_EPROTO (the job token in the
 *     records);
 *   - the last rank fails before it has a record (a bind value that is
 *     no address, or a context already connected): it gets its own
 *     error, every other rank RDV_EPEER naming it, nobody hangs in MPI
 *     (librdv still calls the exchange on a rank that drops out);
 * and after all of that the communicator's error handler is the
 * caller's again and a correct rendezvous on the same communicator
 * works.
 */
#include <stdio.h>
#include <string.h>

#include "mpi_check.h"
#include "rdv/collectives.h"

static int has(const char *s, const char *needle)
{
    return s && strstr(s, needle) != NULL;
}

/* Creates (rank, size, job), connects through MPI_COMM_WORLD, returns
 * the status; msg gets the detail. */
static int attempt(int rank, int size, const char *job, char *msg,
                   size_t cap)
{
    rdv_context *ctx = mpi_check_context(rank, size, job);
    int rc = rdv_context_connect_full_mesh_mpi(ctx, MPI_COMM_WORLD);

    snprintf(msg, cap, "%s", ctx ? rdv_context_errmsg(ctx) : "");
    rdv_context_destroy(ctx);
    return rc;
}

static void size_mismatch_everywhere(int rank, int n)
{
    char msg[1100], want[64], want2[64];
    int rc = attempt(rank, n + 1, "mpi-err-size", msg, sizeof msg);

    snprintf(want, sizeof want, "context size %d", n + 1);
    snprintf(want2, sizeof want2, "size %d of the MPI communicator", n);
    MPI_CHECK(rc == RDV_EINVAL && has(msg, want) && has(msg, want2),
              "context size %d in a communicator of %d: got %s \"%s\", "
              "expected RDV_EINVAL naming both sizes",
              n + 1, n, rdv_strerror(rc), msg);
}

static void size_mismatch_on_one(int rank, int n)
{
    int bad = n - 1;
    char msg[1100], want[64];
    int rc = attempt(rank, rank == bad ? n + 1 : n, "mpi-err-one", msg,
                     sizeof msg);

    if (rank == bad) {
        snprintf(want, sizeof want, "context size %d != size %d", n + 1, n);
        MPI_CHECK(rc == RDV_EINVAL && has(msg, want),
                  "the rank with the wrong size: got %s \"%s\", expected "
                  "RDV_EINVAL with \"%s\"", rdv_strerror(rc), msg, want);
    } else {
        snprintf(want, sizeof want, "communicator rank %d refused", bad);
        MPI_CHECK(rc == RDV_EPEER && has(msg, want),
                  "a rank whose context fits while rank %d's does not: got "
                  "%s \"%s\", expected RDV_EPEER with \"%s\"",
                  bad, rdv_strerror(rc), msg, want);
    }
}

static void rank_mismatch(int rank, int n)
{
    int mine = (rank + 1) % n;
    char msg[1100], want[80];
    int rc = attempt(mine, n, "mpi-err-rank", msg, sizeof msg);

    snprintf(want, sizeof want, "context rank %d != rank %d", mine, rank);
    MPI_CHECK(rc == RDV_EINVAL && has(msg, want),
              "context rank %d at communicator rank %d: got %s \"%s\", "
              "expected RDV_EINVAL with \"%s\"",
              mine, rank, rdv_strerror(rc), msg, want);
}

static void null_context(void)
{
    int rc = rdv_context_connect_full_mesh_mpi(NULL, MPI_COMM_WORLD);

    MPI_CHECK(rc == RDV_EINVAL, "a NULL context: got %s, expected "
              "RDV_EINVAL", rdv_strerror(rc));
}

static void other_job(int rank)
{
    char msg[1100];
    int rc = attempt(rank, mpi_check_size(),
                     rank == 0 ? "mpi-err-job-a" : "mpi-err-job-b", msg,
                     sizeof msg);

    MPI_CHECK(rc == RDV_EPROTO && has(msg, "rank"),
              "rank 0 on another job name: got %s \"%s\", expected "
              "RDV_EPROTO naming a rank", rdv_strerror(rc), msg);
}

/* The last rank drops out before the exchange; what everyone gets. */
static void check_drop_out(int rank, int n, int rc, const char *msg,
                           int want_rc, const char *want, const char *what)
{
    char peer[64];

    if (rank == n - 1) {
        MPI_CHECK(rc == want_rc && has(msg, want),
                  "the rank with %s: got %s \"%s\", expected %s with \"%s\"",
                  what, rdv_strerror(rc), msg, rdv_strerror(want_rc), want);
        return;
    }
    snprintf(peer, sizeof peer, "communicator rank %d refused", n - 1);
    MPI_CHECK(rc == RDV_EPEER && has(msg, peer),
              "a rank whose peer has %s: got %s \"%s\", expected RDV_EPEER "
              "with \"%s\"", what, rdv_strerror(rc), msg, peer);
}

static void bad_bind_on_one(int rank, int n)
{
    const char *bind = rank == n - 1 ? "no-such-if0" : "127.0.0.1";
    rdv_context *ctx = mpi_check_context_bound(rank, n, "mpi-err-bind", bind);
    int rc = rdv_context_connect_full_mesh_mpi(ctx, MPI_COMM_WORLD);

    check_drop_out(rank, n, rc, ctx ? rdv_context_errmsg(ctx) : "",
                   RDV_EINVAL, "bind \"no-such-if0\"", "a bad bind value");
    rdv_context_destroy(ctx);
}

/* The last rank first connects a job of one on MPI_COMM_SELF, then
 * brings that used context to the job. */
static void used_context_on_one(int rank, int n)
{
    int last = rank == n - 1;
    rdv_context *ctx = mpi_check_context(last ? 0 : rank, last ? 1 : n,
                                         "mpi-err-used");
    int rc;

    if (last) {
        rc = rdv_context_connect_full_mesh_mpi(ctx, MPI_COMM_SELF);
        MPI_CHECK(rc == RDV_OK, "a job of one on MPI_COMM_SELF: %s: %s",
                  rdv_strerror(rc), ctx ? rdv_context_errmsg(ctx) : "");
    }
    rc = rdv_context_connect_full_mesh_mpi(ctx, MPI_COMM_WORLD);
    check_drop_out(rank, n, rc, ctx ? rdv_context_errmsg(ctx) : "",
                   RDV_ESTATE, "already connected", "a used context");
    rdv_context_destroy(ctx);
}

static void still_works(int rank, int n)
{
    MPI_Errhandler h;
    char msg[1100];
    rdv_context *ctx;
    int rc, v = rank + 1, sum = 0;

    MPI_Comm_get_errhandler(MPI_COMM_WORLD, &h);
    MPI_CHECK(h == MPI_ERRORS_ARE_FATAL, "MPI_COMM_WORLD's error handler "
              "was not restored to MPI_ERRORS_ARE_FATAL");
    MPI_Errhandler_free(&h);
    ctx = mpi_check_context(rank, n, "mpi-err-after");
    rc = rdv_context_connect_full_mesh_mpi(ctx, MPI_COMM_WORLD);
    snprintf(msg, sizeof msg, "%s", ctx ? rdv_context_errmsg(ctx) : "");
    MPI_CHECK(rc == RDV_OK, "a correct rendezvous after the refusals: %s: "
              "%s", rdv_strerror(rc), msg);
    if (rc == RDV_OK) {
        rc = rdv_allreduce(ctx, &v, &sum, 1, RDV_INT32, RDV_SUM, NULL);
        MPI_CHECK(rc == RDV_OK && sum == n * (n + 1) / 2,
                  "allreduce after the refusals: %s, sum %d, expected %d",
                  rdv_strerror(rc), sum, n * (n + 1) / 2);
    }
    rdv_context_destroy(ctx);
}

int main(int argc, char **argv)
{
    int rank, n;

    mpi_check_init(&argc, &argv, "test_mpi_errors");
    rank = mpi_check_rank();
    n = mpi_check_size();
    size_mismatch_everywhere(rank, n);
    size_mismatch_on_one(rank, n);
    if (n > 1)
        rank_mismatch(rank, n);
    null_context();
    if (n > 1) {
        other_job(rank);
        bad_bind_on_one(rank, n);
        used_context_on_one(rank, n);
    }
    still_works(rank, n);
    return mpi_check_finish();
}
