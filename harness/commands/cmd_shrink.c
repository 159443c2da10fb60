/*
 * harness/commands/cmd_shrink.c - `rdv shrink REPLAY-LINE`: makes a
 * failing run smaller while it still fails the same check.
 *
 * Choices, and why:
 * - The input is the replay line itself (`rdv run ...` as run, hunt and
 *   JUnit print it), read back into words (rdv_replay_words) and parsed
 *   with the run options it can hold; the output is a replay line too.
 * - "The same failure" is the same first failed check (ranks-ok,
 *   results-correct, ...): a smaller run that fails another way, or
 *   passes, is not kept.
 * - Greedy, one dimension at a time, smallest first: fewer ranks, no
 *   faults (then one statement less), a lower pct depth, one workload
 *   step (then one step less), then one fault parameter narrower (ms,
 *   p or times halved, one rank, peer or op kept: shrink_faults.c).
 *   Passes repeat until one changes nothing, bounded by --max-tries:
 *   every try is a whole run.
 * - Each try gets a runner of its own: the rank count sizes the result
 *   area, and the store is opened again as the run would open it.
 * - A changed rank count or depth changes what the schedule's seed
 *   means: the schedule is kept by its seed, not by its order of ops.
 *   At fewer ranks the next RESEEDS seeds are tried as well (a short
 *   hunt, within half of --max-tries), since the line's seed there is
 *   just another schedule.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "common/cli_args.h"
#include "commands/commands.h"
#include "commands/shrink.h"
#include "report/replay.h"
#include "report/report_text.h"

#define MAX_WORDS 64
#define TEXT_MAX SHRINK_TEXT_MAX
#define NARROWINGS_MAX 64
#define RESEEDS 10 /* schedule seeds tried after the line's, at fewer ranks */
#define MAX_TRIES_DEFAULT 60

static const char usage[] =
    "usage: rdv shrink [--max-tries N] 'REPLAY-LINE'\n"
    "\n"
    "Makes a failing run smaller while it keeps failing the same check\n"
    "(its first failed one): fewer ranks, fewer faults, a lower pct\n"
    "depth, a shorter workload, narrower faults (a delay's ms or a\n"
    "probability halved, one rank, peer or op kept). REPLAY-LINE is the `rdv run ...` line a\n"
    "failing run, `rdv hunt` or a JUnit report printed, quoted as one\n"
    "argument. Each try is a whole run; tries go to stderr, the smallest\n"
    "failing replay line and the number of tries to stdout.\n"
    "\n"
    "  --max-tries N      stop after N runs (default 60)\n"
    "\n"
    RDV_EXIT_HELP
    "Here 1 means the line fails and a (smaller) failing line was\n"
    "printed; 0 that the line passed, so there was nothing to shrink.\n";

typedef struct shrink_cmd {
    char words_buf[8192];
    char *words[MAX_WORDS];
    int max_tries, tries;
    int narrowed;        /* fault parameters narrowed */
    int reshaped;        /* ranks, depth or workload changes kept */
    int drops_tried;     /* reshaped when dropping faults last failed,
                            + 1 (0: never): a narrower fault cannot make
                            a run without it fail, so no retry */
    uint64_t seed;
    rdv_run_config best; /* the smallest failing run so far */
    rdv_run_config orig;
    char check[64];      /* the failure kept: the first failed check */
    char workload[TEXT_MAX], faults[TEXT_MAX]; /* best's texts */
} shrink_cmd;

enum {
    OPT_STORE = 's', OPT_RANKS = 'n',
    OPT_SEED = 0x200, OPT_SCHEDULE, OPT_CALL_WATCH,
};

/* What a replay line holds (report/replay.c writes it). */
static const struct option line_options[] = {
    {"store", required_argument, NULL, OPT_STORE},
    {"ranks", required_argument, NULL, OPT_RANKS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"workload", required_argument, NULL, RDV_OPT_WORKLOAD},
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
    {NULL, 0, NULL, 0},
};

static int bad_usage(const char *msg)
{
    return rdv_cli_usage_error("rdv shrink", msg);
}

