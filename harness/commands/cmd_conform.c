/*
 * harness/commands/cmd_conform.c - `rdv conform`: certifies one store URL against
 * the whole store contract, clause by clause.
 *
 *   rdv conform --store URL [--ranks 2,4,8,16] [--junit FILE] [--quick]
 *               [--only CLAUSE,...] [--clause-timeout MS] [--list]
 *               [--contract-level gloo|full]
 *
 * Every clause has a contract level (rdv_clause.level): the store is
 * judged at the level it claims (rdv_store_contract_level), or at
 * --contract-level, and a clause above that level is n/a. Every clause
 * has a budget too, from what it waits for; a store call that runs past
 * its own timeout ends the clause sooner (the call watch,
 * conform/clause_watch.c), named.
 *
 * The clause list is built once (conform_cmd.h says where each group
 * comes from), then every clause runs in its own process group under a
 * watchdog (conform_isolate.c), so a crash or a hang is a failed clause
 * with evidence, never the end of the run. The first clause, "open",
 * opens the URL in a child: when the store cannot even be opened there is
 * nothing else to certify, and when it is process-local (hash:) the
 * `rdv run` clauses are skipped, with the reason, instead of failing
 * (the library's multi-process clauses see that for themselves).
 *
 * Exit code: 0 when no clause failed (skips allowed), 1 otherwise, 2 for
 * bad usage, 3 when the store did not open (nothing was certified).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "common/cli_args.h"
#include "commands/commands.h"
#include "conform/conform_cmd.h"
#include "report/report_junit.h"

#define CONFORM_MAX_CLAUSES 96
/* Whole `rdv run`s: up to 16 ranks, each with its own deadlines. */
#define RUN_BUDGET_MS 180000

typedef struct conform_opts {
    const char *url;
    const char *junit;
    const char *only;
    int quick;
    int list;
    int json;
    FILE *text;    /* the table: stdout, stderr with --json */
    int limit_ms;  /* --clause-timeout; 0 = each clause's own budget */
    int level;     /* --contract-level; 0 = the one the store claims */
    int ranks[CONFORM_MAX_RANKS];
    int nranks;
} conform_opts;

/* The fault specs of the fault clauses that go through `rdv run`. */
static const struct {
    const char *name;
    const char *summary;
    const char *spec;
} fault_runs[] = {
    {"faults-run-delay", "4 ranks rendezvous while 30% of store calls are "
     "delayed 1..40 ms", "store.delay(ms=1..40, p=0.3)"},
    {"faults-run-error", "a transient store error in one rank fails that rank "
     "and every survivor names it, in time",
     "store.error(rank=1, op=get|multi_get|wait, once=1, code=EIO)"},
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: rdv conform --store URL [--ranks LIST] [--junit FILE] "
            "[--quick]\n"
            "                   [--only CLAUSE,...] [--clause-timeout MS] "
            "[--list]\n"
            "Certifies the store at URL against the rdv store contract.\n"
            "  -s, --store URL      hash:, file:///dir, redis://..., "
            "plugin:./lib.so?k=v ...\n"
            "  -n, --ranks LIST     rank counts for the rendezvous clauses "
            "(default 2,4,8,16)\n"
            "  --junit FILE         also write JUnit XML, one testcase per "
            "clause\n"
            "  --quick              fewer operations per clause, no\n"
            "                       larger rendezvous-N once one failed, "
            "and no\n"
            "                       clause after one whose set, add or "
            "close blocked\n"
            "                       (a smoke run)\n"
            "  --only LIST          run only these clauses (see --list)\n"
            "  --clause-timeout MS  kill a clause that has no verdict "
            "after MS (default: each\n"
            "                       clause's own budget, --list shows it)\n"
            "  --contract-level L   judge the store at level gloo (set, "
            "get, wait, check)\n"
            "                       or full (default: the level the store "
            "claims)\n"
            "  --list               list the clauses and exit\n"
            "  --json               JSON lines on stdout, a \"clause\" object "
            "per clause\n"
            "                       and a last \"conform\" object (the table "
            "goes to stderr)\n"
            "Every clause runs in its own process: a crash or a hang fails "
            "that clause.\nThe last line reads\n"
            "  conform: URL reaches level L: N passed, N failed, N n/a\n"
            RDV_EXIT_HELP);
}

