/*
 * tests/ref/stores/test_contract.c - every contract clause against every
 * store: hash, shared hash, file (inotify and polling), prefix over each,
 * and redis over TCP and a unix socket when the CI service is running
 * (RDV_TEST_REDIS_URL, RDV_TEST_REDIS_SOCK).
 *
 * A Criterion test is one store and one suite; each of its clauses runs
 * in a child process of its own, which is the isolation the clauses ask
 * for (a crash, a leak, a thread or a descriptor left behind stays with
 * its clause), forked rather than a Criterion test of its own because
 * Criterion execs a new process per test: under memcheck that is about a
 * second of start-up each, for some 150 clause rows. A failing clause
 * fails the store's test with the clause's name and evidence, and the
 * other clauses still run. A file store gets a fresh directory per
 * clause, removed afterwards, so clauses never share state; a tcp:// row
 * ("@TCP@" in its URL) gets a server of its own per clause in a child
 * process (tests/ref/stores/tcp/tcp_util.c), with the URL's token= if it
 * has one, stopped afterwards.
 *
 * Three suites for the stores that need no server: contract/ holds most
 * clauses and runs two stores at a time (--jobs 2);
 * contract_timed/ holds the clauses whose verdict bounds a duration
 * (rdv_clause.timed), contract_alone/ those that judge every key in the
 * store (rdv_clause.whole_store) or move 64 MiB through it
 * (rdv_clause.heavy: a redis-server busy with that answers no other
 * client in time). ctest runs both of those alone
 * (RUN_SERIAL, one job): what a timed clause measures is the store, not
 * another clause pushing 64 MiB through the same redis-server, and a key
 * a whole-store clause finds is the store's, not another test's.
 * The redis rows are the same three suites again, named contract_redis*,
 * so ctest can report them as skipped when no server was started
 * (tests/redis_gate.c) while the other rows still run. Quick mode leaves
 * out the rows that only repeat other rows' code paths (local_rows,
 * add_redis).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conform/contract.h"
#include "rdv/url.h"
#include "tcp_util.h"

typedef struct contract_case {
    char store[32];
    char url[256]; /* "@TMP@" is replaced by a fresh directory, "@TCP@"
                      by a new store server's address */
} contract_case;

#define MAX_CASES 16 /* store rows in a suite */

/* The suites, and which one a clause belongs to. */
typedef enum suite { PARALLEL, TIMED, ALONE } suite;

static suite suite_of(const rdv_clause *c)
{
    return c->timed                     ? TIMED
           : c->whole_store || c->heavy ? ALONE
                                        : PARALLEL;
}

/* One array per suite: Criterion keeps every list. */
static contract_case cases[MAX_CASES], timed_cases[MAX_CASES],
    alone_cases[MAX_CASES], redis_cases[MAX_CASES],
    redis_timed_cases[MAX_CASES], redis_alone_cases[MAX_CASES];

/* Where the suite being listed puts its rows. */
static contract_case *out;

/* Which stores a suite holds: the ones that need no server, or the rows
 * on the shared redis-server. */
typedef enum rows { LOCAL_ROWS, REDIS_ROWS } rows;

static size_t add_store(size_t n, const char *label, const char *url)
{
    if (n == MAX_CASES)
        return n;
    snprintf(out[n].store, sizeof out[n].store, "%s", label);
    snprintf(out[n].url, sizeof out[n].url, "%s", url);
    return n + 1;
}

/* Quick mode (RDV_TEST_QUICK): the sanitizer and memcheck passes. */
static int quick_mode(void)
{
    return getenv("RDV_TEST_QUICK") != NULL;
}

/* Redis rows: present when the CI service exported its URLs, each
 * plain and with prefix= (whose row also never spins before a reply: the
 * contract holds with and without the spin). Quick mode keeps the plain
 * TCP row and the prefixed unix row, which between them run every path.
 * Under CI a missing service is a failure, so it gets a row that fails. */
static size_t add_redis(size_t n, const char *label, const char *env)
{
    const char *url = getenv(env);
    int over_tcp = strcmp(label, "redis") == 0;
    char scoped[256];

    if (url && *url) {
        char scoped_label[32];

        if (!quick_mode() || over_tcp)
            n = add_store(n, label, url);
        if (quick_mode() && over_tcp)
            return n;
        snprintf(scoped, sizeof scoped, "%s%sprefix=outer&spin_us=0", url,
                 strchr(url, '?') ? "&" : "?");
        snprintf(scoped_label, sizeof scoped_label, "prefix-%s", label);
        return add_store(n, scoped_label, scoped);
    }
    if (getenv("CI") && strcmp(getenv("CI"), "true") == 0 && n < MAX_CASES) {
        snprintf(out[n].store, sizeof out[n].store, "%s", label);
        snprintf(out[n].url, sizeof out[n].url, "missing:%s", env);
        return n + 1;
    }
    fprintf(stderr, "\n*** %s is not set: the %s contract rows are SKIPPED."
            "\n*** Run ci/test, or start redis with ci/services/redis.\n\n",
            env, label);
    return n;
}