static int line_option(shrink_cmd *sc, int c, const char *arg, char *err,
                       size_t errlen)
{
    rdv_run_config *cfg = &sc->orig;
    int shared = rdv_cli_run_option(c, arg, cfg, err, errlen);

    if (shared)
        return shared < 0 ? -1 : 0;
    switch (c) {
    case OPT_STORE: cfg->store_url = arg; return 0;
    case OPT_RANKS:
        return rdv_cli_int("--ranks", arg, 1, RDV_RUN_MAX_RANKS,
                           &cfg->nranks, err, errlen);
    case OPT_SEED: return rdv_cli_u64("--seed", arg, &sc->seed, err, errlen);
    case OPT_SCHEDULE:
        return rdv_schedule_parse(arg, &cfg->schedule, err, errlen);
    case OPT_CALL_WATCH: cfg->call_watch = 1; return 0;
    default:
        snprintf(err, errlen, "a replay line holds no such option");
        return -1;
    }
}

/* The replay line into sc->orig. 0, or -1 with err. */
static int parse_line(shrink_cmd *sc, const char *line, char *err,
                      size_t errlen)
{
    int n = rdv_replay_words(line, sc->words_buf, sizeof sc->words_buf,
                             sc->words, MAX_WORDS), at = 0, c;
    rdv_cli_args a;

    if (n < 0) {
        snprintf(err, errlen, "the replay line has an unclosed quote or "
                 "is too long");
        return -1;
    }
    while (at < n && strcmp(sc->words[at], "run") != 0)
        at++;
    if (at == n || at > 1) {
        snprintf(err, errlen, "expected a replay line: rdv run --store URL "
                 "--ranks N ...");
        return -1;
    }
    sc->seed = 1;
    sc->orig.prog = at ? sc->words[0] : "rdv";
    rdv_cli_args_init(&a, "rdv shrink: the replay line", n - at,
                      sc->words + at, "s:n:", line_options);
    while ((c = rdv_cli_args_next(&a)) != -1) {
        if (c == '?') {
            snprintf(err, errlen, "%s", a.err);
            return -1;
        }
        if (line_option(sc, c, a.arg, err, errlen))
            return -1;
    }
    if (!sc->orig.store_url || !sc->orig.nranks) {
        snprintf(err, errlen, "the replay line needs --store and --ranks");
        return -1;
    }
    return 0;
}

/* 0 ok, RDV_EXIT_USAGE after printing why, or -1 for --help. */
static int parse_args(shrink_cmd *sc, int argc, char **argv)
{
    const char *line = NULL;
    char err[512];

    sc->max_tries = MAX_TRIES_DEFAULT;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return -1;
        if (!strcmp(argv[i], "--max-tries") && i + 1 < argc) {
            if (rdv_cli_int("--max-tries", argv[++i], 1, 100000,
                            &sc->max_tries, err, sizeof err))
                return bad_usage(err);
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            snprintf(err, sizeof err, "unknown option '%s' (quote the "
                     "replay line as one argument)", argv[i]);
            return bad_usage(err);
        } else if (line) {
            return bad_usage("one replay line, quoted as one argument");
        } else {
            line = argv[i];
        }
    }
    if (!line)
        return bad_usage("a replay line is required");
    if (parse_line(sc, line, err, sizeof err))
        return bad_usage(err);
    return 0;
}

/* One run of cand. Its first failed check's name goes into failed ("" =
 * passed). 0, or -1 with err when the run is not valid or could not
 * run. */
static int run_once(shrink_cmd *sc, const rdv_run_config *cand,
                    char *failed, size_t cap, char *err, size_t errlen)
{
    rdv_run_config c = *cand;
    rdv_run_report *rep = malloc(sizeof *rep);
    rdv_runner *runner = NULL;
    const rdv_check *k;
    int rc = -1;

    failed[0] = '\0';
    c.faults = NULL;
    if (!rep) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (rdv_run_config_finish(&c, err, errlen))
        goto out;
    sc->tries++;
    if (rdv_runner_create(&c, &runner, err, errlen) == RDV_OK &&
        rdv_runner_run(runner, sc->seed, rep, err, errlen) == 0) {
        if ((k = rdv_report_first_failed(rep)))
            snprintf(failed, cap, "%s", k->name);
        rc = 0;
    }
    rdv_runner_destroy(runner);
    rdv_run_config_release(&c);
out:
    free(rep);
    return rc;
}

/* Tries cand, described by what; keeps it as the best when it fails the
 * same check. Returns 1 when kept. */
static int try_keep(shrink_cmd *sc, const rdv_run_config *cand,
                    const char *what)
{
    char failed[64], err[512];

    if (sc->tries >= sc->max_tries)
        return 0;
    if (run_once(sc, cand, failed, sizeof failed, err, sizeof err)) {
        fprintf(stderr, "shrink: %s: not a run: %s\n", what, err);
        return 0;
    }
    if (strcmp(failed, sc->check) != 0) {
        fprintf(stderr, "shrink: try %d, %s: %s%s\n", sc->tries, what,
                failed[0] ? "fails " : "passes", failed);
        return 0;
    }
    fprintf(stderr, "shrink: try %d, %s: fails %s, kept\n", sc->tries,
            what, failed);
    sc->best = *cand;
    return 1;
}

