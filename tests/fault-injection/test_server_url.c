/*
 * test_server_url.c - server faults on servers named the ways a store URL
 * may name them, against private redis-servers started by PID through
 * the redis store tests' helper (tests/ref/stores/redis/redis_util.c):
 *   - an ACL user (redis://alice:secret@host, the default user off):
 *     CLIENT PAUSE logs in as "AUTH alice secret" and really pauses the
 *     server, the redis store opens with the same URL, and the ranks'
 *     URL through the proxy keeps the login and the db;
 *   - an IPv6 host (redis://[::1]:port): the proxy connects to it and
 *     traffic really goes through it, and CLIENT PAUSE reaches it.
 * A pause and the proxy's latency are judged by a lower bound only (the
 * call took at least that long), which load cannot make fail.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"
#include "rdv/store.h"
#include "redis_util.h"

static redis_server srv;

static void srv_fini(void)
{
    redis_server_stop(&srv);
}

static const char *const acl_args[] = {
    "--user", "alice", "on", ">secret", "~*", "&*", "+@all",
    "--user", "default", "off", NULL};

/* How long a set on s takes while the server is paused, in ms. */
static double set_ms(rdv_store *s, const char *key)
{
    double t0 = now_ms();

    cr_assert_eq(rdv_store_set(s, key, "v", 1, 0), RDV_OK, "%s",
                 rdv_store_errmsg(s));
    return now_ms() - t0;
}

Test(server_url, acl_user_pause_and_store, .fini = srv_fini, .timeout = 60)
{
    char url[160], opts[160], wrong[160], anon[96], err[512];
    rdv_store *s;
    void *v = NULL;
    size_t len;

    srv.args = acl_args;
    redis_server_start(&srv, 0, NULL);
    snprintf(url, sizeof url, "redis://alice:secret@127.0.0.1:%d/0",
             srv.port);
    snprintf(opts, sizeof opts, "redis://127.0.0.1:%d?user=alice&"
             "password=secret", srv.port);
    snprintf(wrong, sizeof wrong, "redis://alice:wrong@127.0.0.1:%d",
             srv.port);
    snprintf(anon, sizeof anon, "redis://127.0.0.1:%d", srv.port);

    /* The store takes the ACL login from the URL. */
    s = redis_open_ok(url);
    cr_assert_eq(rdv_store_set(s, "k", "1", 1, 0), RDV_OK, "%s",
                 rdv_store_errmsg(s));
    cr_assert_eq(rdv_store_get(s, "k", &v, &len, 1000), RDV_OK, "%s",
                 rdv_store_errmsg(s));
    free(v);

    /* The premise: without the login the server refuses. */
    cr_assert_eq(rdv_fault_redis_pause(anon, 10, err, sizeof err), RDV_EIO,
                 "the default user must be off: %s", err);
    cr_expect_eq(rdv_fault_redis_pause(wrong, 10, err, sizeof err), RDV_EIO);
    cr_expect(strstr(err, "AUTH") && strstr(err, "alice:***@") &&
                  !strstr(err, "wrong@"),
              "%s", err);

    /* user:password@ and ?user=&password= both log in and pause. */
    cr_assert_eq(rdv_fault_redis_pause(url, 300, err, sizeof err), RDV_OK,
                 "%s", err);
    cr_expect_geq(set_ms(s, "after-pause"), 200.0, "the pause was not "
                  "observed");
    cr_assert_eq(rdv_fault_redis_pause(opts, 300, err, sizeof err), RDV_OK,
                 "%s", err);
    cr_expect_geq(set_ms(s, "after-pause-2"), 200.0, "the pause was not "
                  "observed");
    rdv_store_close(s);
}

