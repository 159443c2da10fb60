/*
 * harness/commands/cmd_matrix.c - `rdv matrix`: stores x rank counts x scenarios
 * x seeds, each cell one `rdv run`.
 *
 * The default is the main job: every embedded store (shared hash, file
 * in a fresh temp dir, and prefix= over each) at N = 2, 4, 8, 16 with
 * seeds 1-3, needing no server. Redis joins with --redis URL or (with
 * no --store) $RDV_TEST_REDIS_URL. One runner is made per (store, N, scenario) and
 * reused across seeds, so a store is opened once per column, not once
 * per run. Cells run one after another: the ranks of one run already
 * keep every core busy.
 *
 * The matrix checks itself as well: the harness's fd count and its
 * children are compared before and after, so a leak that only shows up
 * over many runs fails the matrix (exit 1). A cell whose store does not
 * open is an error, not a failure: exit 3 when nothing failed.
 */
#define _GNU_SOURCE /* nftw */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cli.h"
#include "common/cli_args.h"
#include "commands/commands.h"
#include "run/leak.h"
#include "run/own_server.h"
#include "report/colour.h"
#include "report/matrix.h"
#include "rdv/clock.h"
#include "rdv/fault.h"
#include "rdv/url.h"
#include "run/rank_gloo.h"
#include "report/report_text.h"

static const char usage[] =
    "usage: rdv matrix [options]\n"
    "\n"
    "Runs `rdv run` for every store x rank count x fault scenario x seed\n"
    "and prints a table (stores as rows, N and scenario as columns; each\n"
    "cell: ok/FAIL, passed/runs, slowest run). Every failing run prints\n"
    "its checks and a `replay: rdv run ...` line.\n"
    "\n"
    "  -s, --store URL    a store to test (repeat for more); default: the\n"
    "                     embedded ones: hash:?shared=1, file:// in a fresh\n"
    "                     temp dir, and prefix=p over each\n"
    "  --redis URL        add redis (and prefix=p over it); without\n"
    "                     --store, also taken from $RDV_TEST_REDIS_URL\n"
    "  -n, --ranks LIST   rank counts, 1..1024 (default 2,4,8,16)\n"
    "  --seeds LIST       seeds, e.g. 1-3 or 1,7,9 (default 1-3)\n"
    "  --faults SPEC      a fault scenario column (repeat for more; `none`\n"
    "                     is the fault-free column; `all` adds the fault\n"
    "                     library's representative scenarios, skipping\n"
    "                     those a store cannot host, e.g. server faults\n"
    "                     on a store with no server named; a scenario's\n"
    "                     name, e.g. server-pause, adds that one)\n"
    "  --server-restart CMD  as for rdv run; without it server.restart\n"
    "                     scenarios are skipped (but on tcp://...?serve=1,\n"
    "                     whose server the run owns)\n"
    "  --server-pid PID|FILE, --server-proxy [LISTEN=]HOST:PORT\n"
    "                     as for rdv run, for the stores that are not\n"
    "                     redis, hash or file (redis's server is its\n"
    "                     URL's); without them server.pause and the\n"
    "                     proxy scenarios are skipped on those stores\n"
    "                     (tcp://...?serve=1 needs neither)\n"
    "  --workload LIST    as for rdv run\n"
    "  --timeout MS       as for rdv run (default 10000; the --faults all\n"
    "                     scenarios get the 2000 they are sized for)\n"
    "  --deadline MS      as for rdv run\n"
    "  --transport T      uring or epoll\n"
    "  --impl I           rdv (default) or gloo: Gloo's rendezvous\n"
    "                     (gloo::rendezvous::Context over this store, TCP\n"
    "                     device, connectFullMesh) and collectives; no\n"
    "                     reduce_scatter, --transport or net.* faults\n"
    "  --junit FILE       JUnit XML, one testcase per cell (store, N,\n"
    "                     scenario, seed)\n"
    "  --json             JSON lines on stdout (the table and the rest go\n"
    "                     to stderr): one \"run\" object per run, as rdv run\n"
    "                     --json prints, one \"cell\" object per cell that\n"
    "                     was skipped or could not run, and a last\n"
    "                     \"matrix\" object with the totals\n"
    "\n"
    "On a terminal, stderr shows a live progress line (done/total,\n"
    "failures, ETA); elsewhere, a line per finished cell with the time\n"
    "elapsed. After the table, `matrix no-leak:` compares the\n"
    "harness's own fds and children before and after every run; a\n"
    "change fails the matrix.\n"
    "\n"
    RDV_EXIT_HELP;