/* Keeps text as best's workload or faults, so best owns it. */
static const char *own(char *dst, const char *text)
{
    if (!text)
        return NULL;
    if (dst != text)
        snprintf(dst, TEXT_MAX, "%s", text);
    return dst;
}

/* Fewer ranks: every smaller count with the line's seed first. In a
 * sequenced run, a smaller rank count makes the schedule's seed another
 * order of ops, so the seeds after it are tried next, seed by seed over
 * every count: a race that needs 3 ranks is found again at 3 by a short
 * hunt. That hunt stops at half of --max-tries, so from 8 ranks it
 * cannot spend the tries the faults and the workload need. */
static int shrink_ranks(shrink_cmd *sc)
{
    int reseeds = sc->best.schedule.kind == RDV_SCHEDULE_NONE ? 0
                                                               : RESEEDS;

    for (int k = 0; k <= reseeds; k++)
        for (int n = 2; n < sc->best.nranks; n++) {
            rdv_run_config c = sc->best;
            char what[128], sched[64];

            if (sc->tries >= (k ? sc->max_tries / 2 : sc->max_tries))
                return 0;

            c.nranks = n;
            c.schedule.seed += (uint64_t)k;
            if (k)
                snprintf(what, sizeof what, "--ranks %d --schedule %s", n,
                         rdv_schedule_text(&c.schedule, sched,
                                           sizeof sched));
            else
                snprintf(what, sizeof what, "--ranks %d", n);
            if (try_keep(sc, &c, what))
                return 1;
        }
    return 0;
}

static int shrink_depth(shrink_cmd *sc)
{
    if (sc->best.schedule.kind != RDV_SCHEDULE_PCT)
        return 0;
    for (int d = 1; d < sc->best.schedule.depth; d++) {
        rdv_run_config c = sc->best;
        char what[64];

        c.schedule.depth = d;
        snprintf(what, sizeof what, "depth %d", d);
        if (try_keep(sc, &c, what))
            return 1;
    }
    return 0;
}

/* list without item skip (or with only item only, when only >= 0). */
static void join_items(const char **start, const size_t *len, int n,
                       int skip, int only, char sep, char *out)
{
    size_t off = 0;

    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (i == skip || (only >= 0 && i != only))
            continue;
        off += (size_t)snprintf(out + off, TEXT_MAX - off, "%s%.*s",
                                off ? (char[]){sep, 0} : "", (int)len[i],
                                start[i]);
        if (off >= TEXT_MAX)
            break;
    }
}

static int shrink_faults(shrink_cmd *sc)
{
    const char *start[32];
    size_t len[32];
    char text[TEXT_MAX];
    rdv_run_config c = sc->best;
    int n;

    if (!sc->best.faults_spec || sc->drops_tried == sc->reshaped + 1)
        return 0;
    sc->drops_tried = sc->reshaped + 1;
    c.faults_spec = NULL;
    if (try_keep(sc, &c, "no faults")) {
        sc->best.faults_spec = NULL;
        return 1;
    }
    n = shrink_split_items(sc->best.faults_spec, ';', start, len, 32);
    for (int i = 0; n > 1 && i < n; i++) {
        char what[128];

        join_items(start, len, n, i, -1, ';', text);
        c = sc->best;
        c.faults_spec = text;
        snprintf(what, sizeof what, "without fault %d of %d", i + 1, n);
        if (try_keep(sc, &c, what)) {
            sc->best.faults_spec = own(sc->faults, text);
            return 1;
        }
    }
    return 0;
}

/* One fault parameter narrower (shrink_faults.c): a candidate that does
 * not parse (rank= for a kind without ranks) is no try. */
static int shrink_fault_params(shrink_cmd *sc)
{
    shrink_candidate *cands = malloc(NARROWINGS_MAX * sizeof *cands);
    int n, kept = 0;

    if (!cands || !sc->best.faults_spec) {
        free(cands);
        return 0;
    }
    n = shrink_fault_narrowings(sc->best.faults_spec, sc->best.nranks,
                                cands, NARROWINGS_MAX);
    for (int i = 0; i < n && !kept && sc->tries < sc->max_tries; i++) {
        rdv_run_config c = sc->best, check;
        char err[512];

        c.faults_spec = cands[i].spec;
        c.faults = NULL;
        check = c;
        if (rdv_run_config_finish(&check, err, sizeof err))
            continue;
        rdv_run_config_release(&check);
        if (try_keep(sc, &c, cands[i].what)) {
            sc->best.faults_spec = own(sc->faults, cands[i].spec);
            sc->narrowed++;
            kept = 1;
        }
    }
    free(cands);
    return kept;
}

