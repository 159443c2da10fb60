/*
 * test_redis_server.c - the redis store against a private redis-server
 * that the test starts, kills and restarts by PID: a wait that spans a
 * restart, a killed server, and logins with right and wrong passwords.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>

#include "rdv/store.h"
#include "redis_util.h"

static redis_server srv;

static void srv_fini(void)
{
    redis_server_stop(&srv);
}

/* How many times the server has run cmd (INFO commandstats). */
static long calls_of(const char *cmd)
{
    redisContext *c = redis_admin(srv.url);
    redisReply *r = redisCommand(c, "INFO commandstats");
    char needle[64];
    const char *p;
    long n = 0;

    cr_assert(r && r->type == REDIS_REPLY_STRING, "INFO failed");
    snprintf(needle, sizeof needle, "cmdstat_%s:calls=", cmd);
    p = strstr(r->str, needle);
    if (p)
        n = strtol(p + strlen(needle), NULL, 10);
    freeReplyObject(r);
    redisFree(c);
    return n;
}

typedef struct waiter {
    rdv_store *s;
    int rc;
    char err[1024];
} waiter;

static void *wait_thread(void *arg)
{
    waiter *w = arg;
    const char *keys[] = {"restart/key"};

    w->rc = rdv_store_wait(w->s, keys, 1, 20000);
    snprintf(w->err, sizeof w->err, "%s", rdv_store_errmsg(w->s));
    return NULL;
}

Test(redis_server, wait_survives_a_restart, .fini = srv_fini,
     .timeout = 60)
{
    waiter w = {0};
    pthread_t t;
    rdv_store *writer;
    int port;

    redis_server_start(&srv, 0, NULL);
    port = srv.port;
    w.s = redis_open_ok(srv.url);
    cr_assert_eq(pthread_create(&t, NULL, wait_thread, &w), 0);
    /* The waiter is inside its wait once the server has run its polls. */
    while (calls_of("eval") < 3)
        nanosleep(&(struct timespec){0, 2000000}, NULL);
    redis_server_kill(&srv, SIGKILL);
    redis_server_start(&srv, port, NULL);
    writer = redis_open_ok(srv.url);
    cr_assert_eq(rdv_store_set(writer, "restart/key", "v", 1, 0), RDV_OK,
                 "%s", rdv_store_errmsg(writer));
    pthread_join(t, NULL);
    cr_expect_eq(w.rc, RDV_OK, "the wait ended with %s: %s",
                 rdv_status_name(w.rc), w.err);
    rdv_store_close(writer);
    rdv_store_close(w.s);
}

Test(redis_server, killed_server_is_econn_within_the_deadline,
     .fini = srv_fini, .timeout = 60)
{
    char url[160], key[] = "killed/key";
    rdv_store *s;
    void *v = NULL;
    size_t len;
    double t0, took;
    int rc;

    redis_server_start(&srv, 0, NULL);
    snprintf(url, sizeof url, "%s?timeout_ms=800", srv.url);
    s = redis_open_ok(url);
    cr_assert_eq(rdv_store_set(s, key, "x", 1, 0), RDV_OK);
    redis_server_kill(&srv, SIGKILL);

    t0 = redis_now_s();
    rc = rdv_store_get(s, "killed/missing", &v, &len, 1500);
    took = redis_now_s() - t0;
    cr_expect_eq(rc, RDV_ECONN, "get: %s: %s", rdv_status_name(rc),
                 rdv_store_errmsg(s));
    cr_expect(took < 2.5, "get with a 1500 ms timeout took %.2f s", took);
    redis_expect_named("get", rdv_store_errmsg(s), "killed/missing", srv.port);

    /* An op without a deadline of its own is bounded by timeout_ms. */
    t0 = redis_now_s();
    rc = rdv_store_add(s, key, 1, NULL);
    took = redis_now_s() - t0;
    cr_expect_eq(rc, RDV_ECONN, "add: %s: %s", rdv_status_name(rc),
                 rdv_store_errmsg(s));
    cr_expect(took < 1.8, "add with timeout_ms=800 took %.2f s", took);
    cr_expect(strstr(rdv_store_errmsg(s), key) != NULL, "%s",
              rdv_store_errmsg(s));
    rdv_store_close(s);
}

Test(redis_server, passwords, .fini = srv_fini, .timeout = 60)
{
    const char *wrong[] = {":nope@", "", "default:nope@"};
    char url[160], err[512];
    rdv_store *s = NULL;

    redis_server_start(&srv, 0, "s3cr%t");
    for (size_t i = 0; i < 3; i++) {
        int rc;

        snprintf(url, sizeof url, "redis://%s127.0.0.1:%d", wrong[i],
                 srv.port);
        rc = rdv_store_open(url, &s, err, sizeof err);
        cr_expect_eq(rc, RDV_EAUTH, "%s: %s: %s", url, rdv_status_name(rc),
                     err);
        cr_expect(strstr(err, "authentication failed") ||
                      strstr(err, "requires a password"),
                  "%s: unclear message: %s", url, err);
        redis_expect_named(url, err, NULL, srv.port);
        cr_expect_null(s);
    }
    /* Right password, in both spellings; '%' is percent-encoded. */
    snprintf(url, sizeof url, "redis://:s3cr%%25t@127.0.0.1:%d/2",
             srv.port);
    s = redis_open_ok(url);
    cr_expect_eq(rdv_store_set(s, "k", "v", 1, 0), RDV_OK, "%s",
                 rdv_store_errmsg(s));
    rdv_store_close(s);
    snprintf(url, sizeof url, "redis://127.0.0.1:%d?password=s3cr%%25t&"
             "user=default", srv.port);
    s = redis_open_ok(url);
    rdv_store_close(s);
}

