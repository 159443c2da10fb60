/*
 * harness/commands/cmd_launch.c - `rdv launch`: start the user's program
 * N times with the env:// environment, under faults if asked, and judge
 * what any program must do: exit 0, end before the deadline, leave no
 * process and no key behind (run/launch.c).
 *
 * Everything before "--" is rdv's options, everything after it the
 * program and its arguments, passed to execvp untouched.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands/commands.h"
#include "common/cli_args.h"
#include "common/number.h"
#include "common/text_escape.h"
#include "rdv/url.h"
#include "report/replay.h"
#include "report/report_junit.h"
#include "report/report_text.h"
#include "run/launch.h"

static const char usage[] =
    "usage: rdv launch -n N --store URL [options] -- PROG [ARGS...]\n"
    "\n"
    "Starts PROG N times, each in the job's own process group, with the\n"
    "environment env:// reads: RDV_STORE=URL, RDV_RANK=0..N-1, RDV_SIZE=N\n"
    "and RDV_JOB (a fresh job id: the prefix of the job's keys). A\n"
    "program linked with librdv opens rdv_store_open(\"env://\") and\n"
    "rdv_context_options_from_env(). With --faults, RDV_FAULTS and\n"
    "RDV_SEED are set too, and librdv inside PROG injects the faults\n"
    "itself. The job is judged by ranks-ok (every rank exits 0; under a\n"
    "fatal fault every survivor fails), no-hang (none still running at\n"
    "the deadline) and no-leak (no process left in the group, no key\n"
    "left under the job's prefix). With --context-checks, also by\n"
    "mesh-consistent, from what each rank's librdv reports of its\n"
    "context (RDV_CONTEXT_REPORT_FD). While the ranks run, stderr shows\n"
    "a live line on a terminal (with --logs), else a line per rank that\n"
    "ends.\n"
    "\n"
    "  -n, --ranks N      1..1024\n"
    "  -s, --store URL    a store every rank can reach after exec:\n"
    "                     file:///dir, redis://host:port, unix:///path,\n"
    "                     tcp://host:port (rdv store-server), plugin:...;\n"
    "                     tcp://host:port?serve=1: the launch serves it\n"
    "                     from a process of its own for the whole job\n"
    "  --faults SPEC      inject faults inside PROG (see rdv faults --list);\n"
    "                     the launch carries out server.* faults itself\n"
    "  --server-restart CMD, --server-pid PID|FILE,\n"
    "  --server-proxy [LISTEN=]HOST:PORT\n"
    "                     where the store's server is, for server.*\n"
    "                     faults, as for rdv run (tcp://...?serve=1 and\n"
    "                     redis:// need none)\n"
    "  --context-checks   judge the program's librdv contexts too:\n"
    "                     mesh-consistent (each rank's socket to each\n"
    "                     peer mirrors the peer's), SKIP naming the ranks\n"
    "                     that reported no context\n"
    "  --seed S           the faults' decisions (RDV_SEED, default 1)\n"
    "  --timeout MS       the whole job's deadline; ranks still running\n"
    "                     are killed (default 60000)\n"
    "  --logs DIR         DIR/rank-R.log (the rank's stdout and stderr),\n"
    "                     DIR/rank-R.faults.log (its fault decisions)\n"
    "  --junit FILE       JUnit XML, one testcase per check\n"
    "  --json             one JSON object on stdout\n"
    "  -v, --verbose      print every check of a passing job too (a job\n"
    "                     under --faults always prints them)\n"
    "\n"
    RDV_EXIT_HELP
    "A failing job prints `replay: rdv launch ...`, which reproduces it.\n";

enum {
    OPT_STORE = 's', OPT_RANKS = 'n',
    OPT_SEED = 0x200, OPT_TIMEOUT, OPT_FAULTS, OPT_LOGS, OPT_JUNIT,
    OPT_JSON, OPT_SERVER_RESTART, OPT_SERVER_PID, OPT_SERVER_PROXY,
    OPT_CONTEXT_CHECKS,
};

static const struct option options[] = {
    {"store", required_argument, NULL, OPT_STORE},
    {"ranks", required_argument, NULL, OPT_RANKS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"faults", required_argument, NULL, OPT_FAULTS},
    {"server-restart", required_argument, NULL, OPT_SERVER_RESTART},
    {"server-pid", required_argument, NULL, OPT_SERVER_PID},
    {"server-proxy", required_argument, NULL, OPT_SERVER_PROXY},
    {"context-checks", no_argument, NULL, OPT_CONTEXT_CHECKS},
    {"logs", required_argument, NULL, OPT_LOGS},
    {"junit", required_argument, NULL, OPT_JUNIT},
    {"json", no_argument, NULL, OPT_JSON},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

typedef struct launch_cmd {
    rdv_launch_config cfg;
    const char *junit;
    int json, verbose;
} launch_cmd;

static int bad_usage(const char *msg)
{
    return rdv_cli_usage_error("rdv launch", msg);
}

static int parse_one(launch_cmd *lc, int c, const char *arg, char *err,
                     size_t errlen)
{
    switch (c) {
    case OPT_STORE: lc->cfg.store_url = arg; return 0;
    case OPT_RANKS:
        return rdv_cli_int("--ranks", arg, 1, RDV_RUN_MAX_RANKS,
                           &lc->cfg.nranks, err, errlen);
    case OPT_SEED: return rdv_cli_u64("--seed", arg, &lc->cfg.seed, err,
                                      errlen);
    case OPT_TIMEOUT:
        return rdv_cli_int("--timeout", arg, 1, 86400000,
                           &lc->cfg.timeout_ms, err, errlen);
    case OPT_FAULTS: lc->cfg.faults_spec = arg; return 0;
    case OPT_SERVER_RESTART: lc->cfg.restart_cmd = arg; return 0;
    case OPT_SERVER_PID: lc->cfg.server_pid = arg; return 0;
    case OPT_SERVER_PROXY: lc->cfg.server_proxy = arg; return 0;
    case OPT_CONTEXT_CHECKS: lc->cfg.context_checks = 1; return 0;
    case OPT_LOGS: lc->cfg.logs_dir = arg; return 0;
    case OPT_JUNIT: lc->junit = arg; return 0;
    case OPT_JSON: lc->json = 1; return 0;
    case 'v': lc->verbose = 1; return 0;
    default:
        snprintf(err, errlen, "unknown option");
        return -1;
    }
}

/* What the options ask once read: 0, RDV_EXIT_USAGE after saying why. */
static int finish_args(launch_cmd *lc)
{
    char err[1024];

    if (!lc->cfg.store_url)
        return bad_usage("--store URL is required");
    if (!lc->cfg.nranks)
        return bad_usage("-n/--ranks N is required");
    if (!lc->cfg.argv || !lc->cfg.argv[0])
        return bad_usage("no program to launch: give it after '--' "
                         "(rdv launch -n 4 --store URL -- ./prog)");
    if (lc->cfg.faults_spec &&
        rdv_faults_parse(lc->cfg.faults_spec, lc->cfg.nranks,
                         &lc->cfg.faults, err, sizeof err)) {
        fprintf(stderr, "rdv launch: --faults: invalid spec: %s\n", err);
        return RDV_EXIT_USAGE;
    }
    if (lc->cfg.logs_dir && mkdir(lc->cfg.logs_dir, 0755) &&
        errno != EEXIST) {
        snprintf(err, sizeof err, "--logs %s: %s", lc->cfg.logs_dir,
                 strerror(errno));
        return bad_usage(err);
    }
    if (lc->junit && rdv_junit_check_path(lc->junit, err, sizeof err))
        return bad_usage(err);
    return 0;
}