static int shrink_workload(shrink_cmd *sc)
{
    const char *start[32];
    size_t len[32];
    char text[TEXT_MAX];
    int n = shrink_split_items(sc->best.workload_spec ? sc->best.workload_spec
                                               : RDV_WORKLOAD_DEFAULT,
                        ',', start, len, 32);

    for (int pass = 0; n > 1 && pass < 2; pass++)
        for (int i = 0; i < n; i++) {
            rdv_run_config c = sc->best;
            char what[TEXT_MAX + 32];

            /* one step alone first, then one step less */
            join_items(start, len, n, pass ? i : -1, pass ? -1 : i, ',',
                       text);
            c.workload_spec = text;
            snprintf(what, sizeof what, "--workload %s", text);
            if (try_keep(sc, &c, what)) {
                sc->best.workload_spec = own(sc->workload, text);
                return 1;
            }
        }
    return 0;
}

static void print_result(const shrink_cmd *sc)
{
    char line[4096];
    rdv_run_config shown = sc->best;
    char err[256];

    /* the line prints the parsed faults: parse them for it */
    shown.faults = NULL;
    if (rdv_run_config_finish(&shown, err, sizeof err))
        shown.faults = NULL;
    printf("shrink: %d tries: ranks %d -> %d, depth ", sc->tries,
           sc->orig.nranks, sc->best.nranks);
    if (sc->best.schedule.kind == RDV_SCHEDULE_PCT)
        printf("%d -> %d", sc->orig.schedule.depth,
               sc->best.schedule.depth);
    else
        printf("-");
    if (sc->best.schedule.seed != sc->orig.schedule.seed)
        printf(", schedule seed %llu -> %llu",
               (unsigned long long)sc->orig.schedule.seed,
               (unsigned long long)sc->best.schedule.seed);
    printf(", faults %s", sc->best.faults_spec
                               ? (sc->orig.faults_spec == sc->best.faults_spec
                                      ? "kept" : sc->narrowed ? "narrowed"
                                                              : "fewer")
                               : sc->orig.faults_spec ? "none" : "-");
    if (sc->narrowed)
        printf(" (%d parameter%s)", sc->narrowed,
               sc->narrowed == 1 ? "" : "s");
    printf(", workload %s; still fails %s\n",
           sc->best.workload_spec == sc->orig.workload_spec ? "kept"
                                                             : "shorter",
           sc->check);
    printf("minimal: %s\n",
           rdv_replay_line(&shown, sc->seed, line, sizeof line));
    rdv_run_config_release(&shown);
}

int rdv_cmd_shrink(int argc, char **argv)
{
    shrink_cmd *sc = calloc(1, sizeof *sc);
    char err[512];
    int code, changed;

    if (!sc)
        return RDV_EXIT_CANNOT_RUN;
    code = parse_args(sc, argc, argv);
    if (code) {
        if (code < 0)
            fputs(usage, stdout);
        free(sc);
        return code < 0 ? RDV_EXIT_OK : code;
    }
    if (run_once(sc, &sc->orig, sc->check, sizeof sc->check, err,
                 sizeof err)) {
        fprintf(stderr, "rdv shrink: the replay line could not run: %s\n",
                err);
        free(sc);
        return RDV_EXIT_CANNOT_RUN;
    }
    if (!sc->check[0]) {
        printf("shrink: the replay line passed: nothing to shrink\n");
        free(sc);
        return RDV_EXIT_OK;
    }
    fprintf(stderr, "shrink: try 1, the line as given: fails %s\n",
            sc->check);
    sc->best = sc->orig;
    do {
        int (*const reshape[])(shrink_cmd *) = {
            shrink_ranks, shrink_faults, shrink_depth, shrink_workload,
        };

        changed = 0;
        for (size_t i = 0; i < sizeof reshape / sizeof reshape[0]; i++)
            if (reshape[i](sc))
                changed = ++sc->reshaped;
        changed |= shrink_fault_params(sc);
    } while (changed && sc->tries < sc->max_tries);
    print_result(sc);
    free(sc);
    return RDV_EXIT_FAIL;
}