Test(server_url, acl_user_through_the_proxy, .fini = srv_fini,
     .timeout = 60)
{
    rdv_fault_plan *p = plan_of("server.latency(ms=1)");
    char url[160], want[160], rank_url[256], err[512];
    rdv_fault_server *drv;
    rdv_store *direct, *via;
    void *v = NULL;
    size_t len;

    srv.args = acl_args;
    redis_server_start(&srv, 0, NULL);
    snprintf(url, sizeof url, "redis://alice:secret@127.0.0.1:%d/3?"
             "timeout_ms=3000", srv.port);
    cr_assert_eq(rdv_fault_server_start(p, 1, url, rank_url, sizeof rank_url,
                                        &drv, err, sizeof err),
                 RDV_OK, "%s", err);
    snprintf(want, sizeof want, "redis://alice:secret@127.0.0.1:");
    cr_expect(!strncmp(rank_url, want, strlen(want)) &&
                  strstr(rank_url, "/3?timeout_ms=3000") &&
                  strcmp(rank_url, url),
              "the ranks' URL must keep login, db and options and go "
              "through the proxy: %s", rank_url);
    via = redis_open_ok(rank_url);
    cr_assert_eq(rdv_store_set(via, "through-proxy", "1", 1, 0), RDV_OK,
                 "%s", rdv_store_errmsg(via));
    /* Seen in db 3 of the real server: the db survived the rewrite. */
    direct = redis_open_ok(url);
    cr_expect_eq(rdv_store_get(direct, "through-proxy", &v, &len, 0), RDV_OK,
                 "%s", rdv_store_errmsg(direct));
    free(v);
    rdv_store_close(via);
    rdv_store_close(direct);
    rdv_fault_server_stop(drv);
    rdv_fault_plan_free(p);
}

/* 1 when a socket can listen on [::1] here. */
static int ipv6_loopback_works(void)
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6,
                             .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;

    if (fd >= 0)
        close(fd);
    return ok;
}

Test(server_url, ipv6_host_through_the_proxy_and_paused, .fini = srv_fini,
     .timeout = 60)
{
    static const char *const v6_args[] = {"--bind", "127.0.0.1", "::1",
                                          NULL};
    rdv_fault_plan *p = plan_of("server.latency(ms=100)");
    char url[96], rank_url[256], err[512];
    rdv_fault_server *drv;
    rdv_store *s;
    void *v = NULL;
    size_t len;
    double t0;

    if (!ipv6_loopback_works())
        cr_skip_test("IPv6 loopback [::1] is not usable on this machine");
    srv.args = v6_args;
    redis_server_start(&srv, 0, NULL);
    snprintf(url, sizeof url, "redis://[::1]:%d", srv.port);
    s = redis_open_ok(url); /* the premise: redis answers on [::1] */
    rdv_store_close(s);

    cr_assert_eq(rdv_fault_server_start(p, 1, url, rank_url, sizeof rank_url,
                                        &drv, err, sizeof err),
                 RDV_OK, "%s", err);
    s = redis_open_ok(rank_url);
    cr_assert_eq(rdv_store_set(s, "v6", "1", 1, 0), RDV_OK, "%s",
                 rdv_store_errmsg(s));
    cr_assert_eq(rdv_fault_server_poll(drv, 0, NULL, NULL, err, sizeof err),
                 RDV_OK, "%s", err);
    t0 = now_ms();
    cr_assert_eq(rdv_store_get(s, "v6", &v, &len, 10000), RDV_OK, "%s",
                 rdv_store_errmsg(s));
    free(v);
    cr_expect_geq(now_ms() - t0, 190.0, "latency 100 each way not seen: "
                  "the traffic did not go through the proxy");
    rdv_store_close(s);
    rdv_fault_server_stop(drv);
    rdv_fault_plan_free(p);

    s = redis_open_ok(url);
    cr_assert_eq(rdv_fault_redis_pause(url, 300, err, sizeof err), RDV_OK,
                 "%s", err);
    cr_expect_geq(set_ms(s, "v6-after-pause"), 200.0, "the pause on [::1] "
                  "was not observed");
    rdv_store_close(s);
}
