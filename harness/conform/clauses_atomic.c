/*
 * conform/clauses_atomic.c - add and compare_set, alone and raced from
 * many processes. Races fork real processes on the same store: a lost
 * update shows as a final count below the number of successful
 * operations, a broken create-only as two winners of one key.
 *
 * Choices (races are forced, not hoped for):
 * - Racers wait at a start line in shared memory (clause_start_line)
 *   and fire together: fork() alone staggers them by milliseconds, more
 *   than the window of a check-then-set.
 * - mp-create-only runs round after round with 2, 3, 5, 8 and 12
 *   contenders, each round a fresh key and a fresh start line.
 * - The add races run hundreds of ops per process even in quick mode:
 *   a client that batches or caches may lose updates only past its
 *   first few dozen.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conform/clause.h"
#include "conform/clauses.h"
#include "rdv/store_ops.h"

#define RACERS 8

static int ops_per_racer(const clause_ctx *c)
{
    return c->env->quick ? 300 : 1000;
}

static int expect_counter(clause_ctx *c, const char *key, int64_t want)
{
    char buf[32];
    size_t n = rdv_counter_format(want, buf);

    return clause_expect_value(c, c->s, key, buf, n);
}

static int check_add(clause_ctx *c)
{
    int64_t v = 0;

    if (!clause_expect(c, c->s, "add to missing",
                       rdv_store_add(c->s, "n", 5, &v), RDV_OK))
        return 0;
    if (v != 5)
        return clause_fail(c, "add 5 to a missing key gave %lld",
                           (long long)v);
    if (!clause_expect(c, c->s, "add", rdv_store_add(c->s, "n", -7, &v),
                       RDV_OK))
        return 0;
    if (v != -2)
        return clause_fail(c, "5 + -7 gave %lld", (long long)v);
    if (!expect_counter(c, "n", -2) ||
        !clause_expect(c, c->s, "add 0", rdv_store_add(c->s, "n", 0, &v),
                       RDV_OK))
        return 0;
    if (v != -2)
        return clause_fail(c, "add 0 changed the value to %lld",
                           (long long)v);
    if (!clause_expect(c, c->s, "set text",
                       rdv_store_set(c->s, "text", "abc", 3, 0), RDV_OK) ||
        !clause_expect(c, c->s, "add to a non-number",
                       rdv_store_add(c->s, "text", 1, &v), RDV_EPROTO))
        return 0;
    return clause_pass(c, "add accumulates from 0; a non-number is "
                       "RDV_EPROTO: %s", rdv_store_errmsg(c->s));
}
RDV_CLAUSE_SCOPED(add)

static int check_compare_set(clause_ctx *c)
{
    void *cur = NULL;
    size_t len = 0;
    int won = -1, rc;

    rc = rdv_store_compare_set(c->s, "cas", NULL, 0, "a", 1, &won, &cur,
                               &len);
    if (!clause_expect(c, c->s, "compare_set on absent", rc, RDV_OK))
        return 0;
    if (won != 1 || len != 1 || !cur || memcmp(cur, "a", 1)) {
        free(cur);
        return clause_fail(c, "compare_set(absent -> a) won=%d, current "
                           "%zu bytes; want won=1, 'a'", won, len);
    }
    free(cur);
    cur = NULL;
    rc = rdv_store_compare_set(c->s, "cas", "zzz", 3, "b", 1, &won, &cur,
                               &len);
    if (!clause_expect(c, c->s, "compare_set with wrong expected", rc,
                       RDV_OK))
        return 0;
    if (won != 0 || len != 1 || !cur || memcmp(cur, "a", 1)) {
        free(cur);
        return clause_fail(c, "compare_set(zzz -> b) on 'a' won=%d; want "
                           "won=0 and current 'a'", won);
    }
    free(cur);
    rc = rdv_store_compare_set(c->s, "cas", NULL, 0, "c", 1, &won, NULL,
                               NULL);
    if (!clause_expect(c, c->s, "compare_set(absent) on present", rc,
                       RDV_OK))
        return 0;
    if (won != 0)
        return clause_fail(c, "compare_set expecting absence won over an "
                           "existing key");
    rc = rdv_store_compare_set(c->s, "cas", "a", 1, "", 0, &won, NULL, NULL);
    if (!clause_expect(c, c->s, "compare_set(a -> empty)", rc, RDV_OK))
        return 0;
    if (won != 1 || !clause_expect_value(c, c->s, "cas", "", 0))
        return won == 1 ? 0 : clause_fail(c, "compare_set(a -> '') lost "
                                          "though the value was 'a'");
    return clause_pass(c, "compare_set wins on a match or on absence, "
                       "loses otherwise, and reports the current value");
}
RDV_CLAUSE_SCOPED(compare_set)

#define START_LINE_MS 20000 /* racers that do not all arrive by then
                              failed to open or crashed */

