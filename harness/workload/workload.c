/*
 * harness/workload/workload.c - the workload spec parser (syntax in workload.h).
 *
 * Attributes are recognised by their form, not their position, so
 * "allreduce:1M:float" and "allreduce:float:1M" mean the same; each step
 * is then rewritten in one canonical form, which is what reports and
 * replay lines print. Errors name the step (1-based) and the attribute.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/size_text.h"
#include "workload/workload.h"

typedef struct step_info {
    const char *name;
    rdv_step_kind kind;
    unsigned attrs; /* ATTR_* this step accepts */
} step_info;

enum {
    ATTR_TYPE = 1 << 0,
    ATTR_COUNT = 1 << 1,
    ATTR_OP = 1 << 2,
    ATTR_ALGO = 1 << 3,
    ATTR_ROOT = 1 << 4,
    ATTR_RANK = 1 << 5,
};

static const step_info steps[] = {
    {"barrier", RDV_STEP_BARRIER, 0},
    {"allreduce", RDV_STEP_ALLREDUCE, ATTR_TYPE | ATTR_COUNT | ATTR_OP | ATTR_ALGO},
    {"reduce_scatter", RDV_STEP_REDUCE_SCATTER, ATTR_TYPE | ATTR_COUNT | ATTR_OP},
    {"broadcast", RDV_STEP_BROADCAST, ATTR_TYPE | ATTR_COUNT | ATTR_ROOT},
    {"allgather", RDV_STEP_ALLGATHER, ATTR_TYPE | ATTR_COUNT},
    {"store", RDV_STEP_STORE, ATTR_COUNT},
    {"spin", RDV_STEP_SPIN, ATTR_RANK},
};

static const char *const type_names[] = {"int32", "int64", "float", "double"};
static const char *const op_names[] = {"sum", "prod", "min", "max"};

static int name_index(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return (int)i;
    return -1;
}

/* "1024", "16k", "1M" -> elements (at most 2^30); -1 when not a count. */
static long long parse_count(const char *s)
{
    size_t n;

    return rdv_size_parse(s, (size_t)1 << 30, &n) ? -1 : (long long)n;
}

static void count_text(size_t n, char *buf, size_t cap)
{
    if (n && n % (1024 * 1024) == 0)
        snprintf(buf, cap, "%zuM", n / (1024 * 1024));
    else if (n && n % 1024 == 0)
        snprintf(buf, cap, "%zuk", n / 1024);
    else
        snprintf(buf, cap, "%zu", n);
}

static void step_canonical(rdv_step *st, const step_info *info)
{
    char cnt[32];
    size_t o;

    count_text(st->count, cnt, sizeof cnt);
    o = (size_t)snprintf(st->name, sizeof st->name, "%s", info->name);
    if (info->attrs & ATTR_TYPE)
        o += (size_t)snprintf(st->name + o, sizeof st->name - o, ":%s",
                              type_names[st->type]);
    if (info->attrs & ATTR_COUNT)
        o += (size_t)snprintf(st->name + o, sizeof st->name - o, ":%s", cnt);
    if (info->attrs & ATTR_OP)
        o += (size_t)snprintf(st->name + o, sizeof st->name - o, ":%s",
                              op_names[st->op]);
    if ((info->attrs & ATTR_ALGO) && st->algo != RDV_ALGO_AUTO)
        o += (size_t)snprintf(st->name + o, sizeof st->name - o, ":%s",
                              st->algo == RDV_ALGO_RING ? "ring" : "hd");
    if (info->attrs & ATTR_ROOT)
        o += (size_t)snprintf(st->name + o, sizeof st->name - o,
                              ":root=%d", st->root);
    if ((info->attrs & ATTR_RANK) && st->root >= 0)
        snprintf(st->name + o, sizeof st->name - o, ":rank=%d", st->root);
}

/* Applies one attribute to st; returns 0, or -1 after writing err. */
static int parse_attr(rdv_step *st, const step_info *info, const char *a,
                      int idx, char *err, size_t errlen)
{
    unsigned kind = 0;
    long long v;
    int i;

    if ((i = name_index(type_names, 4, a)) >= 0)
        kind = ATTR_TYPE, st->type = (rdv_dtype)i;
    else if ((i = name_index(op_names, 4, a)) >= 0)
        kind = ATTR_OP, st->op = (rdv_op)i;
    else if (strcmp(a, "ring") == 0 || strcmp(a, "hd") == 0)
        kind = ATTR_ALGO,
        st->algo = a[0] == 'r' ? RDV_ALGO_RING : RDV_ALGO_HALVING_DOUBLING;
    else if ((v = parse_count(a)) >= 0)
        kind = ATTR_COUNT, st->count = (size_t)v;
    else if (strncmp(a, "root=", 5) == 0 && (v = parse_count(a + 5)) >= 0)
        kind = ATTR_ROOT, st->root = (int)v;
    else if (strncmp(a, "rank=", 5) == 0 && (v = parse_count(a + 5)) >= 0)
        kind = ATTR_RANK, st->root = (int)v;
    if (!kind) {
        snprintf(err, errlen, "workload step %d (%s): '%s' is not a type "
                 "(int32|int64|float|double), op (sum|prod|min|max), "
                 "algorithm (ring|hd), count (e.g. 4096, 16k, 1M), "
                 "root=R or rank=R", idx, info->name, a);
        return -1;
    }
    if (!(info->attrs & kind)) {
        snprintf(err, errlen, "workload step %d: %s takes no '%s'", idx,
                 info->name, a);
        return -1;
    }
    return 0;
}