Test(redis_server, paused_server_times_out_then_recovers, .fini = srv_fini,
     .timeout = 60)
{
    rdv_store *s;
    void *v = NULL;
    size_t len;
    double t0, took;
    int rc;

    redis_server_start(&srv, 0, NULL);
    s = redis_open_ok(srv.url);
    kill(srv.pid, SIGSTOP);
    t0 = redis_now_s();
    rc = rdv_store_get(s, "paused/key", &v, &len, 500);
    took = redis_now_s() - t0;
    kill(srv.pid, SIGCONT);
    cr_expect_eq(rc, RDV_ETIMEDOUT, "get: %s: %s", rdv_status_name(rc),
                 rdv_store_errmsg(s));
    cr_expect(took < 1.5, "get with a 500 ms timeout took %.2f s", took);
    redis_expect_named("get", rdv_store_errmsg(s), "paused/key", srv.port);
    /* The timed-out call left the store usable. */
    cr_expect_eq(rdv_store_set(s, "paused/key", "v", 1, 0), RDV_OK, "%s",
                 rdv_store_errmsg(s));
    cr_expect_eq(rdv_store_get(s, "paused/key", &v, &len, 1000), RDV_OK);
    free(v);
    rdv_store_close(s);
}

Test(redis_server, add_after_a_restart_goes_out_on_a_new_connection,
     .fini = srv_fini, .timeout = 60)
{
    rdv_store *s;
    int64_t n = 0;
    int port;

    redis_server_start(&srv, 0, NULL);
    port = srv.port;
    s = redis_open_ok(srv.url);
    cr_assert_eq(rdv_store_add(s, "restart/ctr", 5, &n), RDV_OK);
    redis_server_kill(&srv, SIGKILL);
    redis_server_start(&srv, port, NULL);
    /* add is never resent blindly, but the dead connection is noticed
     * before sending, so this add runs once on the new server. */
    cr_expect_eq(rdv_store_add(s, "restart/ctr", 1, &n), RDV_OK, "%s",
                 rdv_store_errmsg(s));
    cr_expect_eq(n, 1, "the new server's counter is %lld", (long long)n);
    rdv_store_close(s);
}

Test(redis_server, wait_on_many_keys_is_one_command_per_poll,
     .fini = srv_fini, .timeout = 60)
{
    enum { NKEYS = 100 };
    char names[NKEYS][32];
    const char *keys[NKEYS];
    long evals, exists;
    rdv_store *s;
    int rc;

    redis_server_start(&srv, 0, NULL);
    s = redis_open_ok(srv.url);
    for (int i = 0; i < NKEYS; i++) {
        snprintf(names[i], sizeof names[i], "many/%d", i);
        keys[i] = names[i];
    }
    cr_assert_eq(rdv_store_set(s, keys[7], "x", 1, 0), RDV_OK);
    rc = rdv_store_wait(s, keys, NKEYS, 200);
    cr_expect_eq(rc, RDV_ETIMEDOUT);
    cr_expect(strstr(rdv_store_errmsg(s), "99 of 100 keys missing"),
              "%s", rdv_store_errmsg(s));
    evals = calls_of("eval");
    exists = calls_of("exists");
    cr_expect(evals >= 2, "only %ld polls in 200 ms", evals);
    cr_expect_eq(exists, evals * NKEYS, "%ld EXISTS in %ld polls", exists,
                 evals);
    cr_expect_eq(calls_of("get") + calls_of("mget"), 0,
                 "a wait fetched values");
    rdv_store_close(s);
}

static void *get_thread(void *arg)
{
    waiter *w = arg;
    void *v = NULL;
    size_t len;

    w->rc = rdv_store_get(w->s, "down/key", &v, &len, 30000);
    free(v);
    return NULL;
}

Test(redis_server, close_cancels_a_get_that_is_reconnecting,
     .fini = srv_fini, .timeout = 60)
{
    waiter w = {0};
    pthread_t t;
    double t0;

    redis_server_start(&srv, 0, NULL);
    w.s = redis_open_ok(srv.url);
    redis_server_kill(&srv, SIGKILL);
    cr_assert_eq(pthread_create(&t, NULL, get_thread, &w), 0);
    /* Let the get find the server gone and enter its reconnect backoff. */
    nanosleep(&(struct timespec){0, 200000000}, NULL);
    t0 = redis_now_s();
    rdv_store_close(w.s);
    pthread_join(t, NULL);
    cr_expect_eq(w.rc, RDV_ECANCELED, "the get ended with %s",
                 rdv_status_name(w.rc));
    cr_expect(redis_now_s() - t0 < 1.0, "close took %.2f s to end the get",
              redis_now_s() - t0);
}
