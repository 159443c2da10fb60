/*
 * spec.c - the fault spec parser: text in, plan out, no I/O.
 *
 *   spec   := sep* ( fault ( sep+ fault )* )? sep*
 *   sep    := ';' | newline            ('#' starts a comment to end of line)
 *   fault  := NAME '(' ( param ( ',' param )* )? ')'     NAME = family.kind
 *   param  := WORD '=' value
 *   value  := atom ( '|' atom )*
 *   atom   := "quoted \" string" | bare            bare: no blank , | ( ) ; = # "
 *
 * Inside the parentheses newlines are plain blanks, so long faults may
 * span lines. Each atom is then read by the parameter's type (catalogue.c)
 * so every error can point at the exact line and column and say what was
 * expected there. The parser keeps each value's column for
 * rdv_fault_plan_validate, which reports out-of-range ranks later, once
 * the run size is known.
 */
#define _GNU_SOURCE /* memmem */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_internal.h"

typedef struct parser {
    const char *s;
    size_t i;
    int line;
    size_t bol; /* index where the current line begins */
    char *err;
    size_t errlen;
} parser;

typedef struct atom {
    const char *text; /* raw text (inside the quotes for a quoted atom) */
    size_t len;
    int col, line;
    int quoted;
} atom;

#define ATOMS_MAX 16

static int col_of(const parser *ps, size_t i)
{
    return (int)(i - ps->bol) + 1;
}

/* Describes what is at position i for "got ...". */
static const char *got(const parser *ps, size_t i, char *buf, size_t cap)
{
    size_t n = 0;

    if (!ps->s[i])
        return "the end of the spec";
    if (ps->s[i] == '\n')
        return "the end of the line";
    while (ps->s[i + n] && ps->s[i + n] != '\n' && n < 24)
        n++;
    snprintf(buf, cap, "'%.*s%s'", (int)n, ps->s + i,
             ps->s[i + n] && ps->s[i + n] != '\n' ? "..." : "");
    return buf;
}

