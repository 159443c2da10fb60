/*
 * spec/plan.c - what a parsed plan tells the harness parent: validation
 * against the run size, the canonical text for replay lines, the
 * expected outcome, what a run must offer to host it, and the parent's
 * share of the faults (start late, SIGCONT after a stop, server events).
 * All of it is pure: the same (plan, seed, rank) always gives the same
 * answer. A kind's fatality and needs come from the catalogue's fields;
 * only the kinds whose fatality depends on their parameters have a rule
 * here.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_internal.h"

#define DEFAULT_TIMEOUT_MS 30000 /* rdv_context_options_default() */

__attribute__((format(printf, 3, 4)))
static int fail(char *errbuf, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (errbuf && errlen) {
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
    }
    return RDV_EINVAL;
}

static int check_spans(const rdv_fault *f, rdv_fault_param pi,
                       const rdv_fault_span *sp, size_t n, int nranks,
                       char *errbuf, size_t errlen)
{
    for (size_t k = 0; k < n; k++)
        if (sp[k].hi >= nranks)
            return fail(errbuf, errlen,
                        "line %d, column %d: %s=%lld of %s (fault %d) is "
                        "out of range: expected 0..%d in a %d-rank run",
                        f->pline[pi], f->pcol[pi], rdv_fault_params[pi].name,
                        (long long)sp[k].hi, rdv_fault_kinds[f->kind].name,
                        f->id + 1, nranks - 1, nranks);
    return RDV_OK;
}

int rdv_fault_plan_validate(const rdv_fault_plan *p, int nranks,
                            char *errbuf, size_t errlen)
{
    int rc;

    if (errbuf && errlen)
        errbuf[0] = '\0';
    if (!p)
        return fail(errbuf, errlen, "fault plan is NULL");
    if (nranks < 1)
        return fail(errbuf, errlen, "a run needs at least 1 rank, got %d",
                    nranks);
    for (size_t k = 0; k < p->n; k++) {
        const rdv_fault *f = &p->faults[k];

        if ((rc = check_spans(f, RDV_FP_RANK, f->ranks, f->nranks, nranks,
                              errbuf, errlen)) ||
            (rc = check_spans(f, RDV_FP_PEER, f->peers, f->npeers, nranks,
                              errbuf, errlen)))
            return rc;
    }
    return RDV_OK;
}

const char *rdv_fault_plan_text(const rdv_fault_plan *p)
{
    return p && p->text ? p->text : "";
}

size_t rdv_fault_plan_count(const rdv_fault_plan *p)
{
    return p ? p->n : 0;
}

/* The ms a proc.* fault draws for rank: one draw per (seed, rank, fault),
 * the same in parent and child. */
static int64_t proc_ms(const rdv_fault *f, uint64_t seed, int rank)
{
    return rdv_fault_pick(&f->ms, seed, rank, 0, f->id, RDV_SALT_PARENT);
}

static int64_t server_ms(const rdv_fault *f, uint64_t seed)
{
    return rdv_fault_pick(&f->ms, seed, -1, 0, f->id, RDV_SALT_PARENT);
}

static int parent_ms(const rdv_fault_plan *p, rdv_fault_kind kind,
                     uint64_t seed, int rank)
{
    for (size_t k = 0; p && k < p->n; k++)
        if (p->faults[k].kind == kind && rdv_fault_has_rank(&p->faults[k],
                                                            rank))
            return (int)proc_ms(&p->faults[k], seed, rank);
    return 0;
}

int rdv_fault_plan_start_delay_ms(const rdv_fault_plan *p, uint64_t seed,
                                  int rank)
{
    return parent_ms(p, RDV_FK_PROC_START_LATE, seed, rank);
}

int rdv_fault_plan_stop_ms(const rdv_fault_plan *p, uint64_t seed, int rank)
{
    return parent_ms(p, RDV_FK_PROC_STOP, seed, rank);
}

