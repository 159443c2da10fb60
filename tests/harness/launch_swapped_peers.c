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
 * record, and swaps the two links.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "context_report.h" /* ref/src: the layout of the records */
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

int main(void)
{
    rdv_context_options o = rdv_context_options_default();
    rdv_context *ctx = NULL;
    rdv_store *store = NULL;
    rdv_ctx_report_link *row, t;
    void *report;
    char err[1024];
    int rc, code = 1;

    if ((rc = rdv_context_options_from_env(&o, err, sizeof err)) ||
        o.size < 3 || !(report = map_report(o.size))) {
        fprintf(stderr, "launch_swapped_peers: needs rdv launch -n 3+ "
                "--context-checks (%s)\n", rc ? err : "");
        return 1;
    }
    o.timeout_ms = 10000;
    if ((rc = rdv_store_open("env://", &store, err, sizeof err)) ||
        (rc = rdv_context_create(&o, &ctx, err, sizeof err)) ||
        (rc = rdv_context_connect_full_mesh(ctx, store))) {
        fprintf(stderr, "launch_swapped_peers: rank %d: %s: %s\n", o.rank,
                rdv_status_name(rc), ctx ? rdv_context_errmsg(ctx) : err);
        goto out;
    }
    if (o.rank == 1) {
        row = rdv_ctx_report_links(report, o.size, 1);
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
