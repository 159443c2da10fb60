/*
 * tests/mpi/test_mpi_mesh.c - the mesh built through MPI_COMM_WORLD is
 * consistent: rank i's socket to j is the other end of rank j's socket
 * to i, by 4-tuple (address and port on both sides), every port is real
 * and no two links share a tuple. The tuples are gathered with MPI here,
 * in the test, after the context exists; the library itself is done with
 * MPI by then. Also: no store call was made, and a second connect on
 * the same context is refused.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_check.h"

/* One link as one rank sees it, IPv4 (the test binds 127.0.0.1). */
typedef struct tuple {
    uint32_t local_ip, remote_ip;
    uint16_t local_port, remote_port;
    int32_t valid;
} tuple;

static tuple tuple_of(const rdv_peer_info *pi)
{
    const struct sockaddr_in *l = (const struct sockaddr_in *)&pi->local;
    const struct sockaddr_in *r = (const struct sockaddr_in *)&pi->remote;
    tuple t = {0};

    if (pi->local.ss_family != AF_INET || pi->remote.ss_family != AF_INET)
        return t;
    t.local_ip = l->sin_addr.s_addr;
    t.remote_ip = r->sin_addr.s_addr;
    t.local_port = ntohs(l->sin_port);
    t.remote_port = ntohs(r->sin_port);
    t.valid = 1;
    return t;
}

static const char *fmt_end(uint32_t ip, uint16_t port, char *buf, size_t cap)
{
    char a[INET_ADDRSTRLEN] = "?";

    inet_ntop(AF_INET, &ip, a, sizeof a);
    snprintf(buf, cap, "%s:%u", a, (unsigned)port);
    return buf;
}

static void check_pair(const tuple *all, int n, int i, int j)
{
    const tuple *a = &all[i * n + j], *b = &all[j * n + i];
    char al[32], ar[32], bl[32], br[32];

    MPI_CHECK(a->valid && b->valid, "link %d<->%d: no IPv4 peer info", i, j);
    MPI_CHECK(a->local_port && a->remote_port,
              "rank %d's link to %d has a zero port", i, j);
    MPI_CHECK(a->local_ip == b->remote_ip && a->local_port == b->remote_port &&
                  a->remote_ip == b->local_ip && a->remote_port == b->local_port,
              "rank %d's socket to %d (%s -> %s) does not mirror rank %d's "
              "socket to %d (%s -> %s)",
              i, j, fmt_end(a->local_ip, a->local_port, al, sizeof al),
              fmt_end(a->remote_ip, a->remote_port, ar, sizeof ar), j, i,
              fmt_end(b->local_ip, b->local_port, bl, sizeof bl),
              fmt_end(b->remote_ip, b->remote_port, br, sizeof br));
}

/* The connector's (higher rank's) ephemeral port names a link: no two
 * links may share the pair (listener port, connector port). */
static void check_distinct(const tuple *all, int n)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
            for (int k = 0; k < n; k++)
                for (int l = 0; l < k; l++) {
                    const tuple *x = &all[i * n + j], *y = &all[k * n + l];
                    if ((i != k || j != l) &&
                        x->local_port == y->local_port &&
                        x->remote_port == y->remote_port &&
                        x->local_ip == y->local_ip)
                        MPI_CHECK(0, "links %d->%d and %d->%d share local "
                                  "port %u and remote port %u",
                                  i, j, k, l, (unsigned)x->local_port,
                                  (unsigned)x->remote_port);
                }
}

int main(int argc, char **argv)
{
    rdv_context *ctx;
    rdv_context_counters c;
    tuple *mine, *all;
    int rank, n, rc;

    mpi_check_init(&argc, &argv, "test_mpi_mesh");
    rank = mpi_check_rank();
    n = mpi_check_size();
    mine = calloc((size_t)n, sizeof *mine);
    all = calloc((size_t)n * (size_t)n, sizeof *all);
    ctx = mpi_check_context(rank, n, "mpi-mesh");
    rc = ctx ? rdv_context_connect_full_mesh_mpi(ctx, MPI_COMM_WORLD)
             : RDV_EINVAL;
    MPI_CHECK(rc == RDV_OK, "connect through MPI_COMM_WORLD: %s: %s",
              rdv_strerror(rc), ctx ? rdv_context_errmsg(ctx) : "no context");
    for (int j = 0; j < n && rc == RDV_OK; j++) {
        rdv_peer_info pi;
        int prc;

        if (j == rank)
            continue;
        prc = rdv_context_peer_info(ctx, j, &pi);
        MPI_CHECK(prc == RDV_OK && pi.peer == j,
                  "rdv_context_peer_info(%d): %s", j, rdv_strerror(prc));
        if (prc == RDV_OK)
            mine[j] = tuple_of(&pi);
    }
    MPI_Allgather(mine, (int)(n * sizeof *mine), MPI_BYTE, all,
                  (int)(n * sizeof *mine), MPI_BYTE, MPI_COMM_WORLD);
    if (rank == 0) {
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                check_pair(all, n, i, j);
        check_distinct(all, n);
    }
    if (ctx) {
        rdv_context_get_counters(ctx, &c);
        MPI_CHECK(c.store_ops == 0, "the MPI rendezvous made %llu store calls",
                  (unsigned long long)c.store_ops);
        rc = rdv_context_connect_full_mesh_mpi(ctx, MPI_COMM_WORLD);
        MPI_CHECK(rc == RDV_ESTATE, "a second connect returned %s: %s",
                  rdv_strerror(rc), rdv_context_errmsg(ctx));
    }
    rdv_context_destroy(ctx);
    free(mine);
    free(all);
    return mpi_check_finish();
}
