/*
 * test_redis_shared.c - the redis store against the shared server that
 * ci/services/redis started ($RDV_TEST_REDIS_URL, $RDV_TEST_REDIS_SOCK):
 * db isolation, no lost update from 8 forked processes, cleanup by a
 * prefix full of glob metacharacters, and a handle used across fork().
 * Every key lives under a prefix unique to the test process.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rdv/store.h"
#include "rdv/store_ops.h"
#include "redis_util.h"

#define NPROC 8
#define NOPS 200

static void key_of(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s%s", redis_test_prefix(), name);
}

/* url with "/db" or "?db=" appended, as the scheme spells it. */
static void with_db(char *buf, size_t cap, const char *url, int db)
{
    snprintf(buf, cap, strncmp(url, "unix:", 5) == 0 ? "%s?db=%d" : "%s/%d",
             url, db);
}

Test(redis_shared, two_dbs_are_isolated)
{
    char u1[256], u2[256], key[128];
    rdv_store *a, *b;
    void *v = NULL;
    size_t len;

    with_db(u1, sizeof u1, redis_shared_url(), 1);
    with_db(u2, sizeof u2, redis_shared_sock(), 2);
    a = redis_open_ok(u1);
    b = redis_open_ok(u2);
    key_of(key, sizeof key, "db");
    cr_assert_eq(rdv_store_set(a, key, "one", 3, 0), RDV_OK);
    cr_expect_eq(rdv_store_try_get(b, key, &v, &len), RDV_ENOTFOUND,
                 "db 2 sees db 1's key");
    cr_assert_eq(rdv_store_set(b, key, "two", 3, 0), RDV_OK);
    cr_assert_eq(rdv_store_get(a, key, &v, &len, 1000), RDV_OK);
    cr_expect(len == 3 && memcmp(v, "one", 3) == 0, "db 1 now holds %.*s",
              (int)len, (char *)v);
    free(v);
    cr_expect_eq(rdv_store_delete(a, key), RDV_OK);
    cr_expect_eq(rdv_store_try_get(b, key, &v, &len), RDV_OK,
                 "deleting in db 1 removed db 2's key");
    free(v);
    cr_expect_eq(rdv_store_delete(b, key), RDV_OK);
    rdv_store_close(a);
    rdv_store_close(b);
}

/* One increment of cas by compare_set: read, then swap in value+1,
 * again until this process wins. */
static int cas_increment(rdv_store *s, const char *cas)
{
    for (;;) {
        void *cur = NULL;
        size_t len;
        int64_t x;
        char next[32];
        int won = 0, rc = rdv_store_get(s, cas, &cur, &len, 5000);

        if (rc == RDV_OK && (rc = rdv_counter_parse(cur, len, &x)) == 0)
            rc = rdv_store_compare_set(s, cas, cur, len, next,
                                       rdv_counter_format(x + 1, next),
                                       &won, NULL, NULL);
        free(cur);
        if (rc || won)
            return rc;
    }
}

/* One child: NOPS adds and NOPS compare_set increments. */
static int hammer(const char *url, const char *ctr, const char *cas)
{
    char err[512];
    rdv_store *s;
    int rc;

    if (rdv_store_open(url, &s, err, sizeof err))
        return 1;
    for (int i = 0; i < NOPS; i++) {
        if ((rc = rdv_store_add(s, ctr, 1, NULL)) ||
            (rc = cas_increment(s, cas))) {
            fprintf(stderr, "child %d: %s\n", (int)getpid(),
                    rdv_store_errmsg(s));
            break;
        }
    }
    rdv_store_close(s);
    return rc ? 1 : 0;
}

