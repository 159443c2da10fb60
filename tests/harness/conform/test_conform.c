/*
 * test_conform.c - `rdv conform` has teeth: run as a user runs it (the
 * real rdv binary, real dlopen'd plugins, real SQLite files, real forked
 * processes), it flags every broken plugin on the clause its bug breaks,
 * and only there; it survives a store that segfaults; and the SQLite
 * example and the built-in stores pass every clause.
 *
 * Paths come from CMake: RDV_BIN (the rdv binary), RDV_SQLITE_PLUGIN,
 * RDV_BROKEN_DIR (tests/plugins). Runs use --quick and small --ranks to
 * keep the suite short; CI's full certification runs are listed in the
 * report of issue 8.
 *
 * Tests named deadline_* bound how long conform takes on a store that
 * hangs (a generous deadline, not a speed) or loop a race ten times;
 * ctest runs them as conform_deadlines, labelled timing.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "redis_util.h" /* a private redis-server */

typedef struct conform_run {
    int status; /* exit code, or 128 + signal */
    char *out;  /* stdout */
    double secs; /* how long it took */
} conform_run;

static char tmpdir[] = "/tmp/rdv-conform-test-XXXXXX";

static void setup(void)
{
    cr_assert(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
}

static void teardown(void)
{
    char cmd[256];

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(conform, .init = setup, .fini = teardown, .timeout = 600);

/* Runs `rdv conform ARGS...` (NULL-terminated), collecting stdout. */
static conform_run run_conform(const char *const *args)
{
    const char *argv[32] = {RDV_BIN, "conform"};
    conform_run r = {0};
    size_t len = 0, cap = 1 << 16;
    int fds[2], status;
    struct timespec t0, t1;
    ssize_t got;
    pid_t pid;

    for (int i = 0; args[i]; i++)
        argv[2 + i] = args[i];
    cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    fflush(NULL);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        execv(RDV_BIN, (char *const *)argv);
        _exit(127); /* exec failed: skip the test runner's atexit work */
    }
    close(fds[1]);
    r.out = malloc(cap);
    while ((got = read(fds[0], r.out + len, cap - len - 1)) > 0 ||
           (got < 0 && errno == EINTR)) {
        len += got > 0 ? (size_t)got : 0;
        if (cap - len < 4096)
            r.out = realloc(r.out, cap *= 2);
    }
    r.out[len] = '\0';
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    r.status = WIFEXITED(status) ? WEXITSTATUS(status)
                                 : 128 + WTERMSIG(status);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    r.secs = (double)(t1.tv_sec - t0.tv_sec) +
             (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    return r;
}

/* The RESULT column of clause name's row ("PASS", "FAIL", "SKIP"), and
 * its evidence; NULL when the report has no such row. */
static const char *verdict(const conform_run *r, const char *name,
                           const char **evidence)
{
    static char result[8];
    size_t n = strlen(name);

    for (const char *line = r->out; line && *line;) {
        const char *next = strchr(line, '\n');

        if (strncmp(line, name, n) == 0 && line[n] == ' ') {
            char group[32];
            const char *ev = strstr(line, "ms  ");

            if (sscanf(line + n, " %31s %7s", group, result) != 2)
                return NULL;
            if (evidence)
                *evidence = ev ? ev + 4 : "";
            return result;
        }
        line = next ? next + 1 : NULL;
    }
    return NULL;
}

static int in_list(const char *const *list, const char *name)
{
    for (int i = 0; list && list[i]; i++)
        if (strcmp(list[i], name) == 0)
            return 1;
    return 0;
}

/* 1 when group is one of the report's clause groups. */
static int is_group(const char *group)
{
    return strcmp(group, "single-process") == 0 ||
           strcmp(group, "multi-process") == 0 ||
           strcmp(group, "rendezvous") == 0 || strcmp(group, "faults") == 0;
}

/* The clause names of `rdv conform --list`, comma-joined, leaving out
 * the ones that drive whole `rdv run`s (covered by the passing stores). */
static void store_clauses(char *buf, size_t cap)
{
    const char *const args[] = {"--list", NULL};
    conform_run r = run_conform(args);
    size_t o = 0;

    cr_assert_eq(r.status, 0, "rdv conform --list: exit %d", r.status);
    buf[0] = '\0';
    for (const char *line = r.out; line && *line;) {
        const char *next = strchr(line, '\n');
        char name[48], group[32];

        if (sscanf(line, "%47s %31s", name, group) == 2 &&
            is_group(group) && strcmp(group, "rendezvous") != 0 &&
            strncmp(name, "faults-run", 10) != 0)
            o += (size_t)snprintf(buf + o, cap - o, "%s%s", o ? "," : "",
                                  name);
        line = next ? next + 1 : NULL;
    }
    free(r.out);
}

/* Checks every row: a clause in must_fail is FAIL (with evidence
 * holding needle), one in may_fail may be anything, every other is PASS
 * or, when skips_ok, SKIP. */
static void expect_rows(const conform_run *r, const char *const *must_fail,
                        const char *const *may_fail, const char *needle,
                        int skips_ok)
{
    int rows = 0;

    for (const char *line = strchr(r->out, '\n'); line && line[1];
         line = strchr(line + 1, '\n')) {
        char name[48], group[32], result[8];
        const char *ev = NULL;

        if (sscanf(line + 1, "%47s %31s %7s", name, group, result) != 3 ||
            !is_group(group))
            continue;
        rows++;
        verdict(r, name, &ev);
        if (in_list(must_fail, name)) {
            cr_expect_str_eq(result, "FAIL", "clause %s should fail: %s",
                             name, ev);
            if (needle)
                cr_expect(strstr(ev, needle), "clause %s: evidence '%s' "
                          "lacks '%s'", name, ev, needle);
        } else if (!in_list(may_fail, name)) {
            cr_expect(strcmp(result, "PASS") == 0 ||
                      (skips_ok && strcmp(result, "SKIP") == 0),
                      "clause %s: %s: %s", name, result, ev);
        }
    }
    cr_expect_gt(rows, 0, "no clause rows in:\n%s", r->out);
}

static void plugin_url(char *url, size_t cap, const char *so)
{
    snprintf(url, cap, "plugin:%s?db=%s/kv.db", so, tmpdir);
}

/* ---- correct stores pass every clause ------------------------------ */

static void expect_all_pass(const char *url, const char *ranks,
                            int skips_ok)
{
    char junit[300];
    const char *const args[] = {"--store", url, "--quick", "--ranks", ranks,
                                "--junit", junit, NULL};
    conform_run r;
    FILE *f;

    snprintf(junit, sizeof junit, "%s/conform.xml", tmpdir);
    r = run_conform(args);
    expect_rows(&r, NULL, NULL, NULL, skips_ok);
    cr_expect_eq(r.status, 0, "rdv conform %s: exit %d\n%s", url, r.status,
                 r.out);
    cr_expect(strstr(r.out, "\nPASS: "), "no PASS verdict line");
    cr_expect(strstr(r.out, " reaches level full: ") &&
              strstr(r.out, ", 0 failed, "), "no grep-able verdict line "
              "'conform: ... reaches level full: N passed, 0 failed, N "
              "n/a':\n%s", r.out);
    f = fopen(junit, "r");
    cr_expect(f, "no JUnit file %s", junit);
    if (f)
        fclose(f);
    free(r.out);
}

/* A rendezvous clause passes on a clean run, whose error-quality check
 * has no failed rank to judge: its evidence counts what passed and
 * names what was skipped and why, never "7 checks passed". */
Test(conform, rendezvous_evidence_names_the_skipped_checks)
{
    const char *const args[] = {"--store", "hash:?shared=1", "--ranks", "2",
                                "--only", "rendezvous-2", NULL};
    conform_run r = run_conform(args);
    const char *ev = NULL;

    cr_expect_eq(r.status, 0, "exit %d\n%s", r.status, r.out);
    cr_expect_str_eq(verdict(&r, "rendezvous-2", &ev), "PASS", "%s", r.out);
    cr_expect(ev && strstr(ev, "2 ranks: 6 of 7 checks passed in ") &&
                  strstr(ev, "; skipped: error-quality (no rank failed: no "
                             "error message to judge)"),
              "%s", ev ? ev : r.out);
    free(r.out);
}

Test(conform, sqlite_example_passes_every_clause)
{
    char url[512];

    if (!RDV_SQLITE_PLUGIN[0])
        cr_skip_test("built without the examples (RDV_BUILD_EXAMPLES=OFF)");
    plugin_url(url, sizeof url, RDV_SQLITE_PLUGIN);
    expect_all_pass(url, "2,4", 0);
}

Test(conform, shared_hash_passes_every_clause)
{
    expect_all_pass("hash:?shared=1", "2,4", 0);
}

Test(conform, file_store_passes_every_clause)
{
    char url[300];

    snprintf(url, sizeof url, "file://%s", tmpdir);
    expect_all_pass(url, "2,4", 0);
}

Test(conform, prefix_store_passes_every_clause)
{
    char url[300];

    snprintf(url, sizeof url, "file://%s?prefix=scope-a", tmpdir);
    expect_all_pass(url, "2", 0);
}

Test(conform, process_local_hash_passes_and_skips_shared_clauses)
{
    const char *const args[] = {"--store", "hash:", "--quick", "--ranks", "2",
                                NULL};
    conform_run r = run_conform(args);
    const char *ev = NULL;

    expect_rows(&r, NULL, NULL, NULL, 1);
    cr_expect_eq(r.status, 0, "exit %d\n%s", r.status, r.out);
    cr_expect_str_eq(verdict(&r, "mp-add", &ev), "SKIP");
    cr_expect(strstr(ev, "process-local"), "%s", ev);
    cr_expect_str_eq(verdict(&r, "set-get", NULL), "PASS");
    free(r.out);
}

/* A private redis-server: conform's timed clauses measure the server's
 * answers, and a shared one may be busy moving another test's 64 MiB. */
Test(conform, redis_passes_every_clause)
{
    redis_server srv = {0};

    redis_server_start(&srv, 0, NULL);
    expect_all_pass(srv.url, "2,4", 0);
    redis_server_stop(&srv);
}

/* ---- every broken plugin is flagged on its clause ------------------ */

typedef struct broken_case {
    const char *so;      /* librdv_broken_<so>.so */
    const char *must[3]; /* clauses that must fail */
    const char *may[6];  /* clauses the bug may also break */
    const char *needle;  /* in the must-fail evidence */
    double deadline_s;   /* the whole run ends by then (0: no bound) */
    const char *level;   /* "reaches level <level>:" (NULL: not checked) */
} broken_case;

static void expect_flagged(const broken_case *bc)
{
    char url[512], so[300], clauses[1024];
    const char *const args[] = {"--store", url, "--quick", "--only", clauses,
                                NULL};
    conform_run r;

    snprintf(so, sizeof so, "%s/librdv_broken_%s.so", RDV_BROKEN_DIR, bc->so);
    plugin_url(url, sizeof url, so);
    store_clauses(clauses, sizeof clauses);
    r = run_conform(args);
    cr_expect_eq(r.status, 1, "%s: exit %d, want 1\n%s", bc->so, r.status,
                 r.out);
    expect_rows(&r, bc->must, bc->may, bc->needle, 0);
    cr_expect(strstr(r.out, "\nFAIL: "), "no FAIL verdict line");
    if (bc->deadline_s)
        cr_expect_leq(r.secs, bc->deadline_s, "%s: conform took %.1f s, "
                      "the deadline is %.0f s:\n%s", bc->so, r.secs,
                      bc->deadline_s, r.out);
    if (bc->level) {
        char line[64];

        snprintf(line, sizeof line, " reaches level %s: ", bc->level);
        cr_expect(strstr(r.out, line), "no '%s' line:\n%s", line, r.out);
    }
    free(r.out);
}

Test(conform, nonatomic_add_fails_mp_add)
{
    broken_case bc = {"add_nonatomic", {"mp-add"}, {"faults-store-delay"},
                      NULL};

    expect_flagged(&bc);
}

Test(conform, create_race_fails_mp_create_only)
{
    broken_case bc = {"create_race", {"mp-create-only"},
                      {"faults-store-delay"}, "create-only set of"};

    expect_flagged(&bc);
}

Test(conform, get_ignoring_timeout_fails_timeout_accuracy)
{
    broken_case bc = {"get_timeout", {"timeout-accuracy"},
                      {"usable-after-timeout", "delete", "multi"},
                      "a call must end at its timeout"};

    expect_flagged(&bc);
}

Test(conform, early_wait_fails_wait_partial)
{
    broken_case bc = {"wait_early", {"wait-partial"}, {"multi"}, NULL};

    expect_flagged(&bc);
}

Test(conform, wait_ok_at_deadline_fails_wait_partial)
{
    broken_case bc = {"wait_timeout_ok",
                      {"wait-partial", "timeout-accuracy", "try-get-missing"},
                      {NULL}, "got RDV_OK"};

    expect_flagged(&bc);
}

Test(conform, truncating_get_fails_large_value)
{
    broken_case bc = {"get_truncates", {"large-value"}, {NULL},
                      "returned 65536 bytes"};

    expect_flagged(&bc);
}

Test(conform, stale_reads_fail_mp_visibility)
{
    broken_case bc = {"stale_reads", {"mp-visibility"}, {NULL}, "stale"};

    expect_flagged(&bc);
}

Test(conform, leaked_keys_fail_mp_close_leaks)
{
    broken_case bc = {"leaks_keys", {"mp-close-leaks"}, {NULL}, ".session/"};

    expect_flagged(&bc);
}

/* The clause nothing else has: "a%2Fb" and "a/b" are one entry in a
 * store that URL-decodes its keys, and every other clause passes. */
Test(conform, merged_keys_fail_distinct_keys_naming_both)
{
    broken_case bc = {"key_merge", {"distinct-keys"}, {NULL},
                      "keys 'a%2Fb' and 'a/b' map to one entry", 0, "none"};

    expect_flagged(&bc);
}

/* The evidence of one row, up to its end of line, in buf. */
static const char *row_evidence(const conform_run *r, const char *name,
                                char *buf, size_t cap)
{
    const char *ev = NULL;
    size_t n;

    if (!verdict(r, name, &ev) || !ev)
        return strcpy(buf, "(no row)");
    n = strcspn(ev, "\n");
    snprintf(buf, cap, "%.*s", (int)(n < cap ? n : cap - 1), ev);
    return buf;
}

/* A failure quotes the call that gave it: its arguments, its status, how
 * long it took (the call watch times every call), and the detail it
 * left, not the detail of the check just before it, which failed too
 * (as it should), with another message. */
Test(conform, failure_quotes_the_call_its_duration_and_its_own_detail)
{
    broken_case bc = {"check_cached", {"try-get-missing"},
                      {"faults-store-delay", "faults-store-error"},
                      "check present: got RDV_ENOTFOUND, want RDV_OK "
                      "[check 'missing' (timeout 0) returned "
                      "RDV_ENOTFOUND after "};
    char url[512], so[300], ev[1200];
    const char *const args[] = {"--store", url, "--quick", "--only",
                                "try-get-missing", NULL};
    const char *ms;
    double took = -1;
    conform_run r;

    expect_flagged(&bc);
    snprintf(so, sizeof so, "%s/librdv_broken_check_cached.so",
             RDV_BROKEN_DIR);
    plugin_url(url, sizeof url, so);
    r = run_conform(args);
    row_evidence(&r, "try-get-missing", ev, sizeof ev);
    ms = strstr(ev, "RDV_ENOTFOUND after ");
    cr_expect(ms && sscanf(ms, "RDV_ENOTFOUND after %lf ms", &took) == 1 &&
                  took >= 0 && took < 2000,
              "no duration of the failing call in: %s", ev);
    /* the plugin names the key as it got it, under the clause's prefix */
    cr_expect(strstr(ev, "(detail: check 'rdvc.") &&
                  strstr(ev, "/missing': missing (remembered from "),
              "the failing call's own detail is not quoted: %s", ev);
    cr_expect(!strstr(ev, "keys missing"),
              "the earlier check's detail is quoted: %s", ev);
    free(r.out);
}

/* A set that blocks is named as such at the bound of a call without a
 * timeout (6 s), in every clause it blocks, a forked child's included:
 * each of these clauses waited 60 s for it before. (The full run: quick
 * stops at the first such clause, below.) */
Test(conform, deadline_blocking_set_is_named_within_seconds)
{
    char url[512], so[300], ev[1200];
    const char *const names[] = {"set-get", "add", "mp-wake", "cleanup"};
    const char *const args[] = {"--store", url, "--only",
                                "set-get,add,mp-wake,cleanup", NULL};
    conform_run r;

    snprintf(so, sizeof so, "%s/librdv_broken_set_hangs.so", RDV_BROKEN_DIR);
    plugin_url(url, sizeof url, so);
    r = run_conform(args);
    cr_expect_eq(r.status, 1, "exit %d, want 1\n%s", r.status, r.out);
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        const char *v = verdict(&r, names[i], NULL);

        row_evidence(&r, names[i], ev, sizeof ev);
        cr_expect(v && strcmp(v, "FAIL") == 0 && strstr(ev, "set '") &&
                      strstr(ev, "blocked for ") &&
                      strstr(ev, ": a set must not block"),
                  "%s: %s: %s", names[i], v ? v : "no row", ev);
    }
    row_evidence(&r, "set-get", ev, sizeof ev);
    cr_expect(strstr(ev, "set 'k' blocked for "), "%s", ev);
    /* 4 clauses x about 6 s; 240 s before */
    cr_expect_leq(r.secs, 60, "conform took %.1f s:\n%s", r.secs, r.out);
    free(r.out);
}

/* Quick mode stops at the first clause a set blocked in: every later
 * clause writes and would pay the 6 s bound again, so they are SKIP,
 * saying where the set blocked. The whole quick run: 142 s before. */
Test(conform, deadline_quick_stops_after_a_blocking_set)
{
    char url[512], so[300], ev[1200];
    const char *const args[] = {"--store", url, "--quick", NULL};
    const char *const later[] = {"add", "mp-create-only", "rendezvous-2",
                                 "faults-run-error"};
    conform_run r;

    snprintf(so, sizeof so, "%s/librdv_broken_set_hangs.so", RDV_BROKEN_DIR);
    plugin_url(url, sizeof url, so);
    r = run_conform(args);
    cr_expect_eq(r.status, 1, "exit %d, want 1\n%s", r.status, r.out);
    row_evidence(&r, "set-get", ev, sizeof ev);
    cr_expect(strstr(ev, "set 'k' blocked for "), "%s", ev);
    for (size_t i = 0; i < sizeof later / sizeof *later; i++) {
        const char *v = verdict(&r, later[i], NULL);

        row_evidence(&r, later[i], ev, sizeof ev);
        cr_expect(v && strcmp(v, "SKIP") == 0 &&
                      strstr(ev, "not run in quick mode: a call without a "
                             "timeout blocked in set-get"),
                  "%s: %s: %s", later[i], v ? v : "no row", ev);
    }
    cr_expect_leq(r.secs, 30, "conform took %.1f s:\n%s", r.secs, r.out);
    free(r.out);
}

/* A try_get that waits for its key is named as such within seconds of
 * its 2 s bound, on every clause it hangs: 3 clauses x about 2 s, with
 * all the rest, well inside the 90 s deadline (it took 3 x 60 s in
 * quick mode before the call watch). */
Test(conform, deadline_blocking_try_get_is_named_within_seconds)
{
    broken_case bc = {"try_get_blocks", {"try-get-missing"},
                      {"distinct-keys", "timeout-accuracy", "delete",
                       "faults-store-delay"},
                      "try_get 'missing' (timeout 0) blocked for", 90,
                      "none"};

    expect_flagged(&bc);
}

Test(conform, deadline_close_not_waking_a_get_is_named)
{
    /* cancel-on-close is a full-level clause: the store still reaches
     * gloo */
    broken_case bc = {"close_no_wake", {"cancel-on-close"}, {NULL},
                      "close did not wake a get blocked with no timeout",
                      90, "gloo"};

    expect_flagged(&bc);
}

/* The worst store: no timeout honoured anywhere, close wakes nothing.
 * Every clause it breaks ends at its call bound (about 2 s), the
 * rendezvous ones too: their runs have the call watch on, so a rank's
 * get that outlives its deadline ends the run and is named, instead of
 * each clause waiting out the run's 61 s deadline (quick conform took
 * 286 s before; about 37 s with it). In quick mode the larger
 * rendezvous-N after a failed one are SKIP, saying why. */
Test(conform, deadline_store_hanging_everywhere_is_named_within_seconds)
{
    char url[512], so[300];
    const char *const args[] = {"--store", url, "--quick", NULL};
    const char *const larger[] = {"rendezvous-4", "rendezvous-8",
                                  "rendezvous-16"};
    const char *ev = NULL;
    conform_run r;

    snprintf(so, sizeof so, "%s/librdv_broken_hangs.so", RDV_BROKEN_DIR);
    plugin_url(url, sizeof url, so);
    r = run_conform(args);
    cr_expect_eq(r.status, 1, "exit %d, want 1\n%s", r.status, r.out);
    cr_expect_str_eq(verdict(&r, "rendezvous-2", &ev), "FAIL", "%s", r.out);
    cr_expect(ev && strstr(ev, "past its deadline") &&
                  strstr(ev, "the store does not honour the call's "
                             "timeout"),
              "rendezvous-2: the overdue call is not named: %s",
              ev ? ev : "(no row)");
    for (size_t i = 0; i < sizeof larger / sizeof *larger; i++) {
        cr_expect_str_eq(verdict(&r, larger[i], &ev), "SKIP", "%s",
                         larger[i]);
        cr_expect(ev && strstr(ev, "not run in quick mode: rendezvous-2 "
                                   "already failed"),
                  "%s: %s", larger[i], ev ? ev : "(no row)");
    }
    cr_expect_leq(r.secs, 120, "conform took %.1f s, the deadline is "
                  "120 s:\n%s", r.secs, r.out);
    free(r.out);
}

/* Runs `rdv conform --quick --only clause` on plugin so ten times; each
 * run must fail the clause with needle in its evidence. */
static void expect_flagged_every_run(const char *so, const char *clause,
                                     const char *needle)
{
    char url[512], path[300];
    const char *const args[] = {"--store", url, "--quick", "--only", clause,
                                NULL};
    int flagged = 0;

    snprintf(path, sizeof path, "%s/librdv_broken_%s.so", RDV_BROKEN_DIR,
             so);
    for (int i = 0; i < 10; i++) {
        const char *ev = "";
        const char *v;
        conform_run r;

        snprintf(url, sizeof url, "plugin:%s?db=%s/run%d.db", path, tmpdir,
                 i);
        r = run_conform(args);
        v = verdict(&r, clause, &ev);
        if (v && strcmp(v, "FAIL") == 0 && strstr(ev, needle))
            flagged++;
        else
            cr_expect(0, "run %d of 10: %s was %s: %s", i + 1, clause,
                      v ? v : "missing", ev ? ev : "");
        cr_expect_eq(r.status, 1, "run %d: exit %d", i + 1, r.status);
        cr_expect_leq(r.secs, 60, "run %d took %.1f s", i + 1, r.secs);
        free(r.out);
    }
    cr_expect_eq(flagged, 10, "%s flagged on %s in %d of 10 runs", so,
                 clause, flagged);
}

/* A create-only set that a second process can still win within 1 ms:
 * racers fire together from a start line, so it is caught every run. */
Test(conform, deadline_create_only_window_of_1ms_is_flagged_every_run)
{
    expect_flagged_every_run("create_window", "mp-create-only",
                             "winners (processes ");
}

/* One add in 50 lost only after a process's 80th add: the add races run
 * hundreds of adds per process even in quick mode. */
Test(conform, deadline_late_lost_add_is_flagged_every_run)
{
    expect_flagged_every_run("add_late_loss", "mp-add", "update(s) lost");
}

/* At --contract-level gloo the full-level clauses are n/a, and the
 * verdict line says which level the store reaches. */
Test(conform, contract_level_gloo_judges_only_the_gloo_clauses)
{
    char url[512];
    const char *const args[] = {"--store", url, "--quick", "--ranks", "2",
                                "--contract-level", "gloo", NULL};
    const char *ev = NULL;
    conform_run r;

    if (!RDV_SQLITE_PLUGIN[0])
        cr_skip_test("built without the examples (RDV_BUILD_EXAMPLES=OFF)");
    plugin_url(url, sizeof url, RDV_SQLITE_PLUGIN);
    r = run_conform(args);
    cr_expect_eq(r.status, 0, "exit %d\n%s", r.status, r.out);
    cr_expect_str_eq(verdict(&r, "mp-add", &ev), "N/A");
    cr_expect(strstr(ev, "level-full clause"), "%s", ev);
    cr_expect_str_eq(verdict(&r, "distinct-keys", NULL), "PASS");
    cr_expect_str_eq(verdict(&r, "set-get", NULL), "PASS");
    cr_expect(strstr(r.out, " reaches level gloo: "), "%s", r.out);
    cr_expect(strstr(r.out, ", 0 failed, "), "%s", r.out);
    free(r.out);
}

Test(conform, lost_writes_fail_cleanup_and_multi)
{
    char url[512], so[300];
    const char *const args[] = {"--store", url, "--quick", "--only",
                                "cleanup,multi", NULL};
    conform_run r;

    snprintf(so, sizeof so, "%s/librdv_broken_loses_writes.so",
             RDV_BROKEN_DIR);
    plugin_url(url, sizeof url, so);
    r = run_conform(args);
    cr_expect_eq(r.status, 1, "exit %d\n%s", r.status, r.out);
    cr_expect_str_eq(verdict(&r, "cleanup", NULL), "FAIL");
    cr_expect_str_eq(verdict(&r, "multi", NULL), "FAIL");
    free(r.out);
}

Test(conform, segfaulting_store_fails_clauses_and_conform_survives)
{
    char url[512], so[300], clauses[1024];
    const char *const args[] = {"--store", url, "--quick", "--only", clauses,
                                NULL};
    const char *ev = NULL;
    conform_run r;

    snprintf(so, sizeof so, "%s/librdv_broken_crash_slash.so",
             RDV_BROKEN_DIR);
    plugin_url(url, sizeof url, so);
    store_clauses(clauses, sizeof clauses);
    r = run_conform(args);
    cr_expect_eq(r.status, 1, "conform itself must exit 1, got %d\n%s",
                 r.status, r.out);
    cr_expect_str_eq(verdict(&r, "odd-keys", &ev), "FAIL");
    cr_expect(strstr(ev, "crashed with SIGSEGV"), "%s", ev);
    cr_expect_str_eq(verdict(&r, "open", NULL), "PASS");
    cr_expect(verdict(&r, "faults-store-delay", NULL), "the report stops "
              "early:\n%s", r.out);
    cr_expect(strstr(r.out, "\nFAIL: "), "no verdict line:\n%s", r.out);
    free(r.out);
}

Test(conform, unopenable_store_fails_open_and_names_why)
{
    const char *const args[] = {"--store", "plugin:./no/such/lib.so",
                                "--quick", "--only", "open,set-get", NULL};
    conform_run r = run_conform(args);
    const char *ev = NULL;

    /* nothing could be certified: exit 3, could not run */
    cr_expect_eq(r.status, 3, "exit %d", r.status);
    cr_expect_str_eq(verdict(&r, "open", &ev), "FAIL");
    cr_expect(strstr(ev, "no such file"), "%s", ev);
    cr_expect_str_eq(verdict(&r, "set-get", &ev), "FAIL");
    free(r.out);
}

Test(conform, bad_usage_exits_2)
{
    const char *const no_store[] = {"--quick", NULL};
    const char *const bad_ranks[] = {"--store", "hash:", "--ranks", "2,x",
                                     NULL};
    const char *const bad_only[] = {"--store", "hash:", "--only", "nope",
                                    NULL};
    const char *const bad_level[] = {"--store", "hash:", "--contract-level",
                                     "most", NULL};
    conform_run r;

    r = run_conform(no_store);
    cr_expect_eq(r.status, 2);
    free(r.out);
    r = run_conform(bad_ranks);
    cr_expect_eq(r.status, 2);
    free(r.out);
    r = run_conform(bad_only);
    cr_expect_eq(r.status, 2);
    free(r.out);
    r = run_conform(bad_level);
    cr_expect_eq(r.status, 2);
    free(r.out);
}