typedef struct matrix_cmd {
    rdv_matrix m;
    rdv_run_config base;
    const char *junit;
    const char *redis;
    int json;
    FILE *text; /* the table and messages: stdout, stderr with --json */
    char tmpdir[256];
    char owned[4][512]; /* default store URLs made here */
    int noted_ranks; /* the N whose fd limit note was printed last */
} matrix_cmd;

enum {
    OPT_STORE = 's', OPT_RANKS = 'n', /* as in every command */
    OPT_REDIS = 0x200, OPT_SEEDS, OPT_JUNIT, OPT_JSON,
};

static const struct option options[] = {
    {"store", required_argument, NULL, OPT_STORE},
    {"redis", required_argument, NULL, OPT_REDIS},
    {"ranks", required_argument, NULL, OPT_RANKS},
    {"seeds", required_argument, NULL, OPT_SEEDS},
    {"faults", required_argument, NULL, RDV_OPT_FAULTS},
    {"server-restart", required_argument, NULL, RDV_OPT_SERVER_RESTART},
    {"server-pid", required_argument, NULL, RDV_OPT_SERVER_PID},
    {"server-proxy", required_argument, NULL, RDV_OPT_SERVER_PROXY},
    {"workload", required_argument, NULL, RDV_OPT_WORKLOAD},
    {"timeout", required_argument, NULL, RDV_OPT_TIMEOUT},
    {"deadline", required_argument, NULL, RDV_OPT_DEADLINE},
    {"transport", required_argument, NULL, RDV_OPT_TRANSPORT},
    {"impl", required_argument, NULL, RDV_OPT_IMPL},
    {"junit", required_argument, NULL, OPT_JUNIT},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int bad_usage(const char *msg)
{
    return rdv_cli_usage_error("rdv matrix", msg);
}

static int add_store(matrix_cmd *mc, const char *url, char *err,
                     size_t errlen)
{
    if (mc->m.nstores == RDV_MATRIX_MAX_STORES) {
        snprintf(err, errlen, "more than %d stores", RDV_MATRIX_MAX_STORES);
        return -1;
    }
    mc->m.stores[mc->m.nstores++] = url;
    return 0;
}

static int add_scenario(rdv_matrix *m, const char *spec, const char *name,
                        char *err, size_t errlen)
{
    if (m->nscenarios == RDV_MATRIX_MAX_SCENARIOS) {
        snprintf(err, errlen, "more than %d fault scenarios",
                 RDV_MATRIX_MAX_SCENARIOS);
        return -1;
    }
    m->scenario_names[m->nscenarios] = name;
    m->scenarios[m->nscenarios++] = spec;
    return 0;
}

/* --faults all: the fault library's representative scenarios; --faults
 * NAME: the one of them called NAME (no spec is spelled like a name: a
 * spec's faults have parentheses). 1 when arg names none. */
static int add_catalogue(rdv_matrix *m, const char *arg, char *err,
                         size_t errlen)
{
    size_t n = rdv_faults_scenario_count();
    int found = 0;

    for (size_t i = 0; i < n; i++) {
        const char *name, *spec;

        rdv_faults_scenario(i, &name, &spec);
        if (strcmp(arg, "all") && strcmp(arg, name))
            continue;
        found = 1;
        if (add_scenario(m, spec, name, err, errlen))
            return -1;
        m->scenario_timeout_ms[m->nscenarios - 1] =
            RDV_FAULT_SCENARIO_TIMEOUT_MS;
    }
    return found ? 0 : 1;
}

static int parse_one(matrix_cmd *mc, int c, const char *arg, char *err,
                     size_t errlen)
{
    rdv_matrix *m = &mc->m;
    int shared, named;

    if (c == RDV_OPT_FAULTS &&
        (named = add_catalogue(m, arg, err, errlen)) <= 0)
        return named;
    if (c == RDV_OPT_FAULTS)
        return add_scenario(m, strcmp(arg, "none") ? arg : NULL, NULL, err,
                            errlen);
    if ((shared = rdv_cli_run_option(c, arg, &mc->base, err, errlen)))
        return shared < 0 ? -1 : 0;
    switch (c) {
    case OPT_STORE: return add_store(mc, arg, err, errlen);
    case OPT_REDIS: mc->redis = arg; return 0;
    case OPT_RANKS:
        return rdv_cli_list("--ranks", arg, 1, RDV_RUN_MAX_RANKS, m->ranks,
                            RDV_MATRIX_MAX_RANKS, &m->nranks, err, errlen);
    case OPT_SEEDS:
        return rdv_cli_list("--seeds", arg, 0, UINT64_MAX, m->seeds,
                            RDV_MATRIX_MAX_SEEDS, &m->nseeds, err, errlen);
    case OPT_JUNIT: mc->junit = arg; return 0;
    case OPT_JSON: mc->json = 1; return 0;
    default:
        snprintf(err, errlen, "unknown option");
        return -1;
    }
}

/* The embedded stores, with the file store in a fresh temp dir. */
static int default_stores(matrix_cmd *mc, char *err, size_t errlen)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(mc->tmpdir, sizeof mc->tmpdir, "%s/rdv-matrix-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(mc->tmpdir)) {
        snprintf(err, errlen, "cannot make a temp dir for the file store: "
                 "%s", strerror(errno));
        mc->tmpdir[0] = '\0';
        return -1;
    }
    snprintf(mc->owned[0], sizeof mc->owned[0], "file://%s/store",
             mc->tmpdir);
    snprintf(mc->owned[1], sizeof mc->owned[1], "file://%s/store?prefix=p",
             mc->tmpdir);
    return add_store(mc, "hash:?shared=1", err, errlen) ||
           add_store(mc, "hash:?shared=1&prefix=p", err, errlen) ||
           add_store(mc, mc->owned[0], err, errlen) ||
           add_store(mc, mc->owned[1], err, errlen);
}