Test(redis_shared, no_update_lost_across_8_processes, .timeout = 120)
{
    const char *url = redis_shared_url();
    char ctr[128], cas[128];
    pid_t kids[NPROC];
    rdv_store *s = redis_open_ok(url);
    void *v = NULL;
    size_t len;
    int64_t n = 0;

    key_of(ctr, sizeof ctr, "atomic/add");
    key_of(cas, sizeof cas, "atomic/cas");
    cr_assert_eq(rdv_store_set(s, cas, "0", 1, 0), RDV_OK);
    rdv_store_close(s); /* children open their own; nothing to inherit */
    fflush(NULL);
    for (int i = 0; i < NPROC; i++) {
        kids[i] = fork();
        cr_assert(kids[i] >= 0, "fork");
        if (kids[i] == 0)
            exit(hammer(url, ctr, cas));
    }
    for (int i = 0; i < NPROC; i++) {
        int st;

        cr_assert_eq(waitpid(kids[i], &st, 0), kids[i]);
        cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "child %d failed (status 0x%x)", i, st);
    }
    s = redis_open_ok(url);
    cr_assert_eq(rdv_store_add(s, ctr, 0, &n), RDV_OK);
    cr_expect_eq(n, NPROC * NOPS, "add: %lld, expected %d", (long long)n,
                 NPROC * NOPS);
    cr_assert_eq(rdv_store_get(s, cas, &v, &len, 1000), RDV_OK);
    cr_expect(rdv_counter_parse(v, len, &n) == 0 && n == NPROC * NOPS,
              "compare_set: %.*s, expected %d", (int)len, (char *)v,
              NPROC * NOPS);
    free(v);
    rdv_store_delete(s, ctr);
    rdv_store_delete(s, cas);
    rdv_store_close(s);
}

Test(redis_shared, delete_prefix_leaves_zero_keys)
{
    /* Glob metacharacters in the prefix must match only themselves. */
    static const char *const mine[] = {"a*b/1", "a*b/2", "a*b/[x]",
                                       "a*b/\\", "a*b/?"};
    static const char *const others[] = {"aXb/1", "a*c/1", "ab/1",
                                         "a\\*b/1"};
    char base[128], prefix[160], key[256];
    const char *url = redis_shared_url();
    redisContext *admin = redis_admin(url);
    rdv_store *s = redis_open_ok(url);
    size_t deleted = 0;

    key_of(base, sizeof base, "");
    snprintf(prefix, sizeof prefix, "%sa*b/", base);
    for (size_t i = 0; i < 5; i++) {
        snprintf(key, sizeof key, "%s%s", base, mine[i]);
        cr_assert_eq(rdv_store_set(s, key, "v", 1, 0), RDV_OK);
    }
    for (size_t i = 0; i < 4; i++) {
        snprintf(key, sizeof key, "%s%s", base, others[i]);
        cr_assert_eq(rdv_store_set(s, key, "v", 1, 0), RDV_OK);
    }
    /* Many more keys than one SCAN page, so the walk takes several. */
    for (int i = 0; i < 2500; i++) {
        snprintf(key, sizeof key, "%sa*b/many/%d", base, i);
        cr_assert_eq(rdv_store_set(s, key, "", 0, 0), RDV_OK);
    }
    cr_assert_eq(rdv_store_delete_prefix(s, prefix, &deleted), RDV_OK, "%s",
                 rdv_store_errmsg(s));
    cr_expect_eq(deleted, 2505, "deleted %zu keys, expected 2505", deleted);
    cr_expect_eq(redis_admin_count(admin, prefix), 0,
                 "SCAN still finds keys under the prefix");
    cr_expect_eq(redis_admin_count(admin, base), 4,
                 "the decoys were touched");
    cr_assert_eq(rdv_store_delete_prefix(s, base, &deleted), RDV_OK);
    cr_expect_eq(deleted, 4);
    cr_expect_eq(redis_admin_count(admin, base), 0,
                 "SCAN still finds the test's keys");
    rdv_store_close(s);
    redisFree(admin);
}

/* Sets and reads back its own values; any reply meant for the other
 * process would show up as a wrong value. */
static int ping_pong(rdv_store *s, const char *who, int rounds)
{
    char key[160], val[64];
    void *v = NULL;
    size_t len;

    for (int i = 0; i < rounds; i++) {
        int n = snprintf(val, sizeof val, "%s-%d", who, i);

        key_of(key, sizeof key, who);
        if (rdv_store_set(s, key, val, (size_t)n, 0) ||
            rdv_store_get(s, key, &v, &len, 2000))
            return 1;
        if (len != (size_t)n || memcmp(v, val, len) != 0) {
            fprintf(stderr, "%s: round %d got '%.*s'\n", who, i, (int)len,
                    (char *)v);
            free(v);
            return 2;
        }
        free(v);
    }
    return 0;
}

