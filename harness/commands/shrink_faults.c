/*
 * harness/commands/shrink_faults.c - `rdv shrink`'s narrower fault plans:
 * the same statements with one parameter made smaller, so a finding
 * keeps only as much fault as it needs (a delay of 12 ms, not 800; one
 * rank, not all; get, not get|wait).
 *
 * Choices, and why:
 * - It works on the plan's canonical text (what a replay line prints:
 *   "kind(name=value, ...)", statements joined by "; "), and every
 *   candidate is parsed again by the run that tries it: the fault parser
 *   stays the one judge of what a plan means, and this file needs no
 *   renderer of parsed faults.
 * - Halving, not stepping by one: log2 tries reach the smallest delay or
 *   probability that still fails; the greedy loop of cmd_shrink.c
 *   halves again while the run keeps failing.
 * - One candidate changes one parameter of one statement, so the try's
 *   line says exactly what was narrowed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands/shrink.h"

#define ARGS_MAX 16
#define RANKS_TRIED 8 /* rank=R added for R below this, at most */

int shrink_split_items(const char *list, char sep, const char **start,
                       size_t *len, int max)
{
    int n = 0, depth = 0;
    char quote = 0;
    const char *from = list;

    for (const char *p = list;; p++) {
        if (quote && *p == quote)
            quote = 0;
        else if (!quote && (*p == '"' || *p == '\''))
            quote = *p;
        else if (!quote && *p == '(')
            depth++;
        else if (!quote && *p == ')' && depth)
            depth--;
        if (*p && (quote || depth || *p != sep))
            continue;
        while (p > from && *from == ' ')
            from++;
        if (p > from && n < max) {
            start[n] = from;
            len[n++] = (size_t)(p - from);
        }
        if (!*p)
            return n;
        from = p + 1;
    }
}

/* One statement, split: "kind(" and its "name=value" arguments. */
typedef struct statement {
    const char *kind; /* up to and without '(' */
    size_t kind_len;
    const char *arg[ARGS_MAX];
    size_t arg_len[ARGS_MAX];
    int nargs;
} statement;

static int statement_split(const char *s, size_t len, statement *st)
{
    const char *open = memchr(s, '(', len);
    char inner[SHRINK_TEXT_MAX];
    size_t n;

    if (!open || s[len - 1] != ')')
        return -1;
    st->kind = s;
    st->kind_len = (size_t)(open - s);
    n = len - st->kind_len - 2;
    if (n >= sizeof inner)
        return -1;
    memcpy(inner, open + 1, n);
    inner[n] = '\0';
    st->nargs = shrink_split_items(inner, ',', st->arg, st->arg_len,
                                   ARGS_MAX);
    /* back to pointers into s */
    for (int i = 0; i < st->nargs; i++)
        st->arg[i] = open + 1 + (st->arg[i] - inner);
    return 0;
}

typedef struct builder {
    const char *spec;
    const char **stmt;
    const size_t *stmt_len;
    int nstmts;
    shrink_candidate *out;
    int n, max;
} builder;

/* Adds the plan with statement si's argument ai replaced by
 * "name=value" (ai == -1: the argument appended). */
static void add(builder *b, int si, const statement *st, int ai,
                const char *name, const char *value, const char *what)
{
    shrink_candidate *c;
    size_t off = 0, cap = sizeof c->spec;
    int first = 1;

    if (b->n >= b->max)
        return;
    c = &b->out[b->n];
    for (int s = 0; s < b->nstmts && off < cap; s++) {
        if (s != si) {
            off += (size_t)snprintf(c->spec + off, cap - off, "%s%.*s",
                                    s ? "; " : "", (int)b->stmt_len[s],
                                    b->stmt[s]);
            continue;
        }
        off += (size_t)snprintf(c->spec + off, cap - off, "%s%.*s(",
                                s ? "; " : "", (int)st->kind_len, st->kind);
        for (int a = 0; a < st->nargs && off < cap; a++, first = 0)
            off += a == ai
                ? (size_t)snprintf(c->spec + off, cap - off, "%s%s=%s",
                                   first ? "" : ", ", name, value)
                : (size_t)snprintf(c->spec + off, cap - off, "%s%.*s",
                                   first ? "" : ", ", (int)st->arg_len[a],
                                   st->arg[a]);
        if (ai < 0 && off < cap)
            off += (size_t)snprintf(c->spec + off, cap - off, "%s%s=%s",
                                    first ? "" : ", ", name, value);
        if (off < cap)
            off += (size_t)snprintf(c->spec + off, cap - off, ")");
    }
    if (off >= cap)
        return;
    snprintf(c->what, sizeof c->what, "fault %d of %d: %.*s %.120s", si + 1,
             b->nstmts, (int)st->kind_len, st->kind, what);
    b->n++;
}

