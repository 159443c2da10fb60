/*
 * examples/launch/launch_allreduce.c - the smallest program `rdv launch`
 * is for: it learns everything from the environment (env://), meets
 * its peers through the store, sums one number per rank and checks the
 * sum.
 *
 *   rdv launch -n 4 --store file:///tmp/rdv-store -- ./launch_allreduce
 *   rdv launch -n 4 --store file:///tmp/rdv-store \
 *       --faults 'store.error(rank=1, op=set, nth=1)' -- ./launch_allreduce
 *
 * Nothing here knows about faults: under --faults, librdv wraps the
 * store this program opens and hooks its context (RDV_FAULTS).
 *
 * Exit status: 0 the sum is right; 1 a call failed or the sum is wrong
 * (the message names the rank and the reason). With the argument
 * "hang", rank 0 never returns after the allreduce: for the launcher's
 * deadline.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rdv/collectives.h"
#include "rdv/context.h"
#include "rdv/store.h"

static int fail(const char *what, int rank, int rc, const char *detail)
{
    fprintf(stderr, "launch_allreduce: rank %d: %s failed: %s: %s\n", rank,
            what, rdv_status_name(rc), detail);
    return 1;
}

int main(int argc, char **argv)
{
    rdv_context_options o = rdv_context_options_default();
    rdv_context *ctx = NULL;
    rdv_store *store = NULL;
    char err[1024];
    int64_t mine, sum = 0, want;
    int rc, code = 1;

    if ((rc = rdv_context_options_from_env(&o, err, sizeof err)))
        return fail("reading the environment", -1, rc, err);
    o.timeout_ms = 10000; /* every call: well inside launch's deadline */
    if ((rc = rdv_store_open("env://", &store, err, sizeof err)))
        return fail("opening the store", o.rank, rc, err);
    if ((rc = rdv_context_create(&o, &ctx, err, sizeof err))) {
        fail("creating the context", o.rank, rc, err);
        goto out;
    }
    if ((rc = rdv_context_connect_full_mesh(ctx, store))) {
        fail("the rendezvous", o.rank, rc, rdv_context_errmsg(ctx));
        goto out;
    }
    mine = o.rank + 1;
    if ((rc = rdv_allreduce(ctx, &mine, &sum, 1, RDV_INT64, RDV_SUM,
                            NULL))) {
        fail("the allreduce", o.rank, rc, rdv_context_errmsg(ctx));
        goto out;
    }
    want = (int64_t)o.size * (o.size + 1) / 2;
    if (sum != want) {
        fprintf(stderr, "launch_allreduce: rank %d: sum %lld, expected "
                "%lld\n", o.rank, (long long)sum, (long long)want);
        goto out;
    }
    printf("rank %d of %d: sum %lld\n", o.rank, o.size, (long long)sum);
    fflush(stdout);
    while (argc > 1 && strcmp(argv[1], "hang") == 0 && o.rank == 0)
        pause();
    code = 0;
out:
    rdv_context_destroy(ctx);
    rdv_store_close(store);
    return code;
}