/* --redis URL always adds redis; $RDV_TEST_REDIS_URL only joins the
 * default stores, so a command that lists its --store rows gets exactly
 * those, whatever the environment says. */
static int add_redis(matrix_cmd *mc, int explicit_stores, char *err,
                     size_t errlen)
{
    const char *url = mc->redis ? mc->redis
                      : explicit_stores ? NULL
                                        : getenv("RDV_TEST_REDIS_URL");

    if (!url || !*url)
        return 0;
    if (rdv_url_with_option(url, "prefix", "p", mc->owned[2],
                            sizeof mc->owned[2], err, errlen))
        return -1;
    return add_store(mc, url, err, errlen) ||
           add_store(mc, mc->owned[2], err, errlen);
}

/* 0 ok, RDV_EXIT_USAGE after printing why, or -1 for --help. */
static int parse_args(matrix_cmd *mc, int argc, char **argv)
{
    char err[512] = "";
    rdv_cli_args a;
    int c, explicit_stores;

    rdv_cli_args_init(&a, "rdv matrix", argc, argv, "s:n:h", options);
    while ((c = rdv_cli_args_next(&a)) != -1) {
        if (c == 'h')
            return -1;
        if (c == '?')
            return bad_usage(a.err);
        if (parse_one(mc, c, a.arg, err, sizeof err))
            return bad_usage(err);
    }
    if (mc->junit && rdv_junit_check_path(mc->junit, err, sizeof err))
        return bad_usage(err);
    explicit_stores = mc->m.nstores;
    if ((!explicit_stores && default_stores(mc, err, sizeof err)) ||
        add_redis(mc, explicit_stores, err, sizeof err))
        return bad_usage(err);
    if (!mc->m.nranks) {
        static const uint64_t def[] = {2, 4, 8, 16};

        memcpy(mc->m.ranks, def, sizeof def);
        mc->m.nranks = 4;
    }
    if (!mc->m.nseeds) {
        for (int i = 0; i < 3; i++)
            mc->m.seeds[i] = (uint64_t)i + 1;
        mc->m.nseeds = 3;
    }
    if (!mc->m.nscenarios)
        mc->m.scenarios[mc->m.nscenarios++] = NULL;
    return 0;
}