/* 0 ok, RDV_EXIT_USAGE after printing why, or -1 for --help. */
static int parse_args(launch_cmd *lc, int argc, char **argv)
{
    char err[512] = "";
    rdv_cli_args a;
    int c, dd = argc;

    lc->cfg.seed = 1;
    lc->cfg.timeout_ms = RDV_LAUNCH_TIMEOUT_DEFAULT;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--") == 0) {
            dd = i;
            break;
        }
    if (dd < argc)
        lc->cfg.argv = argv + dd + 1;
    rdv_cli_args_init(&a, "rdv launch", dd, argv, "s:n:vh", options);
    while ((c = rdv_cli_args_next(&a)) != -1) {
        if (c == 'h')
            return -1;
        if (c == '?')
            return bad_usage(a.err);
        if (parse_one(lc, c, a.arg, err, sizeof err))
            return bad_usage(err);
    }
    return finish_args(lc);
}

static const char *replay_line(const rdv_launch_config *cfg, char *buf,
                               size_t cap)
{
    size_t o = 0;
    char num[64];
    int stripped;

    snprintf(num, sizeof num, "%d", cfg->nranks);
    o += (size_t)snprintf(buf, cap, "rdv launch -n %s --store ", num);
    stripped = rdv_replay_store(cfg->store_url, buf, cap, &o);
    snprintf(num, sizeof num, " --seed %llu --timeout %d",
             (unsigned long long)cfg->seed, cfg->timeout_ms);
    if (o < cap)
        o += (size_t)snprintf(buf + o, cap - o, "%s", num);
    if (cfg->faults_spec && o + 10 < cap) {
        o += (size_t)snprintf(buf + o, cap - o, " --faults ");
        rdv_shell_quote(cfg->faults_spec, buf, cap, &o);
    }
    rdv_replay_server_options(cfg->restart_cmd, cfg->server_pid,
                              cfg->server_proxy, buf, cap, &o);
    if (cfg->context_checks && o + 20 < cap)
        o += (size_t)snprintf(buf + o, cap - o, " --context-checks");
    if (o + 4 < cap)
        o += (size_t)snprintf(buf + o, cap - o, " --");
    for (char **a = cfg->argv; *a && o + 2 < cap; a++) {
        o += (size_t)snprintf(buf + o, cap - o, " ");
        rdv_shell_quote(*a, buf, cap, &o);
    }
    rdv_replay_note(stripped, buf, cap, &o);
    return buf;
}

