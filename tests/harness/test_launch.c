/*
 * tests/harness/test_launch.c - `rdv launch` from the outside: the real
 * rdv binary starts examples/launch/launch_allreduce (env:// rendezvous
 * and an allreduce) as 4 real processes against a real file:// store,
 * with and without faults that librdv inside the program reads from
 * RDV_FAULTS, a hang killed at the deadline, and --context-checks
 * (mesh-consistent from what the program's librdv reports).
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

typedef struct job {
    char store[256]; /* a file:// store's directory */
    char logs[256];
} job;

static void job_init(job *j)
{
    tmpdir(j->store, sizeof j->store);
    tmpdir(j->logs, sizeof j->logs);
}

static void job_end(job *j)
{
    rm_rf(j->store);
    rm_rf(j->logs);
}

/* rdv launch -n 4 --store file://STORE --logs LOGS OPTS -- PROG ARGS */
static result launch(const job *j, const char *opts, const char *args)
{
    char cmd[4096];

    snprintf(cmd, sizeof cmd, "launch -n 4 --store file://%s --logs %s %s "
             "-- %s %s", j->store, j->logs, opts, LAUNCH_PROG, args);
    return rdv(cmd);
}

/* The contents of LOGS/NAME ("" when missing); free() it. */
static char *log_of(const job *j, const char *name)
{
    char cmd[600];

    snprintf(cmd, sizeof cmd, "cat %s/%s 2>/dev/null", j->logs, name);
    return sh(cmd).out;
}

Test(launch, four_ranks_pass_and_leave_nothing, .timeout = 120)
{
    job j;
    result r;
    char *l;

    job_init(&j);
    r = launch(&j, "-v", "");
    cr_expect_eq(r.code, 0, "%s", r.out);
    cr_expect(check_is(r.out, "ranks-ok", "PASS"), "%s", r.out);
    cr_expect(check_is(r.out, "no-hang", "PASS"), "%s", r.out);
    cr_expect(check_is(r.out, "no-leak", "PASS"), "%s", r.out);
    cr_expect(strstr(r.out, "4 of 4 ranks exited 0"), "%s", r.out);
    for (int rank = 0; rank < 4; rank++) {
        char name[32], want[64];

        snprintf(name, sizeof name, "rank-%d.log", rank);
        snprintf(want, sizeof want, "rank %d of 4: sum 10", rank);
        l = log_of(&j, name);
        cr_expect(strstr(l, want), "%s: %s", name, l);
        free(l);
    }
    free(r.out);
    job_end(&j);
}

/* rank 1's publish fails inside the program: the fault comes from the
 * environment, the others time out naming rank 1, and the job passes
 * because every survivor failed as a fatal fault requires. */
Test(launch, fatal_fault_is_named, .timeout = 180)
{
    job j;
    result r;
    char *l;

    job_init(&j);
    r = launch(&j, "--seed 7 --faults 'store.error(rank=1, op=set, nth=1)'",
               "");
    cr_expect_eq(r.code, 0, "%s", r.out);
    cr_expect(strstr(r.out, "fault: store.error(rank=1, op=set, nth=1): "
                     "fatal, culprit rank 1"), "%s", r.out);
    cr_expect(strstr(r.out, "every survivor failed"), "%s", r.out);
    l = log_of(&j, "rank-1.faults.log");
    cr_expect(strstr(l, "rank 1: #1 store.error: set '") &&
              strstr(l, "/addr/1' call 1: fails with RDV_EIO"), "%s", l);
    free(l);
    l = log_of(&j, "rank-0.log");
    cr_expect(strstr(l, "rank 1 never published"), "%s", l);
    free(l);
    free(r.out);
    job_end(&j);
}

/* proc.kill acts through the context's hooks, which librdv installs
 * from RDV_FAULTS: rank 2 dies by SIGKILL after publishing. */
Test(launch, proc_kill_reaches_the_program, .timeout = 180)
{
    job j;
    result r;

    job_init(&j);
    r = launch(&j, "--faults 'proc.kill(rank=2, at=after-publish)'", "");
    cr_expect_eq(r.code, 0, "%s", r.out);
    cr_expect(strstr(r.out, "rank 2    ") && strstr(r.out, "signal 9"),
              "%s", r.out);
    free(r.out);
    job_end(&j);
}