/* The stores that need no server. Quick mode (whose passes look for
 * memory errors on each code path rather than for each store's
 * behaviour) leaves out the rows
 * whose every path another row runs: the prefix wrapper is the same code
 * over any store (prefix-hash keeps it), and the tcp rows differ only in
 * token and spin (tcp-token keeps the token, tests/ref/stores/tcp the
 * spin). Under memcheck a row costs about a CPU-second a clause. The
 * release pass runs every row. */
static const struct local_row {
    const char *label, *url;
    int repeats_paths;
} local_rows[] = {
    {"hash", "hash:", 0},
    {"hash-shared", "hash:?shared=1", 0},
    {"file", "file://@TMP@", 0},
    {"file-poll", "file://@TMP@?poll=1", 0},
    {"prefix-hash", "hash:?prefix=outer", 0},
    {"prefix-hash-shared", "hash:?shared=1&prefix=outer", 1},
    {"prefix-file", "file://@TMP@?prefix=outer", 1},
    {"tcp", "tcp://@TCP@", 1},
    /* no spin before a reply, and the longest spin: neither may change
     * what a call returns or how long it waits */
    {"tcp-token", "tcp://@TCP@?token=rdv-contract&spin_us=0", 0},
    {"prefix-tcp", "tcp://@TCP@?prefix=outer&spin_us=1000", 1},
};

/* Every store row into into[]. */
static size_t add_all(rows stores, contract_case *into)
{
    size_t n = 0;

    out = into;
    if (stores == REDIS_ROWS) {
        n = add_redis(n, "redis", "RDV_TEST_REDIS_URL");
        return add_redis(n, "unix", "RDV_TEST_REDIS_SOCK");
    }
    for (size_t i = 0; i < sizeof local_rows / sizeof local_rows[0]; i++)
        if (!local_rows[i].repeats_paths || !quick_mode())
            n = add_store(n, local_rows[i].label, local_rows[i].url);
    return n;
}

ParameterizedTestParameters(contract, store)
{
    return cr_make_param_array(contract_case, cases,
                               add_all(LOCAL_ROWS, cases));
}

ParameterizedTestParameters(contract_redis, store)
{
    return cr_make_param_array(contract_case, redis_cases,
                               add_all(REDIS_ROWS, redis_cases));
}

ParameterizedTestParameters(contract_timed, store)
{
    return cr_make_param_array(contract_case, timed_cases,
                               add_all(LOCAL_ROWS, timed_cases));
}

ParameterizedTestParameters(contract_redis_timed, store)
{
    return cr_make_param_array(contract_case, redis_timed_cases,
                               add_all(REDIS_ROWS, redis_timed_cases));
}

ParameterizedTestParameters(contract_alone, store)
{
    return cr_make_param_array(contract_case, alone_cases,
                               add_all(LOCAL_ROWS, alone_cases));
}

