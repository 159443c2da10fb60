/*
 * harness/commands/cmd_run.c - `rdv run`: fork N ranks against one store, check
 * the rendezvous and the collectives, repeat if asked.
 *
 * Repeats use seeds S, S+1, ... and stop at the first failing run unless
 * --keep-going: the failing run is then the last one, so --logs and
 * --trace hold exactly the run that the printed replay line reproduces.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/cli.h"
#include "common/cli_args.h"
#include "commands/commands.h"
#include "report/report_junit.h"
#include "report/replay.h"
#include "report/report_text.h"
#include "rdv/clock.h"
#include "run/rank_gloo.h"
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
    "no-leak, error-quality (and culprit-named with --faults). A check\n"
    "with nothing to judge is SKIP with the reason, never PASS:\n"
    "error-quality when no rank failed, culprit-named without a fatal\n"
    "fault. A run is PASS when no check failed and one passed.\n"
    "\n"
    "  -s, --store URL    hash:?shared=1, file:///dir, redis://host:port,\n"
    "                     unix:///path, plugin:./lib.so; any takes prefix=P\n"
    "  -n, --ranks N      1..1024 (the soft fd limit is raised for them)\n"
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
    "  --call-watch       end the run as soon as a rank's store get, wait\n"
    "                     or multi_get outlives its timeout by 2 s (or by\n"
    "                     half the timeout, when longer), or a call\n"
    "                     without a timeout (set, add...) runs 6 s plus\n"
    "                     0.5 s for each other rank, and name that\n"
    "                     call, instead of waiting for the\n"
    "                     deadline (the fault plan's own delays are\n"
    "                     added to the bounds; README)\n"
    "  --transport T      uring or epoll (default: io_uring, epoll fallback)\n"
    "  --impl I           rdv (default) or gloo: Gloo's rendezvous\n"
    "                     (gloo::rendezvous::Context over this store, TCP\n"
    "                     device, connectFullMesh) and collectives; no\n"
    "                     reduce_scatter, --transport or net.* faults\n"    "  --faults SPEC      inject faults (see `rdv faults --list`)\n"
    "  --server-restart CMD  shell command that restarts the store's\n"
    "                     server on the same address; needed by the\n"
    "                     server.restart fault (tcp://...?serve=1 needs\n"
    "                     no --server-*: the run owns that server)\n"
    "  --server-pid PID|FILE  the store's server process (or a file\n"
    "                     holding its PID, read at each pause), for\n"
    "                     server.pause (SIGSTOP, SIGCONT) on any store\n"
    "  --server-proxy [LISTEN=]HOST:PORT  the server address the fault\n"
    "                     proxy stands in front of, for server.latency,\n"
    "                     reset and blackhole on any store; the ranks\n"
    "                     open the store URL with HOST:PORT replaced\n"
    "                     by the proxy's (redis:// needs neither)\n"
    "  --schedule S       sequence every store op of every rank: S is\n"
    "                     random:SEED or pct:SEED[:DEPTH] (probabilistic\n"
    "                     concurrency testing, DEPTH 1..64, default 3);\n"
    "                     the replay line carries it and replays the\n"
    "                     same order of store ops\n"
    "  --op-log FILE      a sequenced run's store ops in the order they\n"
    "                     ran (of the first failing or last run)\n"
    "  --logs DIR         per-rank logs: DIR/rank-R.log, DIR/rank-R.faults.log\n"
    "  --trace FILE       Chrome trace-event JSON of the (first failing or\n"
    "                     last) run: open it in https://ui.perfetto.dev\n"
    "  --junit FILE       JUnit XML, one testcase per check and run\n"
    "  --json             one JSON object per run on stdout\n"
    "  -v, --verbose      print every check of passing runs too\n"
    "\n"
    "Default workload: " RDV_WORKLOAD_DEFAULT "\n"
    RDV_EXIT_HELP
    "A failing run prints `replay: rdv run ...`, which reproduces it.\n";

typedef struct run_cmd {
    rdv_run_config cfg;
    uint64_t seed;
    int repeat, keep_going, json, verbose;
    const char *junit, *trace, *op_log;
    rdv_junit_case *cases;
    size_t ncases;
} run_cmd;

enum {
    /* -s and -n, as in every command that takes a store or ranks */
    OPT_STORE = 's', OPT_RANKS = 'n',
    OPT_SEED = 0x200, OPT_REPEAT, OPT_LOGS, OPT_JUNIT,
    OPT_TRACE, OPT_JSON, OPT_KEEP_GOING, OPT_SCHEDULE, OPT_OP_LOG,
    OPT_CALL_WATCH,
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
    {"call-watch", no_argument, NULL, OPT_CALL_WATCH},
    {"transport", required_argument, NULL, RDV_OPT_TRANSPORT},
    {"impl", required_argument, NULL, RDV_OPT_IMPL},
    {"faults", required_argument, NULL, RDV_OPT_FAULTS},
    {"server-restart", required_argument, NULL, RDV_OPT_SERVER_RESTART},
    {"server-pid", required_argument, NULL, RDV_OPT_SERVER_PID},
    {"server-proxy", required_argument, NULL, RDV_OPT_SERVER_PROXY},
    {"schedule", required_argument, NULL, OPT_SCHEDULE},
    {"op-log", required_argument, NULL, OPT_OP_LOG},
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
    return rdv_cli_usage_error("rdv run", msg);
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
    case OPT_CALL_WATCH: rc->cfg.call_watch = 1; return 0;
    case OPT_SCHEDULE:
        return rdv_schedule_parse(arg, &rc->cfg.schedule, err, errlen);
    case OPT_OP_LOG: rc->op_log = arg; return 0;
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
    const char *why;
    rdv_cli_args a;
    int c;

    rc->seed = 1;
    rc->repeat = 1;
    rc->cfg.prog = "rdv";
    rdv_cli_args_init(&a, "rdv run", argc, argv, "s:n:vh", options);
    while ((c = rdv_cli_args_next(&a)) != -1) {
        if (c == 'h')
            return -1;
        if (c == '?')
            return bad_usage(a.err);
        if (parse_one(rc, c, a.arg, err, sizeof err))
            return bad_usage(err);
    }
    if (!rc->cfg.store_url)
        return bad_usage("--store URL is required");
    if (!rc->cfg.nranks)
        return bad_usage("--ranks N is required");
    if (rdv_run_config_finish(&rc->cfg, err, sizeof err))
        return bad_usage(err);
    if (rc->cfg.impl == RDV_IMPL_GLOO &&
        (why = rdv_rank_gloo_faults_unmet(rc->cfg.faults)))
        return bad_usage(why);
    if (rc->cfg.logs_dir && mkdir(rc->cfg.logs_dir, 0755) && errno != EEXIST) {
        snprintf(err, sizeof err, "--logs %s: %s", rc->cfg.logs_dir,
                 strerror(errno));
        return bad_usage(err);
    }
    if (rc->op_log && rc->cfg.schedule.kind == RDV_SCHEDULE_NONE)
        return bad_usage("--op-log needs --schedule (only a sequenced run "
                         "has one order of store ops)");
    if (rc->junit && rdv_junit_check_path(rc->junit, err, sizeof err))
        return bad_usage(err);
    return 0;
}

