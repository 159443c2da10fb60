/*
 * tests/harness/test_harness_run.c - the `rdv` binary, judged from the
 * outside on real forked ranks and real stores.
 *
 * - a correct store passes every check that has something to judge
 *   (shared hash, file, the SQLite example plugin), and error-quality,
 *   with no failed rank's message to judge, SKIPs saying so;
 * - each broken store of tests/plugins is flagged by the right check;
 * - a rank that never returns is killed at the deadline and reported by
 *   no-hang with its phase, and the printed replay line reproduces it;
 * - a 50-run matrix leaves no process behind (this test makes itself a
 *   child subreaper, so orphans would land here) and no fd, and its
 *   JUnit file is well-formed XML with one testcase per run;
 * - traces and --json output parse; bad usage exits 2 with a message;
 * - rdv bench rendezvous --impl floor gives its rows and ratios, and
 *   rdv bench store --impl floor its read floor beside the file store;
 * - a late rank waits for a slow server restart planned before it.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sh.h"

static const char *const all_checks[] = {
    "ranks-ok", "mesh-consistent", "results-correct", "results-identical",
    "no-hang", "no-leak",
};

/* A clean run: every check that can judge it passes, and error-quality,
 * with no failing rank, SKIPs with its reason: never PASS. */
static void expect_all_pass(const result *r)
{
    cr_expect_eq(r->code, 0, "exit %d:\n%s", r->code, r->out);
    cr_expect(strstr(r->out, "run seed ") && strstr(r->out, ": PASS in "),
              "%s", r->out);
    for (size_t i = 0; i < sizeof all_checks / sizeof all_checks[0]; i++)
        cr_expect(check_is(r->out, all_checks[i], "PASS"), "%s did not "
                  "pass:\n%s", all_checks[i], r->out);
    cr_expect(check_is(r->out, "error-quality", "SKIP  no rank failed: no "
                       "error message to judge"), "%s", r->out);
}

Test(run, correct_shared_hash_passes_every_check)
{
    result r = rdv("run --store 'hash:?shared=1' --ranks 4 --timeout 30000");

    expect_all_pass(&r);
    free(r.out);
}

Test(run, correct_file_store_passes_every_check)
{
    char dir[256], args[512];
    result r;

    tmpdir(dir, sizeof dir);
    snprintf(args, sizeof args, "run --store 'file://%s?prefix=p' --ranks 3 "
             "--seed 9 --timeout 30000", dir);
    r = rdv(args);
    expect_all_pass(&r);
    free(r.out);
    rm_rf(dir);
}

#ifdef RDV_SQLITE_PLUGIN
Test(run, correct_sqlite_plugin_passes_every_check)
{
    char dir[256], args[1024];
    result r;

    tmpdir(dir, sizeof dir);
    snprintf(args, sizeof args, "run --store 'plugin:%s?db=%s/kv.db' "
             "--ranks 4 --timeout 30000", RDV_SQLITE_PLUGIN, dir);
    r = rdv(args);
    expect_all_pass(&r);
    free(r.out);
    rm_rf(dir);
}
#endif

/* Runs `rdv run` on broken plugin `variant` and expects `check` to fail,
 * its detail holding words (NULL: not checked). The timing options leave
 * a busy machine room for the rendezvous. */
static void expect_flagged_saying(const char *variant, const char *check,
                                  const char *timing, const char *words)
{
    char dir[256], so[512], args[1024];
    result r;

    snprintf(so, sizeof so, "%s/librdv_broken_%s.so", RDV_PLUGIN_DIR,
             variant);
    if (access(so, R_OK) != 0)
        cr_skip_test("%s is not built", so);
    tmpdir(dir, sizeof dir);
    snprintf(args, sizeof args, "run --store 'plugin:%s?db=%s/kv.db' "
             "--ranks 4 %s", so, dir, timing);
    r = rdv(args);
    cr_expect_eq(r.code, 1, "%s: exit %d:\n%s", variant, r.code, r.out);
    cr_expect(check_is(r.out, check, "FAIL"), "%s: %s did not fail:\n%s",
              variant, check, r.out);
    cr_expect(!words || strstr(r.out, words), "%s: no '%s' in:\n%s",
              variant, words, r.out);
    cr_expect(strstr(r.out, "replay: rdv run --store"), "no replay line");
    free(r.out);
    rm_rf(dir);
}

