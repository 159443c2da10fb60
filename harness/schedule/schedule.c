/*
 * harness/schedule/schedule.c - random and PCT schedules.
 *
 * Choices:
 *   - splitmix64 as the generator: one 64-bit word of state, so a
 *     schedule is its seed, and the same on every platform.
 *   - PCT as Burckhardt et al. (ASPLOS 2010) give it: the ranks get
 *     distinct random priorities d..d+n-1, d - 1 change points are drawn
 *     among the first steps_hint steps, and at the i-th change point the
 *     rank about to run drops to priority d - 1 - i, below every initial
 *     one. A bug that needs d ordering constraints is then hit with
 *     probability at least 1 / (n * k^(d-1)) per run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schedule/schedule.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int parse_u64(const char *p, char **end, uint64_t *v)
{
    if (*p < '0' || *p > '9')
        return -1;
    *v = strtoull(p, end, 10);
    return 0;
}

int rdv_schedule_parse(const char *text, rdv_schedule_spec *out, char *err,
                       size_t errlen)
{
    const char *colon = strchr(text, ':');
    char *end = NULL;
    uint64_t depth = RDV_SCHEDULE_DEPTH_DEFAULT;

    memset(out, 0, sizeof *out);
    if (colon && (size_t)(colon - text) == 6 && !strncmp(text, "random", 6))
        out->kind = RDV_SCHEDULE_RANDOM;
    else if (colon && (size_t)(colon - text) == 3 && !strncmp(text, "pct", 3))
        out->kind = RDV_SCHEDULE_PCT;
    else {
        snprintf(err, errlen, "--schedule '%s': expected random:SEED or "
                 "pct:SEED[:DEPTH]", text);
        return -1;
    }
    if (parse_u64(colon + 1, &end, &out->seed) ||
        (*end && (*end != ':' || out->kind != RDV_SCHEDULE_PCT))) {
        snprintf(err, errlen, "--schedule '%s': SEED must be a decimal "
                 "number%s", text, out->kind == RDV_SCHEDULE_PCT ?
                 " (then :DEPTH)" : "");
        return -1;
    }
    if (*end == ':' && (parse_u64(end + 1, &end, &depth) || *end ||
                        depth < 1 || depth > RDV_SCHEDULE_DEPTH_MAX)) {
        snprintf(err, errlen, "--schedule '%s': DEPTH must be 1..%d", text,
                 RDV_SCHEDULE_DEPTH_MAX);
        return -1;
    }
    out->depth = (int)depth;
    return 0;
}

const char *rdv_schedule_text(const rdv_schedule_spec *s, char *buf,
                              size_t cap)
{
    if (s->kind == RDV_SCHEDULE_PCT)
        snprintf(buf, cap, "pct:%llu:%d", (unsigned long long)s->seed,
                 s->depth);
    else if (s->kind == RDV_SCHEDULE_RANDOM)
        snprintf(buf, cap, "random:%llu", (unsigned long long)s->seed);
    else
        snprintf(buf, cap, "none");
    return buf;
}

void rdv_schedule_init(rdv_schedule *s, const rdv_schedule_spec *spec,
                       int nranks, uint64_t steps_hint)
{
    int d = spec->depth > 0 ? spec->depth : 1;

    memset(s, 0, sizeof *s);
    s->spec = *spec;
    s->nranks = nranks;
    s->rng = spec->seed;
    if (spec->kind != RDV_SCHEDULE_PCT)
        return;
    /* Distinct priorities d..d+n-1 in a random order (Fisher-Yates). */
    for (int r = 0; r < nranks; r++)
        s->prio[r] = d + r;
    for (int r = nranks - 1; r > 0; r--) {
        int j = (int)(splitmix64(&s->rng) % (uint64_t)(r + 1));
        int t = s->prio[r];

        s->prio[r] = s->prio[j];
        s->prio[j] = t;
    }
    if (steps_hint < 1)
        steps_hint = 1;
    for (int i = 0; i < d - 1; i++)
        s->change_at[i] = 1 + splitmix64(&s->rng) % steps_hint;
}

static int highest(const rdv_schedule *s, const unsigned char *ready)
{
    int best = -1;

    for (int r = 0; r < s->nranks; r++)
        if (ready[r] && (best < 0 || s->prio[r] > s->prio[best]))
            best = r;
    return best;
}

static int pick_pct(rdv_schedule *s, const unsigned char *ready)
{
    int best = highest(s, ready);

    /* A change point lowers the rank that would run at that step. */
    for (int i = 0; i < s->spec.depth - 1; i++)
        if (s->change_at[i] == s->step) {
            s->prio[best] = s->spec.depth - 1 - i;
            best = highest(s, ready);
        }
    return best;
}

int rdv_schedule_pick(rdv_schedule *s, const unsigned char *ready)
{
    int n = 0, k, r;

    s->step++;
    if (s->spec.kind == RDV_SCHEDULE_PCT)
        return pick_pct(s, ready);
    for (r = 0; r < s->nranks; r++)
        n += ready[r] != 0;
    k = (int)(splitmix64(&s->rng) % (uint64_t)n);
    for (r = 0; r < s->nranks; r++)
        if (ready[r] && k-- == 0)
            break;
    return r;
}