/* A non-fatal fault: every rank must still succeed. */
Test(launch, delay_is_survived, .timeout = 180)
{
    job j;
    result r;
    char *l;

    job_init(&j);
    r = launch(&j, "--faults 'store.delay(op=set, ms=20)'", "");
    cr_expect_eq(r.code, 0, "%s", r.out);
    cr_expect(strstr(r.out, "not fatal"), "%s", r.out);
    l = log_of(&j, "rank-3.faults.log");
    cr_expect(strstr(l, "store.delay: set '"), "%s", l);
    free(l);
    free(r.out);
    job_end(&j);
}

/* A fatal fault that takes effect in no rank (nth= past every rank's
 * last set) cannot have made the program fail: judged by what fired,
 * the job must pass, and the fault line says it never took effect.
 * Judged as written, every survivor would have had to fail. */
Test(launch, fault_that_never_fired_is_not_judged, .timeout = 180)
{
    job j;
    result r;

    job_init(&j);
    r = launch(&j, "--json --faults 'store.error(op=set, nth=100000)'", "");
    cr_expect_eq(r.code, 0, "%s", r.out);
    cr_expect(strstr(r.out, "\"fatal\":false,\"culprit\":-1,"
                     "\"fired_known\":true,\"fired_mask\":0,"), "%s", r.out);
    free(r.out);
    r = launch(&j, "--faults 'store.error(op=set, nth=100000)'", "");
    cr_expect_eq(r.code, 0, "%s", r.out);
    cr_expect(strstr(r.out, "not fatal (it took effect in no rank)"), "%s",
              r.out);
    cr_expect(strstr(r.out, "4 of 4 ranks exited 0"), "%s", r.out);
    free(r.out);
    job_end(&j);
}

/* A program whose librdv never reports what fired (here: none at all)
 * is judged as written, and the fault line says why: a fatal fault that
 * every rank "survived" fails ranks-ok, as before launch judged what
 * fired. */
Test(launch, unreported_faults_are_judged_as_written, .timeout = 60)
{
    char cmd[1024];
    job j;
    result r;

    job_init(&j);
    snprintf(cmd, sizeof cmd, "launch -n 2 --store file://%s --faults "
             "'store.error(rank=1, op=set, nth=1)' -- /bin/true", j.store);
    r = rdv(cmd);
    cr_expect_eq(r.code, 1, "%s", r.out);
    cr_expect(strstr(r.out, "fatal (as written: no rank's librdv said "
                     "what fired), culprit rank 1"), "%s", r.out);
    free(r.out);
    job_end(&j);
}

/* --context-checks: each rank's librdv reports its context's sockets,
 * and rdv run's mesh-consistent judges them: 4 ranks, 6 mirrored pairs. */
Test(launch, context_checks_judge_the_mesh, .timeout = 120)
{
    job j;
    result r;

    job_init(&j);
    r = launch(&j, "--context-checks --json", "");
    cr_expect_eq(r.code, 0, "%s", r.out);
    cr_expect(strstr(r.out, "\"context_checks\":true"), "%s", r.out);
    cr_expect(strstr(r.out, "{\"name\":\"mesh-consistent\",\"verdict\":"
                     "\"PASS\",\"detail\":\"6 socket pairs mirror each "
                     "other\"}"), "%s", r.out);
    free(r.out);
    job_end(&j);
}

/* A program with no librdv context reports nothing: SKIP, naming the
 * ranks, never PASS. */
Test(launch, context_checks_skip_without_a_context, .timeout = 60)
{
    char cmd[1024];
    job j;
    result r;

    job_init(&j);
    snprintf(cmd, sizeof cmd, "launch -n 3 --store file://%s "
             "--context-checks -- /bin/true", j.store);
    r = rdv(cmd);
    cr_expect_eq(r.code, 0, "%s", r.out);
    cr_expect(check_is(r.out, "mesh-consistent", "SKIP"), "%s", r.out);
    cr_expect(strstr(r.out, "no rank reported a librdv context (ranks 0, "
                     "1, 2)"), "%s", r.out);
    free(r.out);
    job_end(&j);
}

/* rdv launch -n 3 --context-checks -- SWAPPED_PROG MODE */
static result swapped(const job *j, const char *mode)
{
    char cmd[2048];

    snprintf(cmd, sizeof cmd, "launch -n 3 --store file://%s -v "
             "--context-checks -- %s %s", j->store, SWAPPED_PROG, mode);
    return rdv(cmd);
}

/* A mesh whose reported ends do not mirror fails mesh-consistent, naming
 * the pairs: rank 1's record swaps its links to ranks 0 and 2. */