static void expect_flagged(const char *variant, const char *check,
                           const char *timing)
{
    expect_flagged_saying(variant, check, timing, NULL);
}

/* Rendezvous records vanish: the ranks never all meet. */
Test(broken, lost_writes_fail_ranks_ok, .timeout = 240)
{
    expect_flagged("loses_writes", "ranks-ok", "--timeout 2000");
}

/* Peers read a key's old value after its overwrite. */
Test(broken, stale_reads_fail_results_correct, .timeout = 240)
{
    expect_flagged("stale_reads", "results-correct", "--timeout 5000");
}

/* Concurrent adds lose updates: the shared counter comes up short. */
Test(broken, nonatomic_add_fails_results_correct, .timeout = 240)
{
    expect_flagged("add_nonatomic", "results-correct", "--timeout 5000");
}

/* A get that ignores its timeout hangs the rank past the deadline (the
 * plugin holds a get for 10 s; the run's deadline comes first). */
Test(broken, ignored_timeout_fails_no_hang, .timeout = 240)
{
    expect_flagged("get_timeout", "no-hang", "--timeout 3000 --deadline 7000");
}

/* Session keys the store writes and never removes. */
Test(broken, leaked_keys_fail_no_leak, .timeout = 240)
{
    expect_flagged("leaks_keys", "no-leak", "--timeout 5000");
}

/* The store step's probes (workload_store.c) catch, in a plain run of
 * the default workload, the bugs conform's clauses are built for; the
 * detail must say which. */
static void expect_store_defect(const char *variant, const char *words)
{
    expect_flagged_saying(variant, "results-correct", "--timeout 5000",
                          words);
}

Test(broken, truncated_values_fail_results_correct, .timeout = 240)
{
    expect_store_defect("get_truncates", "key kv/big read back 65536 bytes, "
                        "262157 were written (the store truncates");
}

/* Every rank is released at once, three times over (by a barrier, then
 * by the sum that counts the round before); the plugin's 2 ms
 * check-to-write window lets a second creator in. */
Test(broken, create_race_fails_results_correct, .timeout = 240)
{
    expect_store_defect("create_race", "the store let a second writer win");
}

Test(broken, wait_ok_at_deadline_fails_results_correct, .timeout = 240)
{
    expect_store_defect("wait_timeout_ok", "wait of never-written key "
                        "kv/absent/");
}

Test(run, hung_rank_is_killed_and_reported_with_its_phase, .timeout = 240)
{
    result r = rdv("run --store 'hash:?shared=1' --ranks 3 --timeout 4000 "
                   "--workload barrier,spin:rank=1,barrier");
    char *replay, cmd[4096];
    result again;

    cr_expect_eq(r.code, 1, "exit %d:\n%s", r.code, r.out);
    cr_expect(check_is(r.out, "no-hang", "FAIL"), "%s", r.out);
    cr_expect(strstr(r.out, "rank 1 (pid "), "%s", r.out);
    cr_expect(strstr(r.out, "in phase step 1 (spin:rank=1)"), "%s", r.out);
    cr_expect(check_is(r.out, "no-leak", "PASS"), "%s", r.out);
    /* The survivors failed and said which peer they were waiting for. */
    cr_expect(check_is(r.out, "error-quality", "PASS"), "%s", r.out);
    replay = strstr(r.out, "replay: rdv ");
    cr_assert(replay, "no replay line:\n%s", r.out);
    replay += strlen("replay: rdv ");
    replay[strcspn(replay, "\n")] = '\0';
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", RDV_BIN, replay);
    again = sh(cmd);
    cr_expect_eq(again.code, 1, "replay exit %d:\n%s", again.code, again.out);
    cr_expect(check_is(again.out, "no-hang", "FAIL"), "%s", again.out);
    free(again.out);
    free(r.out);
}