/* Checks every spec and workload against every N before running any, so
 * a typo fails in a second, not after half the matrix, and notes what
 * each scenario's plan needs. */
static int validate_all(matrix_cmd *mc)
{
    char err[512];

    for (int n = 0; n < mc->m.nranks; n++)
        for (int sc = 0; sc < mc->m.nscenarios; sc++) {
            rdv_run_config cfg = mc->base;
            int bad;

            cfg.nranks = (int)mc->m.ranks[n];
            cfg.faults_spec = mc->m.scenarios[sc];
            bad = rdv_run_config_finish(&cfg, err, sizeof err);
            mc->m.scenario_needs[sc] = rdv_faults_needs(cfg.faults);
            rdv_run_config_release(&cfg);
            if (bad)
                return bad_usage(err);
        }
    return 0;
}

static void report_run(matrix_cmd *mc, const rdv_run_config *cfg,
                       const rdv_run_report *rep, const char *scenario)
{
    if (mc->json) {
        rdv_report_print_json(stdout, cfg, rep);
        fflush(stdout);
    }
    /* a failure, or a run that verified nothing (every check SKIPped,
     * shown with its checks) */
    if (rdv_checks_verdict(rep->checks, rep->nchecks) != RDV_CHECK_PASS) {
        rdv_matrix_progress_clear(&mc->m);
        rdv_report_print_run(mc->text, cfg, rep, !rep->failed);
        fflush(mc->text);
    }
    if (mc->junit && rdv_matrix_add_case(&mc->m, cfg, rep, scenario))
        fprintf(stderr, "rdv matrix: out of memory for the JUnit report\n");
}

/* 1 when url parses and its scheme is scheme. */
static int scheme_is(const char *url, const char *scheme)
{
    rdv_url u;
    int yes;

    if (rdv_url_parse(url, &u, NULL, 0))
        return 0;
    yes = strcmp(u.scheme, scheme) == 0;
    rdv_url_free(&u);
    return yes;
}

/* 1 for the stores whose server is their URL's (redis) or that have
 * none (hash, file): --server-pid and --server-proxy describe the
 * matrix's other stores, not these. */
static int store_knows_server(const char *url)
{
    return scheme_is(url, "redis") || scheme_is(url, "unix") ||
           scheme_is(url, "hash") || scheme_is(url, "file");
}

/* What a run on this store offers a fault plan (rdv_faults_unmet); cfg
 * has the server options already dropped for stores they do not
 * describe. */
static unsigned store_offers(const rdv_run_config *cfg)
{
    int redis = scheme_is(cfg->store_url, "redis");
    int own = rdv_own_server_wanted(cfg->store_url); /* run/own_server.h */

    return (redis || own || scheme_is(cfg->store_url, "unix") ||
                    cfg->server_pid
                ? RDV_FAULT_NEEDS_REDIS : 0u) |
           (redis || own || cfg->server_proxy ? RDV_FAULT_NEEDS_PROXY : 0u) |
           (own || cfg->restart_cmd ? RDV_FAULT_NEEDS_RESTART : 0u);
}