/* A new zeroed testcase named "<what> N=<n> seed=<s>[ faults=<spec>]"
 * in class rdv.run.<store label>, or NULL when out of memory. */
static rdv_junit_case *case_new(run_cmd *rc, const char *what,
                                uint64_t seed)
{
    rdv_junit_case *grown = realloc(rc->cases, (rc->ncases + 1) *
                                                   sizeof *grown), *c;
    char label[200];

    if (!grown)
        return NULL;
    rc->cases = grown;
    c = &rc->cases[rc->ncases++];
    memset(c, 0, sizeof *c);
    rdv_junit_store_label(rc->cfg.store_url, label, sizeof label);
    snprintf(c->classname, sizeof c->classname, "rdv.run.%s", label);
    snprintf(c->name, sizeof c->name, "%s N=%d seed=%llu%s%s", what,
             rc->cfg.nranks, (unsigned long long)seed,
             rc->cfg.faults_spec ? " faults=" : "",
             rc->cfg.faults_spec ? rc->cfg.faults_spec : "");
    return c;
}

/* A failure's body: the whole detail, then the line that replays it. */
static char *failure_text(const run_cmd *rc, const char *detail,
                          uint64_t seed)
{
    char line[4096];
    size_t cap = strlen(detail) + sizeof line + 16;
    char *t = malloc(cap);

    if (t)
        snprintf(t, cap, "%s\nreplay: %s\n", detail,
                 rdv_replay_line(&rc->cfg, seed, line, sizeof line));
    return t;
}

/* One JUnit testcase per check of this run. */
static int add_cases(run_cmd *rc, const rdv_run_report *rep)
{
    for (int i = 0; i < rep->nchecks; i++) {
        const rdv_check *k = &rep->checks[i];
        rdv_junit_case *c = case_new(rc, k->name, rep->seed);

        if (!c)
            return -1;
        c->seconds = i == 0 ? rep->elapsed_ms / 1e3 : 0;
        c->failed = k->verdict == RDV_CHECK_FAIL;
        c->skipped = k->verdict == RDV_CHECK_SKIP;
        snprintf(c->message, sizeof c->message, "%.500s", k->detail);
        if (c->failed && !(c->text = failure_text(rc, k->detail, rep->seed)))
            return -1;
    }
    return 0;
}

