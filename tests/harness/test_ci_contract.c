/*
 * tests/harness/test_ci_contract.c - what a CI job sees of `rdv`, judged
 * from outside on the real binary:
 *
 * - exit codes mean the same in every command: 0 passed, 1 a check
 *   failed, 2 bad usage found before any rank starts, 3 could not run
 *   (a store that refuses connections, an address already taken), and
 *   every --help says so;
 * - options are read strictly (no abbreviations, one message each);
 * - JUnit from run, matrix and conform validates against junit.xsd
 *   (tests/harness), counts what it holds, keeps infrastructure failures
 *   as <error>, gives failures a body with the replay line, and names
 *   classes rdv.<command>.<store label> with no temp path and no dot in
 *   the label;
 * - JSON lines (run, matrix, conform, bench, faults) parse, one object a
 *   line with a version; PASS/FAIL/SKIP are coloured on a terminal only
 *   (never with NO_COLOR, TERM=dumb or in a pipe); matrix, conform and
 *   launch tell their progress while they run; `matrix --faults all` uses the
 *   timeout its scenarios are sized for and fits the width it is given.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sh.h"

/* A loopback socket bound to a port the kernel picked; listening when
 * asked. Closing an unlistened one leaves a port that refuses. */
static int bound_socket(int listening, int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    cr_assert(fd >= 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    if (listening)
        cr_assert_eq(listen(fd, 1), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* A redis URL nothing listens at, failing fast. */
static void refusing_url(char *buf, size_t cap)
{
    int port, fd = bound_socket(0, &port);

    close(fd);
    snprintf(buf, cap, "redis://127.0.0.1:%d?timeout_ms=300", port);
}

static void expect_exit(const char *args, int code, const char *says)
{
    result r = rdv(args);

    cr_expect_eq(r.code, code, "'rdv %s' exited %d, not %d:\n%s", args,
                 r.code, code, r.out);
    if (says)
        cr_expect(strstr(r.out, says), "'rdv %s' does not say '%s':\n%s",
                  args, says, r.out);
    /* Usage errors stop before any rank starts: no check was judged. */
    if (code == 2)
        cr_expect(!strstr(r.out, "ranks-ok") && !strstr(r.out, "CLAUSE"),
                  "'rdv %s' ran something:\n%s", args, r.out);
    free(r.out);
}

Test(exit_codes, bad_usage_is_2_in_every_command, .timeout = 120)
{
    static const struct {
        const char *args, *says;
    } cases[] = {
        {"conform --clause x", "unknown option '--clause'"},
        {"conform --store hash: --junit /dev/null/c.xml",
         "--junit /dev/null/c.xml"},
        {"run --stor 'hash:?shared=1' --ranks 2", "unknown option '--stor'"},
        {"run --store 'hash:?shared=1' --ranks 2 --json=yes",
         "'--json' takes no value"},
        {"run --store 'hash:?shared=1' --ranks", "'--ranks' needs a value"},
        {"run --store 'hash:?shared=1' --ranks 2 --junit /dev/null/r.xml",
         "--junit /dev/null/r.xml"},
        {"run --store 'hash:?shared=1' --ranks 2 --junit /tmp",
         "is a directory"},
        {"matrix --ranks 2 --seeds 1 --junit /dev/null/m.xml",
         "--junit /dev/null/m.xml"},
        {"matrix --seed 1", "unknown option '--seed'"},
        {"faults --check 'proc.kil(rank=1)'", "unknown fault 'proc.kil'"},
        {"faults --check 'proc.kill(rank=1, at=connected)' --rank 2",
         "unknown option '--rank'"},
        {"faults --list --check 'proc.kill(rank=1)'", "exclude"},
        {"bench broadcast -n 3 -a ring", "bad algorithm 'ring'"},
        {"bench store --store hash: --op 3", "unknown option '--op'"},
        {"bench rendezvous --timeout-ms 100", "unknown option"},
        {"bench store-rendezvous --store hash: extra",
         "unexpected argument 'extra'"},
        {"store-server --bin 127.0.0.1:0", "unknown option '--bin'"},
        {"hunt --store 'hash:?shared=1' --ranks 2 --schedules 3..1",
         "A is above B"},
        {"hunt --store 'hash:?shared=1' --ranks 2 --junit /dev/null/h.xml",
         "--junit /dev/null/h.xml"},
        {"shrink 'rdv run --ranks 2'", "needs --store and --ranks"},
        {"shrink --bogus 'rdv run'", "unknown option '--bogus'"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_exit(cases[i].args, 2, cases[i].says);
}

/* One vocabulary: -s/--store and -n/--ranks wherever a command takes a
 * store or ranks, and no short option meaning something else. */
Test(options, one_vocabulary_across_commands, .timeout = 180)
{
    expect_exit("run -s 'hash:?shared=1' -n 2 --workload barrier", 0, NULL);
    expect_exit("matrix -s 'hash:?shared=1' -n 2 --seeds 1 --workload "
                "barrier", 0, "1 passed");
    expect_exit("conform -s 'hash:?shared=1' -n 2 --quick --only open", 0,
                "PASS");
    expect_exit("bench store -s hash: -v 3", 2, "unknown option '-v'");
    expect_exit("bench store -s hash: -n 3", 2, "unknown option '-n'");
    expect_exit("faults --check 'proc.kill(rank=1, at=connected)' -s 3", 2,
                "unknown option '-s'");
}

/* One message for one bad option, and no usage text after it. */
Test(exit_codes, one_message_per_unknown_option)
{
    result r = rdv("run --store 'hash:?shared=1' --ranks 2 --bogus");
    const char *first = strstr(r.out, "--bogus");

    cr_expect_eq(r.code, 2);
    cr_assert(first, "%s", r.out);
    cr_expect(!strstr(first + 1, "--bogus"), "said twice:\n%s", r.out);
    cr_expect(!strstr(r.out, "usage:"), "usage printed:\n%s", r.out);
    free(r.out);
}

Test(exit_codes, could_not_run_is_3, .timeout = 180)
{
    char url[128], args[512];
    int port, held = bound_socket(1, &port);

    refusing_url(url, sizeof url);
    snprintf(args, sizeof args, "run --store '%s' --ranks 2", url);
    expect_exit(args, 3, "could not run");
    snprintf(args, sizeof args, "matrix --store '%s' --ranks 2 --seeds 1",
             url);
    expect_exit(args, 3, "1 could not run");
    snprintf(args, sizeof args, "conform --store '%s' --quick --only open",
             url);
    expect_exit(args, 3, "open");
    snprintf(args, sizeof args, "bench store --store '%s'", url);
    expect_exit(args, 3, "Connection refused");
    snprintf(args, sizeof args, "bench store-rendezvous --store '%s'", url);
    expect_exit(args, 3, "Connection refused");
    /* An address another socket listens on. */
    snprintf(args, sizeof args, "store-server --bind 127.0.0.1:%d", port);
    expect_exit(args, 3, NULL);
    close(held);
}

Test(exit_codes, passed_is_0_and_failed_is_1, .timeout = 180)
{
    expect_exit("faults --check 'proc.kill(rank=1, at=connected)'", 0, "ok");
    expect_exit("run --store 'hash:?shared=1' --ranks 2 --workload barrier",
                0, NULL);
    expect_exit("run --store 'hash:?shared=1' --ranks 2 --timeout 500 "
                "--workload 'barrier,spin:rank=1'", 1, "replay:");
}

Test(exit_codes, every_help_states_them)
{
    static const char *const cmds[] = {
        "--help", "run --help", "hunt --help", "shrink --help",
        "matrix --help", "conform --help",
        "faults --help", "store-server --help", "bench --help",
        "bench store --help", "bench rendezvous --help",
        "bench store-rendezvous --help", "bench allreduce --help",
        "bench broadcast --help", "bench barrier --help",
    };

    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        result r = rdv(cmds[i]);

        cr_expect_eq(r.code, 0, "'rdv %s' exited %d", cmds[i], r.code);
        cr_expect(strstr(r.out, "2 bad usage") && strstr(r.out, "3 could "
                  "not run"), "'rdv %s' does not state the exit codes:\n%s",
                  cmds[i], r.out);
        free(r.out);
    }
}

/* xmllint's answer to an XPath number over file. */
static long xpath_number(const char *file, const char *expr)
{
    char cmd[1024];
    result r;
    long n;

    snprintf(cmd, sizeof cmd, "xmllint --xpath '%s' '%s' 2>&1", expr, file);
    r = sh(cmd);
    cr_assert_eq(r.code, 0, "xmllint %s on %s:\n%s", expr, file, r.out);
    n = strtol(r.out, NULL, 10);
    free(r.out);
    return n;
}

/* file validates against junit.xsd, its counts match its elements, and
 * every classname is rdv.<command>.<label> with no dot or '/' in the
 * label. */
static void expect_valid_junit(const char *file, const char *command)
{
    char cmd[1024], prefix[64];
    result r;

    snprintf(cmd, sizeof cmd, "xmllint --noout --schema '%s' '%s' 2>&1",
             RDV_JUNIT_XSD, file);
    r = sh(cmd);
    cr_expect_eq(r.code, 0, "%s does not validate:\n%s", file, r.out);
    free(r.out);
    cr_expect_eq(xpath_number(file, "count(//testcase)"),
                 xpath_number(file, "sum(//testsuite/@tests)"));
    cr_expect_eq(xpath_number(file, "count(//failure)"),
                 xpath_number(file, "sum(//testsuite/@failures)"));
    cr_expect_eq(xpath_number(file, "count(//error)"),
                 xpath_number(file, "sum(//testsuite/@errors)"));
    cr_expect_eq(xpath_number(file, "count(//skipped)"),
                 xpath_number(file, "sum(//testsuite/@skipped)"));
    /* GitLab shows the body: never empty. */
    cr_expect_eq(xpath_number(file, "count(//failure[string-length(.)=0]"
                                    "|//error[string-length(.)=0])"), 0);
    snprintf(prefix, sizeof prefix, "rdv.%s.", command);
    snprintf(cmd, sizeof cmd, "xmllint --xpath '//testcase/@classname' "
             "'%s' 2>&1", file);
    r = sh(cmd);
    cr_assert_eq(r.code, 0, "%s", r.out);
    for (char *p = strstr(r.out, "classname=\""); p;
         p = strstr(p + 1, "classname=\"")) {
        char *name = p + strlen("classname=\""), *end = strchr(name, '"');

        cr_assert(end);
        cr_expect_eq(strncmp(name, prefix, strlen(prefix)), 0,
                     "%.*s is not under %s", (int)(end - name), name,
                     prefix);
        for (char *q = name + strlen(prefix); q < end; q++)
            cr_expect(*q != '.' && *q != '/', "label of %.*s has '%c'",
                      (int)(end - name), name, *q);
    }
    free(r.out);
}

/* hunt: a testcase per schedule, the failing one with its replay. */
Test(junit, hunt_validates, .timeout = 300)
{
    char dir[256], args[1024], file[300];
    result r;

    tmpdir(dir, sizeof dir);
    snprintf(file, sizeof file, "%s/hunt.xml", dir);
    snprintf(args, sizeof args, "hunt --store 'hash:?shared=1' --ranks 2 "
             "--timeout 500 --workload 'barrier,spin:rank=1' --schedules "
             "4..6 --junit %s", file);
    r = rdv(args);
    cr_expect_eq(r.code, 1, "%s", r.out);
    free(r.out);
    expect_valid_junit(file, "hunt");
    cr_expect_eq(xpath_number(file, "count(//testcase[@classname="
                                    "\"rdv.hunt.hash_shared-1\"])"), 1);
    cr_expect_eq(xpath_number(file, "count(//failure[contains(., "
                                    "\"--schedule pct:4:3\")])"), 1);
    rm_rf(dir);
}

Test(junit, run_matrix_and_conform_validate, .timeout = 300)
{
    char dir[256], url[128], args[1024], file[300];
    result r;

    tmpdir(dir, sizeof dir);
    refusing_url(url, sizeof url);

    /* run: two failed checks, two skipped, with details and replay */
    snprintf(file, sizeof file, "%s/run.xml", dir);
    snprintf(args, sizeof args, "run --store 'hash:?shared=1&prefix=p' "
             "--ranks 2 --timeout 500 --workload 'barrier,spin:rank=1' "
             "--junit %s", file);
    r = rdv(args);
    cr_expect_eq(r.code, 1, "%s", r.out);
    free(r.out);
    expect_valid_junit(file, "run");
    cr_expect_eq(xpath_number(file, "count(//testcase[@classname="
                                    "\"rdv.run.hash_shared-1_prefix-p\"])"),
                 7);
    cr_expect_eq(xpath_number(file, "count(//failure[contains(., "
                                    "\"replay: rdv run\")])"),
                 xpath_number(file, "count(//failure)"));
    cr_expect_gt(xpath_number(file, "count(//failure)"), 0);

    /* run, passing: error-quality had no failed rank to judge, and is a
     * <skipped> with that reason, not a silent pass */
    snprintf(file, sizeof file, "%s/pass.xml", dir);
    snprintf(args, sizeof args, "run --store 'hash:?shared=1' --ranks 2 "
             "--workload barrier --junit %s", file);
    r = rdv(args);
    cr_expect_eq(r.code, 0, "%s", r.out);
    free(r.out);
    expect_valid_junit(file, "run");
    cr_expect_eq(xpath_number(file, "count(//failure)"), 0);
    cr_expect_eq(xpath_number(file, "count(//testcase[starts-with(@name, "
                                    "\"error-quality \")]/skipped[starts-"
                                    "with(@message, \"no rank failed\")])"),
                 1);
    cr_expect_eq(xpath_number(file, "count(//skipped[string-length(.)=0])"),
                 0);

    /* matrix: the file store in a temp dir, and one that refuses */
    snprintf(file, sizeof file, "%s/matrix.xml", dir);
    snprintf(args, sizeof args, "matrix --store 'file://%s/store' --store "
             "'%s' --ranks 2 --seeds 1,2 --workload barrier --junit %s",
             dir, url, file);
    r = rdv(args);
    cr_expect_eq(r.code, 3, "%s", r.out);
    free(r.out);
    expect_valid_junit(file, "matrix");
    cr_expect_eq(xpath_number(file, "count(//error)"), 2);
    cr_expect_eq(xpath_number(file, "count(//testcase[@classname="
                                    "\"rdv.matrix.file\"])"), 2);

    /* conform on the refusing store: every clause an <error> */
    snprintf(file, sizeof file, "%s/conform.xml", dir);
    snprintf(args, sizeof args, "conform --store '%s' --quick --only "
             "open,set-get --junit %s", url, file);
    r = rdv(args);
    cr_expect_eq(r.code, 3, "%s", r.out);
    free(r.out);
    expect_valid_junit(file, "conform");
    cr_expect_eq(xpath_number(file, "count(//error)"), 2);
    cr_expect_eq(xpath_number(file, "count(//failure)"), 0);
    rm_rf(dir);
}

/* The ranks worth reading are the ones killed: by a fault, or by the
 * deadline while they spin. Their logs hold their last line. */
Test(logs, killed_ranks_keep_their_last_line, .timeout = 180)
{
    char dir[256], args[1024], cmd[1024];
    result r;

    tmpdir(dir, sizeof dir);
    snprintf(args, sizeof args, "run --store 'hash:?shared=1' --ranks 3 "
             "--timeout 5000 --faults 'proc.kill(rank=1, at=connected)' "
             "--logs %s/kill", dir);
    r = rdv(args);
    cr_expect_eq(r.code, 0, "%s", r.out);
    free(r.out);
    snprintf(cmd, sizeof cmd, "tail -n 1 %s/kill/rank-1.log", dir);
    r = sh(cmd);
    cr_expect(strstr(r.out, "phase connected"), "SIGKILLed rank's log "
              "ends with: '%s'", r.out);
    free(r.out);

    snprintf(args, sizeof args, "run --store 'hash:?shared=1' --ranks 2 "
             "--timeout 500 --workload 'barrier,spin:rank=1' --logs %s/spin",
             dir);
    r = rdv(args);
    cr_expect_eq(r.code, 1, "%s", r.out);
    cr_expect(strstr(r.out, "killed at the"), "%s", r.out);
    free(r.out);
    snprintf(cmd, sizeof cmd, "tail -n 1 %s/spin/rank-1.log", dir);
    r = sh(cmd);
    cr_expect(strstr(r.out, "step 1: spin:rank=1"), "spinning rank's log "
              "ends with: '%s'", r.out);
    free(r.out);
    rm_rf(dir);
}

/* Without a terminal, a matrix prints a line per finished cell as it
 * goes: the first is on stderr while the second cell still runs (each
 * spins to its 2 s deadline). */
Test(progress, matrix_prints_a_line_per_cell_while_it_runs, .timeout = 180)
{
    char dir[256], cmd[2048];
    result r;

    tmpdir(dir, sizeof dir);
    snprintf(cmd, sizeof cmd,
             "%s matrix --store 'hash:?shared=1' --store 'file://%s/s' "
             "--ranks 2 --seeds 1 --timeout 500 --workload "
             "'barrier,spin:rank=1' >%s/out 2>%s/err & pid=$!; "
             "seen=no; for i in $(seq 600); do "
             "if grep -qs 'matrix \\[1/2\\]' %s/err; then "
             "kill -0 $pid 2>/dev/null && seen=yes; break; fi; "
             "sleep 0.02; done; wait $pid; echo \"exit $? seen $seen\"; "
             "cat %s/err",
             RDV_BIN, dir, dir, dir, dir, dir);
    r = sh(cmd);
    cr_expect(strstr(r.out, "exit 1 seen yes"), "%s", r.out);
    cr_expect(strstr(r.out, "matrix [2/2] file://"), "%s", r.out);
    cr_expect(strstr(r.out, "s elapsed"), "%s", r.out);
    cr_expect(!strchr(r.out, '\r'), "carriage return in a log:\n%s", r.out);
    free(r.out);
    rm_rf(dir);
}

/* Every line of stdout is one JSON object of schema version 1 and the
 * type given (python3 parses it); returns how many there were. */
static int expect_json_lines(const char *args, int code, const char *last)
{
    char cmd[4096];
    result r;
    int n = -1;

    snprintf(cmd, sizeof cmd, "out=$(%s %s 2>/dev/null); echo \"rdv exit "
             "$?\"; printf \"%%s\\n\" \"$out\" | python3 -c '\n"
             "import json, sys\n"
             "objs = [json.loads(l) for l in sys.stdin]\n"
             "assert objs, \"no output\"\n"
             "assert all(o[\"version\"] == 1 for o in objs), objs\n"
             "assert objs[-1][\"type\"] == sys.argv[1], objs[-1]\n"
             "print(\"lines\", len(objs), json.dumps(objs, ensure_ascii=False))\n"
             "' %s", RDV_BIN, args, last);
    r = sh(cmd);
    cr_expect(strstr(r.out, "lines "), "'rdv %s':\n%s", args, r.out);
    sscanf(strstr(r.out, "lines ") ? strstr(r.out, "lines ") : "", "lines %d",
           &n);
    {
        char want[32];

        snprintf(want, sizeof want, "rdv exit %d", code);
        cr_expect(strstr(r.out, want), "'rdv %s': %s", args, r.out);
    }
    free(r.out);
    return n;
}

Test(json, run_matrix_conform_and_faults_print_versioned_lines,
     .timeout = 240)
{
    char dir[256], args[1024], cmd[1400];
    result r;

    tmpdir(dir, sizeof dir);
    /* A directory named in UTF-8 comes out as UTF-8, not as ?? */
    snprintf(args, sizeof args, "run --store 'file://%s/\xc3\xbc' --ranks 2 "
             "--workload barrier --json", dir);
    snprintf(cmd, sizeof cmd, "bash -c \"%s %s\" | grep -c '/\xc3\xbc'",
             RDV_BIN, args);
    r = sh(cmd);
    cr_expect_eq(r.code, 0, "no UTF-8 path in the JSON: %s", r.out);
    free(r.out);
    cr_expect_eq(expect_json_lines(args, 0, "run"), 1);
    snprintf(args, sizeof args, "matrix --store 'hash:?shared=1' --store "
             "'file://%s/m' --ranks 2 --seeds 1,2 --workload barrier --json",
             dir);
    cr_expect_eq(expect_json_lines(args, 0, "matrix"), 5);
    cr_expect_eq(expect_json_lines("conform --store 'hash:?shared=1' --quick "
                                   "--only open,set-get --json", 0,
                                   "conform"), 3);
    cr_expect_gt(expect_json_lines("faults --list --json", 0, "fault"), 10);
    rm_rf(dir);
}

/* `rdv bench ... --json`: every stdout line parses on its own
 * (python3 -m json.tool --json-lines: one python for all of them, a
 * python per line took minutes at load 33), is a "bench" row of version
 * 1 with the fields the README documents for its kind, and the last line
 * is the bench_summary counting the rows; returns the number of rows. */
static int expect_bench_rows(const char *args, const char *kind,
                             const char *fields)
{
    char cmd[4096];
    result r;
    int n = -1;

    snprintf(cmd, sizeof cmd, "out=$(%s bench %s --json 2>/dev/null); "
             "echo \"rdv exit $?\"; printf '%%s\\n' \"$out\" | "
             "python3 -m json.tool --json-lines >/dev/null || "
             "echo \"json.tool refused the lines\"; "
             "printf '%%s\\n' \"$out\" | python3 -c '\n"
             "import json, sys\n"
             "objs = [json.loads(l) for l in sys.stdin]\n"
             "kind, fields = sys.argv[1], sys.argv[2].split(\",\")\n"
             "rows, last = objs[:-1], objs[-1]\n"
             "assert last == {\"version\": 1, \"type\": \"bench_summary\", "
             "\"bench\": kind, \"rows\": len(rows), \"exit\": 0}, last\n"
             "for o in rows:\n"
             "    assert o[\"version\"] == 1 and o[\"type\"] == \"bench\", o\n"
             "    assert o[\"bench\"] == kind, o\n"
             "    missing = [f for f in fields if f not in o]\n"
             "    assert not missing, (missing, o)\n"
             "print(\"rows\", len(rows))\n"
             "' %s %s", RDV_BIN, args, kind, fields);
    r = sh(cmd);
    cr_expect(strstr(r.out, "rdv exit 0"), "'rdv bench %s': %s", args, r.out);
    cr_expect(!strstr(r.out, "json.tool refused"), "'rdv bench %s': %s",
              args, r.out);
    cr_expect(strstr(r.out, "rows "), "'rdv bench %s':\n%s", args, r.out);
    sscanf(strstr(r.out, "rows ") ? strstr(r.out, "rows ") : "", "rows %d",
           &n);
    free(r.out);
    return n;
}

Test(json, bench_prints_a_row_per_measurement, .timeout = 600)
{
    /* 4 operations x (1 process, then 2) */
    cr_expect_eq(expect_bench_rows("store --store 'hash:?shared=1' --ops 50 "
                                   "--procs 2", "store",
                                   "store,procs,op,ops,value_size,ops_per_s,"
                                   "p50_us,p99_us"), 8);
    cr_expect_eq(expect_bench_rows("rendezvous --store hash --transport epoll "
                                   "--sizes 2 --runs 1", "rendezvous",
                                   "store,transport,ranks,runs,runs_failed,"
                                   "total_p50_ms,total_p90_ms,mesh_p50_ms,"
                                   "mesh_p90_ms,cpu_p50_ms"), 1);
    /* one row per run, then the medians */
    cr_expect_eq(expect_bench_rows("store-rendezvous --store 'hash:?shared=1' "
                                   "--procs 2 --runs 2", "store-rendezvous",
                                   "store,procs,value_size,stat,"
                                   "rendezvous_ms,connect_ms"), 3);
    /* sizes 4, 8, 16, 32, 64 */
    cr_expect_eq(expect_bench_rows("allreduce -n 2 --max-size 64 --iters 5",
                                   "allreduce",
                                   "ranks,algo,transport,mesh,store,dtype,"
                                   "size_bytes,iters,p50_us,p99_us,"
                                   "algbw_gbps,busbw_gbps"), 5);
    cr_expect_eq(expect_bench_rows("barrier -n 2 --iters 5", "barrier",
                                   "ranks,algo,transport,mesh,size_bytes,"
                                   "iters,p50_us,p99_us"), 1);
#ifdef RDV_TEST_GLOO
    /* librdv's row, Gloo's row, and their ratio */
    cr_expect_eq(expect_bench_rows("rendezvous --store hash --transport epoll "
                                   "--impl rdv --impl gloo --sizes 2 --runs 1",
                                   "rendezvous", "store,ranks"), 3);
#endif
}

/* Runs `env ENV rdv ARGS` on a pseudo-terminal (python3's pty) and
 * returns what the terminal showed, escape bytes written as \x1b. */
static result on_tty(const char *env, const char *args)
{
    char cmd[2048];

    snprintf(cmd, sizeof cmd, "python3 -c '\n"
             "import os, pty, sys\n"
             "pid, fd = pty.fork()\n"
             "if pid == 0:\n"
             "    os.execvp(\"sh\", [\"sh\", \"-c\", sys.argv[1]])\n"
             "out = b\"\"\n"
             "while True:\n"
             "    try:\n"
             "        d = os.read(fd, 4096)\n"
             "    except OSError:\n"
             "        break\n"
             "    if not d:\n"
             "        break\n"
             "    out += d\n"
             "os.waitpid(pid, 0)\n"
             "print(out.decode(errors=\"replace\").replace(\"\\x1b\", "
             "\"\\\\x1b\"))\n"
             "' \"env -u NO_COLOR TERM=xterm %s %s %s\"", env, RDV_BIN, args);
    return sh(cmd);
}

Test(colour, verdicts_in_colour_on_a_terminal_only, .timeout = 120)
{
    const char *run = "run --store hash:?shared=1 --ranks 2 --workload "
                      "barrier";
    const char *conform = "conform --store hash:?shared=1 --quick --only "
                          "open,set-get";
    result r = on_tty("", run);

    cr_expect(strstr(r.out, "\\x1b[32mPASS\\x1b[0m in "),
              "no green PASS on a terminal:\n%s", r.out);
    free(r.out);
    r = on_tty("", conform);
    cr_expect(strstr(r.out, "\\x1b[32mPASS\\x1b[0m   "),
              "conform's rows are not coloured (or not aligned):\n%s", r.out);
    free(r.out);
    r = on_tty("NO_COLOR=1", run);
    cr_expect(strstr(r.out, ": PASS in ") && !strstr(r.out, "\\x1b["),
              "NO_COLOR=1 still coloured:\n%s", r.out);
    free(r.out);
    /* TERM=dumb: neither colour nor a redrawn progress line */
    r = on_tty("TERM=dumb", conform);
    cr_expect(strstr(r.out, "PASS") && !strstr(r.out, "\\x1b["),
              "escape sequences with TERM=dumb:\n%s", r.out);
    free(r.out);
    /* A pipe (a CI log) never gets escape sequences. */
    r = rdv(run);
    cr_expect(strstr(r.out, ": PASS in ") && !strchr(r.out, '\033'),
              "colour in a pipe:\n%s", r.out);
    free(r.out);
}

/* conform is never silent while clauses run: without a terminal a line
 * per finished clause with the time elapsed (no carriage return), on a
 * terminal one live line naming the clause that runs. */
Test(progress, conform_tells_each_clause, .timeout = 120)
{
    const char *args = "conform --store hash:?shared=1 --quick --only "
                       "open,set-get";
    char cmd[1024];
    result r;

    snprintf(cmd, sizeof cmd, "%s %s 2>&1 >/dev/null", RDV_BIN, args);
    r = sh(cmd);
    cr_expect_eq(r.code, 0, "%s", r.out);
    cr_expect(strstr(r.out, "conform [1/2] open PASS in "), "%s", r.out);
    cr_expect(strstr(r.out, "conform [2/2] set-get PASS in "), "%s", r.out);
    cr_expect(strstr(r.out, " s elapsed\n"), "%s", r.out);
    cr_expect(!strchr(r.out, '\r'), "a carriage return in a log:\n%s",
              r.out);
    free(r.out);
    r = on_tty("", args);
    cr_expect(strstr(r.out, "\\x1b[Kconform [2/2] set-get running "),
              "no live line on a terminal:\n%s", r.out);
    cr_expect(!strstr(r.out, "conform [2/2] set-get PASS in"),
              "per-clause lines on a terminal too:\n%s", r.out);
    free(r.out);
}

/* launch is never silent while its ranks run: without a terminal a line
 * per rank that ends, with the time elapsed (no carriage return); on a
 * terminal, with the ranks' output in --logs, one live line; with the
 * ranks writing to the same terminal, or TERM=dumb, plain lines. */
Test(progress, launch_tells_each_rank, .timeout = 120)
{
    char store[256], logs[256], args[1024], cmd[1536];
    result r;

    tmpdir(store, sizeof store);
    tmpdir(logs, sizeof logs);
    snprintf(args, sizeof args, "launch -n 2 --store file://%s --logs %s "
             "-- sh -c 'exit $RDV_RANK'", store, logs);
    snprintf(cmd, sizeof cmd, "%s %s 2>&1 >/dev/null", RDV_BIN, args);
    r = sh(cmd);
    cr_expect_eq(r.code, 1, "rank 1 exits 1: ranks-ok fails\n%s", r.out);
    cr_expect(strstr(r.out, "] rank 0 (pid ") &&
              strstr(r.out, ") exited 0; ") &&
              strstr(r.out, "] rank 1 (pid ") &&
              strstr(r.out, ") exited 1; "), "%s", r.out);
    cr_expect(strstr(r.out, "launch [1/2] rank ") &&
              strstr(r.out, "launch [2/2] rank "), "%s", r.out);
    cr_expect(strstr(r.out, " s elapsed\n"), "%s", r.out);
    cr_expect(!strchr(r.out, '\r'), "a carriage return in a log:\n%s",
              r.out);
    free(r.out);
    r = on_tty("", args);
    cr_expect(strstr(r.out, "\\x1b[Klaunch [2/2 ended] 0 running; "),
              "no live line on a terminal:\n%s", r.out);
    cr_expect(!strstr(r.out, "launch [2/2] rank "),
              "per-rank lines on a terminal too:\n%s", r.out);
    free(r.out);
    r = on_tty("TERM=dumb", args);
    cr_expect(strstr(r.out, "launch [2/2] rank ") &&
              !strstr(r.out, "\\x1b["), "TERM=dumb:\n%s", r.out);
    free(r.out);
    /* no --logs: the ranks write to this terminal, so no redrawn line */
    snprintf(args, sizeof args, "launch -n 2 --store file://%s -- "
             "/bin/true", store);
    r = on_tty("", args);
    cr_expect(strstr(r.out, "launch [2/2] rank ") &&
              !strstr(r.out, "\\x1b[K"), "%s", r.out);
    free(r.out);
    rm_rf(store);
    rm_rf(logs);
}

/* `--faults all`: every scenario runs with the timeout it is sized for
 * (2000 ms, in each run's replay line) unless --timeout says otherwise,
 * and the 20-column table is turned to fit the width it is given (a row
 * per N and scenario, the stores numbered). */
Test(matrix, faults_all_fits_and_uses_the_sized_timeout, .timeout = 600)
{
    char cmd[1536], dir[256];
    result r;

    tmpdir(dir, sizeof dir);
    snprintf(cmd, sizeof cmd, "COLUMNS=100 %s matrix --store "
             "'hash:?shared=1' --ranks 2 --seeds 1 --faults all --json "
             "2>%s/table | python3 -c '\n"
             "import json, sys\n"
             "runs = [o for o in map(json.loads, sys.stdin) "
             "if o[\"type\"] == \"run\"]\n"
             "assert len(runs) >= 10, runs\n"
             "bad = [o[\"replay\"] for o in runs "
             "if \" --timeout 2000 \" not in o[\"replay\"]]\n"
             "assert not bad, bad\n"
             "print(\"runs\", len(runs))\n"
             "'; cat %s/table; "
             "awk \"/^(N|\\\\[)/ && length > 100 "
             "{ print \\\"too wide: \\\" \\$0 }\" "
             "%s/table", RDV_BIN, dir, dir, dir);
    r = sh(cmd);
    rm_rf(dir);
    cr_expect(strstr(r.out, "runs "), "%s", r.out);
    cr_expect(strstr(r.out, "N=2      store-delay "), "not turned:\n%s",
              r.out);
    cr_expect(strstr(r.out, "\n[1] hash:?shared=1\n"), "%s", r.out);
    cr_expect(!strstr(r.out, "too wide: "), "%s", r.out);
    free(r.out);
}
