/*
 * spec/spec_values.c - reading a parameter's value by its type: numbers and
 * LO..HI ranges, rank sets, store op sets, phases (through librdv's
 * rdv_phase_name), probabilities, status names, directions. Each error
 * points at the atom it is about and says what was expected there.
 *
 * Its number reader is librdv-fault's one (the proxy's commands use it
 * too). The rdv commands have theirs (harness/common/number.c), which
 * this library cannot use: the harness links librdv-fault, not the
 * other way round. Both read digits only, on (pointer, length).
 */
#define _GNU_SOURCE /* memmem */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/spec_internal.h"

static int atom_fail(parser *ps, const atom *a, const char *expected)
{
    return rdv_spec_fail_at(ps, a->line, a->col, "expected %s, got '%.*s'",
                            expected, (int)(a->len > 40 ? 40 : a->len),
                            a->text);
}

int rdv_fault_number(const char *s, size_t len, int64_t *out)
{
    int64_t v = 0;

    if (!len || len > 15) /* 15 digits: no int64 overflow, no check */
        return -1;
    for (size_t k = 0; k < len; k++) {
        if (!isdigit((unsigned char)s[k]))
            return -1;
        v = v * 10 + (s[k] - '0');
    }
    *out = v;
    return 0;
}

/* N or LO..HI. */
static int span_of(parser *ps, const atom *a, rdv_fault_span *sp)
{
    const char *dots = memmem(a->text, a->len, "..", 2);

    if (!dots) {
        if (rdv_fault_number(a->text, a->len, &sp->lo))
            return atom_fail(ps, a, "a non-negative integer or LO..HI");
        sp->hi = sp->lo;
        return RDV_OK;
    }
    if (rdv_fault_number(a->text, (size_t)(dots - a->text), &sp->lo) ||
        rdv_fault_number(dots + 2, a->len - (size_t)(dots + 2 - a->text),
                         &sp->hi))
        return atom_fail(ps, a, "a range LO..HI of non-negative integers");
    if (sp->lo > sp->hi)
        return rdv_spec_fail_at(ps, a->line, a->col,
                                "bad range %.*s: expected LO..HI with "
                                "LO <= HI", (int)a->len, a->text);
    return RDV_OK;
}

static int one_atom(parser *ps, const char *pname, const atom *as, size_t n)
{
    char what[64];

    if (n == 1)
        return RDV_OK;
    snprintf(what, sizeof what, "a single value for %s", pname);
    return atom_fail(ps, &as[1], what);
}

/* "expected a store op (set, get, ...; or cas), got 'x'": the names
 * come from librdv's one table. */
static int op_fail(parser *ps, const atom *a)
{
    char names[200];
    size_t o = (size_t)snprintf(names, sizeof names, "a store op (");

    for (int i = 0; i < RDV_STORE_OP_COUNT && o < sizeof names; i++)
        o += (size_t)snprintf(names + o, sizeof names - o, "%s%s",
                              i ? ", " : "",
                              rdv_store_op_name((rdv_store_op)i));
    if (o < sizeof names)
        snprintf(names + o, sizeof names - o, "; or cas)");
    return atom_fail(ps, a, names);
}

/* A store op by its librdv name (rdv_store_op_parse), or "cas", the
 * spec language's short name for compare_set. */
static int set_ops(parser *ps, rdv_fault *f, const atom *as, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        rdv_store_op op;

        if (as[k].len == 3 && !strncmp(as[k].text, "cas", 3))
            op = RDV_STORE_OP_COMPARE_SET;
        else if (rdv_store_op_parse(as[k].text, as[k].len, &op) != RDV_OK)
            return op_fail(ps, &as[k]);
        f->ops |= RDV_FOP(op);
    }
    return RDV_OK;
}

static int set_phase(parser *ps, rdv_fault *f, const atom *a)
{
    char names[160] = "";
    size_t o = 0;

    for (int ph = 0; ph < RDV_PHASE_COUNT; ph++) {
        const char *nm = rdv_phase_name((rdv_phase)ph);

        if (nm && strlen(nm) == a->len && !strncmp(nm, a->text, a->len)) {
            f->at = ph;
            return RDV_OK;
        }
        if (nm && o < sizeof names)
            o += (size_t)snprintf(names + o, sizeof names - o, "%s%s",
                                  ph ? ", " : "", nm);
    }
    return rdv_spec_fail_at(ps, a->line, a->col,
                            "unknown phase '%.*s': expected one of %s",
                            (int)a->len, a->text, names);
}