/* A run that could not happen, as a JUnit <error>. */
static void add_error(run_cmd *rc, uint64_t seed, const char *why)
{
    rdv_junit_case *c = rc->junit ? case_new(rc, "run", seed) : NULL;

    if (!c)
        return;
    c->error = 1;
    snprintf(c->message, sizeof c->message, "could not run: %.480s", why);
}

/* The sequenced op log of the run a trace would keep. */
static void write_op_log(const run_cmd *rc, const rdv_runner *runner)
{
    FILE *f = fopen(rc->op_log, "we");

    if (!f) {
        fprintf(stderr, "rdv run: --op-log %s: %s\n", rc->op_log,
                strerror(errno));
        return;
    }
    rdv_runner_op_log_write(runner, f);
    if (fclose(f))
        fprintf(stderr, "rdv run: --op-log %s: %s\n", rc->op_log,
                strerror(errno));
}

static void after_run(run_cmd *rc, const rdv_runner *runner,
                      const rdv_run_report *rep, int *traced)
{
    char err[512];
    int verdict = rdv_checks_verdict(rep->checks, rep->nchecks);

    /* A run that verified nothing (every check SKIPped) is shown with
     * its checks like a failure: repeats must not hide it among passes. */
    if (rc->json)
        rdv_report_print_json(stdout, &rc->cfg, rep);
    else if (rc->repeat == 1 || verdict != RDV_CHECK_PASS || rc->verbose)
        rdv_report_print_run(stdout, &rc->cfg, rep, rc->verbose ||
                             rc->repeat == 1 || verdict != RDV_CHECK_PASS);
    if (rc->junit && add_cases(rc, rep))
        fprintf(stderr, "rdv run: out of memory for the JUnit report\n");
    /* Keep the first failing run's trace; else the latest run's. */
    if (rc->trace && !*traced &&
        rdv_trace_write(rc->trace, &rc->cfg, rep, err, sizeof err))
        fprintf(stderr, "rdv run: %s\n", err);
    if (rc->op_log && !*traced)
        write_op_log(rc, runner);
    if (rep->failed)
        *traced = 1;
}

static int run_all(run_cmd *rc, rdv_runner *runner)
{
    rdv_run_report *rep = malloc(sizeof *rep);
    int64_t t0 = rdv_now_ns();
    int runs = 0, failed = 0, unverified = 0, traced = 0, broken = 0;
    char err[512];

    if (!rep)
        return RDV_EXIT_CANNOT_RUN;
    for (int i = 0; i < rc->repeat; i++) {
        if (rdv_runner_run(runner, rc->seed + (uint64_t)i, rep, err,
                           sizeof err)) {
            fprintf(stderr, "rdv run: could not run: %s\n", err);
            add_error(rc, rc->seed + (uint64_t)i, err);
            broken = 1;
            break;
        }
        runs++;
        failed += rep->failed;
        unverified += rdv_checks_verdict(rep->checks, rep->nchecks) ==
                      RDV_CHECK_SKIP;
        after_run(rc, runner, rep, &traced);
        if (rep->failed && !rc->keep_going)
            break;
    }
    if (rc->repeat > 1 && !rc->json) {
        double s = (double)(rdv_now_ns() - t0) / 1e9;

        printf("%d runs in %.2f s (%.1f runs/s): %d passed, %d failed",
               runs, s, s > 0 ? runs / s : 0.0, runs - failed - unverified,
               failed);
        if (unverified)
            printf(", %d skipped (every check SKIPped)", unverified);
        putchar('\n');
    }
    free(rep);
    return failed ? RDV_EXIT_FAIL : broken ? RDV_EXIT_CANNOT_RUN : RDV_EXIT_OK;
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
        if (code == RDV_EINVAL || code == RDV_ENOTSUP) {
            rdv_run_config_release(&rc.cfg);
            return bad_usage(err);
        }
        fprintf(stderr, "rdv run: could not run: cannot open the store: "
                "%s\n", err);
        add_error(&rc, rc.seed, err);
        code = RDV_EXIT_CANNOT_RUN;
        goto out;
    }
    if (rdv_runner_note(runner))
        fprintf(stderr, "rdv run: note: %s\n", rdv_runner_note(runner));
    code = run_all(&rc, runner);
    rdv_runner_destroy(runner);
out:
    if (rc.junit && rdv_junit_write(rc.junit, "rdv run", rc.cases, rc.ncases,
                                    err, sizeof err)) {
        fprintf(stderr, "rdv run: %s\n", err);
        if (code == RDV_EXIT_OK)
            code = RDV_EXIT_CANNOT_RUN;
    }
    for (size_t i = 0; i < rc.ncases; i++)
        free(rc.cases[i].text);
    free(rc.cases);
    rdv_run_config_release(&rc.cfg);
    return code;
}
