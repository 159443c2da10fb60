/*
 * spec/spec.c - the fault spec parser: text in, plan out, no I/O.
 *
 *   spec   := sep* ( fault ( sep+ fault )* )? sep*
 *   sep    := ';' | newline            ('#' starts a comment to end of line)
 *   fault  := NAME '(' ( param ( ',' param )* )? ')'     NAME = family.kind
 *   param  := WORD '=' value
 *   value  := atom ( '|' atom )*
 *   atom   := "quoted \" string" | bare     (bare: no blank , | ( ) ; = # ")
 *
 * Inside the parentheses newlines are plain blanks, so long faults may
 * span lines. Each atom is then read by the parameter's type (catalogue.c)
 * so every error can point at the exact line and column and say what was
 * expected there. The parser keeps each value's column for
 * rdv_fault_plan_validate, which reports out-of-range ranks later, once
 * the run size is known.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/spec_internal.h"

int rdv_spec_col(const parser *ps, size_t i)
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

int rdv_spec_fail_at(parser *ps, int line, int col, const char *fmt, ...)
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
int rdv_spec_fail_expected(parser *ps, const char *what)
{
    char g[48];

    return rdv_spec_fail_at(ps, ps->line, rdv_spec_col(ps, ps->i),
                            "expected %s, got %s", what,
                            got(ps, ps->i, g, sizeof g));
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
    a->col = rdv_spec_col(ps, ps->i);
    a->quoted = ps->s[ps->i] == '"';
    if (a->quoted) {
        size_t j = ps->i + 1;

        while (ps->s[j] && ps->s[j] != '"' && ps->s[j] != '\n')
            j += (ps->s[j] == '\\' && ps->s[j + 1]) ? 2 : 1;
        if (ps->s[j] != '"')
            return rdv_spec_fail_at(ps, a->line, a->col,
                                    "expected a closing '\"' for the "
                                    "value of %s, got the end of the line",
                                    pname);
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
        return rdv_spec_fail_expected(ps, what);
    }
    ps->i += a->len;
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
    int pi, line = ps->line, col = rdv_spec_col(ps, ps->i), rc;

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
            return rdv_spec_fail_expected(ps, "a parameter name or ')'");
        return rdv_spec_fail_at(ps, line, col,
                                "unknown parameter '%.*s' for %s: expected "
                                "one of %s", (int)len, ps->s + ps->i,
                                ki->name, names);
    }
    if (f->given[pi])
        return rdv_spec_fail_at(ps, line, col, "parameter '%s' is given twice",
                                rdv_fault_params[pi].name);
    ps->i += len;
    skip(ps, 1);
    if (ps->s[ps->i] != '=') {
        char what[64];

        snprintf(what, sizeof what, "'=' after %s", rdv_fault_params[pi].name);
        return rdv_spec_fail_expected(ps, what);
    }
    ps->i++;
    for (;;) {
        skip(ps, 1);
        if (n == ATOMS_MAX)
            return rdv_spec_fail_expected(ps, "at most 16 alternatives");
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
    if ((rc = rdv_spec_set_param(ps, f, (rdv_fault_param)pi, as, n)))
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
        return rdv_spec_fail_expected(ps, "a fault such as store.delay(...)");
    return rdv_spec_fail_at(ps, ps->line, rdv_spec_col(ps, ps->i),
                            "unknown fault '%.*s': expected one of %s",
                            (int)len, ps->s + ps->i, names);
}

/* Rules between parameters that a table cannot say. */
static int check_fault(parser *ps, rdv_fault *f, int close_col)
{
    const rdv_fault_kind_info *ki = &rdv_fault_kinds[f->kind];
    int which = f->given[RDV_FP_NTH] + f->given[RDV_FP_ONCE];

    for (int k = 0; k < RDV_FP_COUNT; k++)
        if (ki->params[k] == RDV_FAULT_REQ && !f->given[k])
            return rdv_spec_fail_at(ps, ps->line, close_col,
                                    "expected parameter %s=... for %s "
                                    "before ')'", rdv_fault_params[k].name,
                                    ki->name);
    if (which > 1 || (which && f->given[RDV_FP_P] &&
                      ki->params[RDV_FP_NTH]))
        return rdv_spec_fail_at(ps, ps->line, close_col,
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
    f->col = rdv_spec_col(ps, ps->i);
    f->p = 1.0;
    f->code = RDV_EIO;
    snprintf(f->text, sizeof f->text, "%s(", rdv_fault_kinds[k].name);
    ps->i += len;
    skip(ps, 0);
    if (ps->s[ps->i] != '(') {
        char what[64];

        snprintf(what, sizeof what, "'(' after %s", rdv_fault_kinds[k].name);
        return rdv_spec_fail_expected(ps, what);
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
            return rdv_spec_fail_expected(ps, "',' or ')'");
        }
    }
    if ((rc = check_fault(ps, f, rdv_spec_col(ps, ps->i))))
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
            return rdv_spec_fail_at(ps, ps->line, rdv_spec_col(ps, ps->i),
                                    "out of memory");
        if ((rc = parse_fault(ps, f)))
            return rc;
        skip(ps, 0);
        if (ps->s[ps->i] && ps->s[ps->i] != ';' && ps->s[ps->i] != '\n')
            return rdv_spec_fail_expected(ps, "';', a newline or the end "
                                          "of the spec after a fault");
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
