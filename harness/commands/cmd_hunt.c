/*
 * harness/commands/cmd_hunt.c - `rdv hunt`: sequenced runs over a range
 * of schedules, pct:A..pct:B or random:A..B, until one fails.
 *
 * Choices, and why:
 * - One runner for every schedule, as `rdv run --repeat` has: the store
 *   is opened once, and only cfg.schedule's seed changes between runs
 *   (the runner reads it at each run). The run seed (inputs, fault
 *   decisions) stays the same, so a failure is the schedule's doing.
 * - It stops at the first failing schedule (--until-fail, the default):
 *   a hunt is for the first replay line. --keep-going collects them all.
 * - Progress goes to stderr, so stdout holds only findings: a live
 *   count on a terminal, else a line every PROGRESS_EVERY schedules.
 * - A finding is three lines: the schedule and verdict, the cause (the
 *   first failed check and its first failure), and the replay line.
 * - A schedule's output is formatted where it ran (hunt_one) and emitted
 *   in schedule order (emit), so --jobs (hunt_jobs.c, worker processes)
 *   prints and writes what a serial hunt does.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cli.h"
#include "common/cli_args.h"
#include "commands/commands.h"
#include "commands/hunt.h"
#include "rdv/clock.h"
#include "report/replay.h"
#include "report/report_junit.h"
#include "report/report_text.h"
#include "run/own_server.h"
#include "run/rank_gloo.h"
#include "run/run.h"

#define PROGRESS_EVERY 25
#define SCHEDULES_DEFAULT_LAST 100
#define HUNT_JOBS_MAX 64

static const char usage[] =
    "usage: rdv hunt --store URL --ranks N [options]\n"
    "\n"
    "Hunts a rendezvous race: runs the same run (seed, workload, faults)\n"
    "once per schedule pct:A..pct:B (or random:A..B), each a sequenced\n"
    "one (as `rdv run --schedule`: one store op at a time, in the\n"
    "schedule's order), and\n"
    "stops at the first failing schedule. For each failure it prints the\n"
    "cause (the first failed check and its first failure) and the replay\n"
    "line, which runs that schedule again.\n"
    "\n"
    "  -s, --store URL    as for rdv run\n"
    "  -n, --ranks N      1..1024\n"
    "  --schedules [KIND:]A..B\n"
    "                     the schedule seeds to try (default 1..100);\n"
    "                     KIND pct (default) or random: random:1..200\n"
    "  --depth D          pct depth, 1..64: D - 1 priority change points\n"
    "                     (default 3)\n"
    "  --jobs J           run J schedules at once, 1..64 (default 1), each\n"
    "                     in a worker process; the output is the same, in\n"
    "                     schedule order\n"
    "  --seed S           the run seed: inputs and fault decisions, the\n"
    "                     same for every schedule (default 1)\n"
    "  --until-fail       stop at the first failing schedule (default)\n"
    "  --keep-going       try every schedule, report every failure\n"
    "  --workload LIST    as for rdv run (default below)\n"
    "  --timeout MS       each call's deadline inside a rank (default\n"
    "                     10000; a lost wakeup costs this much per\n"
    "                     failing schedule)\n"
    "  --deadline MS      the whole run (default 2 x timeout + 1000)\n"
    "  --transport T      uring or epoll\n"
    "  --impl I           rdv (default) or gloo, as for rdv run\n"
    "  --faults SPEC      inject faults (see `rdv faults --list`)\n"
    "  --junit FILE       JUnit XML, one testcase per schedule\n"
    "  --json             one JSON object per run on stdout, then one\n"
    "                     for the hunt (\"type\":\"hunt\")\n"
    "\n"
    "Default workload: " RDV_WORKLOAD_DEFAULT "\n"
    RDV_EXIT_HELP;

typedef struct hunt_tally {
    hunt_cmd *hc;
    uint64_t tried, failed;
    int broken;
    uint64_t first_failed; /* its schedule seed, when failed */
    int64_t t0_ns;
    int live; /* stderr is a terminal: one line, rewritten */
} hunt_tally;

enum {
    OPT_STORE = 's', OPT_RANKS = 'n',
    OPT_SEED = 0x200, OPT_SCHEDULES, OPT_DEPTH, OPT_UNTIL_FAIL,
    OPT_KEEP_GOING, OPT_JUNIT, OPT_JSON, OPT_JOBS,
};