/* The fault and what it must do, for the reader of a fault run. Server
 * faults are the parent's, not in the ranks' masks: a plan with one is
 * never said to have taken effect nowhere. */
static void fault_line(char *buf, size_t cap, const rdv_launch_config *cfg,
                       const rdv_launch_report *rep)
{
    const rdv_faults_expect *x = &rep->expect;
    size_t o = (size_t)snprintf(buf, cap, "fault: %s: %s%s",
                                rdv_faults_text(cfg->faults),
                                x->fatal ? "fatal" : "not fatal",
                                !rep->fired_known
                                    ? " (as written: no rank's librdv said "
                                      "what fired)"
                                : rep->fired || rdv_faults_needs(cfg->faults)
                                    ? ""
                                    : " (it took effect in no rank)");

    if (x->fatal && x->culprit >= 0 && o < cap)
        o += (size_t)snprintf(buf + o, cap - o, ", culprit rank %d",
                              x->culprit);
    if (x->fatal && x->key[0] && o < cap)
        snprintf(buf + o, cap - o, ", culprit key '%s'", x->key);
}

static void print_text(const launch_cmd *lc, const rdv_launch_report *rep)
{
    const rdv_launch_config *cfg = &lc->cfg;
    char line[8192], shown[1024];

    printf("launch %s: %s in %.1f ms (%d rank%s, %s)\n", rep->job,
           rdv_check_verdict_name(rdv_checks_verdict(rep->checks,
                                                     rep->nchecks)),
           rep->elapsed_ms, cfg->nranks,
           cfg->nranks == 1 ? "" : "s",
           rdv_url_redact(cfg->store_url, shown, sizeof shown));
    if (cfg->faults) {
        fault_line(line, sizeof line, cfg, rep);
        printf("%s\n", line);
    }
    for (int r = 0; r < cfg->nranks; r++) {
        const rdv_rank_exit *e = &rep->exits[r];

        if (e->hung)
            printf("  rank %-4d pid %-7d killed at the deadline\n", r,
                   (int)e->pid);
        else if (e->signo)
            printf("  rank %-4d pid %-7d signal %d (%s)\n", r, (int)e->pid,
                   e->signo, strsignal(e->signo));
        else
            printf("  rank %-4d pid %-7d exit %d\n", r, (int)e->pid,
                   e->code);
    }
    /* Under faults every check is shown: a pass then says why (every
     * survivor failed, as the fault requires). */
    for (int i = 0; i < rep->nchecks; i++)
        if (lc->verbose || cfg->faults ||
            rep->checks[i].verdict != RDV_CHECK_PASS)
            rdv_report_print_check(stdout, &rep->checks[i]);
    if (cfg->logs_dir)
        printf("logs: %s/rank-R.log%s\n", cfg->logs_dir,
               cfg->faults ? ", rank-R.faults.log" : "");
    if (rep->failed)
        printf("replay: %s\n", replay_line(cfg, line, sizeof line));
}