int64_t rdv_fault_plan_call_stretch_ms(const rdv_fault_plan *p, int timed)
{
    int64_t sum = 0;

    for (size_t k = 0; p && k < p->n; k++) {
        const rdv_fault *f = &p->faults[k];

        if (timed) {
            sum += f->kind == RDV_FK_PROC_STOP ? f->ms.hi : 0;
            continue;
        }
        switch (f->kind) {
        case RDV_FK_STORE_STALL:
            if (!f->given[RDV_FP_MS])
                return -1;
            /* fall through */
        case RDV_FK_STORE_DELAY:
        case RDV_FK_PROC_STOP:
        case RDV_FK_SERVER_PAUSE:
        case RDV_FK_SERVER_BLACKHOLE:
            sum += f->ms.hi;
            break;
        case RDV_FK_SERVER_LATENCY:
        case RDV_FK_SERVER_RESTART:
        case RDV_FK_SERVER_RESET:
            return -1;
        default:
            break;
        }
    }
    return sum;
}

/* The first rank in f's set for which a time-dependent fault reaches the
 * timeout, or -1. */
static int late_rank(const rdv_fault *f, uint64_t seed, int nranks,
                     int timeout_ms)
{
    for (int r = 0; r < nranks; r++)
        if (rdv_fault_has_rank(f, r) && proc_ms(f, seed, r) >= timeout_ms)
            return r;
    return -1;
}

/* The rule of a kind whose fatality depends on its parameters and the
 * run's timeout (RDV_FATAL_DEPENDS in the catalogue). */
static int fatal_depends(const rdv_fault *f, uint64_t seed, int nranks,
                         int timeout_ms, int *rank)
{
    switch (f->kind) {
    case RDV_FK_STORE_STALL:
        /* A stalled read ends like a key not there yet, which the
         * rendezvous reads again: one stalled read is survived. */
        return !(f->nth && f->ops && !(f->ops & ~RDV_FOP_READS));
    case RDV_FK_STORE_STALE:
        return !f->given[RDV_FP_MS] || f->ms.hi >= timeout_ms;
    case RDV_FK_STORE_DELAY:
        /* Cut at the deadline, a delay that long times the call out. */
        return f->ms.hi >= timeout_ms;
    case RDV_FK_PROC_STOP:
    case RDV_FK_PROC_START_LATE:
        *rank = late_rank(f, seed, nranks, timeout_ms);
        return *rank >= 0;
    case RDV_FK_SERVER_PAUSE:
    case RDV_FK_SERVER_BLACKHOLE:
        *rank = -1;
        return server_ms(f, seed) >= timeout_ms;
    default:
        return 1; /* a kind without its rule here: the stricter guess */
    }
}

/* Whether f makes the run fail, as its catalogue entry says; *rank gets
 * the culprit when known. */
static int fatal(const rdv_fault *f, uint64_t seed, int nranks,
                 int timeout_ms, int *rank)
{
    int single = f->nranks == 1 && f->ranks[0].lo == f->ranks[0].hi;

    *rank = single ? (int)f->ranks[0].lo : -1;
    switch (rdv_fault_info(f)->fatality) {
    case RDV_FATAL_YES:
        return 1;
    case RDV_FATAL_DEPENDS:
        return fatal_depends(f, seed, nranks, timeout_ms, rank);
    default:
        return 0;
    }
}

/* What of a fault's key glob an error message must contain: the literal
 * tail after the last glob character (the glob "job?/addr/3" gives
 * "/addr/3"; a literal key is itself). For a lost or stale rendezvous record
 * (".../addr/<rank>") without rank=, the rank whose record it is becomes
 * the culprit: every other rank waits for that record. A rank the run
 * does not have (addr/6 at N=4) is no one's record, so it blames no one. */
static void key_culprit(const rdv_fault *f, int nranks,
                        rdv_fault_expect *out)
{
    const char *tail = f->key, *addr;
    char *end;
    long r;

    for (const char *c = f->key; *c; c++)
        if (strchr("*?[]\\", *c))
            tail = c + 1;
    if (strlen(tail) >= 3)
        snprintf(out->key, sizeof out->key, "%s", tail);
    if (out->culprit >= 0 || (f->kind != RDV_FK_STORE_LOSE &&
                              f->kind != RDV_FK_STORE_STALE))
        return;
    addr = strstr(tail, "addr/");
    if (!addr || !addr[5])
        return;
    r = strtol(addr + 5, &end, 10);
    if (!*end && r >= 0 && r < nranks)
        out->culprit = (int)r;
}

