/*
 * examples/mpi_allreduce.c - build an rdv context from MPI_COMM_WORLD
 * and run rdv's allreduce over it. Copy this when your job already
 * starts with mpirun and you want rdv's TCP collectives without setting
 * up a key/value store:
 *
 *   mpirun -np 4 ./mpi_allreduce [bind-address] [floats]
 *
 * (as root add --allow-run-as-root; on a single host 127.0.0.1 is a fine
 * bind address, across hosts give a routable address or an interface
 * name such as eth0; by default the host name's address is used).
 *
 * MPI is used for exactly two things: the rank/size and the address
 * exchange inside rdv_context_connect_full_mesh_mpi(). The example
 * finalizes MPI right after it to show that rdv needs nothing more.
 */
#include <stdio.h>
#include <stdlib.h>

#include "rdv/collectives.h"
#include "rdv/mpi.h"

int main(int argc, char **argv)
{
    rdv_context_options o = rdv_context_options_default();
    rdv_context *ctx = NULL;
    char err[512];
    size_t count = argc > 2 ? strtoul(argv[2], NULL, 10) : 1u << 20;
    float *v;
    int rank, size, rc;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    o.rank = rank;
    o.size = size;
    o.job = "mpi-allreduce-example"; /* the same on every rank */
    o.bind = argc > 1 ? argv[1] : NULL;
    rc = rdv_context_create(&o, &ctx, err, sizeof err);
    if (rc != RDV_OK) {
        fprintf(stderr, "rank %d: rdv_context_create: %s\n", rank, err);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    /* Collective over the communicator: every rank calls it. */
    rc = rdv_context_connect_full_mesh_mpi(ctx, MPI_COMM_WORLD);
    MPI_Finalize(); /* rdv is on its own sockets from here on */
    if (rc != RDV_OK) {
        fprintf(stderr, "rank %d: MPI rendezvous: %s\n", rank,
                rdv_context_errmsg(ctx));
        rdv_context_destroy(ctx);
        return 1;
    }

    v = malloc((count ? count : 1) * sizeof *v);
    for (size_t i = 0; v && i < count; i++)
        v[i] = (float)(rank + 1); /* the sum is size*(size+1)/2 everywhere */
    rc = v ? rdv_allreduce(ctx, v, v, count, RDV_FLOAT, RDV_SUM, NULL)
           : RDV_ENOMEM;
    if (rc != RDV_OK) {
        fprintf(stderr, "rank %d: allreduce: %s\n", rank,
                v ? rdv_context_errmsg(ctx) : "out of memory");
    } else if (count && v[count - 1] != size * (size + 1) / 2.0f) {
        fprintf(stderr, "rank %d: allreduce gave %g, expected %g\n", rank,
                (double)v[count - 1], size * (size + 1) / 2.0);
        rc = RDV_EIO;
    } else if (rank == 0) {
        printf("allreduce of %zu floats over %d ranks (%s transport): %g "
               "everywhere\n",
               count, size, rdv_context_transport_name(ctx),
               count ? (double)v[0] : 0.0);
    }
    free(v);
    rdv_context_destroy(ctx);
    return rc == RDV_OK ? 0 : 1;
}