static void print_json(const launch_cmd *lc, const rdv_launch_report *rep)
{
    const rdv_launch_config *cfg = &lc->cfg;
    char line[8192];

    fputs("{\"version\":1,\"type\":\"launch\",\"job\":", stdout);
    rdv_json_put_string(stdout, rep->job);
    fputs(",\"store\":", stdout);
    rdv_json_put_string(stdout, rdv_url_redact(cfg->store_url, line,
                                               sizeof line));
    printf(",\"ranks\":%d,\"seed\":%llu,\"timeout_ms\":%d,\"passed\":%s,"
           "\"verdict\":\"%s\",\"elapsed_ms\":%.1f,\"faults\":",
           cfg->nranks, (unsigned long long)cfg->seed, cfg->timeout_ms,
           rep->failed ? "false" : "true",
           rdv_check_verdict_name(rdv_checks_verdict(rep->checks,
                                                     rep->nchecks)),
           rep->elapsed_ms);
    if (cfg->faults)
        rdv_json_put_string(stdout, rdv_faults_text(cfg->faults));
    else
        fputs("null", stdout);
    printf(",\"fatal\":%s,\"culprit\":%d,\"fired_known\":%s,"
           "\"fired_mask\":%llu,\"context_checks\":%s,\"exits\":[",
           rep->expect.fatal ? "true" : "false", rep->expect.culprit,
           rep->fired_known ? "true" : "false",
           (unsigned long long)rep->fired,
           cfg->context_checks ? "true" : "false");
    for (int r = 0; r < cfg->nranks; r++)
        printf("%s{\"rank\":%d,\"pid\":%d,\"exit_code\":%d,\"signal\":%d,"
               "\"hung\":%s}", r ? "," : "", r, (int)rep->exits[r].pid,
               rep->exits[r].code, rep->exits[r].signo,
               rep->exits[r].hung ? "true" : "false");
    fputs("],\"checks\":[", stdout);
    for (int i = 0; i < rep->nchecks; i++) {
        printf("%s{\"name\":\"%s\",\"verdict\":\"%s\",\"detail\":",
               i ? "," : "", rep->checks[i].name,
               rdv_check_verdict_name(rep->checks[i].verdict));
        rdv_json_put_string(stdout, rep->checks[i].detail);
        fputs("}", stdout);
    }
    fputs("],\"replay\":", stdout);
    rdv_json_put_string(stdout, replay_line(cfg, line, sizeof line));
    fputs("}\n", stdout);
}

/* One JUnit testcase per check, or one <error> when nothing ran. */
static int write_junit(const launch_cmd *lc, const rdv_launch_report *rep,
                       const char *could_not)
{
    rdv_junit_case cases[RDV_LAUNCH_CHECKS_MAX];
    char label[200], err[512], replay[4096];
    size_t n = could_not ? 1 : (size_t)rep->nchecks;

    memset(cases, 0, sizeof cases);
    rdv_junit_store_label(lc->cfg.store_url, label, sizeof label);
    replay_line(&lc->cfg, replay, sizeof replay);
    for (size_t i = 0; i < n; i++) {
        rdv_junit_case *c = &cases[i];

        snprintf(c->classname, sizeof c->classname, "rdv.launch.%s", label);
        snprintf(c->name, sizeof c->name, "%s N=%d seed=%llu%s%.150s",
                 could_not ? "launch" : rep->checks[i].name,
                 lc->cfg.nranks, (unsigned long long)lc->cfg.seed,
                 lc->cfg.faults_spec ? " faults=" : "",
                 lc->cfg.faults_spec ? lc->cfg.faults_spec : "");
        if (could_not) {
            c->error = 1;
            snprintf(c->message, sizeof c->message, "could not run: %.480s",
                     could_not);
            continue;
        }
        c->seconds = i == 0 ? rep->elapsed_ms / 1e3 : 0;
        c->failed = rep->checks[i].verdict == RDV_CHECK_FAIL;
        c->skipped = rep->checks[i].verdict == RDV_CHECK_SKIP;
        snprintf(c->message, sizeof c->message, "%.500s",
                 rep->checks[i].detail);
        if (c->failed)
            c->text = replay;
    }
    if (rdv_junit_write(lc->junit, "rdv launch", cases, n, err, sizeof err)) {
        fprintf(stderr, "rdv launch: %s\n", err);
        return -1;
    }
    return 0;
}

int rdv_cmd_launch(int argc, char **argv)
{
    launch_cmd lc;
    rdv_launch_report *rep = malloc(sizeof *rep);
    char err[1024] = "";
    int code;

    memset(&lc, 0, sizeof lc);
    if (!rep) {
        fprintf(stderr, "rdv launch: out of memory\n");
        return RDV_EXIT_CANNOT_RUN;
    }
    code = parse_args(&lc, argc, argv);
    if (code) {
        if (code < 0)
            fputs(usage, stdout);
        goto out;
    }
    code = rdv_launch_run(&lc.cfg, rep, err, sizeof err);
    if (code == RDV_EXIT_USAGE) {
        bad_usage(err);
        goto out;
    }
    if (code == RDV_EXIT_CANNOT_RUN)
        fprintf(stderr, "rdv launch: could not run: %s\n", err);
    else if (lc.json)
        print_json(&lc, rep);
    else
        print_text(&lc, rep);
    fflush(stdout);
    if (lc.junit && write_junit(&lc, rep, code == RDV_EXIT_CANNOT_RUN
                                             ? err : NULL) &&
        code == RDV_EXIT_OK)
        code = RDV_EXIT_CANNOT_RUN;
out:
    rdv_faults_free(lc.cfg.faults);
    free(rep);
    return code < 0 ? RDV_EXIT_OK : code;
}