static int parse_ranks(const char *text, conform_opts *o)
{
    char err[256];

    if (rdv_cli_int_list("--ranks", text, 1, RDV_RUN_MAX_RANKS, o->ranks,
                         CONFORM_MAX_RANKS, &o->nranks, err, sizeof err)) {
        rdv_cli_usage_error("rdv conform", err);
        return -1;
    }
    return 0;
}

static int parse_opts(int argc, char **argv, conform_opts *o)
{
    static const struct option longopts[] = {
        {"store", required_argument, NULL, 's'},
        {"ranks", required_argument, NULL, 'n'},
        {"junit", required_argument, NULL, 'j'},
        {"quick", no_argument, NULL, 'q'},
        {"only", required_argument, NULL, 'o'},
        {"clause-timeout", required_argument, NULL, 't'},
        {"list", no_argument, NULL, 'l'},
        {"contract-level", required_argument, NULL, 'L'},
        {"json", no_argument, NULL, 'J'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char err[4300];
    rdv_cli_args a;
    int opt;

    rdv_cli_args_init(&a, "rdv conform", argc, argv, "s:n:j:qo:t:lL:h",
                      longopts);
    while ((opt = rdv_cli_args_next(&a)) != -1) {
        switch (opt) {
        case 's': o->url = a.arg; break;
        case 'j': o->junit = a.arg; break;
        case 'q': o->quick = 1; break;
        case 'o': o->only = a.arg; break;
        case 'l': o->list = 1; break;
        case 'J': o->json = 1; break;
        case 'n':
            if (parse_ranks(a.arg, o))
                return RDV_EXIT_USAGE;
            break;
        case 't':
            if (rdv_cli_int("--clause-timeout", a.arg, 100, 3600000,
                            &o->limit_ms, err, sizeof err))
                return rdv_cli_usage_error("rdv conform", err);
            break;
        case 'L':
            o->level = rdv_contract_level_parse(a.arg);
            if (!o->level) {
                snprintf(err, sizeof err, "--contract-level: '%s' is not a "
                         "level (gloo or full)", a.arg);
                return rdv_cli_usage_error("rdv conform", err);
            }
            break;
        case 'h': usage(stdout); return RDV_EXIT_OK;
        default: return rdv_cli_usage_error("rdv conform", a.err);
        }
    }
    if (!o->url && !o->list)
        return rdv_cli_usage_error("rdv conform", "--store URL is required");
    if (o->junit && rdv_junit_check_path(o->junit, err, sizeof err))
        return rdv_cli_usage_error("rdv conform", err);
    return -1; /* go on */
}

static conform_clause *add(conform_clause *cs, size_t *n, const char *name,
                           const char *group, const char *summary)
{
    conform_clause *c = &cs[(*n)++];

    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    c->group = group;
    c->summary = summary;
    return c;
}

static size_t build_clauses(const conform_opts *o, conform_clause *cs)
{
    size_t nlib, n = 0;
    const rdv_clause *lib = rdv_contract_clauses(&nlib);
    conform_clause *c;

    c = add(cs, &n, "open", RDV_CLAUSE_SINGLE, "the URL opens and the "
            "handle closes");
    c->run = conform_clause_open;
    c->level = RDV_STORE_LEVEL_GLOO;
    c->budget_ms = RDV_CLAUSE_BUDGET_MS;
    for (size_t i = 0; i < nlib && n < CONFORM_MAX_CLAUSES - 32; i++) {
        c = add(cs, &n, lib[i].name, lib[i].group, lib[i].summary);
        c->lib = &lib[i];
        c->level = lib[i].level;
        c->budget_ms = lib[i].budget_ms ? lib[i].budget_ms
                                        : RDV_CLAUSE_BUDGET_MS;
    }
    for (int i = 0; i < o->nranks; i++) {
        char name[32];

        snprintf(name, sizeof name, "rendezvous-%d", o->ranks[i]);
        c = add(cs, &n, name, "rendezvous", "rdv run: N ranks rendezvous, "
                "run collectives and clean up over this store");
        c->run = conform_clause_rendezvous;
        c->ranks = o->ranks[i];
        c->shares = 1;
        c->level = RDV_STORE_LEVEL_FULL; /* create-only, list, delete */
        c->budget_ms = RUN_BUDGET_MS;
    }
    c = add(cs, &n, "faults-store-delay", "faults", "8 processes' adds and "
            "create-only sets stay exact while store calls are delayed");
    c->run = conform_clause_fault_delay;
    c->shares = 1;
    c->level = RDV_STORE_LEVEL_FULL; /* add, create-only */
    c->budget_ms = RUN_BUDGET_MS;
    for (size_t i = 0; i < sizeof fault_runs / sizeof fault_runs[0]; i++) {
        c = add(cs, &n, fault_runs[i].name, "faults", fault_runs[i].summary);
        c->run = conform_clause_fault_run;
        c->faults = fault_runs[i].spec;
        c->ranks = 4;
        c->shares = 1;
        c->level = RDV_STORE_LEVEL_FULL;
        c->budget_ms = RUN_BUDGET_MS;
    }
    return n;
}

/* 1 when name is in the comma-separated list (NULL = everything). */
static int selected(const char *only, const char *name)
{
    size_t len = strlen(name);

    if (!only)
        return 1;
    for (const char *p = only; *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);

        if (n == len && strncmp(p, name, n) == 0)
            return 1;
        p += n + (end != NULL);
    }
    return 0;
}

static int check_only(const char *only, const conform_clause *cs, size_t n)
{
    for (const char *p = only; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        int known = 0;

        for (size_t i = 0; i < n && !known; i++)
            known = strlen(cs[i].name) == len &&
                    strncmp(cs[i].name, p, len) == 0;
        if (!known) {
            fprintf(stderr, "rdv conform: --only: no clause '%.*s' (rdv "
                    "conform --list names them)\n(see rdv conform "
                    "--help)\n", (int)len, p);
            return -1;
        }
        p += len + (end != NULL);
    }
    return 0;
}

static void skip(conform_result *res, const conform_clause *c,
                 const char *why)
{
    memset(res, 0, sizeof *res);
    res->c = c;
    res->verdict = RDV_VERDICT_SKIP;
    snprintf(res->evidence, sizeof res->evidence, "%s", why);
}

/* Runs the selected clauses in order; returns how many results, and
 * the level the store was judged at in *level. */
static size_t run_all(const conform_opts *o, const conform_clause *cs,
                      size_t n, size_t nsel, conform_result *res,
                      int *level)
{
    conform_env env = {.base = {.url = o->url, .quick = o->quick}};
    unsigned flags = 0;
    size_t nres = 0;
    const char *run_failed = NULL; /* the first rendezvous-N that failed */
    const char *hung = NULL; /* the first clause a plain call hung in */
    conform_progress progress;

    conform_progress_start(&progress, nsel);
    conform_isolate_on_tick(conform_progress_tick, &progress);

    *level = o->level ? o->level : RDV_STORE_LEVEL_FULL;
    for (size_t i = 0; i < n; i++) {
        conform_result *r = &res[nres];

        if (i > 0 && !selected(o->only, cs[i].name))
            continue;
        nres++;
        if (i > 0 && !(flags & CONFORM_STORE_OPENED)) {
            skip(r, &cs[i], "not run: the store did not open (see clause "
                 "open)");
            r->verdict = RDV_VERDICT_FAIL;
        } else if (cs[i].level > *level) {
            skip(r, &cs[i], "");
            r->na = 1;
            snprintf(r->evidence, sizeof r->evidence, "n/a: a level-%s "
                     "clause; the store is judged at level %s",
                     rdv_contract_level_name(cs[i].level),
                     rdv_contract_level_name(*level));
        } else if (cs[i].shares && (flags & CONFORM_STORE_LOCAL)) {
            skip(r, &cs[i], "the store is process-local (hash:); "
                 "hash:?shared=1 is the variant forked processes share");
        } else if (o->quick && hung) {
            /* Every clause writes: on a store whose set (or add, or
             * close) blocks, each would pay the call bound again and
             * say the same. */
            skip(r, &cs[i], "");
            snprintf(r->evidence, sizeof r->evidence, "not run in quick "
                     "mode: a call without a timeout blocked in %s (the "
                     "full run tries every clause)", hung);
        } else if (o->quick && run_failed &&
                   cs[i].run == conform_clause_rendezvous) {
            /* Quick is a smoke test: once a run of fewer ranks failed, a
             * larger one mostly fails the same way, at the cost of
             * another call bound or deadline per size. */
            skip(r, &cs[i], "");
            snprintf(r->evidence, sizeof r->evidence, "not run in quick "
                     "mode: %s already failed (the full run tries every "
                     "size)", run_failed);
        } else {
            env.ranks = cs[i].ranks;
            env.faults = cs[i].faults;
            env.base.level = *level;
            conform_progress_clause(&progress, cs[i].name);
            conform_isolate(&cs[i], &env,
                            o->limit_ms ? o->limit_ms : cs[i].budget_ms, r,
                            i == 0 ? &flags : NULL);
            if (i == 0 && !o->level && (flags & CONFORM_STORE_GLOO))
                *level = RDV_STORE_LEVEL_GLOO;
            if (cs[i].run == conform_clause_rendezvous && !run_failed &&
                r->verdict == RDV_VERDICT_FAIL)
                run_failed = cs[i].name;
            if (r->plain_hang && !hung)
                hung = cs[i].name;
        }
        conform_progress_clear(&progress);
        conform_report_row(o->text, r);
        if (o->json)
            conform_report_json_row(stdout, r);
        conform_progress_done(&progress, r, conform_verdict_name(r));
    }
    conform_isolate_on_tick(NULL, NULL);
    return nres;
}

int rdv_cmd_conform(int argc, char **argv)
{
    conform_opts o = {.ranks = {2, 4, 8, 16}, .nranks = 4};
    conform_clause *cs = calloc(CONFORM_MAX_CLAUSES, sizeof *cs);
    conform_result *res = calloc(CONFORM_MAX_CLAUSES, sizeof *res);
    int rc = parse_opts(argc, argv, &o);
    size_t n, nres, nsel = 0;
    char err[512];
    int level;

    if (!cs || !res) {
        fprintf(stderr, "rdv conform: out of memory\n");
        rc = RDV_EXIT_FAIL;
    }
    if (rc >= 0)
        goto out;
    n = build_clauses(&o, cs);
    if (o.list) {
        for (size_t i = 0; i < n; i++)
            printf("%-24s %-15s %-5s %7dms  %s\n", cs[i].name, cs[i].group,
                   rdv_contract_level_name(cs[i].level), cs[i].budget_ms,
                   cs[i].summary);
        rc = RDV_EXIT_OK;
        goto out;
    }
    if (check_only(o.only, cs, n)) {
        rc = RDV_EXIT_USAGE;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        nsel += i == 0 || selected(o.only, cs[i].name);
    conform_isolate_init();
    o.text = o.json ? stderr : stdout;
    conform_report_header(o.text, o.url, nsel, o.quick, o.level);
    nres = run_all(&o, cs, n, nsel, res, &level);
    rc = conform_report_verdict(o.text, o.url, level, res, nres)
             ? RDV_EXIT_FAIL
             : RDV_EXIT_OK;
    /* res[0] is "open": a store that does not open was not certified. */
    if (res[0].verdict == RDV_VERDICT_FAIL)
        rc = RDV_EXIT_CANNOT_RUN;
    if (o.junit && conform_report_junit(o.junit, o.url, res, nres, err,
                                        sizeof err)) {
        fprintf(stderr, "rdv conform: %s\n", err);
        if (rc == RDV_EXIT_OK)
            rc = RDV_EXIT_CANNOT_RUN;
    }
    if (o.json)
        conform_report_json_verdict(stdout, o.url, res, nres, rc);
out:
    free(cs);
    free(res);
    return rc;
}