Test(launch, context_checks_fail_a_mesh_that_does_not_mirror,
     .timeout = 120)
{
    job j;
    result r;

    job_init(&j);
    r = swapped(&j, "swap");
    cr_expect_eq(r.code, 1, "%s", r.out);
    cr_expect(check_is(r.out, "mesh-consistent", "FAIL"), "%s", r.out);
    cr_expect(strstr(r.out, "rank 0's socket to rank 1 is 127.0.0.1:") &&
              strstr(r.out, " but rank 1's to rank 0 is 127.0.0.1:"),
              "%s", r.out);
    cr_expect(strstr(r.out, "rank 1's socket to rank 2 is 127.0.0.1:"),
              "%s", r.out);
    cr_expect(check_is(r.out, "ranks-ok", "PASS"), "%s", r.out);
    free(r.out);
    job_end(&j);
}

/* Ranks 0 and 1 report zeroed ends for their link to each other (a
 * socket that could not tell them): zeroes mirror zeroes, so the pair
 * is not seen and the check SKIPs naming it, never PASS. */
Test(launch, context_checks_skip_a_pair_that_told_no_address,
     .timeout = 120)
{
    job j;
    result r;

    job_init(&j);
    r = swapped(&j, "zero");
    cr_expect_eq(r.code, 0, "%s", r.out);
    cr_expect(check_is(r.out, "mesh-consistent", "SKIP"), "%s", r.out);
    cr_expect(strstr(r.out, "the sockets of 1 pair of connected ranks told "
                     "no address (ranks 0 and 1), so the mesh was not seen "
                     "whole; 2 other pairs mirror each other"), "%s", r.out);
    free(r.out);
    job_end(&j);
}

/* A retried mesh: every rank connects, rank 2's first attempt is marked
 * failed, and all connect a second context. Each rank's latest
 * connected context is judged: the second mesh, whole, mirrors (ranks
 * 0 and 1 keeping their first would mismatch rank 2's second). */
Test(launch, context_checks_judge_the_latest_connected_context,
     .timeout = 120)
{
    job j;
    result r;

    job_init(&j);
    r = swapped(&j, "retry");
    cr_expect_eq(r.code, 0, "%s", r.out);
    cr_expect(check_is(r.out, "mesh-consistent", "PASS"), "%s", r.out);
    cr_expect(strstr(r.out, "3 socket pairs mirror each other"), "%s",
              r.out);
    free(r.out);
    job_end(&j);
}

/* Memory stamped with another layout version (a launcher and a librdv
 * of different builds): the ranks' librdv writes nothing into it, and
 * the check is a SKIP naming every rank, never a reading of a layout it
 * does not know. */
Test(launch, context_checks_skip_memory_of_another_layout, .timeout = 120)
{
    job j;
    result r;

    job_init(&j);
    r = swapped(&j, "stamp");
    cr_expect_eq(r.code, 0, "%s", r.out);
    cr_expect(check_is(r.out, "ranks-ok", "PASS"), "%s", r.out);
    cr_expect(check_is(r.out, "mesh-consistent", "SKIP"), "%s", r.out);
    cr_expect(strstr(r.out, "no rank reported a librdv context (ranks 0, "
                     "1, 2)"), "%s", r.out);
    free(r.out);
    job_end(&j);
}

/* Past its line's worth, the list of ranks that reported nothing ends
 * with one ", ..." (80 ranks of /bin/true). */
Test(launch, context_checks_cut_a_long_list_of_ranks_once, .timeout = 120)
{
    char cmd[1024];
    const char *p;
    job j;
    result r;

    job_init(&j);
    snprintf(cmd, sizeof cmd, "launch -n 80 --store file://%s "
             "--context-checks -- /bin/true", j.store);
    r = rdv(cmd);
    cr_expect_eq(r.code, 0, "%s", r.out);
    cr_expect(check_is(r.out, "mesh-consistent", "SKIP"), "%s", r.out);
    p = strstr(r.out, "no rank reported a librdv context (ranks 0, 1, 2, ");
    cr_expect(p && strstr(p, ", ...): the program is not linked"), "%s",
              r.out);
    cr_expect(!strstr(r.out, "...."), "%s", r.out);
    cr_expect(!strstr(r.out, ", 79"), "%s", r.out);
    free(r.out);
    job_end(&j);
}

/* Rank 3 never runs the program (no librdv, no context): the check
 * names it as the rank that reported nothing, says what the others'
 * contexts did, and stays a SKIP; the others time out waiting for rank
 * 3 (ranks-ok fails, and the replay line keeps --context-checks). */