/* "N" or "LO..HI" halved; 0 when nothing is left to halve. */
static int halve_range(const char *v, size_t len, char *out, size_t cap)
{
    char text[64];
    unsigned long long lo, hi;
    int got;

    if (len >= sizeof text)
        return 0;
    memcpy(text, v, len);
    text[len] = '\0';
    got = sscanf(text, "%llu..%llu", &lo, &hi);
    if (got == 1)
        hi = lo;
    else if (got != 2)
        return 0;
    if (hi < 2)
        return 0;
    if (got == 1)
        snprintf(out, cap, "%llu", lo / 2);
    else
        snprintf(out, cap, "%llu..%llu", lo / 2, hi / 2);
    return 1;
}

static void narrow_arg(builder *b, int si, const statement *st, int ai)
{
    const char *a = st->arg[ai], *eq = memchr(a, '=', st->arg_len[ai]);
    char name[32], value[128], what[400];
    size_t nlen, vlen;
    const char *alt[ARGS_MAX];
    size_t alt_len[ARGS_MAX];
    int nalts;

    if (!eq || (nlen = (size_t)(eq - a)) >= sizeof name)
        return;
    memcpy(name, a, nlen);
    name[nlen] = '\0';
    vlen = st->arg_len[ai] - nlen - 1;
    if (vlen >= sizeof value)
        return;
    memcpy(value, eq + 1, vlen);
    value[vlen] = '\0';
    if (!strcmp(name, "ms") || !strcmp(name, "times")) {
        char half[64];

        if (halve_range(value, vlen, half, sizeof half)) {
            snprintf(what, sizeof what, "%s=%s (was %s)", name, half, value);
            add(b, si, st, ai, name, half, what);
        }
    } else if (!strcmp(name, "p")) {
        double p = strtod(value, NULL);
        char half[32];

        if (p > 0.02) {
            snprintf(half, sizeof half, "%.3g", p / 2);
            snprintf(what, sizeof what, "p=%s (was %s)", half, value);
            add(b, si, st, ai, name, half, what);
        }
    } else if (!strcmp(name, "rank") || !strcmp(name, "peer") ||
               !strcmp(name, "op")) {
        nalts = shrink_split_items(value, '|', alt, alt_len, ARGS_MAX);
        for (int k = 0; nalts > 1 && k < nalts; k++) {
            char one[64];

            snprintf(one, sizeof one, "%.*s", (int)alt_len[k], alt[k]);
            snprintf(what, sizeof what, "%s=%s (was %s)", name, one, value);
            add(b, si, st, ai, name, one, what);
        }
    }
}

static void narrow_statement(builder *b, int si, int nranks)
{
    statement st;
    int has_rank = 0;

    if (statement_split(b->stmt[si], b->stmt_len[si], &st))
        return;
    for (int a = 0; a < st.nargs; a++) {
        has_rank |= st.arg_len[a] > 5 && !strncmp(st.arg[a], "rank=", 5);
        narrow_arg(b, si, &st, a);
    }
    for (int r = 0; !has_rank && r < nranks && r < RANKS_TRIED; r++) {
        char v[16], what[64];

        snprintf(v, sizeof v, "%d", r);
        snprintf(what, sizeof what, "rank=%d (was every rank)", r);
        add(b, si, &st, -1, "rank", v, what);
    }
}

int shrink_fault_narrowings(const char *spec, int nranks,
                            shrink_candidate *out, int max)
{
    const char *stmt[32];
    size_t stmt_len[32];
    builder b = {.spec = spec, .stmt = stmt, .stmt_len = stmt_len,
                 .out = out, .max = max};

    b.nstmts = shrink_split_items(spec, ';', stmt, stmt_len, 32);
    for (int s = 0; s < b.nstmts; s++)
        narrow_statement(&b, s, nranks);
    return b.n;
}