static int set_prob(parser *ps, rdv_fault *f, const atom *a)
{
    char buf[32];
    char *end;

    if (a->len >= sizeof buf)
        return atom_fail(ps, a, "a probability between 0 and 1");
    memcpy(buf, a->text, a->len);
    buf[a->len] = '\0';
    f->p = strtod(buf, &end);
    if (end == buf || *end || !(f->p >= 0.0 && f->p <= 1.0))
        return atom_fail(ps, a, "a probability between 0 and 1");
    return RDV_OK;
}

static int set_spans(parser *ps, const atom *as, size_t n,
                     rdv_fault_span *sp, size_t *nsp)
{
    int rc;

    if (n > RDV_FAULT_SPANS)
        return atom_fail(ps, &as[RDV_FAULT_SPANS],
                         "at most 8 ranks or ranges in one set");
    for (size_t k = 0; k < n; k++)
        if ((rc = span_of(ps, &as[k], &sp[k])))
            return rc;
    *nsp = n;
    return RDV_OK;
}

static int set_dirs(parser *ps, rdv_fault *f, const atom *as, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        if (as[k].len == 4 && !strncmp(as[k].text, "send", 4))
            f->dirs |= 1;
        else if (as[k].len == 4 && !strncmp(as[k].text, "recv", 4))
            f->dirs |= 2;
        else
            return atom_fail(ps, &as[k], "send or recv");
    }
    return RDV_OK;
}

int rdv_spec_set_param(parser *ps, rdv_fault *f, rdv_fault_param pi,
                     const atom *as, size_t n)
{
    const char *pname = rdv_fault_params[pi].name;
    rdv_fault_span sp;
    int rc;

    switch (rdv_fault_params[pi].type) {
    case RDV_FT_RANKS:
        return pi == RDV_FP_RANK
                   ? set_spans(ps, as, n, f->ranks, &f->nranks)
                   : set_spans(ps, as, n, f->peers, &f->npeers);
    case RDV_FT_OPS:
        return set_ops(ps, f, as, n);
    case RDV_FT_DIRS:
        return set_dirs(ps, f, as, n);
    default:
        break;
    }
    if ((rc = one_atom(ps, pname, as, n)))
        return rc;
    switch (rdv_fault_params[pi].type) {
    case RDV_FT_GLOB:
        if (as->len == 0) /* "" would match every key, silently */
            return atom_fail(ps, as, "a non-empty key glob (* for every "
                                     "key)");
        if (as->len >= sizeof f->key)
            return atom_fail(ps, as, "a key glob shorter than 256 bytes");
        memcpy(f->key, as->text, as->len);
        f->key[as->len] = '\0';
        return RDV_OK;
    case RDV_FT_PROB:
        return set_prob(ps, f, as);
    case RDV_FT_PHASE:
        return set_phase(ps, f, as);
    case RDV_FT_CODE:
        if (!(f->code = rdv_fault_code_parse(as->text, as->len)))
            return atom_fail(ps, as, "a status name such as EIO, ECONN or "
                             "ETIMEDOUT");
        return RDV_OK;
    case RDV_FT_INT:
        if (rdv_fault_number(as->text, as->len, &sp.lo))
            return atom_fail(ps, as, "a non-negative integer");
        sp.hi = sp.lo;
        break;
    default: /* RDV_FT_RANGE */
        if ((rc = span_of(ps, as, &sp)))
            return rc;
        break;
    }
    switch (pi) {
    case RDV_FP_MS:
        /* past it, the int milliseconds the effects use would wrap */
        if (sp.hi > RDV_FAULT_MS_MAX)
            return atom_fail(ps, as, "at most " RDV_FAULT_MS_MAX_TEXT
                                     " ms (one day)");
        f->ms = sp;
        break;
    case RDV_FP_NTH:
        if (sp.lo < 1)
            return atom_fail(ps, as, "a call number of 1 or more");
        f->nth = sp.lo;
        break;
    case RDV_FP_ONCE:
        if (sp.lo != 1)
            return atom_fail(ps, as, "once=1");
        f->nth = 1;
        break;
    case RDV_FP_AFTER: f->after = sp.lo; break; /* a range draws lo */
    case RDV_FP_MAX:
        if (sp.lo < 1)
            return atom_fail(ps, as, "at least 1 byte");
        f->max = sp.lo;
        break;
    case RDV_FP_BPS:
        if (sp.lo < 1)
            return atom_fail(ps, as, "at least 1 byte per second");
        f->bps = sp.lo;
        break;
    default: f->times = sp.lo; break; /* RDV_FP_TIMES */
    }
    return RDV_OK;
}