/* Whether f is left out of a judgement: a rank-side fault whose bit is
 * clear in fired never took effect. */
static int never_fired(const rdv_fault *f, const uint64_t *fired)
{
    return fired && rdv_fault_info(f)->family != RDV_FF_SERVER &&
           f->id >= 0 && f->id < 64 &&
           !(*fired & (UINT64_C(1) << f->id));
}

static void expect_of(const rdv_fault_plan *p, uint64_t seed, int nranks,
                      int timeout_ms, const uint64_t *fired,
                      rdv_fault_expect *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    out->culprit = -1;
    for (size_t k = 0; p && k < p->n; k++) {
        const rdv_fault *f = &p->faults[k];
        int rank;

        if (never_fired(f, fired) ||
            !fatal(f, seed, nranks, timeout_ms, &rank))
            continue;
        out->fatal = 1;
        out->culprit = rank;
        key_culprit(f, nranks, out);
        return;
    }
}

void rdv_fault_plan_expect_timeout(const rdv_fault_plan *p, uint64_t seed,
                                   int nranks, int timeout_ms,
                                   rdv_fault_expect *out)
{
    expect_of(p, seed, nranks, timeout_ms, NULL, out);
}

void rdv_fault_plan_expect_fired(const rdv_fault_plan *p, uint64_t seed,
                                 int nranks, int timeout_ms, uint64_t fired,
                                 rdv_fault_expect *out)
{
    expect_of(p, seed, nranks, timeout_ms, &fired, out);
}

void rdv_fault_plan_expect(const rdv_fault_plan *p, uint64_t seed,
                           int nranks, rdv_fault_expect *out)
{
    rdv_fault_plan_expect_timeout(p, seed, nranks, DEFAULT_TIMEOUT_MS, out);
}

static int server_kind(rdv_fault_kind k, rdv_fault_server_kind *out)
{
    switch (k) {
    case RDV_FK_SERVER_PAUSE: *out = RDV_FAULT_SERVER_PAUSE; return 1;
    case RDV_FK_SERVER_RESTART: *out = RDV_FAULT_SERVER_RESTART; return 1;
    case RDV_FK_SERVER_LATENCY: *out = RDV_FAULT_SERVER_LATENCY; return 1;
    case RDV_FK_SERVER_RESET: *out = RDV_FAULT_SERVER_RESET; return 1;
    case RDV_FK_SERVER_BLACKHOLE: *out = RDV_FAULT_SERVER_BLACKHOLE; return 1;
    default: return 0;
    }
}

size_t rdv_fault_plan_server_events(const rdv_fault_plan *p, uint64_t seed,
                                    rdv_fault_server_event *events,
                                    size_t max)
{
    size_t n = 0;

    for (size_t k = 0; p && k < p->n; k++) {
        const rdv_fault *f = &p->faults[k];
        rdv_fault_server_kind kind;

        if (!server_kind(f->kind, &kind))
            continue;
        if (events && n < max) {
            events[n].kind = kind;
            events[n].after_ms = (int)f->after;
            events[n].ms = (int)server_ms(f, seed);
        }
        n++;
    }
    return n;
}

unsigned rdv_fault_plan_needs(const rdv_fault_plan *p)
{
    unsigned needs = 0;

    for (size_t k = 0; p && k < p->n; k++)
        needs |= rdv_fault_info(&p->faults[k])->needs;
    return needs;
}

unsigned rdv_fault_plan_families(const rdv_fault_plan *p)
{
    static const unsigned by[] = {
        [RDV_FF_STORE] = RDV_FAULT_BY_STORE,
        [RDV_FF_NET] = RDV_FAULT_BY_NET,
        [RDV_FF_PROC] = RDV_FAULT_BY_PROC,
        [RDV_FF_SERVER] = RDV_FAULT_BY_SERVER,
    };
    unsigned families = 0;

    for (size_t k = 0; p && k < p->n; k++)
        families |= by[rdv_fault_info(&p->faults[k])->family];
    return families;
}