/* The fd limit note, once per rank count rather than once per cell. */
static void note_once(matrix_cmd *mc, const rdv_runner *runner, int nranks)
{
    if (!rdv_runner_note(runner) || nranks == mc->noted_ranks)
        return;
    mc->noted_ranks = nranks;
    rdv_matrix_progress_clear(&mc->m);
    printf("note: %s\n", rdv_runner_note(runner));
    fflush(stdout);
}

/* A cell whose scenario this run cannot host: skipped, with why. */
static void skip_cell(matrix_cmd *mc, rdv_matrix_cell *cell,
                      const rdv_run_config *cfg, const char *why)
{
    cell->skipped = 1;
    mc->m.done += mc->m.nseeds;
    if (mc->json)
        rdv_matrix_json_cell(stdout, cfg, "skip", why);
    if (mc->junit)
        rdv_matrix_add_skipped(&mc->m, cfg, cfg->faults_spec, why);
}

/* Runs every seed of one (store, N, scenario) cell. */
static void run_cell_seeds(matrix_cmd *mc, int s, int n, int sc,
                           rdv_run_report *rep)
{
    rdv_matrix_cell *cell = rdv_matrix_cell_at(&mc->m, s, n, sc);
    rdv_run_config cfg = mc->base;
    rdv_runner *runner = NULL;
    const char *why;
    char err[1024], shown[512];
    int bad;

    cfg.store_url = mc->m.stores[s];
    rdv_url_redact(cfg.store_url, shown, sizeof shown);
    cfg.nranks = (int)mc->m.ranks[n];
    cfg.faults_spec = mc->m.scenarios[sc];
    /* A fatal scenario waits out the timeout: give it the one it is
     * sized for, not the default 10 s (--timeout still wins). */
    if (!cfg.timeout_ms && mc->m.scenario_timeout_ms[sc])
        cfg.timeout_ms = mc->m.scenario_timeout_ms[sc];
    if (store_knows_server(cfg.store_url))
        cfg.server_pid = cfg.server_proxy = NULL;
    if ((why = rdv_faults_unmet(mc->m.scenario_needs[sc],
                                store_offers(&cfg)))) {
        skip_cell(mc, cell, &cfg, why);
        return;
    }
    bad = rdv_run_config_finish(&cfg, err, sizeof err);
    if (!bad && cfg.impl == RDV_IMPL_GLOO &&
        (why = rdv_rank_gloo_faults_unmet(cfg.faults))) {
        skip_cell(mc, cell, &cfg, why);
        rdv_run_config_release(&cfg);
        return;
    }
    if (bad || rdv_runner_create(&cfg, &runner, err, sizeof err)) {
        cell->could_not_run = 1;
        rdv_matrix_progress_clear(&mc->m);
        fprintf(mc->text, "ERROR %s N=%d: %s\n", shown, cfg.nranks, err);
        if (mc->json)
            rdv_matrix_json_cell(stdout, &cfg, "error", err);
        mc->m.done += mc->m.nseeds;
        mc->m.errors += mc->m.nseeds;
        if (mc->junit)
            rdv_matrix_add_broken(&mc->m, &cfg, cfg.faults_spec, err);
        rdv_run_config_release(&cfg);
        return;
    }
    note_once(mc, runner, cfg.nranks);
    for (int i = 0; i < mc->m.nseeds; i++) {
        if (rdv_runner_run(runner, mc->m.seeds[i], rep, err, sizeof err)) {
            rdv_matrix_progress_clear(&mc->m);
            fprintf(mc->text, "ERROR %s N=%d seed %llu: %s\n", shown,
                    cfg.nranks, (unsigned long long)mc->m.seeds[i], err);
            cell->runs++;
            mc->m.done++;
            mc->m.errors++;
            if (mc->junit)
                rdv_matrix_add_error(&mc->m, &cfg, mc->m.seeds[i],
                                     cfg.faults_spec, err);
            rdv_matrix_progress(&mc->m);
            continue;
        }
        cell->runs++;
        cell->passed += !rep->failed;
        if (rep->elapsed_ms > cell->max_ms)
            cell->max_ms = rep->elapsed_ms;
        mc->m.done++;
        mc->m.failed += rep->failed;
        mc->m.unverified += rdv_checks_verdict(rep->checks, rep->nchecks) ==
                            RDV_CHECK_SKIP;
        report_run(mc, &cfg, rep, cfg.faults_spec);
        rdv_matrix_progress(&mc->m);
    }
    rdv_runner_destroy(runner);
    rdv_run_config_release(&cfg);
}