__attribute__((format(printf, 4, 5)))
static int fail_at(parser *ps, int line, int col, const char *fmt, ...)
{
    int n = snprintf(ps->err, ps->errlen, "line %d, column %d: ", line, col);
    va_list ap;

    if (n >= 0 && (size_t)n < ps->errlen) {
        va_start(ap, fmt);
        vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return RDV_EINVAL;
}

/* "expected X, got <what is at the cursor>" */
static int fail_expected(parser *ps, const char *what)
{
    char g[48];

    return fail_at(ps, ps->line, col_of(ps, ps->i), "expected %s, got %s",
                   what, got(ps, ps->i, g, sizeof g));
}

static void skip_comment(parser *ps)
{
    if (ps->s[ps->i] == '#')
        while (ps->s[ps->i] && ps->s[ps->i] != '\n')
            ps->i++;
}

/* Skips blanks and comments; newlines too when nl is set. */
static void skip(parser *ps, int nl)
{
    for (;;) {
        char c = ps->s[ps->i];

        if (c == ' ' || c == '\t' || c == '\r') {
            ps->i++;
        } else if (c == '#') {
            skip_comment(ps);
        } else if (c == '\n' && nl) {
            ps->i++;
            ps->line++;
            ps->bol = ps->i;
        } else {
            return;
        }
    }
}

static int is_word(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.';
}

static int is_bare(char c)
{
    return c && !isspace((unsigned char)c) && !strchr(",|();=#\"", c);
}

static size_t word(parser *ps)
{
    size_t n = 0;

    while (is_word(ps->s[ps->i + n]))
        n++;
    return n;
}

static int read_atom(parser *ps, const char *pname, atom *a)
{
    a->line = ps->line;
    a->col = col_of(ps, ps->i);
    a->quoted = ps->s[ps->i] == '"';
    if (a->quoted) {
        size_t j = ps->i + 1;

        while (ps->s[j] && ps->s[j] != '"' && ps->s[j] != '\n')
            j += (ps->s[j] == '\\' && ps->s[j + 1]) ? 2 : 1;
        if (ps->s[j] != '"')
            return fail_at(ps, a->line, a->col,
                           "expected a closing '\"' for the value of %s, "
                           "got the end of the line", pname);
        a->text = ps->s + ps->i + 1;
        a->len = j - ps->i - 1;
        ps->i = j + 1;
        return RDV_OK;
    }
    a->text = ps->s + ps->i;
    a->len = 0;
    while (is_bare(ps->s[ps->i + a->len]))
        a->len++;
    if (!a->len) {
        char what[64];

        snprintf(what, sizeof what, "a value for %s", pname);
        return fail_expected(ps, what);
    }
    ps->i += a->len;
    return RDV_OK;
}

static int atom_fail(parser *ps, const atom *a, const char *expected)
{
    return fail_at(ps, a->line, a->col, "expected %s, got '%.*s'", expected,
                   (int)(a->len > 40 ? 40 : a->len), a->text);
}

/* A non-negative decimal integer filling [s, s+len). */
static int num(const char *s, size_t len, int64_t *out)
{
    int64_t v = 0;

    if (!len || len > 15)
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
        if (num(a->text, a->len, &sp->lo))
            return atom_fail(ps, a, "a non-negative integer or LO..HI");
        sp->hi = sp->lo;
        return RDV_OK;
    }
    if (num(a->text, (size_t)(dots - a->text), &sp->lo) ||
        num(dots + 2, a->len - (size_t)(dots + 2 - a->text), &sp->hi))
        return atom_fail(ps, a, "a range LO..HI of non-negative integers");
    if (sp->lo > sp->hi)
        return fail_at(ps, a->line, a->col,
                       "bad range %.*s: expected LO..HI with LO <= HI",
                       (int)a->len, a->text);
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

static int set_ops(parser *ps, rdv_fault *f, const atom *as, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        unsigned bit = 0;

        for (unsigned b = 1; rdv_fault_op_name(b); b <<= 1)
            if (strlen(rdv_fault_op_name(b)) == as[k].len &&
                !strncmp(rdv_fault_op_name(b), as[k].text, as[k].len))
                bit = b;
        if (as[k].len == 11 && !strncmp(as[k].text, "compare_set", 11))
            bit = RDV_FOP_CAS;
        if (!bit)
            return atom_fail(ps, &as[k], "a store op (set, get, wait, add, "
                             "cas, delete, list, multi_get, multi_set, "
                             "num_keys, delete_prefix)");
        f->ops |= bit;
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
    return fail_at(ps, a->line, a->col,
                   "unknown phase '%.*s': expected one of %s", (int)a->len,
                   a->text, names);
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

/* Reads the atoms of one parameter's value by its type into f. */
static int set_param(parser *ps, rdv_fault *f, rdv_fault_param pi,
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
        if (num(as->text, as->len, &sp.lo))
            return atom_fail(ps, as, "a non-negative integer");
        sp.hi = sp.lo;
        break;
    default: /* RDV_FT_RANGE */
        if ((rc = span_of(ps, as, &sp)))
            return rc;
        break;
    }
    switch (pi) {
    case RDV_FP_MS: f->ms = sp; break;
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

/* Appends "name=a|b" to the fault's canonical text. */
static void canon_param(rdv_fault *f, const char *pname, const atom *as,
                        size_t n)
{
    size_t o = strlen(f->text);

    o += (size_t)snprintf(f->text + o, sizeof f->text - o, "%s%s=",
                          f->text[o - 1] == '(' ? "" : ", ", pname);
    for (size_t k = 0; k < n && o < sizeof f->text; k++)
        o += (size_t)snprintf(f->text + o, sizeof f->text - o,
                              as[k].quoted ? "%s\"%.*s\"" : "%s%.*s",
                              k ? "|" : "", (int)as[k].len, as[k].text);
}

static int parse_param(parser *ps, rdv_fault *f)
{
    const rdv_fault_kind_info *ki = &rdv_fault_kinds[f->kind];
    atom as[ATOMS_MAX];
    size_t n = 0, len = word(ps);
    int pi, line = ps->line, col = col_of(ps, ps->i), rc;

    for (pi = 0; pi < RDV_FP_COUNT; pi++)
        if (ki->params[pi] && strlen(rdv_fault_params[pi].name) == len &&
            !strncmp(rdv_fault_params[pi].name, ps->s + ps->i, len))
            break;
    if (pi == RDV_FP_COUNT) {
        char names[200] = "";
        size_t o = 0;

        for (int k = 0; k < RDV_FP_COUNT && o < sizeof names; k++)
            if (ki->params[k])
                o += (size_t)snprintf(names + o, sizeof names - o, "%s%s",
                                      o ? ", " : "", rdv_fault_params[k].name);
        if (!len)
            return fail_expected(ps, "a parameter name or ')'");
        return fail_at(ps, line, col, "unknown parameter '%.*s' for %s: "
                       "expected one of %s", (int)len, ps->s + ps->i,
                       ki->name, names);
    }
    if (f->given[pi])
        return fail_at(ps, line, col, "parameter '%s' is given twice",
                       rdv_fault_params[pi].name);
    ps->i += len;
    skip(ps, 1);
    if (ps->s[ps->i] != '=') {
        char what[64];

        snprintf(what, sizeof what, "'=' after %s", rdv_fault_params[pi].name);
        return fail_expected(ps, what);
    }
    ps->i++;
    for (;;) {
        skip(ps, 1);
        if (n == ATOMS_MAX)
            return fail_expected(ps, "at most 16 alternatives");
        if ((rc = read_atom(ps, rdv_fault_params[pi].name, &as[n++])))
            return rc;
        skip(ps, 1);
        if (ps->s[ps->i] != '|')
            break;
        ps->i++;
    }
    f->given[pi] = 1;
    f->pline[pi] = as[0].line;
    f->pcol[pi] = as[0].col;
    if ((rc = set_param(ps, f, (rdv_fault_param)pi, as, n)))
        return rc;
    canon_param(f, rdv_fault_params[pi].name, as, n);
    return RDV_OK;
}

static int unknown_fault(parser *ps, size_t len)
{
    char names[400] = "";
    size_t o = 0;

    for (int k = 0; k < RDV_FK_COUNT && o < sizeof names; k++)
        o += (size_t)snprintf(names + o, sizeof names - o, "%s%s",
                              k ? ", " : "", rdv_fault_kinds[k].name);
    if (!len)
        return fail_expected(ps, "a fault such as store.delay(...)");
    return fail_at(ps, ps->line, col_of(ps, ps->i),
                   "unknown fault '%.*s': expected one of %s", (int)len,
                   ps->s + ps->i, names);
}

/* Rules between parameters that a table cannot say. */
static int check_fault(parser *ps, rdv_fault *f, int close_col)
{
    const rdv_fault_kind_info *ki = &rdv_fault_kinds[f->kind];
    int which = f->given[RDV_FP_NTH] + f->given[RDV_FP_ONCE];

    for (int k = 0; k < RDV_FP_COUNT; k++)
        if (ki->params[k] == RDV_FAULT_REQ && !f->given[k])
            return fail_at(ps, ps->line, close_col,
                           "expected parameter %s=... for %s before ')'",
                           rdv_fault_params[k].name, ki->name);
    if (which > 1 || (which && f->given[RDV_FP_P] &&
                      ki->params[RDV_FP_NTH]))
        return fail_at(ps, ps->line, close_col,
                       "expected only one of nth, once and p for %s",
                       ki->name);
    return RDV_OK;
}

static int parse_fault(parser *ps, rdv_fault *f)
{
    size_t len = word(ps);
    int k, rc;

    for (k = 0; k < RDV_FK_COUNT; k++)
        if (strlen(rdv_fault_kinds[k].name) == len &&
            !strncmp(rdv_fault_kinds[k].name, ps->s + ps->i, len))
            break;
    if (k == RDV_FK_COUNT)
        return unknown_fault(ps, len);
    f->kind = (rdv_fault_kind)k;
    f->line = ps->line;
    f->col = col_of(ps, ps->i);
    f->p = 1.0;
    f->code = RDV_EIO;
    snprintf(f->text, sizeof f->text, "%s(", rdv_fault_kinds[k].name);
    ps->i += len;
    skip(ps, 0);
    if (ps->s[ps->i] != '(') {
        char what[64];

        snprintf(what, sizeof what, "'(' after %s", rdv_fault_kinds[k].name);
        return fail_expected(ps, what);
    }
    ps->i++;
    skip(ps, 1);
    while (ps->s[ps->i] != ')') {
        if ((rc = parse_param(ps, f)))
            return rc;
        skip(ps, 1);
        if (ps->s[ps->i] == ',') {
            ps->i++;
            skip(ps, 1);
        } else if (ps->s[ps->i] != ')') {
            return fail_expected(ps, "',' or ')'");
        }
    }
    if ((rc = check_fault(ps, f, col_of(ps, ps->i))))
        return rc;
    ps->i++;
    strncat(f->text, ")", sizeof f->text - strlen(f->text) - 1);
    return RDV_OK;
}

static int plan_push(rdv_fault_plan *p, size_t *cap, rdv_fault **f)
{
    if (p->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        rdv_fault *nf = realloc(p->faults, nc * sizeof *nf);

        if (!nf)
            return RDV_ENOMEM;
        p->faults = nf;
        *cap = nc;
    }
    *f = &p->faults[p->n];
    memset(*f, 0, sizeof **f);
    (*f)->id = (int)p->n++;
    return RDV_OK;
}

static int plan_canon(rdv_fault_plan *p)
{
    size_t len = 1, o = 0;

    for (size_t k = 0; k < p->n; k++)
        len += strlen(p->faults[k].text) + 2;
    if (!(p->text = malloc(len)))
        return RDV_ENOMEM;
    p->text[0] = '\0';
    for (size_t k = 0; k < p->n; k++)
        o += (size_t)snprintf(p->text + o, len - o, "%s%s", k ? "; " : "",
                              p->faults[k].text);
    return RDV_OK;
}

static int parse_all(parser *ps, rdv_fault_plan *p)
{
    size_t cap = 0;
    rdv_fault *f;
    int rc;

    for (;;) {
        while (skip(ps, 1), ps->s[ps->i] == ';')
            ps->i++;
        if (!ps->s[ps->i])
            return RDV_OK;
        if ((rc = plan_push(p, &cap, &f)))
            return fail_at(ps, ps->line, col_of(ps, ps->i), "out of memory");
        if ((rc = parse_fault(ps, f)))
            return rc;
        skip(ps, 0);
        if (ps->s[ps->i] && ps->s[ps->i] != ';' && ps->s[ps->i] != '\n')
            return fail_expected(ps, "';', a newline or the end of the spec "
                                 "after a fault");
    }
}

int rdv_fault_plan_parse(const char *spec, rdv_fault_plan **out,
                         char *errbuf, size_t errlen)
{
    char dummy[8];
    parser ps = {.s = spec, .line = 1, .err = errbuf ? errbuf : dummy,
                 .errlen = errbuf ? errlen : sizeof dummy};
    rdv_fault_plan *p;
    int rc;

    if (ps.errlen)
        ps.err[0] = '\0';
    if (!out)
        return RDV_EINVAL;
    *out = NULL;
    if (!spec) {
        snprintf(ps.err, ps.errlen, "fault spec is NULL");
        return RDV_EINVAL;
    }
    if (!(p = calloc(1, sizeof *p)))
        return RDV_ENOMEM;
    rc = parse_all(&ps, p);
    if (rc == RDV_OK && (rc = plan_canon(p)))
        snprintf(ps.err, ps.errlen, "out of memory");
    if (rc) {
        rdv_fault_plan_free(p);
        return rc;
    }
    *out = p;
    return RDV_OK;
}

void rdv_fault_plan_free(rdv_fault_plan *p)
{
    if (!p)
        return;
    free(p->faults);
    free(p->text);
    free(p);
}
