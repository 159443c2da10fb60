/*
 * tests/harness/launch_swapped_peers.c - a librdv program whose report
 * to `rdv launch --context-checks` says what a peer-mixing bug in librdv
 * would: it rendezvouses for real (env://, 127.0.0.1), and then rank 1's
 * record lists its socket to rank 0 as its socket to rank 2 and the
 * other way round. mesh-consistent must fail naming those pairs, which
 * shows the launch judges the addresses the ranks' librdv wrote (a
 * report of zeroes would mirror itself and pass).
 *
 * It maps the launch's memory itself (RDV_CONTEXT_REPORT_FD, with its
 * own dup: librdv closes the fd it maps), after librdv has written the
 * record, and swaps the two links. Other modes, named by argv[1]:
 *
 *   zero   ranks 0 and 1 zero their links to each other, as a socket
 *          that cannot tell its ends leaves them: the pair is not seen,
 *          and the check must SKIP naming it (zeroes mirror zeroes).
 *   retry  every rank connects a context and destroys it; then rank 2
 *          marks its record failed, as if its first attempt had failed,
 *          and every rank connects a second context: the latest
 *          connected context must be what is judged (a PASS), not the
 *          first for ranks 0 and 1 and the second for rank 2 (a FAIL).
 *   stamp  every rank changes the head's layout version before making
 *          its context, as a launcher of another layout would have
 *          stamped it: librdv must write nothing (every rank silent).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "context_report.h" /* ref/src: the layout of the records */
#include "rdv/collectives.h"
#include "rdv/context.h"
#include "rdv/store.h"

/* The launch's memory for size ranks, before librdv closes the fd. */
static void *map_report(int size)
{
    const char *v = getenv("RDV_CONTEXT_REPORT_FD");
    size_t len = rdv_ctx_report_size(size);
    void *m;
    int fd;

    if (!v || sscanf(v, "%d:", &fd) != 1 || (fd = dup(fd)) < 0)
        return NULL;
    m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    return m == MAP_FAILED ? NULL : m;
}

/* A connected context of o's size under job (the program's own
 * prefix), into *ctx. */
static int connect_one(rdv_context_options *o, const char *job,
                       rdv_store *store, rdv_context **ctx)
{
    char err[1024];
    int rc;

    o->job = job;
    if ((rc = rdv_context_create(o, ctx, err, sizeof err)) ||
        (rc = rdv_context_connect_full_mesh(*ctx, store)))
        fprintf(stderr, "launch_swapped_peers: rank %d: %s: %s\n", o->rank,
                rdv_status_name(rc), *ctx ? rdv_context_errmsg(*ctx) : err);
    return rc;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "swap";
    rdv_context_options o = rdv_context_options_default();
    rdv_context *ctx = NULL;
    rdv_store *store = NULL;
    rdv_ctx_report_link *row, t;
    void *report;
    char err[1024], job[256];
    int rc, code = 1;

    if ((rc = rdv_context_options_from_env(&o, err, sizeof err)) ||
        o.size < 3 || !(report = map_report(o.size))) {
        fprintf(stderr, "launch_swapped_peers: needs rdv launch -n 3+ "
                "--context-checks (%s)\n", rc ? err : "");
        return 1;
    }
    o.timeout_ms = 10000;
    snprintf(job, sizeof job, "%s", o.job ? o.job : "rdv");
    if ((rc = rdv_store_open("env://", &store, err, sizeof err))) {
        fprintf(stderr, "launch_swapped_peers: %s\n", err);
        return 1;
    }
    if (!strcmp(mode, "stamp"))
        ((rdv_ctx_report_head *)report)->version = RDV_CTX_REPORT_VERSION + 1;
    if (!strcmp(mode, "retry")) {
        char again[300];

        /* the barrier: no rank destroys its mesh while a peer still
         * uses it */
        if (connect_one(&o, job, store, &ctx) ||
            (rc = rdv_barrier(ctx, NULL))) {
            fprintf(stderr, "launch_swapped_peers: rank %d: the first "
                    "context failed (%s)\n", o.rank, rdv_status_name(rc));
            goto out;
        }
        rdv_context_destroy(ctx);
        ctx = NULL;
        if (o.rank == 2)
            __atomic_store_n(&rdv_ctx_report_ranks(report)[2].state,
                             RDV_CTX_REPORT_FAILED, __ATOMIC_RELEASE);
        snprintf(again, sizeof again, "%s-again", job);
        if (connect_one(&o, again, store, &ctx))
            goto out;
    } else if (connect_one(&o, job, store, &ctx)) {
        goto out;
    }
    row = rdv_ctx_report_links(report, o.size, o.rank);
    if (!strcmp(mode, "zero") && o.rank < 2) {
        memset(&row[1 - o.rank], 0, sizeof row[1 - o.rank]);
    } else if (!strcmp(mode, "swap") && o.rank == 1) {
        t = row[0];
        row[0] = row[2];
        row[2] = t;
    }
    code = 0;
out:
    rdv_context_destroy(ctx);
    rdv_store_close(store);
    return code;
}
