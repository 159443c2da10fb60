/*
 * harness/commands/cmd_faults.c - `rdv faults`: the fault catalogue and a spec
 * checker, so a spec can be written and fixed before a long run.
 *
 *   rdv faults --list                 every fault, its parameters, fatality
 *   rdv faults --check SPEC [--ranks N] [--seed S] [--timeout MS]
 *                           [--store URL]
 *
 * --check prints the canonical form and the expected outcome, or the
 * error with the offending line and a caret under the column. An invalid
 * spec is bad usage (exit 2), as it is for `rdv run --faults`. With
 * --store, server.* faults are checked against that store as `rdv run`
 * would check them (server.pause on a store with no server is exit 2
 * here, not a failed run later); without it, a spec with server faults
 * says they were not checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands/commands.h"
#include "common/cli_args.h"
#include "common/text_escape.h"
#include "common/number.h"
#include "rdv/fault.h"

static int usage(FILE *to, int code)
{
    fprintf(to,
            "usage: rdv faults --list [--json]\n"
            "       rdv faults --check SPEC [--ranks N] [--seed S] "
            "[--timeout MS] [--store URL]\n"
            "  --list      print every fault, its parameters and whether "
            "it is fatal\n"
            "  --json      with --list: one JSON object per fault (schema "
            "version 1)\n"
            "  --check     parse SPEC (and validate it for N ranks, "
            "default 4)\n"
            "  --store     with --check: check server.* faults against this "
            "store\n"
            "  SPEC        faults separated by ';' or newlines, e.g.\n"
            "              'store.delay(op=get|wait, ms=5..50, p=0.3); "
            "proc.kill(rank=3, at=after-publish)'\n"
            RDV_EXIT_HELP);
    return code;
}

/* Shows the spec line the error points at, with a caret under it. */
static void show_caret(const char *spec, const char *err)
{
    int line, col;
    const char *s = spec, *end;

    if (sscanf(err, "line %d, column %d", &line, &col) != 2 || line < 1 ||
        col < 1)
        return;
    for (int l = 1; l < line && s; l++)
        if ((s = strchr(s, '\n')))
            s++;
    if (!s)
        return;
    end = s + strcspn(s, "\n");
    fprintf(stderr, "  %.*s\n  %*s^\n", (int)(end - s), s, col - 1, "");
}

/* server.* faults need a server behind the store: the same check
 * `rdv run` makes before it forks (rdv_fault_server_check), so a spec
 * that cannot run there is refused here. RDV_EXIT_OK or RDV_EXIT_USAGE. */
static int check_store(const rdv_fault_plan *p, const char *store)
{
    char err[1024];

    if (!(rdv_fault_plan_needs(p) &
          (RDV_FAULT_NEEDS_REDIS | RDV_FAULT_NEEDS_PROXY)))
        return RDV_EXIT_OK;
    if (!store) {
        printf("note: server faults not checked against a store (give "
               "--store URL)\n");
        return RDV_EXIT_OK;
    }
    if (rdv_fault_server_check(p, store, err, sizeof err) == RDV_OK)
        return RDV_EXIT_OK;
    fprintf(stderr, "rdv faults: invalid spec for this store: %s\n", err);
    return RDV_EXIT_USAGE;
}

static int check(const char *spec, int nranks, uint64_t seed, int timeout,
                 const char *store)
{
    char err[1024];
    rdv_fault_plan *p;
    rdv_fault_expect e;

    if (rdv_fault_plan_parse(spec, &p, err, sizeof err) != RDV_OK) {
        fprintf(stderr, "rdv faults: invalid spec: %s\n", err);
        show_caret(spec, err);
        return RDV_EXIT_USAGE;
    }
    if (rdv_fault_plan_validate(p, nranks, err, sizeof err) != RDV_OK) {
        fprintf(stderr, "rdv faults: invalid spec for %d ranks: %s\n",
                nranks, err);
        show_caret(spec, err);
        rdv_fault_plan_free(p);
        return RDV_EXIT_USAGE;
    }
    if (check_store(p, store) != RDV_EXIT_OK) {
        rdv_fault_plan_free(p);
        return RDV_EXIT_USAGE;
    }
    rdv_fault_plan_expect_timeout(p, seed, nranks, timeout, &e);
    printf("ok: %zu fault%s: %s\n", rdv_fault_plan_count(p),
           rdv_fault_plan_count(p) == 1 ? "" : "s", rdv_fault_plan_text(p));
    if (!e.fatal)
        printf("expect: success with correct results (%d ranks, seed %llu, "
               "timeout %d ms)\n", nranks, (unsigned long long)seed, timeout);
    else if (e.culprit >= 0 || e.key[0])
        printf("expect: fatal; every survivor fails naming %s%d%s%s%s\n",
               e.culprit >= 0 ? "rank " : "", e.culprit >= 0 ? e.culprit : 0,
               e.key[0] ? " or key '" : "", e.key, e.key[0] ? "'" : "");
    else
        printf("expect: fatal; every rank fails\n");
    rdv_fault_plan_free(p);
    return RDV_EXIT_OK;
}

