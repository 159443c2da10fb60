/*
 * harness/run/launch_contexts.c - `rdv launch --context-checks` judged
 * (run/launch_contexts.h): the records the ranks' librdv wrote
 * (ref/src/context_report.h) are laid out as rdv run's result area holds
 * a run's, and rdv run's own mesh-consistent judges them.
 *
 * Choices:
 *  - The launcher stamps the memory's head before the ranks start; a
 *    rank whose librdv does not know the stamp writes nothing, and is
 *    a rank that reported nothing (a SKIP naming it): that is all that
 *    is known of it.
 *  - What kept ranks out of the mesh (the first failure and its detail,
 *    the ranks that never connected) is told after the judge's detail
 *    and before its "and N more": the count belongs to the pairs.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "context_report.h" /* ref/src: the contexts' records */
#include "run/checks.h"
#include "run/launch_contexts.h"

size_t rdv_launch_contexts_size(int nranks)
{
    return rdv_ctx_report_size(nranks);
}

void rdv_launch_contexts_stamp(void *report, int nranks)
{
    rdv_ctx_report_head *h = report;

    h->magic = RDV_CTX_REPORT_MAGIC;
    h->version = RDV_CTX_REPORT_VERSION;
    h->nranks = (uint32_t)nranks;
}

static uint32_t state_of(const rdv_ctx_report_rank *rec)
{
    return __atomic_load_n(&rec->state, __ATOMIC_ACQUIRE);
}

/* "0, 2, 5" into buf: the ranks whose record is in state st, as many as
 * fit, then ", ..." once. Returns how many there are. */
static int ranks_in(const rdv_ctx_report_rank *recs, int n, uint32_t st,
                    char *buf, size_t cap)
{
    size_t o = 0;
    int k = 0, full = 0;

    buf[0] = '\0';
    for (int r = 0; r < n; r++) {
        if (state_of(&recs[r]) != st)
            continue;
        /* An entry takes at most 13 bytes (", " and an int); one is
         * written only while ", ..." still fits after it. */
        if (!full && o + 24 < cap)
            o += (size_t)snprintf(buf + o, cap - o, "%s%d", k ? ", " : "",
                                  r);
        else if (!full++)
            snprintf(buf + o, cap - o, ", ...");
        k++;
    }
    return k;
}

/* The contexts' records as rdv run's result area holds them: a slot is
 * connected when its rank's context connected, its tuples are its
 * sockets' ends. An end of another family than AF_INET or AF_INET6 (a
 * socket that could not tell it) becomes family 0, which the judge
 * counts as a pair not seen (common/endpoint.h). */
static void area_from_report(rdv_result_area *a, void *report, int n)
{
    const rdv_ctx_report_rank *recs = rdv_ctx_report_ranks(report);

    for (int r = 0; r < n; r++) {
        const rdv_ctx_report_link *links = rdv_ctx_report_links(report, n, r);
        rdv_tuple *row = rdv_result_area_tuples(a, r);

        if (state_of(&recs[r]) != RDV_CTX_REPORT_CONNECTED)
            continue;
        for (int p = 0; p < n; p++) {
            struct sockaddr_storage l, rm;

            memset(&l, 0, sizeof l);
            memset(&rm, 0, sizeof rm);
            memcpy(&l, &links[p].local, sizeof links[p].local);
            memcpy(&rm, &links[p].remote, sizeof links[p].remote);
            rdv_endpoint_from(&row[p].local, &l);
            rdv_endpoint_from(&row[p].remote, &rm);
        }
        rdv_result_area_slot(a, r)->connected = 1;
    }
}

/* Appends what kept ranks out of the mesh: the first rank whose
 * context failed before connecting, and with what; the ranks that made
 * one and never connected. The judge's "\nand N more" stays last. */
static void tell_unconnected(rdv_check *c, const rdv_ctx_report_rank *recs,
                             int n)
{
    char who[200], more[48] = "";
    char *nl = c->untold ? strrchr(c->detail, '\n') : NULL;
    size_t cap, o;
    int k;

    if (nl) {
        snprintf(more, sizeof more, "%s", nl);
        *nl = '\0';
    }
    cap = sizeof c->detail - strlen(more);
    o = strlen(c->detail);
    for (int r = 0; r < n && o < cap; r++)
        if (state_of(&recs[r]) == RDV_CTX_REPORT_FAILED) {
            k = ranks_in(recs, n, RDV_CTX_REPORT_FAILED, who, sizeof who);
            o += (size_t)snprintf(c->detail + o, cap - o,
                                  "; the context of rank%s %s failed before "
                                  "connecting (rank %d: %s: %.300s)",
                                  k == 1 ? "" : "s", who, r,
                                  rdv_status_name(recs[r].status),
                                  recs[r].detail);
            break;
        }
    if (o < cap &&
        (k = ranks_in(recs, n, RDV_CTX_REPORT_CREATED, who, sizeof who)))
        o += (size_t)snprintf(c->detail + o, cap - o, "; rank%s %s made a "
                              "context that never connected",
                              k == 1 ? "" : "s", who);
    o = strlen(c->detail);
    snprintf(c->detail + o, sizeof c->detail - o, "%s", more);
}

static void skip(rdv_check *c)
{
    c->id = RDV_CHECK_MESH_CONSISTENT;
    c->name = rdv_check_name(c->id);
    c->verdict = RDV_CHECK_SKIP;
}

void rdv_launch_judge_contexts(const rdv_launch_config *cfg, void *report,
                               rdv_launch_report *rep)
{
    rdv_check *c = &rep->checks[rep->nchecks++];
    const rdv_ctx_report_rank *recs = rdv_ctx_report_ranks(report);
    rdv_run_config rc = {.nranks = cfg->nranks, .impl = RDV_IMPL_RDV,
                         .deadline_ms = cfg->timeout_ms};
    rdv_run_facts f = {.cfg = &rc, .exits = rep->exits,
                       .expect = rep->expect};
    rdv_result_area a;
    char silent[200], seen[sizeof c->detail];
    int nsilent;

    memset(c, 0, sizeof *c);
    nsilent = ranks_in(recs, cfg->nranks, RDV_CTX_REPORT_NONE, silent,
                       sizeof silent);
    if (nsilent == cfg->nranks) {
        skip(c);
        snprintf(c->detail, sizeof c->detail, "no rank reported a librdv "
                 "context (rank%s %s): the program is not linked with "
                 "librdv (or with one that does not know this launcher's "
                 "layout) or made no context of %d ranks",
                 nsilent == 1 ? "" : "s", silent, cfg->nranks);
        return;
    }
    if (rdv_result_area_create(&a, cfg->nranks, 0)) {
        skip(c);
        snprintf(c->detail, sizeof c->detail, "cannot map a result area for "
                 "%d ranks: %s", cfg->nranks, strerror(errno));
        return;
    }
    area_from_report(&a, report, cfg->nranks);
    f.area = &a;
    rdv_check_judge(RDV_CHECK_MESH_CONSISTENT, &f, c);
    rdv_result_area_destroy(&a);
    tell_unconnected(c, recs, cfg->nranks);
    if (!nsilent || c->verdict == RDV_CHECK_FAIL)
        return;
    snprintf(seen, sizeof seen, "%s", c->detail);
    c->verdict = RDV_CHECK_SKIP;
    snprintf(c->detail, sizeof c->detail, "rank%s %s reported no librdv "
             "context of %d ranks, so the mesh was not seen whole; among "
             "the others: %.600s", nsilent == 1 ? "" : "s", silent,
             cfg->nranks, seen);
}