ParameterizedTestParameters(contract_redis_alone, store)
{
    return cr_make_param_array(contract_case, redis_alone_cases,
                               add_all(REDIS_ROWS, redis_alone_cases));
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* A store server for a tcp:// row, with the token its URL gives. */
static void tcp_row_server(const char *url, tcp_server_proc *srv,
                           char *addr, size_t cap)
{
    char err[512], bare[256];
    const char *token;
    rdv_url u;

    /* "@TCP@" is no host the parser takes: ask it about a stand-in */
    snprintf(bare, sizeof bare, "tcp://h%s", strstr(url, "@TCP@") + 5);
    cr_assert_eq(rdv_url_parse(bare, &u, err, sizeof err), RDV_OK, "%s",
                 err);
    token = rdv_url_option(&u, "token");
    cr_assert_eq(tcp_server_spawn(srv, "127.0.0.1:0", token, 0, err,
                                  sizeof err), 0, "%s", err);
    rdv_url_free(&u);
    snprintf(addr, cap, "127.0.0.1:%d", srv->port);
}

/* A clause's own limit, against a hang (its process is killed by
 * SIGALRM). A clause takes seconds, but under memcheck on a host whose
 * every core is busy one took 155 s. */
#define CLAUSE_TIMEOUT_S 300

/* Why the clause's process ended without its verdict, into r. */
static void lost_verdict(const char *clause, int status, rdv_clause_result *r)
{
    r->verdict = RDV_VERDICT_FAIL;
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
        snprintf(r->evidence, sizeof r->evidence, "clause %s still ran after "
                 "%d s: killed", clause, CLAUSE_TIMEOUT_S);
    else if (WIFSIGNALED(status))
        snprintf(r->evidence, sizeof r->evidence, "clause %s's process "
                 "died of signal %d (%s)", clause, WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(r->evidence, sizeof r->evidence, "clause %s's process "
                 "exited with status %d (a sanitizer report above says why)",
                 clause, WEXITSTATUS(status));
}

/* Runs clause against the store of tc in a child process, with a fresh
 * directory or store server; its result lands in r (shared memory, so
 * the clause's own forked racers can write there too). */
static void run_clause(const contract_case *tc, const rdv_clause *clause,
                       rdv_clause_result *r)
{
    char url[512], dir[] = "/tmp/rdv-contract-XXXXXX", addr[64];
    const char *at = strstr(tc->url, "@TMP@");
    const char *tcp = strstr(tc->url, "@TCP@");
    rdv_clause_env env = {url, quick_mode()};
    tcp_server_proc srv = {0};
    int status;
    pid_t pid;

    if (at) {
        cr_assert(mkdtemp(dir), "mkdtemp failed");
        snprintf(url, sizeof url, "%.*s%s%s", (int)(at - tc->url), tc->url,
                 dir, at + 5);
    } else if (tcp) {
        tcp_row_server(tc->url, &srv, addr, sizeof addr);
        snprintf(url, sizeof url, "%.*s%s%s", (int)(tcp - tc->url), tc->url,
                 addr, tcp + 5);
    } else {
        snprintf(url, sizeof url, "%s", tc->url);
    }
    fflush(NULL);
    pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        setpgid(0, 0); /* a hung clause's racers are killed with it */
        alarm(CLAUSE_TIMEOUT_S);
        rdv_contract_run(clause, &env, r);
        exit(0);
    }
    while (waitpid(pid, &status, 0) < 0)
        cr_assert_eq(errno, EINTR, "waitpid: %s", strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (WIFSIGNALED(status))
            kill(-pid, SIGKILL);
        lost_verdict(clause->name, status, r);
    }
    if (at)
        nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    if (tcp)
        cr_assert_eq(tcp_server_stop(&srv), 0, "the store server did not "
                     "stop cleanly");
}

/* Every clause of suite which against the store of tc, each in a process
 * of its own; every failure is reported, with its clause and evidence. */
static void run_case(const contract_case *tc, suite which)
{
    size_t nclauses, ran = 0, skipped = 0;
    const rdv_clause *all = rdv_contract_clauses(&nclauses);
    rdv_clause_result *r;

    cr_assert(strncmp(tc->url, "missing:", 8) != 0,
              "%s: CI=true but %s is not set: the redis service did not "
              "start", tc->store, tc->url + 8);
    r = mmap(NULL, sizeof *r, PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert(r != MAP_FAILED, "mmap: %s", strerror(errno));
    for (size_t i = 0; i < nclauses; i++) {
        if (suite_of(&all[i]) != which)
            continue;
        run_clause(tc, &all[i], r);
        ran++;
        if (r->verdict == RDV_VERDICT_SKIP) {
            skipped++;
            cr_log_info("%s/%s: SKIP: %s", tc->store, all[i].name,
                        r->evidence);
            continue;
        }
        cr_expect_eq(r->verdict, RDV_VERDICT_PASS, "%s/%s (%s): %s",
                     tc->store, all[i].name, tc->url, r->evidence);
    }
    munmap(r, sizeof *r);
    if (ran > 0 && skipped == ran)
        cr_skip_test("%s: every clause of the suite skipped", tc->store);
}

ParameterizedTest(contract_case *tc, contract, store)
{
    run_case(tc, PARALLEL);
}

ParameterizedTest(contract_case *tc, contract_timed, store)
{
    run_case(tc, TIMED);
}

ParameterizedTest(contract_case *tc, contract_alone, store)
{
    run_case(tc, ALONE);
}

ParameterizedTest(contract_case *tc, contract_redis, store)
{
    run_case(tc, PARALLEL);
}

ParameterizedTest(contract_case *tc, contract_redis_timed, store)
{
    run_case(tc, TIMED);
}

ParameterizedTest(contract_case *tc, contract_redis_alone, store)
{
    run_case(tc, ALONE);
}