Test(launch, context_checks_name_the_silent_ranks, .timeout = 180)
{
    char cmd[2048];
    job j;
    result r;

    job_init(&j);
    snprintf(cmd, sizeof cmd, "launch -n 4 --store file://%s --timeout "
             "60000 --context-checks -- sh -c '[ \"$RDV_RANK\" = 3 ] || "
             "exec %s'", j.store, LAUNCH_PROG);
    r = rdv(cmd);
    cr_expect_eq(r.code, 1, "%s", r.out);
    cr_expect(check_is(r.out, "mesh-consistent", "SKIP"), "%s", r.out);
    cr_expect(strstr(r.out, "rank 3 reported no librdv context of 4 ranks, "
                     "so the mesh was not seen whole; among the others: "
                     "no two ranks got connected; the context of ranks 0, "
                     "1, 2 failed before connecting (rank 0: "), "%s",
              r.out);
    cr_expect(strstr(r.out, "replay: rdv launch -n 4 ") &&
              strstr(r.out, " --context-checks -- sh -c "), "%s", r.out);
    free(r.out);
    job_end(&j);
}

/* A fault that keeps the mesh from forming is reported by it: rank 2
 * dies after publishing, its context never connects, and the others'
 * contexts fail naming it. No pair connected: SKIP with the why. */
Test(launch, context_checks_report_a_broken_mesh, .timeout = 180)
{
    job j;
    result r;

    job_init(&j);
    r = launch(&j, "--context-checks --faults "
               "'proc.kill(rank=2, at=after-publish)'", "");
    cr_expect_eq(r.code, 0, "%s", r.out);
    cr_expect(check_is(r.out, "mesh-consistent", "SKIP"), "%s", r.out);
    cr_expect(strstr(r.out, "no two ranks got connected; the context of "
                     "ranks 0, 1, 3 failed before connecting (rank 0: "
                     "RDV_EPEER: ") && strstr(r.out, "rank 2 (pid "),
              "%s", r.out);
    cr_expect(strstr(r.out, "; rank 2 made a context that never "
                     "connected"), "%s", r.out);
    free(r.out);
    job_end(&j);
}

/* A port nobody listens on now (the kernel's pick, released). */
static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
              getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* tcp://…?serve=1: the launch serves the store from a process of its
 * own for the whole job (no rank serves it and takes it away when it
 * exits), and nothing is left listening afterwards. */
Test(launch, serve_1_is_served_by_the_launch, .timeout = 180)
{
    char cmd[4096];
    job j;
    result r;
    int port = free_port();

    job_init(&j);
    snprintf(cmd, sizeof cmd, "launch -n 4 --store 'tcp://127.0.0.1:%d?"
             "serve=1' -v --logs %s -- %s", port, j.logs, LAUNCH_PROG);
    r = rdv(cmd);
    cr_expect_eq(r.code, 0, "%s", r.out);
    cr_expect(strstr(r.out, "4 of 4 ranks exited 0"), "%s", r.out);
    cr_expect(check_is(r.out, "no-leak", "PASS"), "%s", r.out);
    free(r.out);
    snprintf(cmd, sizeof cmd, "bash -c 'exec 3<>/dev/tcp/127.0.0.1/%d' "
             "2>/dev/null && echo still-served || echo gone", port);
    r = sh(cmd);
    cr_expect(strstr(r.out, "gone"), "the launch's server outlived it: "
              "%s", r.out);
    free(r.out);
    job_end(&j);
}

/* Server faults under launch, on the server the launch owns: a restart
 * (the keys go; librdv's rendezvous publishes its record again) and a
 * pause are survived, with no --server-* option given. */
Test(launch, server_faults_act_on_the_launchs_own_server, .timeout = 180)
{
    static const char *const specs[] = {
        "proc.start-late(rank=1, ms=600); server.restart(after=200)",
        "proc.start-late(rank=1, ms=300); server.pause(after=100, ms=500)",
    };
    char cmd[4096];
    job j;
    result r;
    int port = free_port();

    job_init(&j);
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        snprintf(cmd, sizeof cmd, "launch -n 4 --store 'tcp://127.0.0.1:%d?"
                 "serve=1' --logs %s --faults '%s' -- %s", port, j.logs,
                 specs[i], LAUNCH_PROG);
        r = rdv(cmd);
        cr_expect_eq(r.code, 0, "%s: %s", specs[i], r.out);
        cr_expect(strstr(r.out, "4 of 4 ranks exited 0"), "%s", r.out);
        cr_expect(strstr(r.out, ": not fatal\n"), "%s", r.out);
        free(r.out);
    }
    job_end(&j);
}

/* Rank 0 never exits: killed at the deadline, no-hang fails naming it,
 * the exit code is 1, a replay line is printed and its log is kept. */