static const struct option options[] = {
    {"store", required_argument, NULL, OPT_STORE},
    {"ranks", required_argument, NULL, OPT_RANKS},
    {"schedules", required_argument, NULL, OPT_SCHEDULES},
    {"depth", required_argument, NULL, OPT_DEPTH},
    {"seed", required_argument, NULL, OPT_SEED},
    {"until-fail", no_argument, NULL, OPT_UNTIL_FAIL},
    {"keep-going", no_argument, NULL, OPT_KEEP_GOING},
    {"workload", required_argument, NULL, RDV_OPT_WORKLOAD},
    {"timeout", required_argument, NULL, RDV_OPT_TIMEOUT},
    {"deadline", required_argument, NULL, RDV_OPT_DEADLINE},
    {"transport", required_argument, NULL, RDV_OPT_TRANSPORT},
    {"impl", required_argument, NULL, RDV_OPT_IMPL},
    {"faults", required_argument, NULL, RDV_OPT_FAULTS},
    {"junit", required_argument, NULL, OPT_JUNIT},
    {"json", no_argument, NULL, OPT_JSON},
    {"jobs", required_argument, NULL, OPT_JOBS},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int bad_usage(const char *msg)
{
    return rdv_cli_usage_error("rdv hunt", msg);
}

/* "[KIND:]A..B", A <= B, as schedule seeds; KIND pct (default) or
 * random. */
static int parse_range(hunt_cmd *hc, const char *arg, char *err,
                       size_t errlen)
{
    const char *range = arg, *dots;
    char a[32];

    hc->kind = RDV_SCHEDULE_PCT;
    if (!strncmp(arg, "pct:", 4)) {
        range = arg + 4;
    } else if (!strncmp(arg, "random:", 7)) {
        hc->kind = RDV_SCHEDULE_RANDOM;
        range = arg + 7;
    }
    if (strchr(range, ':')) {
        snprintf(err, errlen, "--schedules '%s': the kind before ':' is "
                 "pct or random", arg);
        return -1;
    }
    dots = strstr(range, "..");
    if (!dots || (size_t)(dots - range) >= sizeof a) {
        snprintf(err, errlen, "--schedules '%s': expected [pct:|random:]A..B,"
                 " e.g. 1..200 or random:1..200", arg);
        return -1;
    }
    memcpy(a, range, (size_t)(dots - range));
    a[dots - range] = '\0';
    if (rdv_cli_u64("--schedules", a, &hc->first, err, errlen) ||
        rdv_cli_u64("--schedules", dots + 2, &hc->last, err, errlen))
        return -1;
    if (hc->first > hc->last) {
        snprintf(err, errlen, "--schedules '%s': A is above B", arg);
        return -1;
    }
    return 0;
}

static int parse_one(hunt_cmd *hc, int c, const char *arg, char *err,
                     size_t errlen)
{
    int shared = rdv_cli_run_option(c, arg, &hc->cfg, err, errlen);

    if (shared)
        return shared < 0 ? -1 : 0;
    switch (c) {
    case OPT_STORE: hc->cfg.store_url = arg; return 0;
    case OPT_RANKS:
        return rdv_cli_int("--ranks", arg, 1, RDV_RUN_MAX_RANKS,
                           &hc->cfg.nranks, err, errlen);
    case OPT_SEED: return rdv_cli_u64("--seed", arg, &hc->seed, err, errlen);
    case OPT_SCHEDULES: return parse_range(hc, arg, err, errlen);
    case OPT_JOBS:
        return rdv_cli_int("--jobs", arg, 1, HUNT_JOBS_MAX, &hc->jobs, err,
                           errlen);
    case OPT_DEPTH:
        hc->depth_given = 1;
        return rdv_cli_int("--depth", arg, 1, RDV_SCHEDULE_DEPTH_MAX,
                           &hc->depth, err, errlen);
    case OPT_UNTIL_FAIL: hc->keep_going = 0; return 0;
    case OPT_KEEP_GOING: hc->keep_going = 1; return 0;
    case OPT_JUNIT: hc->junit = arg; return 0;
    case OPT_JSON: hc->json = 1; return 0;
    default:
        snprintf(err, errlen, "unknown option");
        return -1;
    }
}


/* 0 ok, RDV_EXIT_USAGE after printing why, or -1 for --help. */
static int parse_args(hunt_cmd *hc, int argc, char **argv)
{
    char err[512] = "";
    const char *why;
    rdv_cli_args a;
    int c;

    hc->seed = 1;
    hc->first = 1;
    hc->last = SCHEDULES_DEFAULT_LAST;
    hc->depth = RDV_SCHEDULE_DEPTH_DEFAULT;
    hc->kind = RDV_SCHEDULE_PCT;
    hc->jobs = 1;
    hc->cfg.prog = "rdv";
    rdv_cli_args_init(&a, "rdv hunt", argc, argv, "s:n:h", options);
    while ((c = rdv_cli_args_next(&a)) != -1) {
        if (c == 'h')
            return -1;
        if (c == '?')
            return bad_usage(a.err);
        if (parse_one(hc, c, a.arg, err, sizeof err))
            return bad_usage(err);
    }
    if (!hc->cfg.store_url)
        return bad_usage("--store URL is required");
    if (!hc->cfg.nranks)
        return bad_usage("--ranks N is required");
    if (hc->kind == RDV_SCHEDULE_RANDOM && hc->depth_given)
        return bad_usage("--depth is for pct schedules; random ones have "
                         "no depth");
    hc->cfg.schedule.kind = hc->kind;
    hc->cfg.schedule.depth = hc->depth;
    hc->cfg.schedule.seed = hc->first;
    if (rdv_run_config_finish(&hc->cfg, err, sizeof err))
        return bad_usage(err);
    if (hc->cfg.impl == RDV_IMPL_GLOO &&
        (why = rdv_rank_gloo_faults_unmet(hc->cfg.faults)))
        return bad_usage(why);
    if (hc->junit && rdv_junit_check_path(hc->junit, err, sizeof err))
        return bad_usage(err);
    /* Workers run side by side on one store: a server one of them owns
     * (?serve=1) would serve, and die with, that worker alone, and a
     * server fault in one worker would strike the others' runs. */
    if (hc->jobs > 1 && rdv_own_server_wanted(hc->cfg.store_url))
        return bad_usage("--jobs: the workers would share the server one "
                         "of them starts for ?serve=1; start it yourself "
                         "(rdv store-server) and give its tcp:// URL, or "
                         "hunt with --jobs 1");
    if (hc->jobs > 1 && rdv_faults_needs(hc->cfg.faults))
        return bad_usage("--jobs: server.* faults in one worker's run "
                         "would strike every other worker's; hunt them "
                         "with --jobs 1");
    return 0;
}

/* One testcase for this schedule; failures carry the cause and replay. */
static void fill_case(const hunt_cmd *hc, const rdv_run_report *rep,
                      const char *cause, const char *replay,
                      rdv_junit_case *c)
{
    char label[200], sched[64];
    size_t cap;

    rdv_junit_store_label(hc->cfg.store_url, label, sizeof label);
    snprintf(c->classname, sizeof c->classname, "rdv.hunt.%s", label);
    snprintf(c->name, sizeof c->name, "N=%d seed=%llu schedule=%s",
             hc->cfg.nranks, (unsigned long long)rep->seed,
             rdv_schedule_text(&hc->cfg.schedule, sched, sizeof sched));
    c->seconds = rep->elapsed_ms / 1e3;
    c->failed = rep->failed;
    if (!rep->failed)
        return;
    snprintf(c->message, sizeof c->message, "%.500s", cause);
    cap = strlen(cause) + strlen(replay) + 16;
    if ((c->text = malloc(cap)))
        snprintf(c->text, cap, "%s\nreplay: %s\n", cause, replay);
}

static void add_case(hunt_cmd *hc, hunt_result *res)
{
    rdv_junit_case *grown = realloc(hc->cases, (hc->ncases + 1) *
                                                   sizeof *grown);

    if (!grown) {
        fprintf(stderr, "rdv hunt: out of memory for the JUnit report\n");
        return;
    }
    hc->cases = grown;
    hc->cases[hc->ncases++] = res->jc;
    res->jc.text = NULL; /* the report owns it now */
}

static void progress(const hunt_tally *t, const hunt_cmd *hc, int last)
{
    double s = (double)(rdv_now_ns() - t->t0_ns) / 1e9;
    uint64_t total = hc->last - hc->first + 1;

    int due = t->tried % PROGRESS_EVERY == 0;

    /* a line per PROGRESS_EVERY schedules, and the last unless it was
     * just printed */
    if (!t->live && (last ? due && t->tried : !due))
        return;
    fprintf(stderr, "%shunt: %llu of %llu schedules, %llu failed, %.1f "
            "runs/s%s", t->live ? "\r" : "",
            (unsigned long long)t->tried, (unsigned long long)total,
            (unsigned long long)t->failed, s > 0 ? t->tried / s : 0.0,
            t->live && !last ? "" : "\n");
}

void hunt_result_free(hunt_result *res)
{
    free(res->out);
    free(res->jc.text);
    res->out = NULL;
    res->jc.text = NULL;
}

void hunt_one(hunt_cmd *hc, rdv_runner *runner, uint64_t k,
              hunt_result *res)
{
    rdv_run_report *rep = malloc(sizeof *rep);
    char cause[1200], replay[4096], sched[64];
    FILE *out;

    memset(res, 0, sizeof *res);
    res->sched = k;
    res->status = HUNT_BROKEN;
    hc->cfg.schedule.seed = k;
    rdv_schedule_text(&hc->cfg.schedule, sched, sizeof sched);
    if (!rep) {
        snprintf(res->err, sizeof res->err, "out of memory");
        return;
    }
    if (rdv_runner_run(runner, hc->seed, rep, res->err, sizeof res->err))
        goto done;
    if (!(out = open_memstream(&res->out, &res->outlen))) {
        snprintf(res->err, sizeof res->err, "open_memstream: %s",
                 strerror(errno));
        goto done;
    }
    res->status = rep->failed ? HUNT_FAILED : HUNT_PASSED;
    rdv_replay_line(&hc->cfg, hc->seed, replay, sizeof replay);
    rdv_report_first_cause(rep, cause, sizeof cause);
    if (hc->json)
        rdv_report_print_json(out, &hc->cfg, rep);
    else if (rep->failed)
        fprintf(out, "FAIL schedule %s (seed %llu) in %.1f ms\n"
                "  cause: %s\n"
                "  replay: %s\n", sched, (unsigned long long)rep->seed,
                rep->elapsed_ms, cause, replay);
    if (!hc->json && rep->failed && rep->seq_inexact)
        fprintf(out, "  note: %llu turn%s not exactly the schedule's (a "
                "rank did not settle in time: a busy host), so the replay "
                "may order ops otherwise\n",
                (unsigned long long)rep->seq_inexact,
                rep->seq_inexact == 1 ? " was" : "s were");
    fclose(out);
    if (hc->junit)
        fill_case(hc, rep, cause, replay, &res->jc);
done:
    free(rep);
}

/* One schedule's result, in schedule order: tally, stdout, JUnit. */
static void emit(void *arg, hunt_result *res)
{
    hunt_tally *t = arg;
    hunt_cmd *hc = t->hc;
    rdv_schedule_spec spec = hc->cfg.schedule;
    char sched[64];

    if (t->broken)
        return;
    if (res->status == HUNT_BROKEN) {
        spec.seed = res->sched;
        fprintf(stderr, "%srdv hunt: could not run schedule %s: %s\n",
                t->live ? "\n" : "",
                rdv_schedule_text(&spec, sched, sizeof sched), res->err);
        t->broken = 1;
        return;
    }
    t->tried++;
    if (res->status == HUNT_FAILED && !t->failed++)
        t->first_failed = res->sched;
    if (res->outlen) {
        if (t->live)
            fputs("\r\033[K", stderr); /* the live count's line, cleared */
        fflush(stderr);
        fwrite(res->out, 1, res->outlen, stdout);
        fflush(stdout);
    }
    if (hc->junit)
        add_case(hc, res);
    progress(t, hc, 0);
}

static void print_summary(const hunt_cmd *hc, const hunt_tally *t)
{
    double s = (double)(rdv_now_ns() - t->t0_ns) / 1e9;
    rdv_schedule_spec spec = hc->cfg.schedule;
    const char *kind = hc->kind == RDV_SCHEDULE_RANDOM ? "random" : "pct";
    char first[64] = "null", depth[32] = "";

    spec.seed = t->first_failed;
    if (t->failed) {
        first[0] = '"';
        rdv_schedule_text(&spec, first + 1, sizeof first - 2);
        strcat(first, "\"");
    }
    if (hc->json) {
        printf("{\"version\":1,\"type\":\"hunt\",\"schedules\":%llu,"
               "\"passed\":%llu,\"failed\":%llu,\"first_failed\":%s,"
               "\"elapsed_ms\":%.1f}\n", (unsigned long long)t->tried,
               (unsigned long long)(t->tried - t->failed),
               (unsigned long long)t->failed, first, s * 1e3);
        return;
    }
    if (hc->kind == RDV_SCHEDULE_PCT)
        snprintf(depth, sizeof depth, ", depth %d", hc->depth);
    printf("hunt: %llu schedule%s (%s:%llu..%llu%s) in %.2f s: "
           "%llu passed, %llu failed", (unsigned long long)t->tried,
           t->tried == 1 ? "" : "s", kind,
           (unsigned long long)hc->first,
           (unsigned long long)(hc->first + (t->tried ? t->tried - 1 : 0)),
           depth, s, (unsigned long long)(t->tried - t->failed),
           (unsigned long long)t->failed);
    if (t->failed) {
        first[strlen(first) - 1] = '\0';
        printf(" (first: %s)", first + 1);
    }
    printf("\n");
}

/* Runs the schedules, here or in hc->jobs workers; the exit code. */
static int hunt_all(hunt_cmd *hc, rdv_runner *runner)
{
    hunt_tally t = {.hc = hc};
    char err[512];

    t.t0_ns = rdv_now_ns();
    t.live = isatty(STDERR_FILENO);
    if (hc->jobs > 1) {
        if (hunt_jobs_run(hc, emit, &t, err, sizeof err)) {
            fprintf(stderr, "rdv hunt: %s\n", err);
            t.broken = 1;
        }
    } else {
        for (uint64_t k = hc->first; !t.broken; k++) {
            hunt_result res;

            hunt_one(hc, runner, k, &res);
            emit(&t, &res);
            hunt_result_free(&res);
            if ((res.status == HUNT_FAILED && !hc->keep_going) ||
                k == hc->last)
                break;
        }
    }
    progress(&t, hc, 1);
    print_summary(hc, &t);
    return t.failed ? RDV_EXIT_FAIL
                    : t.broken ? RDV_EXIT_CANNOT_RUN : RDV_EXIT_OK;
}

int rdv_cmd_hunt(int argc, char **argv)
{
    hunt_cmd hc;
    rdv_runner *runner = NULL;
    char err[1024];
    int code;

    memset(&hc, 0, sizeof hc);
    code = parse_args(&hc, argc, argv);
    if (code) {
        if (code < 0)
            fputs(usage, stdout);
        rdv_run_config_release(&hc.cfg);
        return code < 0 ? RDV_EXIT_OK : code;
    }
    code = rdv_runner_create(&hc.cfg, &runner, err, sizeof err);
    if (code) {
        rdv_run_config_release(&hc.cfg);
        if (code == RDV_EINVAL || code == RDV_ENOTSUP)
            return bad_usage(err);
        fprintf(stderr, "rdv hunt: could not run: cannot open the store: "
                "%s\n", err);
        return RDV_EXIT_CANNOT_RUN;
    }
    if (rdv_runner_note(runner))
        fprintf(stderr, "rdv hunt: note: %s\n", rdv_runner_note(runner));
    if (hc.jobs > 1) { /* each worker opens its own */
        rdv_runner_destroy(runner);
        runner = NULL;
    }
    code = hunt_all(&hc, runner);
    if (runner)
        rdv_runner_destroy(runner);
    if (hc.junit && rdv_junit_write(hc.junit, "rdv hunt", hc.cases,
                                    hc.ncases, err, sizeof err)) {
        fprintf(stderr, "rdv hunt: %s\n", err);
        if (code == RDV_EXIT_OK)
            code = RDV_EXIT_CANNOT_RUN;
    }
    for (size_t i = 0; i < hc.ncases; i++)
        free(hc.cases[i].text);
    free(hc.cases);
    rdv_run_config_release(&hc.cfg);
    return code;
}