Test(run, repeat_counts_runs)
{
    result r = rdv("run --store 'hash:?shared=1' --ranks 2 --repeat 5 "
                   "--workload barrier,allreduce:int64:100:min");

    cr_expect_eq(r.code, 0, "%s", r.out);
    cr_expect(strstr(r.out, "5 runs in"), "%s", r.out);
    cr_expect(strstr(r.out, "5 passed, 0 failed"), "%s", r.out);
    free(r.out);
}

Test(run, trace_json_and_logs_are_written, .timeout = 120)
{
    char dir[256], args[1024], cmd[2048];
    result r, py;

    tmpdir(dir, sizeof dir);
    snprintf(args, sizeof args, "run --store 'hash:?shared=1' --ranks 3 "
             "--json --trace %s/t.json --logs %s/logs", dir, dir);
    r = rdv(args);
    cr_expect_eq(r.code, 0, "%s", r.out);
    snprintf(cmd, sizeof cmd, "python3 -c '\n"
             "import json, sys\n"
             "run = json.loads(sys.argv[2].splitlines()[0])\n"
             "assert run[\"passed\"] and len(run[\"ranks_detail\"]) == 3\n"
             "t = json.load(open(sys.argv[1]))[\"traceEvents\"]\n"
             "names = {e[\"args\"][\"name\"] for e in t if e[\"name\"] == "
             "\"process_name\"}\n"
             "assert names == {\"rank 0\", \"rank 1\", \"rank 2\"}, names\n"
             "ops = [e for e in t if e.get(\"cat\") == \"store\"]\n"
             "assert any(e[\"name\"] == \"set\" for e in ops)\n"
             "assert all(e[\"dur\"] >= 0 for e in ops)\n"
             "phases = {e[\"name\"] for e in t if e.get(\"cat\") == \"phase\"}\n"
             "assert \"connecting\" in phases, phases\n"
             "print(\"ok\")' %s/t.json \"$(cat %s/out.json)\" 2>&1", dir, dir);
    {
        char path[512];
        FILE *f;

        snprintf(path, sizeof path, "%s/out.json", dir);
        f = fopen(path, "w");
        cr_assert(f);
        fputs(r.out, f);
        fclose(f);
    }
    py = sh(cmd);
    cr_expect_eq(py.code, 0, "%s", py.out);
    snprintf(cmd, sizeof cmd, "grep -c 'phase connecting' %s/logs/rank-2.log",
             dir);
    free(py.out);
    py = sh(cmd);
    cr_expect_eq(py.code, 0, "rank-2.log has no phase line: %s", py.out);
    free(py.out);
    free(r.out);
    rm_rf(dir);
}

Test(usage, bad_input_exits_2_with_a_message, .timeout = 120)
{
    static const char *const args[] = {
        "run --store 'hash:?shared=1'",
        "run --ranks 2",
        "run --store 'bogus://x' --ranks 2",
        "run --store 'hash:' --ranks 2",
        "run --store 'hash:?shared=1' --ranks 0",
        "run --store 'hash:?shared=1' --ranks 1025",
        "run --store 'hash:?shared=1' --ranks 4x",
        "run --store 'hash:?shared=1' --ranks 2 --workload 'allreduce:zz'",
        "run --store 'hash:?shared=1' --ranks 2 --workload 'broadcast:root=2'",
        "run --store 'hash:?shared=1' --ranks 2 --transport carrier-pigeon",
        "run --store 'hash:?shared=1' --ranks 2 --seed -1",
        "run --store 'hash:?shared=1' --ranks 2 --no-such-option",
        "run --store 'hash:?shared=1' --ranks 2 extra",
        "matrix --ranks 2,,4",
        "matrix --seeds 9-1",
        "matrix --store 'hash:?shared=1' --workload nope",
        "nonsense",
        "",
    };

    for (size_t i = 0; i < sizeof args / sizeof args[0]; i++) {
        result r = rdv(args[i]);

        cr_expect_eq(r.code, 2, "'rdv %s' exited %d:\n%s", args[i], r.code,
                     r.out);
        cr_expect(strlen(r.out) > 10, "'rdv %s' said nothing", args[i]);
        free(r.out);
    }
}