/* --list --json: one line per fault; the schema is in the README. */
static int list_json(FILE *f)
{
    static const struct {
        unsigned bit;
        const char *word;
    } needs[] = {{RDV_FAULT_NEEDS_REDIS, "redis"},
                 {RDV_FAULT_NEEDS_PROXY, "proxy"},
                 {RDV_FAULT_NEEDS_RESTART, "restart"}};
    rdv_fault_catalogue_info fi;

    for (size_t i = 0; rdv_fault_catalogue_get(i, &fi) == RDV_OK; i++) {
        int any = 0;

        fputs("{\"version\":1,\"type\":\"fault\",\"name\":", f);
        rdv_json_put_string(f, fi.name);
        fputs(",\"help\":", f);
        rdv_json_put_string(f, fi.help);
        fprintf(f, ",\"fatal\":\"%s\",\"why\":", fi.fatal);
        if (fi.why)
            rdv_json_put_string(f, fi.why);
        else
            fputs("null", f);
        fputs(",\"needs\":[", f);
        for (size_t k = 0; k < sizeof needs / sizeof needs[0]; k++)
            if (fi.needs & needs[k].bit)
                fprintf(f, "%s\"%s\"", any++ ? "," : "", needs[k].word);
        fputs("],\"params\":[", f);
        for (size_t p = 0; p < fi.nparams; p++) {
            fputs(p ? ",{\"name\":" : "{\"name\":", f);
            rdv_json_put_string(f, fi.params[p].name);
            fputs(",\"help\":", f);
            rdv_json_put_string(f, fi.params[p].help);
            fprintf(f, ",\"required\":%s}",
                    fi.params[p].required ? "true" : "false");
        }
        fputs("]}\n", f);
    }
    return fflush(f) || ferror(f) ? RDV_EXIT_CANNOT_RUN : RDV_EXIT_OK;
}

int rdv_cmd_faults(int argc, char **argv)
{
    static const struct option opts[] = {
        {"list", no_argument, NULL, 'l'},
        {"json", no_argument, NULL, 'J'},
        {"check", required_argument, NULL, 'c'},
        {"ranks", required_argument, NULL, 'n'},
        {"seed", required_argument, NULL, 's'},
        {"timeout", required_argument, NULL, 't'},
        {"store", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *spec = NULL, *store = NULL;
    int ranks = 4, timeout = 30000, list = 0, json = 0, c, bad = 0;
    uint64_t seed = 1;
    char err[256];
    rdv_cli_args a;

    rdv_cli_args_init(&a, "rdv faults", argc, argv, "lc:n:t:h", opts);
    while (!bad && (c = rdv_cli_args_next(&a)) != -1) {
        switch (c) {
        case 'l': list = 1; break;
        case 'J': json = 1; break;
        case 'c': spec = a.arg; break;
        case 'S': store = a.arg; break;
        case 'n':
            bad = rdv_cli_int("--ranks", a.arg, 1, 65536, &ranks, err,
                              sizeof err);
            break;
        case 's':
            bad = rdv_cli_u64("--seed", a.arg, &seed, err, sizeof err);
            break;
        case 't':
            bad = rdv_cli_int("--timeout", a.arg, 0, 86400000, &timeout,
                              err, sizeof err);
            break;
        case 'h': return usage(stdout, RDV_EXIT_OK);
        default: return rdv_cli_usage_error("rdv faults", a.err);
        }
    }
    if (bad)
        return rdv_cli_usage_error("rdv faults", err);
    if (list == !!spec)
        return rdv_cli_usage_error("rdv faults", list
                                   ? "--list and --check exclude each other"
                                   : "--list or --check SPEC is required");
    if (store && !spec)
        return rdv_cli_usage_error("rdv faults", "--store goes with --check");
    if (json && !list)
        return rdv_cli_usage_error("rdv faults", "--json goes with --list");
    if (list && json)
        return list_json(stdout);
    if (list)
        return rdv_fault_catalogue_write(stdout) ? RDV_EXIT_CANNOT_RUN
                                                 : RDV_EXIT_OK;
    return check(spec, ranks, seed, timeout, store);
}