Test(redis_shared, handle_opened_before_fork_reconnects_in_child,
     .timeout = 60)
{
    rdv_store *s = redis_open_ok(redis_shared_url());
    char key[160];
    int st;
    pid_t kid;

    cr_assert_eq(ping_pong(s, "parent", 1), 0, "before fork");
    fflush(NULL);
    kid = fork();
    cr_assert(kid >= 0, "fork");
    if (kid == 0) {
        int rc = ping_pong(s, "child", 2000);

        rdv_store_close(s);
        exit(rc);
    }
    cr_expect_eq(ping_pong(s, "parent", 2000), 0,
                 "the parent got a wrong reply");
    cr_assert_eq(waitpid(kid, &st, 0), kid);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "the child got a wrong reply or failed (status 0x%x)", st);
    key_of(key, sizeof key, "");
    rdv_store_delete_prefix(s, key, NULL);
    rdv_store_close(s);
}

Test(redis_shared, child_closing_an_inherited_handle_leaves_parent_alone,
     .timeout = 60)
{
    rdv_store *s = redis_open_ok(redis_shared_url());
    char key[160];
    void *v = NULL;
    size_t len;
    int st;
    pid_t kid;

    key_of(key, sizeof key, "inherited");
    cr_assert_eq(rdv_store_set(s, key, "p", 1, 0), RDV_OK);
    fflush(NULL);
    kid = fork();
    cr_assert(kid >= 0, "fork");
    if (kid == 0) {
        rdv_store_close(s); /* never used here */
        exit(0);
    }
    cr_assert_eq(waitpid(kid, &st, 0), kid);
    cr_expect_eq(rdv_store_get(s, key, &v, &len, 2000), RDV_OK,
                 "the parent's handle broke when the child closed its copy:"
                 " %s", rdv_store_errmsg(s));
    free(v);
    v = NULL;
    cr_expect_eq(rdv_store_get(s, "rdvtest/absent", &v, &len, 50),
                 RDV_ETIMEDOUT, "a wait in the parent ended early: %s",
                 rdv_store_errmsg(s));
    rdv_store_delete(s, key);
    rdv_store_close(s);
}

Test(redis_shared, db_the_server_lacks_is_einval_naming_it)
{
    char url[256], err[512];
    rdv_store *s = NULL;
    int rc;

    with_db(url, sizeof url, redis_shared_url(), 1000000);
    rc = rdv_store_open(url, &s, err, sizeof err);
    cr_expect_eq(rc, RDV_EINVAL, "%s: %s: %s", url, rdv_status_name(rc),
                 err);
    cr_expect(strstr(err, "db 1000000") != NULL, "%s", err);
    cr_expect_null(s);
}

typedef struct adder {
    rdv_store *s;
    const char *key;
    int rc;
} adder;

static void *add_thread(void *arg)
{
    adder *a = arg;

    for (int i = 0; i < NOPS && a->rc == RDV_OK; i++)
        a->rc = rdv_store_add(a->s, a->key, 1, NULL);
    return NULL;
}

Test(redis_shared, threads_share_one_handle)
{
    rdv_store *s = redis_open_ok(redis_shared_sock());
    pthread_t t[4];
    adder a[4];
    char key[160];
    int64_t n = 0;

    key_of(key, sizeof key, "threads");
    for (int i = 0; i < 4; i++) {
        a[i] = (adder){s, key, RDV_OK};
        cr_assert_eq(pthread_create(&t[i], NULL, add_thread, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        cr_expect_eq(a[i].rc, RDV_OK, "thread %d: %s", i,
                     rdv_store_errmsg(s));
    }
    cr_assert_eq(rdv_store_add(s, key, 0, &n), RDV_OK);
    cr_expect_eq(n, 4 * NOPS, "%lld adds arrived, expected %d",
                 (long long)n, 4 * NOPS);
    rdv_store_delete(s, key);
    rdv_store_close(s);
}