/* A race's shared page: the start line and what the racers saw. */
typedef struct add_race {
    int arrived;
    char why[RACERS][160]; /* a racer's failure, or "" */
} add_race;

static int add_racer(clause_ctx *c, rdv_store *s, int i, void *arg)
{
    add_race *race = arg;

    if (clause_start_line(&race->arrived, RACERS, START_LINE_MS))
        return 2;
    for (int n = 0; n < ops_per_racer(c); n++) {
        int rc = rdv_store_add(s, "counter", 1, NULL);

        if (rc != RDV_OK) {
            snprintf(race->why[i], sizeof race->why[i], "add #%d: %s (%s)",
                     n + 1, rdv_status_name(rc), rdv_store_errmsg(s));
            return 1;
        }
    }
    return 0;
}

static int check_mp_add(clause_ctx *c)
{
    int64_t want = (int64_t)RACERS * ops_per_racer(c), got = 0, t0;
    add_race *race;
    void *v = NULL;
    size_t len = 0;
    int failed, rc, ok;

    if (!clause_needs_processes(c))
        return 0;
    race = mmap(NULL, sizeof *race, PROT_READ | PROT_WRITE,
                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (race == MAP_FAILED)
        return clause_fail(c, "cannot map the start line");
    memset(race, 0, sizeof *race);
    t0 = rdv_now_ns();
    failed = clause_fork_n(c, RACERS, add_racer, race);
    for (int i = 0; i < RACERS && failed; i++)
        if (race->why[i][0]) {
            munmap(race, sizeof *race);
            return clause_fail(c, "%d of %d racing processes failed to "
                               "add; process %d: %s", failed, RACERS, i,
                               race->why[i]);
        }
    munmap(race, sizeof *race);
    if (failed)
        return clause_fail(c, "%d of %d racing processes failed (did not "
                           "open the store or reach the start line)",
                           failed, RACERS);
    rc = rdv_store_get(c->s, "counter", &v, &len, 5000);
    ok = rc == RDV_OK && rdv_counter_parse(v, len, &got) == RDV_OK;
    free(v);
    if (rc != RDV_OK)
        return clause_fail(c, "get 'counter' after the race: %s (%s)",
                           rdv_status_name(rc), rdv_store_errmsg(c->s));
    if (!ok || got != want)
        return clause_fail(c, "%d processes x %d adds of 1 to 'counter', "
                           "every one acknowledged RDV_OK, left %s%lld, "
                           "want %lld: %lld update(s) lost (%lld ms)",
                           RACERS, ops_per_racer(c), ok ? "" : "a "
                           "non-number, not ", (long long)got,
                           (long long)want, (long long)(want - got),
                           (long long)clause_ms_since(t0));
    return clause_pass(c, "%d processes started together x %d adds = %lld "
                       "(%lld ms)", RACERS, ops_per_racer(c),
                       (long long)want, (long long)clause_ms_since(t0));
}

RDV_CLAUSE_SCOPED(mp_add)

/* Makes exactly ops_per_racer() attempts to move "cas" from its current
 * value v to v+1, counting its wins in wins[i]. No update may be lost:
 * the final value must equal the sum of every racer's wins. */
typedef struct cas_race {
    int arrived;
    int64_t wins[RACERS];
} cas_race;

static int cas_racer(clause_ctx *c, rdv_store *s, int i, void *arg)
{
    cas_race *race = arg;
    int64_t *wins = race->wins;

    if (clause_start_line(&race->arrived, RACERS, START_LINE_MS))
        return 2;
    for (int n = 0; n < ops_per_racer(c); n++) {
        void *cur = NULL;
        size_t len = 0, nlen;
        int64_t v = 0;
        char next[32];
        int won = 0;

        if (rdv_store_get(s, "cas", &cur, &len, 5000) != RDV_OK ||
            rdv_counter_parse(cur, len, &v) != RDV_OK) {
            free(cur);
            return 1;
        }
        nlen = rdv_counter_format(v + 1, next);
        if (rdv_store_compare_set(s, "cas", cur, len, next, nlen, &won,
                                  NULL, NULL) != RDV_OK) {
            free(cur);
            return 1;
        }
        free(cur);
        wins[i] += won;
    }
    return 0;
}

static int check_mp_compare_set(clause_ctx *c)
{
    cas_race *race;
    int64_t total = 0;
    int failed;

    if (!clause_needs_processes(c))
        return 0;
    race = mmap(NULL, sizeof *race, PROT_READ | PROT_WRITE,
                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (race == MAP_FAILED)
        return clause_fail(c, "cannot map the win counters");
    memset(race, 0, sizeof *race);
    if (!clause_expect(c, c->s, "set 0", rdv_store_set(c->s, "cas", "0", 1,
                                                       0), RDV_OK)) {
        munmap(race, sizeof *race);
        return 0;
    }
    failed = clause_fork_n(c, RACERS, cas_racer, race);
    for (int i = 0; i < RACERS; i++)
        total += race->wins[i];
    munmap(race, sizeof *race);
    if (failed)
        return clause_fail(c, "%d of %d racing processes failed",
                           failed, RACERS);
    if (total == 0)
        return clause_fail(c, "no compare_set ever won");
    if (!expect_counter(c, "cas", total))
        return 0;
    return clause_pass(c, "%d processes x %d compare_set attempts: %lld "
                       "wins, final value %lld", RACERS, ops_per_racer(c),
                       (long long)total, (long long)total);
}
RDV_CLAUSE_SCOPED(mp_compare_set)

static const int contenders[] = {2, 3, 5, 8, 12};
#define MAX_CONTENDERS 12
#define MAX_ROUNDS 16

static int create_rounds(const clause_ctx *c)
{
    return c->env->quick ? 6 : MAX_ROUNDS;
}

/* One contender count's rounds, in memory the racers share. */
typedef struct create_race {
    int n;                              /* contenders */
    int arrived[MAX_ROUNDS];            /* each round's start line */
    unsigned winners[MAX_ROUNDS];       /* bit i: contender i won */
    int64_t fired_ns[MAX_ROUNDS][MAX_CONTENDERS];
    char why[MAX_CONTENDERS][160];      /* an unexpected error, or "" */
} create_race;

/* Each round: the start line, then one create-only set of that round's
 * key; winners are noted. */
static int create_racer(clause_ctx *c, rdv_store *s, int i, void *arg)
{
    create_race *race = arg;

    for (int r = 0; r < create_rounds(c); r++) {
        char key[32];
        int rc;

        if (clause_start_line(&race->arrived[r], race->n, START_LINE_MS))
            return 2;
        snprintf(key, sizeof key, "race-%d-%d", race->n, r);
        race->fired_ns[r][i] = rdv_now_ns();
        rc = rdv_store_set(s, key, &i, sizeof i, RDV_SET_CREATE_ONLY);
        if (rc == RDV_OK)
            __atomic_fetch_or(&race->winners[r], 1u << i, __ATOMIC_SEQ_CST);
        else if (rc != RDV_EEXIST) {
            snprintf(race->why[i], sizeof race->why[i], "create-only set "
                     "'%s': %s (%s)", key, rdv_status_name(rc),
                     rdv_store_errmsg(s));
            return 1;
        }
    }
    return 0;
}

/* Judges one contender count's rounds. */
static int judge_create(clause_ctx *c, const create_race *race, int failed)
{
    for (int r = 0; r < create_rounds(c); r++) {
        unsigned w = race->winners[r];
        int first = -1, second = -1;
        int64_t apart;

        if (__builtin_popcount(w) == 1)
            continue;
        for (int i = 0; i < race->n; i++)
            if (w & (1u << i)) {
                if (first < 0)
                    first = i;
                else if (second < 0)
                    second = i;
            }
        if (first < 0) {
            if (failed)
                break; /* a racer's error says more; below */
            return clause_fail(c, "round %d of %d, %d processes: no "
                               "create-only set of 'race-%d-%d' won", r + 1,
                               create_rounds(c), race->n, race->n, r);
        }
        apart = race->fired_ns[r][second] - race->fired_ns[r][first];
        return clause_fail(c, "round %d of %d, %d processes started "
                           "together: create-only set of 'race-%d-%d' had "
                           "%d winners (processes %d and %d, which fired "
                           "%.2f ms apart); exactly one may win", r + 1,
                           create_rounds(c), race->n, race->n, r,
                           __builtin_popcount(w), first, second,
                           (double)(apart < 0 ? -apart : apart) / 1e6);
    }
    for (int i = 0; i < race->n; i++)
        if (race->why[i][0])
            return clause_fail(c, "%d processes racing: process %d got %s",
                               race->n, i, race->why[i]);
    if (failed)
        return clause_fail(c, "%d of %d racing processes failed (did not "
                           "open the store or reach the start line)",
                           failed, race->n);
    return 1;
}

static int check_mp_create_only(clause_ctx *c)
{
    create_race *race;
    int rounds = 0, ok = 1;

    if (!clause_needs_processes(c))
        return 0;
    race = mmap(NULL, sizeof *race, PROT_READ | PROT_WRITE,
                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (race == MAP_FAILED)
        return clause_fail(c, "cannot map the win counters");
    for (size_t k = 0; k < sizeof contenders / sizeof contenders[0] && ok;
         k++) {
        memset(race, 0, sizeof *race);
        race->n = contenders[k];
        ok = judge_create(c, race, clause_fork_n(c, race->n, create_racer,
                                                 race));
        rounds += create_rounds(c);
    }
    munmap(race, sizeof *race);
    if (!ok)
        return 0;
    return clause_pass(c, "%d rounds of 2, 3, 5, 8 and 12 processes "
                       "started together: exactly one create-only winner "
                       "each", rounds);
}
RDV_CLAUSE_SCOPED(mp_create_only)

static int late_setter(clause_ctx *c, rdv_store *s, int i, void *arg)
{
    (void)c;
    (void)i;
    (void)arg;
    usleep(200 * 1000);
    return rdv_store_set(s, "wake", "up", 2, 0) == RDV_OK ? 0 : 1;
}

static int check_mp_wake(clause_ctx *c)
{
    int64_t t0, took;
    void *v = NULL;
    size_t len;
    pid_t child;
    int rc;

    if (!clause_needs_processes(c))
        return 0;
    t0 = rdv_now_ns();
    child = clause_spawn(c, late_setter, 0, NULL);
    rc = rdv_store_get(c->s, "wake", &v, &len, 10000);
    took = clause_ms_since(t0);
    free(v);
    if (!clause_reap(child))
        return clause_fail(c, "the setting process failed");
    if (!clause_expect(c, c->s, "get woken by another process", rc, RDV_OK))
        return 0;
    if (took < 150)
        return clause_fail(c, "get returned after %lld ms, before the key "
                           "was set", (long long)took);
    return clause_pass(c, "a get was woken %lld ms after another process "
                       "set the key at ~200 ms", (long long)took);
}
RDV_CLAUSE_SCOPED(mp_wake)