Test(launch, hang_is_killed_at_the_deadline, .timeout = 180)
{
    job j;
    result r;
    char *l;

    job_init(&j);
    r = launch(&j, "--timeout 8000", "hang");
    cr_expect_eq(r.code, 1, "%s", r.out);
    cr_expect(check_is(r.out, "no-hang", "FAIL"), "%s", r.out);
    cr_expect(strstr(r.out, "rank 0 (pid ") &&
              strstr(r.out, "still running at the 8000 ms deadline: "
                            "killed"), "%s", r.out);
    cr_expect(check_is(r.out, "ranks-ok", "FAIL"), "%s", r.out);
    cr_expect(strstr(r.out, "replay: rdv launch -n 4 --store file://"),
              "%s", r.out);
    l = log_of(&j, "rank-0.log");
    cr_expect(strstr(l, "rank 0 of 4: sum 10"), "%s", l);
    free(l);
    free(r.out);
    job_end(&j);
}

Test(launch, json_and_junit, .timeout = 120)
{
    job j;
    result r;
    char opts[600], cmd[600];

    job_init(&j);
    snprintf(opts, sizeof opts, "--json --junit %s/out.xml", j.logs);
    r = launch(&j, opts, "");
    cr_expect_eq(r.code, 0, "%s", r.out);
    cr_expect(strstr(r.out, "{\"version\":1,\"type\":\"launch\",\"job\":\"launch-"),
              "%s", r.out);
    cr_expect(strstr(r.out, "{\"name\":\"no-leak\",\"verdict\":\"PASS\""),
              "%s", r.out);
    free(r.out);
    snprintf(cmd, sizeof cmd, "grep -c '<testcase' %s/out.xml", j.logs);
    r = sh(cmd);
    cr_expect_eq(atoi(r.out), 3, "%s", r.out);
    free(r.out);
    job_end(&j);
}

Test(launch, bad_usage_is_2)
{
    static const char *cases[][2] = {
        {"launch -n 4 --store file:///tmp", "no program to launch"},
        {"launch -n 4 -- /bin/true", "--store URL is required"},
        {"launch -n 4 --store hash:?shared=1 -- /bin/true",
         "cannot share it after exec"},
        {"launch -n 4 --store file:///tmp --faults 'store.dleay(ms=1)' "
         "-- /bin/true", "unknown fault 'store.dleay'"},
        {"launch -n 4 --store file:///tmp --faults 'proc.kill(rank=7, "
         "at=connected)' -- /bin/true", "out of range"},
        {"launch -n 2 --store file:///tmp --faults 'server.pause(ms=10)' "
         "-- /bin/true", "no server PID was given"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        result r = rdv(cases[i][0]);

        cr_expect_eq(r.code, 2, "%s: %s", cases[i][0], r.out);
        cr_expect(strstr(r.out, cases[i][1]), "%s: %s", cases[i][0], r.out);
        free(r.out);
    }
}

/* The program could not be started: exit 127 per rank, named. */
Test(launch, missing_program_is_named, .timeout = 60)
{
    result r = rdv("launch -n 2 --store file:///tmp -- /nonexistent/prog");

    cr_expect_eq(r.code, 1, "%s", r.out);
    cr_expect(strstr(r.out, "cannot run '/nonexistent/prog'"), "%s", r.out);
    cr_expect(strstr(r.out, "exited with code 127"), "%s", r.out);
    free(r.out);
}

/* Without the launcher: a spec that does not parse fails the store
 * open inside the program, naming the variable; never silently
 * faultless. */
Test(launch, bad_env_spec_fails_the_program, .timeout = 60)
{
    job j;
    result r;
    char cmd[1024];

    job_init(&j);
    snprintf(cmd, sizeof cmd, "RDV_STORE=file://%s RDV_RANK=0 RDV_SIZE=1 "
             "RDV_FAULTS='store.delay(ms=5' %s 2>&1", j.store, LAUNCH_PROG);
    r = sh(cmd);
    cr_expect_eq(r.code, 1, "%s", r.out);
    cr_expect(strstr(r.out, "environment: RDV_FAULTS: "), "%s", r.out);
    free(r.out);
    snprintf(cmd, sizeof cmd, "RDV_STORE=file://%s RDV_RANK=0 RDV_SIZE=1 "
             "RDV_SEED=x RDV_FAULTS='store.delay(ms=5)' %s 2>&1", j.store,
             LAUNCH_PROG);
    r = sh(cmd);
    cr_expect_eq(r.code, 1, "%s", r.out);
    cr_expect(strstr(r.out, "environment: RDV_SEED: 'x' is not a decimal"),
              "%s", r.out);
    free(r.out);
    job_end(&j);
}
