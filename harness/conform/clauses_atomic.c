/*
 * conform/clauses_atomic.c - add and compare_set, alone and raced from
 * many processes. Races fork real processes (8 by default) on the same
 * store: a lost update shows as a final count below the number of
 * successful operations.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conform/clause.h"
#include "conform/clauses.h"
#include "rdv/store_ops.h"

#define RACERS 8

static int ops_per_racer(const clause_ctx *c)
{
    return c->env->quick ? 100 : 1000;
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

static int add_racer(clause_ctx *c, rdv_store *s, int i, void *arg)
{
    (void)i;
    (void)arg;
    for (int n = 0; n < ops_per_racer(c); n++)
        if (rdv_store_add(s, "counter", 1, NULL) != RDV_OK)
            return 1;
    return 0;
}

static int check_mp_add(clause_ctx *c)
{
    int64_t want = (int64_t)RACERS * ops_per_racer(c);
    int failed;

    if (!clause_needs_processes(c))
        return 0;
    failed = clause_fork_n(c, RACERS, add_racer, NULL);
    if (failed)
        return clause_fail(c, "%d of %d racing processes failed to add",
                           failed, RACERS);
    if (!expect_counter(c, "counter", want))
        return 0;
    return clause_pass(c, "%d processes x %d adds = %lld", RACERS,
                       ops_per_racer(c), (long long)want);
}

RDV_CLAUSE_SCOPED(mp_add)

/* Makes exactly ops_per_racer() attempts to move "cas" from its current
 * value v to v+1, counting its wins in wins[i]. No update may be lost:
 * the final value must equal the sum of every racer's wins. */
static int cas_racer(clause_ctx *c, rdv_store *s, int i, void *arg)
{
    int64_t *wins = arg;

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
    int64_t *wins, total = 0;
    int failed;

    if (!clause_needs_processes(c))
        return 0;
    wins = mmap(NULL, RACERS * sizeof *wins, PROT_READ | PROT_WRITE,
                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (wins == MAP_FAILED)
        return clause_fail(c, "cannot map the win counters");
    if (!clause_expect(c, c->s, "set 0", rdv_store_set(c->s, "cas", "0", 1,
                                                       0), RDV_OK)) {
        munmap(wins, RACERS * sizeof *wins);
        return 0;
    }
    failed = clause_fork_n(c, RACERS, cas_racer, wins);
    for (int i = 0; i < RACERS; i++)
        total += wins[i];
    munmap(wins, RACERS * sizeof *wins);
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

#define RACE_KEYS 20

/* Each racer tries to create every key; wins[k] counts the winners. */
static int create_racer(clause_ctx *c, rdv_store *s, int i, void *arg)
{
    int *wins = arg;

    (void)c;
    for (int k = 0; k < RACE_KEYS; k++) {
        char key[32];
        int rc;

        snprintf(key, sizeof key, "race-%d", k);
        rc = rdv_store_set(s, key, &i, sizeof i, RDV_SET_CREATE_ONLY);
        if (rc == RDV_OK)
            __atomic_fetch_add(&wins[k], 1, __ATOMIC_SEQ_CST);
        else if (rc != RDV_EEXIST)
            return 1;
    }
    return 0;
}

static int check_mp_create_only(clause_ctx *c)
{
    int *wins, failed, ok = 1;

    if (!clause_needs_processes(c))
        return 0;
    wins = mmap(NULL, RACE_KEYS * sizeof *wins, PROT_READ | PROT_WRITE,
                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (wins == MAP_FAILED)
        return clause_fail(c, "cannot map the win counters");
    failed = clause_fork_n(c, RACERS, create_racer, wins);
    for (int k = 0; k < RACE_KEYS && ok; k++)
        if (wins[k] != 1)
            ok = clause_fail(c, "key race-%d had %d create-only winners "
                             "among %d processes", k, wins[k], RACERS);
    munmap(wins, RACE_KEYS * sizeof *wins);
    if (!ok)
        return 0;
    if (failed)
        return clause_fail(c, "%d racing processes got an error other "
                           "than RDV_EEXIST", failed);
    return clause_pass(c, "%d keys raced by %d processes: exactly one "
                       "winner each", RACE_KEYS, RACERS);
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