/* Server faults on a store URL that cannot take them are a usage error
 * told before anything runs or connects, naming the URL without its
 * password; so is a store private to one process, told by its flags. */
Test(usage, server_faults_on_a_url_that_cannot_take_them, .timeout = 120)
{
    static const struct {
        const char *args, *want;
    } cases[] = {
        {"run --store 'unix:///nonexistent/r.sock?password=hunter2' "
         "--ranks 2 --faults 'server.reset(after=10)'",
         "'unix:///nonexistent/r.sock?password=***'"},
        {"run --store 'plugin:./libnone.so' --ranks 2 "
         "--faults 'server.latency(ms=5)'",
         "needs a redis://host[:port] store URL, not 'plugin:./libnone.so'"},
        {"run --store 'hash:?shared=1' --ranks 2 "
         "--faults 'server.pause(after=10, ms=10)'",
         "'hash:?shared=1' is not a redis:// or unix:// store URL"},
        {"run --store 'hash:?prefix=p' --ranks 2",
         "'hash:?prefix=p' is private to one process"},
        /* found by --check already, not by a run that fails later */
        {"faults --check 'server.pause(after=10, ms=10)' "
         "--store 'hash:?shared=1'",
         "'hash:?shared=1' is not a redis:// or unix:// store URL"},
        {"faults --check 'server.reset(after=10)' "
         "--store 'file:///tmp/x?password=hunter2'",
         "needs a redis://host[:port] store URL"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        result r = rdv(cases[i].args);

        cr_expect_eq(r.code, 2, "'rdv %s' exited %d:\n%s", cases[i].args,
                     r.code, r.out);
        cr_expect(strstr(r.out, cases[i].want), "'rdv %s' does not say "
                  "%s:\n%s", cases[i].args, cases[i].want, r.out);
        cr_expect(!strstr(r.out, "hunter2"),
                  "'rdv %s' shows the password:\n%s", cases[i].args, r.out);
        free(r.out);
    }
}

/* Every numeric option goes through one parser: a number with trailing
 * text, an empty one, a negative one, one with a blank or a sign, and
 * one past 64 bits are usage errors that name the option and quote the
 * text, never read as something else. */
Test(usage, bad_numbers_name_the_option, .timeout = 120)
{
    static const struct {
        const char *args, *option, *text;
    } cases[] = {
        {"run --store 'hash:?shared=1' --ranks 2 --timeout 12x", "--timeout",
         "'12x'"},
        {"run --store 'hash:?shared=1' --ranks 2 --timeout ''", "--timeout",
         "''"},
        {"run --store 'hash:?shared=1' --ranks 2 --deadline ' 5'",
         "--deadline", "' 5'"},
        {"run --store 'hash:?shared=1' --ranks 2 --repeat -1", "--repeat",
         "'-1'"},
        {"run --store 'hash:?shared=1' --ranks +2", "--ranks", "'+2'"},
        {"run --store 'hash:?shared=1' --ranks 2 --seed "
         "18446744073709551616", "--seed", "'18446744073709551616'"},
        {"matrix --ranks 2,x", "--ranks", "'x'"},
        {"matrix --seeds 1-99999999999999999999", "--seeds",
         "'1-99999999999999999999'"},
        {"conform --store hash: --clause-timeout 0x100", "--clause-timeout",
         "'0x100'"},
        {"conform --store hash: --ranks 2,-4", "--ranks", "'-4'"},
        {"faults --check 'store.delay(ms=1)' --ranks 4x", "--ranks", "'4x'"},
        {"faults --check 'store.delay(ms=1)' --seed -1", "--seed", "'-1'"},
        {"bench store --store hash: --ops 12x", "--ops", "'12x'"},
        {"bench store --store hash: --value-size ''", "--value-size", "''"},
        {"bench allreduce --iters 5k", "--iters", "'5k'"},
        {"bench allreduce --timeout -1", "--timeout", "'-1'"},
        {"bench allreduce --ranks 2,65", "--ranks", "'65'"},
        {"bench allreduce --max-size '1 M'", "--max-size", "'1 M'"},
        {"bench rendezvous --runs 0x5", "--runs", "'0x5'"},
        {"bench rendezvous --timeout 5s", "--timeout", "'5s'"},
        {"bench rendezvous --sizes 2,,8", "--sizes", "'2,,8'"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        result r = rdv(cases[i].args);

        cr_expect_eq(r.code, 2, "'rdv %s' exited %d:\n%s", cases[i].args,
                     r.code, r.out);
        cr_expect(strstr(r.out, cases[i].option) &&
                      strstr(r.out, cases[i].text),
                  "'rdv %s' does not name %s and quote %s:\n%s",
                  cases[i].args, cases[i].option, cases[i].text, r.out);
        free(r.out);
    }
}

Test(usage, help_and_version_exit_0)
{
    static const char *const args[] = {"--help", "--version", "run --help",
                                       "matrix --help", "bench --help"};

    for (size_t i = 0; i < sizeof args / sizeof args[0]; i++) {
        result r = rdv(args[i]);

        cr_expect_eq(r.code, 0, "'rdv %s' exited %d", args[i], r.code);
        free(r.out);
    }
}

/* --impl floor: a row of the bare TCP mesh beside librdv's, every run
 * of both complete, and the ratio line of librdv's row over it; the
 * floor listens on 127.0.0.1 only, so another --bind is a usage error
 * naming the option. Figures are not judged: benchmarks measure. */
Test(bench, floor_row_beside_rdv, .timeout = 120)
{
    result r = rdv("bench rendezvous --store hash --transport epoll "
                   "--impl rdv --impl floor --sizes 4,8 --runs 2 --json "
                   "2>/dev/null");
    static const char *const want[] = {
        "\"transport\":\"epoll\",\"ranks\":8,\"runs\":2,\"runs_failed\":0",
        "\"transport\":\"floor\",\"ranks\":4,\"runs\":2,\"runs_failed\":0",
        "\"transport\":\"floor\",\"ranks\":8,\"runs\":2,\"runs_failed\":0",
        "\"ratio\":\"epoll\",\"over\":\"floor\",\"ranks\":8",
    };

    cr_expect_eq(r.code, 0, "exit %d:\n%s", r.code, r.out);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_expect(strstr(r.out, want[i]), "no %s in:\n%s", want[i], r.out);
    free(r.out);

    r = rdv("bench rendezvous --impl floor --bind 127.0.0.2 --sizes 2");
    cr_expect_eq(r.code, 2, "exit %d:\n%s", r.code, r.out);
    cr_expect(strstr(r.out, "--bind") && strstr(r.out, "127.0.0.1"), "%s",
              r.out);
    free(r.out);
}

/* bench store --impl floor: a row of the 64-key read as bare preads
 * beside the file store's rows and the multi_get's ratio line; the
 * scratch directory it made inside the store's is gone afterwards; on
 * another kind of store it is a usage error naming the store. Figures
 * are not judged. */
Test(bench, store_read_floor_beside_rdv, .timeout = 120)
{
    char dir[256], cmd[512], *p;
    result r;

    tmpdir(dir, sizeof dir);
    snprintf(cmd, sizeof cmd, "bench store --store file://%s --ops 200 "
             "--procs 1 --impl rdv --impl floor --json", dir);
    r = rdv(cmd);
    cr_expect_eq(r.code, 0, "exit %d:\n%s", r.code, r.out);
    cr_expect(strstr(r.out, "\"impl\":\"rdv\",\"procs\":1,\"op\":"
                     "\"multi_get64\",\"ops\":200"), "%s", r.out);
    p = strstr(r.out, "\"impl\":\"floor\",\"procs\":1,\"op\":"
                      "\"multi_get64\",\"ops\":200");
    cr_expect(p && strstr(p, "\"p50_us\":"), "%s", r.out);
    cr_expect(strstr(r.out, "x the floor's p50"), "%s", r.out);
    free(r.out);
    snprintf(cmd, sizeof cmd, "ls -A %s | grep -c rdv-read-floor", dir);
    r = sh(cmd);
    cr_expect(strncmp(r.out, "0", 1) == 0, "scratch left in %s: %s", dir,
              r.out);
    free(r.out);
    rm_rf(dir);

    r = rdv("bench store --store 'hash:?shared=1' --impl floor");
    cr_expect_eq(r.code, 2, "exit %d:\n%s", r.code, r.out);
    cr_expect(strstr(r.out, "file://") && strstr(r.out, "hash:?shared=1"),
              "%s", r.out);
    free(r.out);
}

/* Counts elements with xmllint, which also proves the file well-formed
 * (it exits non-zero on any XML error). */
static int xml_count(const char *file, const char *what)
{
    char cmd[1024];
    result r;
    int n;

    snprintf(cmd, sizeof cmd, "xmllint --xpath 'count(//%s)' '%s' 2>&1",
             what, file);
    r = sh(cmd);
    cr_assert_eq(r.code, 0, "xmllint rejected %s:\n%s", file, r.out);
    n = atoi(r.out);
    free(r.out);
    return n;
}

Test(matrix, fifty_runs_leave_nothing_and_junit_validates, .timeout = 600)
{
    char dir[256], args[1024], junit[300];
    unsigned before_fds = 0, after_fds = 0;
    const char *leak;
    result r;

    cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    tmpdir(dir, sizeof dir);
    snprintf(junit, sizeof junit, "%s/matrix.xml", dir);
    /* 2 stores x 5 rank counts x 5 seeds = 50 runs */
    snprintf(args, sizeof args, "matrix --store 'hash:?shared=1' "
             "--store 'file://%s/store' --ranks 2-6 --seeds 1-5 --workload "
             "barrier,allreduce:int32:64,store:8 --junit %s", dir, junit);
    r = rdv(args);
    cr_expect_eq(r.code, 0, "exit %d:\n%s", r.code, r.out);
    cr_expect(strstr(r.out, "50 runs in"), "%s", r.out);
    leak = strstr(r.out, "matrix no-leak: fds ");
    cr_assert(leak, "%s", r.out);
    cr_expect_eq(sscanf(leak, "matrix no-leak: fds %u before, %u after",
                        &before_fds, &after_fds), 2);
    cr_expect_eq(before_fds, after_fds, "%s", leak);
    cr_expect(strstr(leak, "no processes left"), "%s", leak);
    /* Orphans of the rdv process would have been reparented to us. */
    cr_expect_eq(waitpid(-1, NULL, WNOHANG), -1, "a process was left");
    cr_expect_eq(errno, ECHILD);
    cr_expect_eq(xml_count(junit, "testcase"), 50);
    cr_expect_eq(xml_count(junit, "failure"), 0);
    free(r.out);
    rm_rf(dir);
}

Test(matrix, failing_cell_is_in_table_junit_and_replay, .timeout = 240)
{
    char dir[256], args[1024], junit[300];
    result r;

    tmpdir(dir, sizeof dir);
    snprintf(junit, sizeof junit, "%s/m.xml", dir);
    snprintf(args, sizeof args, "matrix --store 'hash:?shared=1' --ranks 2,3 "
             "--seeds 1 --timeout 500 --workload 'barrier,spin:rank=1' "
             "--junit %s", junit);
    r = rdv(args);
    cr_expect_eq(r.code, 1, "exit %d:\n%s", r.code, r.out);
    cr_expect(strstr(r.out, "FAIL 0/1"), "%s", r.out);
    cr_expect(strstr(r.out, "replay: rdv run --store 'hash:?shared=1' "
                            "--ranks 3 --seed 1"), "%s", r.out);
    cr_expect_eq(xml_count(junit, "testcase"), 2);
    cr_expect_eq(xml_count(junit, "failure"), 2);
    free(r.out);
    rm_rf(dir);
}

Test(faults, fatal_kill_is_judged_by_culprit_named, .timeout = 240)
{
    result r = rdv("run --store 'hash:?shared=1' --ranks 3 --timeout 5000 "
            "--faults 'proc.kill(rank=1, at=connected)'");
    cr_expect_eq(r.code, 0, "exit %d:\n%s", r.code, r.out);
    cr_expect(check_is(r.out, "culprit-named", "PASS  each of the 2 "
                       "survivors named the culprit"), "%s", r.out);
    free(r.out);
}

/* Without a fatal fault there is no culprit to name, and with only a
 * barrier no output to compare: both SKIP with the reason, and the run
 * still passes (exit 0: a SKIP fails nothing). */
Test(faults, checks_without_a_premise_skip_with_the_reason, .timeout = 240)
{
    result r = rdv("run --store 'hash:?shared=1' --ranks 3 --timeout 5000 "
                   "--workload barrier --faults 'store.delay(ms=1, p=0.5)'");

    cr_expect_eq(r.code, 0, "exit %d:\n%s", r.code, r.out);
    cr_expect(check_is(r.out, "culprit-named", "SKIP  no fatal fault "
                       "fired: no culprit to name"), "%s", r.out);
    cr_expect(check_is(r.out, "results-identical", "SKIP  no step of the "
                       "workload has an output"), "%s", r.out);
    cr_expect(check_is(r.out, "ranks-ok", "PASS"), "%s", r.out);
    cr_expect_null(strstr(r.out, "no fatal fault in the plan"), "%s", r.out);
    free(r.out);
}

/* Judged by what fired, not by what was written: a fault that can never
 * fire (p=0, nth= past the last matching call) leaves a correct run a
 * PASS with every rank succeeding; the same fault when it does fire is
 * still judged fatal. */
Test(faults, a_fault_that_never_fires_is_not_fatal, .timeout = 240)
{
    static const char *const never[] = {
        "store.error(p=0)",
        "store.error(op=set, nth=100000)",
        "store.delay(ms=1, p=0.5); store.error(op=get|wait, p=0)",
    };
    char args[512];
    result r;

    for (size_t i = 0; i < sizeof never / sizeof *never; i++) {
        snprintf(args, sizeof args, "run --store 'hash:?shared=1' --ranks 4 "
                 "--timeout 5000 -v --faults '%s'", never[i]);
        r = rdv(args);
        cr_expect_eq(r.code, 0, "%s: exit %d:\n%s", never[i], r.code, r.out);
        cr_expect(check_is(r.out, "ranks-ok", "PASS"), "%s:\n%s", never[i],
                  r.out);
        cr_expect(strstr(r.out, "4 of 4 ranks succeeded"), "%s:\n%s",
                  never[i], r.out);
        free(r.out);
    }
    r = rdv("run --store 'hash:?shared=1' --ranks 4 --timeout 5000 -v "
            "--faults 'store.error(op=set, nth=1, rank=2)'");
    cr_expect_eq(r.code, 0, "exit %d:\n%s", r.code, r.out);
    cr_expect(strstr(r.out, "every survivor failed"), "%s", r.out);
    free(r.out);
}

/* file://DIR?fresh=1 refuses another job's keys, not this one's: a
 * 4-rank run passes on a new directory (each rank opens it after others
 * published), and so does conform. (Refusing an earlier job's keys is
 * tests/ref/stores/test_file_fresh.c.) */
Test(run, file_fresh_is_judged_per_job, .timeout = 600)
{
    char dir[256], args[1024];
    result r;

    tmpdir(dir, sizeof dir);
    snprintf(args, sizeof args, "run --store 'file://%s/s?fresh=1' "
             "--ranks 4", dir);
    r = rdv(args);
    cr_expect_eq(r.code, 0, "exit %d:\n%s", r.code, r.out);
    free(r.out);
    snprintf(args, sizeof args, "conform --quick --store "
             "'file://%s/c?fresh=1'", dir);
    r = rdv(args);
    cr_expect_eq(r.code, 0, "exit %d:\n%s", r.code, r.out);
    free(r.out);
    rm_rf(dir);
}

/* A late start keeps the plan's order against a real server whose
 * restart is slow (run/start_late.h): the restart command takes over a
 * second (a sleep, then ci/services/tcp-store's crash and start on the
 * same port), far past rank 1's 300 ms delay. Rank 1 starts only after
 * it (its log says how long it waited), so the crash strikes the
 * rendezvous, as the plan orders, and the run passes. Before, rank 1
 * joined at 300 ms and the crash could land on the workload's adds,
 * whose outcome a broken connection leaves unknown. */
Test(faults, a_late_rank_starts_after_a_slow_restart_planned_before_it,
     .timeout = 240)
{
    char dir[256], cmd[4096], *phase;
    result r, log;
    double at;

    tmpdir(dir, sizeof dir);
    snprintf(cmd, sizeof cmd,
             "set -e; eval \"$(%s/tcp-store start %s/srv %s)\"; "
             "trap '%s/tcp-store stop %s/srv' EXIT; "
             "%s run --store \"$RDV_TEST_TCP_URL?timeout_ms=5000\" --ranks 4 "
             "--timeout 10000 --workload barrier,allreduce,broadcast,store:8 "
             "--faults 'proc.start-late(rank=1, ms=300); "
             "server.restart(after=100)' --server-restart 'sleep 1; "
             "%s/tcp-store restart %s/srv' --server-pid "
             "\"$RDV_TEST_TCP_PIDFILE\" --logs %s/logs 2>&1",
             RDV_SERVICES, dir, RDV_BIN, RDV_SERVICES, dir, RDV_BIN,
             RDV_SERVICES, dir, dir);
    r = sh(cmd);
    cr_expect_eq(r.code, 0, "exit %d:\n%s", r.code, r.out);
    cr_expect(check_is(r.out, "ranks-ok", "PASS"), "%s", r.out);
    /* Rank 1's first phase, in ms since the run's start (the clock the
     * plan counts from): the restart began at 100 ms at the earliest and
     * slept a second, so rank 1 may not publish before 1100 ms. A bound
     * from below, which no load can break; before, it published at about
     * 300 ms. */
    snprintf(cmd, sizeof cmd, "cat %s/logs/rank-1.log", dir);
    log = sh(cmd);
    phase = strstr(log.out, "] phase before-publish");
    cr_assert(phase, "rank 1 never published:\n%s", log.out);
    while (phase > log.out && phase[-1] != '[')
        phase--;
    at = strtod(phase, NULL);
    cr_expect_geq(at, 1100.0, "rank 1 published at %.0f ms, before the "
                  "restart planned before its start had ended:\n%s", at,
                  log.out);
    free(log.out);
    free(r.out);
    rm_rf(dir);
}
