/*
 * harness/commands/cmd_run.c - `rdv run`: fork N ranks against one store, check
 * the rendezvous and the collectives, repeat if asked.
 *
 * Repeats use seeds S, S+1, ... and stop at the first failing run unless
 * --keep-going: the failing run is then the last one, so --logs and
 * --trace hold exactly the run that the printed replay line reproduces.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/cli.h"
#include "commands/commands.h"
#include "report/report_junit.h"
#include "report/report_text.h"
#include "rdv/clock.h"
#include "run/run.h"
#include "report/trace.h"

static const char usage[] =
    "usage: rdv run --store URL --ranks N [options]\n"
    "\n"
    "Forks N ranks against the store at URL. Each rank opens its own\n"
    "store connection, scopes it to a prefix unique to this run, does the\n"
    "full-mesh rendezvous on 127.0.0.1, runs the workload on inputs\n"
    "derived from (seed, rank) and checks every output against its closed\n"
    "form. The parent then judges the run with named checks: ranks-ok,\n"
    "mesh-consistent, results-correct, results-identical, no-hang,\n"
    "no-leak, error-quality (and culprit-named with --faults).\n"
    "\n"
    "  --store URL        hash:?shared=1, file:///dir, redis://host:port,\n"
    "                     unix:///path, plugin:./lib.so; any takes prefix=P\n"
    "  --ranks N          1..1024 (the soft fd limit is raised for them)\n"
    "  --seed S           inputs and fault decisions (default 1)\n"
    "  --workload LIST    steps, comma-separated (default below):\n"
    "                       barrier | allreduce[:TYPE][:COUNT][:OP][:ring|hd]\n"
    "                       reduce_scatter[:TYPE][:COUNT][:OP]\n"
    "                       broadcast[:TYPE][:COUNT][:root=R]\n"
    "                       allgather[:TYPE][:COUNT] | store[:COUNT]\n"
    "                       spin[:rank=R] (never returns: tests the deadline)\n"
    "                     TYPE int32|int64|float|double, OP sum|prod|min|max,\n"
    "                     COUNT elements, k = x1024, M = x1048576\n"
    "  --repeat K         K runs with seeds S..S+K-1; stop at the first\n"
    "                     failure unless --keep-going\n"
    "  --keep-going       finish every repeat\n"
    "  --timeout MS       each call's deadline inside a rank (default 10000)\n"
    "  --deadline MS      the whole run; ranks still running are killed\n"
    "                     (default 2 x timeout + 1000)\n"
    "  --transport T      uring or epoll (default: io_uring, epoll fallback)\n"
    "  --faults SPEC      inject faults (see `rdv faults --list`)\n"
    "  --server-restart CMD  shell command that restarts the store's\n"
    "                     server on the same address; needed by the\n"
    "                     server.restart fault\n"
    "  --logs DIR         per-rank logs: DIR/rank-R.log, DIR/rank-R.faults.log\n"
    "  --trace FILE       Chrome trace-event JSON of the (first failing or\n"
    "                     last) run: open it in https://ui.perfetto.dev\n"
    "  --junit FILE       JUnit XML, one testcase per check and run\n"
    "  --json             one JSON object per run on stdout\n"
    "  -v, --verbose      print every check of passing runs too\n"
    "\n"
    "Default workload: " RDV_WORKLOAD_DEFAULT "\n"
    "Exit status: 0 every check passed, 1 a check failed, 2 bad usage.\n"
    "A failing run prints `replay: rdv run ...`, which reproduces it.\n";

typedef struct run_cmd {
    rdv_run_config cfg;
    uint64_t seed;
    int repeat, keep_going, json, verbose;
    const char *junit, *trace;
    rdv_junit_case *cases;
    size_t ncases;
} run_cmd;

enum {
    OPT_STORE = 0x200, OPT_RANKS, OPT_SEED, OPT_REPEAT, OPT_LOGS, OPT_JUNIT,
    OPT_TRACE, OPT_JSON, OPT_KEEP_GOING,
};

static const struct option options[] = {
    {"store", required_argument, NULL, OPT_STORE},
    {"ranks", required_argument, NULL, OPT_RANKS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"workload", required_argument, NULL, RDV_OPT_WORKLOAD},
    {"repeat", required_argument, NULL, OPT_REPEAT},
    {"keep-going", no_argument, NULL, OPT_KEEP_GOING},
    {"timeout", required_argument, NULL, RDV_OPT_TIMEOUT},
    {"deadline", required_argument, NULL, RDV_OPT_DEADLINE},
    {"transport", required_argument, NULL, RDV_OPT_TRANSPORT},
    {"faults", required_argument, NULL, RDV_OPT_FAULTS},
    {"server-restart", required_argument, NULL, RDV_OPT_SERVER_RESTART},
    {"logs", required_argument, NULL, OPT_LOGS},
    {"junit", required_argument, NULL, OPT_JUNIT},
    {"trace", required_argument, NULL, OPT_TRACE},
    {"json", no_argument, NULL, OPT_JSON},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int bad_usage(const char *msg)
{
    fprintf(stderr, "rdv run: %s\n(see rdv run --help)\n", msg);
    return RDV_EXIT_USAGE;
}

static int parse_one(run_cmd *rc, int c, const char *arg, char *err,
                     size_t errlen)
{
    int shared = rdv_cli_run_option(c, arg, &rc->cfg, err, errlen);

    if (shared)
        return shared < 0 ? -1 : 0;
    switch (c) {
    case OPT_STORE: rc->cfg.store_url = arg; return 0;
    case OPT_RANKS:
        return rdv_cli_int("--ranks", arg, 1, RDV_RUN_MAX_RANKS,
                           &rc->cfg.nranks, err, errlen);
    case OPT_SEED: return rdv_cli_u64("--seed", arg, &rc->seed, err, errlen);
    case OPT_REPEAT:
        return rdv_cli_int("--repeat", arg, 1, 100000000, &rc->repeat, err,
                           errlen);
    case OPT_KEEP_GOING: rc->keep_going = 1; return 0;
    case OPT_LOGS: rc->cfg.logs_dir = arg; return 0;
    case OPT_JUNIT: rc->junit = arg; return 0;
    case OPT_TRACE: rc->trace = arg; rc->cfg.trace = 1; return 0;
    case OPT_JSON: rc->json = 1; return 0;
    case 'v': rc->verbose = 1; return 0;
    default:
        snprintf(err, errlen, "unknown option");
        return -1;
    }
}

/* 0 ok, RDV_EXIT_USAGE after printing why, or -1 for --help. */
static int parse_args(run_cmd *rc, int argc, char **argv)
{
    char err[512] = "";
    int c;

    rc->seed = 1;
    rc->repeat = 1;
    rc->cfg.prog = "rdv";
    optind = 1;
    while ((c = getopt_long(argc, argv, "vh", options, NULL)) != -1) {
        if (c == 'h')
            return -1;
        if (c == '?')
            return bad_usage("unknown option or missing value");
        if (parse_one(rc, c, optarg, err, sizeof err))
            return bad_usage(err);
    }
    if (optind < argc) {
        snprintf(err, sizeof err, "unexpected argument '%s'", argv[optind]);
        return bad_usage(err);
    }
    if (!rc->cfg.store_url)
        return bad_usage("--store URL is required");
    if (!rc->cfg.nranks)
        return bad_usage("--ranks N is required");
    if (rdv_run_config_finish(&rc->cfg, err, sizeof err))
        return bad_usage(err);
    if (rc->cfg.logs_dir && mkdir(rc->cfg.logs_dir, 0755) && errno != EEXIST) {
        snprintf(err, sizeof err, "--logs %s: %s", rc->cfg.logs_dir,
                 strerror(errno));
        return bad_usage(err);
    }
    return 0;
}

