/*
 * tests/mpi/mpi_check.c - failure reporting and the shared verdict for
 * the MPI tests (see mpi_check.h). Test code: printing and process-wide
 * state are fine here, unlike in the library.
 */
#include <stdarg.h>
#include <stdio.h>

#include "mpi_check.h"

static int g_rank, g_size, g_failures;
static const char *g_test = "mpi test";

int mpi_check_rank(void) { return g_rank; }
int mpi_check_size(void) { return g_size; }
int mpi_check_failures(void) { return g_failures; }

void mpi_check_that(int ok, const char *file, int line, const char *expr,
                    const char *fmt, ...)
{
    char msg[1400];
    va_list ap;

    if (ok)
        return;
    g_failures++;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "FAIL %s rank %d/%d at %s:%d: %s: %s\n", g_test, g_rank,
            g_size, file, line, expr, msg);
    fflush(stderr);
}

void mpi_check_init(int *argc, char ***argv, const char *test)
{
    g_test = test;
    MPI_Init(argc, argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
}

rdv_context *mpi_check_context(int rank, int size, const char *job)
{
    return mpi_check_context_bound(rank, size, job, "127.0.0.1");
}

rdv_context *mpi_check_context_bound(int rank, int size, const char *job,
                                     const char *bind)
{
    rdv_context_options o = rdv_context_options_default();
    rdv_context *ctx = NULL;
    char err[512] = "";
    int rc;

    o.rank = rank;
    o.size = size;
    o.job = job;
    o.bind = bind;
    o.timeout_ms = 20000;
    rc = rdv_context_create(&o, &ctx, err, sizeof err);
    MPI_CHECK(rc == RDV_OK, "rdv_context_create(rank %d, size %d, job %s): "
              "%s: %s", rank, size, job, rdv_strerror(rc), err);
    return rc == RDV_OK ? ctx : NULL;
}

int mpi_check_finish(void)
{
    int total = 0;

    MPI_Allreduce(&g_failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (g_rank == 0)
        printf("%s with %d ranks: %s (%d failed checks)\n", g_test, g_size,
               total ? "FAIL" : "PASS", total);
    fflush(stdout);
    MPI_Finalize();
    return total ? 1 : 0;
}