static void run_cell(matrix_cmd *mc, int s, int n, int sc,
                     rdv_run_report *rep)
{
    run_cell_seeds(mc, s, n, sc, rep);
    rdv_matrix_cell_done(&mc->m, s, n, sc);
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

/* The matrix's own no-leak check over all its runs. */
static int matrix_leaks(FILE *text, int fds_before)
{
    char procs[256];
    int fds = rdv_fd_count(), left = rdv_leak_processes(0, procs,
                                                        sizeof procs);

    fprintf(text, "matrix no-leak: fds %d before, %d after; %s\n",
            fds_before, fds,
           left ? procs : "no processes left");
    return fds != fds_before || left;
}

static int run_matrix(matrix_cmd *mc)
{
    rdv_matrix *m = &mc->m;
    rdv_run_report *rep = malloc(sizeof *rep);
    size_t ncells = (size_t)m->nstores * (size_t)m->nranks *
                    (size_t)m->nscenarios;
    int fds_before = rdv_fd_count(), leaked;
    char err[512];

    m->cells = calloc(ncells, sizeof *m->cells);
    if (!rep || !m->cells) {
        free(rep);
        fprintf(stderr, "rdv matrix: out of memory\n");
        return RDV_EXIT_CANNOT_RUN;
    }
    m->total = (int)ncells * m->nseeds;
    m->tty = rdv_term_redraws(stderr);
    m->t0_ns = rdv_now_ns();
    for (int s = 0; s < m->nstores; s++)
        for (int n = 0; n < m->nranks; n++)
            for (int sc = 0; sc < m->nscenarios; sc++)
                run_cell(mc, s, n, sc, rep);
    free(rep);
    rdv_matrix_progress_clear(m);
    rdv_matrix_print_table(m, mc->text);
    fprintf(mc->text, "%d runs in %.1f s: %d passed, %d failed", m->done,
           (double)(rdv_now_ns() - m->t0_ns) / 1e9,
           m->done - m->failed - m->errors - m->unverified, m->failed);
    if (m->unverified)
        fprintf(mc->text, ", %d skipped (every check SKIPped)",
                m->unverified);
    if (m->errors)
        fprintf(mc->text, ", %d could not run", m->errors);
    fputc('\n', mc->text);
    leaked = matrix_leaks(mc->text, fds_before);
    if (mc->junit && rdv_junit_write(mc->junit, "rdv matrix", m->cases,
                                     m->ncases, err, sizeof err)) {
        fprintf(stderr, "rdv matrix: %s\n", err);
        m->errors++;
    }
    if (mc->json)
        rdv_matrix_json_summary(stdout, m, leaked);
    free(m->cells);
    return m->failed || leaked ? RDV_EXIT_FAIL
           : m->errors         ? RDV_EXIT_CANNOT_RUN
                               : RDV_EXIT_OK;
}

int rdv_cmd_matrix(int argc, char **argv)
{
    matrix_cmd *mc = calloc(1, sizeof *mc);
    int code;

    if (!mc)
        return RDV_EXIT_FAIL;
    mc->base.prog = "rdv";
    code = parse_args(mc, argc, argv);
    mc->text = mc->json ? stderr : stdout;
    if (code == 0)
        code = validate_all(mc);
    if (code < 0)
        fputs(usage, stdout);
    else if (code == 0)
        code = run_matrix(mc);
    if (mc->tmpdir[0])
        nftw(mc->tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    rdv_matrix_free_cases(&mc->m);
    free(mc);
    return code < 0 ? RDV_EXIT_OK : code;
}