/* One JUnit testcase per check of this run. */
static int add_cases(run_cmd *rc, const rdv_run_report *rep)
{
    rdv_junit_case *grown = realloc(rc->cases, (rc->ncases + (size_t)rep->nchecks) *
                                                   sizeof *grown);

    if (!grown)
        return -1;
    rc->cases = grown;
    for (int i = 0; i < rep->nchecks; i++) {
        rdv_junit_case *c = &rc->cases[rc->ncases++];
        const rdv_check *k = &rep->checks[i];

        memset(c, 0, sizeof *c);
        snprintf(c->classname, sizeof c->classname, "rdv.run.seed-%llu",
                 (unsigned long long)rep->seed);
        snprintf(c->name, sizeof c->name, "%s", k->name);
        c->seconds = i == 0 ? rep->elapsed_ms / 1e3 : 0;
        c->failed = k->verdict == RDV_CHECK_FAIL;
        c->skipped = k->verdict == RDV_CHECK_SKIP;
        snprintf(c->message, sizeof c->message, "%.500s", k->detail);
    }
    return 0;
}

static void after_run(run_cmd *rc, const rdv_run_report *rep, int *traced)
{
    char err[512];

    if (rc->json)
        rdv_report_print_json(stdout, &rc->cfg, rep);
    else if (rc->repeat == 1 || rep->failed || rc->verbose)
        rdv_report_print_run(stdout, &rc->cfg, rep, rc->verbose ||
                                                        rc->repeat == 1);
    if (rc->junit && add_cases(rc, rep))
        fprintf(stderr, "rdv run: out of memory for the JUnit report\n");
    /* Keep the first failing run's trace; else the latest run's. */
    if (rc->trace && !*traced &&
        rdv_trace_write(rc->trace, &rc->cfg, rep, err, sizeof err))
        fprintf(stderr, "rdv run: %s\n", err);
    if (rep->failed)
        *traced = 1;
}