/* Parses one step "name:attr:attr" (modified in place). 1 = a step was
 * added, 0 = nothing to add (rendezvous), -1 = error. */
static int parse_step(char *text, rdv_step *st, int idx, char *err,
                      size_t errlen)
{
    char *save = NULL, *name = strtok_r(text, ":", &save), *a;
    const step_info *info = NULL;

    if (!name || !*name) {
        snprintf(err, errlen, "workload step %d is empty", idx);
        return -1;
    }
    if (strcmp(name, "rendezvous") == 0)
        return strtok_r(NULL, ":", &save) ? -1 : 0;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        if (strcmp(steps[i].name, name) == 0)
            info = &steps[i];
    if (!info) {
        snprintf(err, errlen, "workload step %d: unknown step '%s'; known: "
                 "rendezvous, barrier, allreduce, reduce_scatter, "
                 "broadcast, allgather, store, spin", idx, name);
        return -1;
    }
    memset(st, 0, sizeof *st);
    st->kind = info->kind;
    st->type = RDV_INT32;
    st->op = RDV_SUM;
    st->count = info->kind == RDV_STEP_STORE ? 64 : 1024;
    st->root = info->kind == RDV_STEP_SPIN ? -1 : 0;
    while ((a = strtok_r(NULL, ":", &save)))
        if (parse_attr(st, info, a, idx, err, errlen))
            return -1;
    step_canonical(st, info);
    return 1;
}

int rdv_workload_parse(const char *spec, rdv_workload *w, char *err,
                       size_t errlen)
{
    char *copy, *save = NULL, *item;
    int idx = 0, rc = 0;

    memset(w, 0, sizeof *w);
    if (errlen)
        err[0] = '\0';
    if (!spec || !*spec) {
        snprintf(err, errlen, "workload is empty");
        return -1;
    }
    if (!(copy = strdup(spec))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* strtok_r would skip empty items; walk the commas by hand. */
    for (item = copy; item && rc == 0; item = save) {
        save = strchr(item, ',');
        if (save)
            *save++ = '\0';
        idx++;
        if (w->nsteps == RDV_WORKLOAD_MAX) {
            snprintf(err, errlen, "workload has more than %d steps",
                     RDV_WORKLOAD_MAX);
            rc = -1;
            break;
        }
        rc = parse_step(item, &w->steps[w->nsteps], idx, err, errlen);
        if (rc < 0 && !err[0])
            snprintf(err, errlen, "workload step %d: rendezvous takes no "
                     "attributes", idx);
        if (rc > 0) {
            w->nsteps++;
            rc = 0;
        }
    }
    free(copy);
    return rc < 0 ? -1 : 0;
}

int rdv_workload_validate(const rdv_workload *w, int nranks, char *err,
                          size_t errlen)
{
    for (int i = 0; i < w->nsteps; i++) {
        const rdv_step *st = &w->steps[i];

        if ((st->kind == RDV_STEP_BROADCAST || st->kind == RDV_STEP_SPIN) &&
            st->root >= nranks) {
            snprintf(err, errlen, "workload step '%s': rank %d is out of "
                     "range for %d ranks", st->name, st->root, nranks);
            return -1;
        }
    }
    return 0;
}

int rdv_step_output_shared(const rdv_step *s)
{
    /* A barrier and a spin have no output: their digests are all 0, and
     * comparing them would count agreement nobody checked. */
    return s->kind != RDV_STEP_REDUCE_SCATTER && s->kind != RDV_STEP_SPIN &&
           s->kind != RDV_STEP_BARRIER;
}

const char *rdv_workload_phase_describe(const rdv_workload *w,
                                       const rdv_phase_mark *m, char *buf,
                                       size_t cap)
{
    const char *name = NULL;

    if (!m) {
        snprintf(buf, cap, "not started");
        return buf;
    }
    switch (m->phase) {
    case RDV_RUN_PHASE_START: name = "start"; break;
    case RDV_RUN_PHASE_STORE_OPEN: name = "store-open"; break;
    case RDV_RUN_PHASE_CLEANUP: name = "cleanup"; break;
    case RDV_RUN_PHASE_DONE: name = "done"; break;
    case RDV_RUN_PHASE_STEP:
        snprintf(buf, cap, "step %d (%s)", m->step,
                 m->step >= 0 && m->step < w->nsteps ? w->steps[m->step].name
                                                     : "?");
        return buf;
    default:
        if (m->phase >= 0 && m->phase < RDV_PHASE_COUNT)
            name = rdv_phase_name((rdv_phase)m->phase);
    }
    snprintf(buf, cap, "%s", name ? name : "unknown");
    return buf;
}
