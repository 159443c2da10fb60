/*
 * tests/mpi/test_mpi_collectives.c - collectives over a mesh built
 * through MPI give the right results: allreduce (sum, int64 and double)
 * at sizes that reach every algorithm (recursive doubling, halving-
 * doubling, ring; n need not be a power of two), checked in closed form
 * from the rank-derived inputs; a broadcast from every root; a barrier.
 * MPI_Finalize runs right after the connect call: rdv needs nothing
 * from MPI after it. So each rank exits with its own verdict (mpirun
 * fails when any rank does), and rank 0 prints the total, summed over
 * the rdv mesh itself.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "mpi_check.h"
#include "rdv/collectives.h"

/* rank r holds a[i] = (r + 1) * 1000003 + i */
static void check_allreduce_int64(rdv_context *ctx, int rank, int n,
                                  size_t count)
{
    int64_t *a = malloc(count * sizeof *a), *b = malloc(count * sizeof *b);
    int rc;

    for (size_t i = 0; i < count; i++)
        a[i] = (int64_t)(rank + 1) * 1000003 + (int64_t)i;
    rc = rdv_allreduce(ctx, a, b, count, RDV_INT64, RDV_SUM, NULL);
    MPI_CHECK(rc == RDV_OK, "allreduce int64 sum of %zu: %s: %s", count,
              rdv_strerror(rc), rdv_context_errmsg(ctx));
    for (size_t i = 0; i < count && rc == RDV_OK; i++) {
        int64_t want = 1000003ll * n * (n + 1) / 2 + (int64_t)n * (int64_t)i;
        if (b[i] != want) {
            MPI_CHECK(b[i] == want, "allreduce int64 sum of %zu elements: "
                      "element %zu is %lld, expected %lld", count, i,
                      (long long)b[i], (long long)want);
            break;
        }
    }
    free(a);
    free(b);
}

/* In place; rank r holds r + 0.5 * (i % 64): every partial sum is exact,
 * so the result is exact whatever the order. */
static void check_allreduce_double(rdv_context *ctx, int rank, int n,
                                   size_t count)
{
    double *a = malloc(count * sizeof *a);
    int rc;

    for (size_t i = 0; i < count; i++)
        a[i] = rank + 0.5 * (double)(i % 64);
    rc = rdv_allreduce(ctx, a, a, count, RDV_DOUBLE, RDV_SUM, NULL);
    MPI_CHECK(rc == RDV_OK, "allreduce double sum of %zu: %s: %s", count,
              rdv_strerror(rc), rdv_context_errmsg(ctx));
    for (size_t i = 0; i < count && rc == RDV_OK; i++) {
        double want = n * (n - 1) / 2.0 + n * 0.5 * (double)(i % 64);
        if (a[i] != want) {
            MPI_CHECK(a[i] == want, "in-place allreduce double sum of %zu "
                      "elements: element %zu is %.17g, expected %.17g",
                      count, i, a[i], want);
            break;
        }
    }
    free(a);
}

/* root's buffer holds (root * 7 + i) & 0xff; everyone must end with it. */
static void check_broadcast(rdv_context *ctx, int rank, int root, size_t len)
{
    uint8_t *buf = malloc(len);
    int rc;

    for (size_t i = 0; i < len; i++)
        buf[i] = rank == root ? (uint8_t)(root * 7 + i) : 0xee;
    rc = rdv_broadcast(ctx, buf, len / 4, RDV_INT32, root, NULL);
    MPI_CHECK(rc == RDV_OK, "broadcast of %zu bytes from root %d: %s: %s",
              len, root, rdv_strerror(rc), rdv_context_errmsg(ctx));
    for (size_t i = 0; i < len && rc == RDV_OK; i++)
        if (buf[i] != (uint8_t)(root * 7 + i)) {
            MPI_CHECK(0, "broadcast of %zu bytes from root %d: byte %zu is "
                      "%u, expected %u", len, root, i, buf[i],
                      (uint8_t)(root * 7 + i));
            break;
        }
    free(buf);
}

int main(int argc, char **argv)
{
    static const size_t counts[] = {1, 7, 1000, 20000, 300001};
    static const size_t bcast[] = {4, 4096, 1 << 20};
    rdv_context *ctx;
    int rank, n, rc;

    mpi_check_init(&argc, &argv, "test_mpi_collectives");
    rank = mpi_check_rank();
    n = mpi_check_size();
    ctx = mpi_check_context(rank, n, "mpi-collectives");
    rc = ctx ? rdv_context_connect_full_mesh_mpi(ctx, MPI_COMM_WORLD)
             : RDV_EINVAL;
    MPI_CHECK(rc == RDV_OK, "connect through MPI_COMM_WORLD: %s: %s",
              rdv_strerror(rc), ctx ? rdv_context_errmsg(ctx) : "no context");
    MPI_Finalize();
    if (rc == RDV_OK) {
        for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
            check_allreduce_int64(ctx, rank, n, counts[i]);
            check_allreduce_double(ctx, rank, n, counts[i]);
        }
        for (int root = 0; root < n; root++)
            for (size_t i = 0; i < sizeof bcast / sizeof bcast[0]; i++)
                check_broadcast(ctx, rank, root, bcast[i]);
        rc = rdv_barrier(ctx, NULL);
        MPI_CHECK(rc == RDV_OK, "barrier: %s: %s", rdv_strerror(rc),
                  rdv_context_errmsg(ctx));
    }
    int mine = mpi_check_failures(), total = -1;
    if (rc == RDV_OK &&
        rdv_allreduce(ctx, &mine, &total, 1, RDV_INT32, RDV_SUM, NULL) ==
            RDV_OK &&
        rank == 0)
        printf("test_mpi_collectives with %d ranks: %s (%d failed checks, "
               "summed over the rdv mesh after MPI_Finalize)\n",
               n, total ? "FAIL" : "PASS", total);
    rdv_context_destroy(ctx);
    return mine ? 1 : 0;
}