static int run_all(run_cmd *rc, rdv_runner *runner)
{
    rdv_run_report *rep = malloc(sizeof *rep);
    int64_t t0 = rdv_now_ns();
    int runs = 0, failed = 0, traced = 0;
    char err[512];

    if (!rep)
        return RDV_EXIT_FAIL;
    for (int i = 0; i < rc->repeat; i++) {
        if (rdv_runner_run(runner, rc->seed + (uint64_t)i, rep, err,
                           sizeof err)) {
            fprintf(stderr, "rdv run: %s\n", err);
            failed++;
            break;
        }
        runs++;
        failed += rep->failed;
        after_run(rc, rep, &traced);
        if (rep->failed && !rc->keep_going)
            break;
    }
    if (rc->repeat > 1 && !rc->json) {
        double s = (double)(rdv_now_ns() - t0) / 1e9;

        printf("%d runs in %.2f s (%.1f runs/s): %d passed, %d failed\n",
               runs, s, s > 0 ? runs / s : 0.0, runs - failed, failed);
    }
    free(rep);
    return failed ? RDV_EXIT_FAIL : RDV_EXIT_OK;
}

int rdv_cmd_run(int argc, char **argv)
{
    run_cmd rc;
    rdv_runner *runner = NULL;
    char err[1024];
    int code;

    memset(&rc, 0, sizeof rc);
    code = parse_args(&rc, argc, argv);
    if (code) {
        if (code < 0)
            fputs(usage, stdout);
        rdv_run_config_release(&rc.cfg);
        return code < 0 ? RDV_EXIT_OK : code;
    }
    code = rdv_runner_create(&rc.cfg, &runner, err, sizeof err);
    if (code) {
        rdv_run_config_release(&rc.cfg);
        if (code == RDV_EINVAL || code == RDV_ENOTSUP)
            return bad_usage(err);
        fprintf(stderr, "rdv run: cannot open the store: %s\n", err);
        return RDV_EXIT_FAIL;
    }
    if (rdv_runner_note(runner))
        fprintf(stderr, "rdv run: note: %s\n", rdv_runner_note(runner));
    code = run_all(&rc, runner);
    rdv_runner_destroy(runner);
    if (rc.junit && rdv_junit_write(rc.junit, "rdv run", rc.cases, rc.ncases,
                                    err, sizeof err)) {
        fprintf(stderr, "rdv run: %s\n", err);
        code = RDV_EXIT_FAIL;
    }
    free(rc.cases);
    rdv_run_config_release(&rc.cfg);
    return code;
}