/* "store.delay(ms, [rank, op, key, p])": required first. */
static void signature(const rdv_fault_kind_info *ki, char *buf, size_t cap)
{
    size_t o = (size_t)snprintf(buf, cap, "%s(", ki->name);
    int any = 0;

    for (int pass = RDV_FAULT_REQ; pass <= RDV_FAULT_OPT; pass++)
        for (int pi = 0; pi < RDV_FP_COUNT && o < cap; pi++)
            if (ki->params[pi] == pass) {
                o += (size_t)snprintf(buf + o, cap - o, "%s%s%s",
                                      any ? ", " : "",
                                      pass == RDV_FAULT_OPT ? "[" : "",
                                      rdv_fault_params[pi].name);
                if (pass == RDV_FAULT_OPT && o < cap)
                    o += (size_t)snprintf(buf + o, cap - o, "]");
                any = 1;
            }
    if (o < cap)
        snprintf(buf + o, cap - o, ")");
}

/* "redis, a proxy": what needs asks of a run, for the catalogue. */
static void needs_text(unsigned needs, char *buf, size_t cap)
{
    static const struct {
        unsigned bit;
        const char *text;
    } words[] = {
        {RDV_FAULT_NEEDS_REDIS, "a redis store"},
        {RDV_FAULT_NEEDS_PROXY, "rdv-proxy in front of it (redis://)"},
        {RDV_FAULT_NEEDS_RESTART, "a restart command (--server-restart)"},
    };
    size_t o = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < sizeof words / sizeof words[0] && o < cap; i++)
        if (needs & words[i].bit)
            o += (size_t)snprintf(buf + o, cap - o, "%s%s", o ? ", " : "",
                                  words[i].text);
}

_Static_assert(RDV_FP_COUNT <= RDV_FAULT_CATALOGUE_MAX_PARAMS,
               "rdv_fault_catalogue_info holds every parameter");

static const char *const fatality_names[] = {
    [RDV_FATAL_NO] = "no", [RDV_FATAL_YES] = "yes",
    [RDV_FATAL_DEPENDS] = "depends",
};

size_t rdv_fault_catalogue_count(void)
{
    return RDV_FK_COUNT;
}

int rdv_fault_catalogue_get(size_t i, rdv_fault_catalogue_info *out)
{
    const rdv_fault_kind_info *ki;

    if (i >= RDV_FK_COUNT)
        return RDV_EINVAL;
    ki = &rdv_fault_kinds[i];
    memset(out, 0, sizeof *out);
    out->name = ki->name;
    out->help = ki->help;
    out->fatal = fatality_names[ki->fatality];
    out->why = ki->why;
    out->needs = ki->needs;
    for (int pass = RDV_FAULT_REQ; pass <= RDV_FAULT_OPT; pass++)
        for (int pi = 0; pi < RDV_FP_COUNT; pi++)
            if (ki->params[pi] == pass) {
                out->params[out->nparams].name = rdv_fault_params[pi].name;
                out->params[out->nparams].help = rdv_fault_params[pi].help;
                out->params[out->nparams++].required = pass == RDV_FAULT_REQ;
            }
    return RDV_OK;
}

int rdv_fault_catalogue_write(FILE *out)
{
    int bad = 0;
    char sig[256], needs[160];

    for (int k = 0; k < RDV_FK_COUNT; k++) {
        const rdv_fault_kind_info *ki = &rdv_fault_kinds[k];

        signature(ki, sig, sizeof sig);
        bad |= fprintf(out, "%s\n    %s\n    fatal: %s%s%s\n", sig,
                       ki->help, fatality_names[ki->fatality],
                       ki->why ? ": " : "", ki->why ? ki->why : "") < 0;
        needs_text(ki->needs, needs, sizeof needs);
        if (needs[0])
            bad |= fprintf(out, "    needs: %s\n", needs) < 0;
        for (int pi = 0; pi < RDV_FP_COUNT; pi++)
            if (ki->params[pi])
                bad |= fprintf(out, "    %-6s %s\n",
                               rdv_fault_params[pi].name,
                               rdv_fault_params[pi].help) < 0;
    }
    bad |= fprintf(out, "phases: before-publish, after-publish, connecting, "
                   "connected, in-collective; [x] = optional\n") < 0;
    return bad || fflush(out) ? RDV_EIO : RDV_OK;
}
