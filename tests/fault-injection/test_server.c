/*
 * test_server.c - server faults against a real redis-server (the one
 * ci/services/redis starts; skipped when $RDV_TEST_REDIS_URL is unset):
 * CLIENT PAUSE really holds a store call back, and the proxy from
 * rdv/fault_proxy.h, run in a forked child of this test, puts latency
 * and resets between a redis store and the server, which the store
 * rides out (both are non-fatal faults), and the server-fault driver
 * the harness uses fires a plan's timeline through its own proxy child.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "rdv/fault_proxy.h"
#include "rdv/store.h"
#include "rdv/url.h"

static const char *redis_url(void)
{
    const char *url = getenv("RDV_TEST_REDIS_URL");

    if (!url || !*url)
        cr_skip_test("RDV_TEST_REDIS_URL is not set "
                     "(eval \"$(ci/services/redis start DIR)\")");
    return url;
}

static rdv_store *open_store(const char *url)
{
    char full[512], err[512], prefix[64];
    rdv_store *s;

    snprintf(prefix, sizeof prefix, "rdv-fault-test-%d", (int)getpid());
    cr_assert_eq(rdv_url_with_option(url, "prefix", prefix, full,
                                     sizeof full, err, sizeof err), RDV_OK,
                 "%s", err);
    cr_assert_eq(rdv_store_open(full, &s, err, sizeof err), RDV_OK, "%s: %s",
                 full, err);
    return s;
}

static void close_store(rdv_store *s)
{
    rdv_store_delete_prefix(s, "", NULL);
    rdv_store_close(s);
}

Test(server, client_pause_holds_store_calls_back)
{
    const char *url = redis_url();
    rdv_store *s = open_store(url);
    char err[256];
    double t0;

    cr_assert_eq(rdv_store_set(s, "warm", "1", 1, 0), RDV_OK);
    cr_assert_eq(rdv_fault_redis_pause(url, 300, err, sizeof err), RDV_OK,
                 "%s", err);
    t0 = now_ms();
    cr_assert_eq(rdv_store_set(s, "k", "v", 1, 0), RDV_OK,
                 "a pause shorter than the timeout is not fatal: %s",
                 rdv_store_errmsg(s));
    cr_assert_geq(now_ms() - t0, 200.0, "the pause was not observed");
    close_store(s);
}

Test(server, pause_refuses_what_is_not_redis)
{
    char err[256];

    cr_assert_eq(rdv_fault_redis_pause("file:///tmp/x", 10, err, sizeof err),
                 RDV_EINVAL);
    cr_assert(strstr(err, "not a redis:// or unix:// store URL"), "%s", err);
    cr_assert_eq(rdv_fault_redis_pause("redis://127.0.0.1:1", 10, err,
                                       sizeof err), RDV_ECONN);
    cr_assert(strstr(err, "cannot connect"), "%s", err);
}

static pid_t proxy_pid = -1;
static int proxy_in = -1, proxy_out = -1;

/* Runs the library proxy in a forked child, in front of redis. */
static int start_proxy(const char *url)
{
    int in[2], out[2], port;
    rdv_fault_proxy *p;
    char err[256];
    rdv_url u;

    cr_assert_eq(rdv_url_parse(url, &u, err, sizeof err), RDV_OK, "%s", err);
    if (strcmp(u.scheme, "redis"))
        cr_skip_test("this test needs a redis://host:port URL, got %s",
                     u.redacted);
    cr_assert_eq(rdv_fault_proxy_create(0, u.host, rdv_url_port(&u), &p, err,
                                        sizeof err),
                 RDV_OK, "%s", err);
    rdv_url_free(&u);
    cr_assert_eq(pipe2(in, O_CLOEXEC), 0);
    cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
    proxy_pid = fork();
    cr_assert_geq(proxy_pid, 0);
    if (proxy_pid == 0) {
        close(in[1]);
        close(out[0]);
        rdv_fault_proxy_serve(p, in[0], out[1]);
        rdv_fault_proxy_destroy(p);
        exit(0);
    }
    close(in[0]);
    close(out[1]);
    proxy_in = in[1];
    proxy_out = out[0];
    port = rdv_fault_proxy_port(p);
    rdv_fault_proxy_destroy(p); /* the child serves its own copy */
    return port;
}

static void proxy_say(const char *cmd, const char *want)
{
    char line[256];
    size_t o = 0;

    cr_assert_eq(write(proxy_in, cmd, strlen(cmd)), (ssize_t)strlen(cmd));
    while (o + 1 < sizeof line) {
        struct pollfd p = {.fd = proxy_out, .events = POLLIN};

        cr_assert_eq(poll(&p, 1, 10000), 1);
        cr_assert_eq(read(proxy_out, line + o, 1), 1);
        if (line[o] == '\n')
            break;
        o++;
    }
    line[o] = '\0';
    cr_assert(!strncmp(line, want, strlen(want)), "'%s' -> '%s'", cmd, line);
}

static void stop_proxy(void)
{
    int st;

    if (proxy_in >= 0)
        close(proxy_in);
    if (proxy_pid > 0)
        waitpid(proxy_pid, &st, 0);
    if (proxy_out >= 0)
        close(proxy_out);
}

Test(server, store_rides_out_proxy_latency_and_reset, .fini = stop_proxy)
{
    const char *url = redis_url();
    char via[128];
    rdv_store *s;
    void *v = NULL;
    size_t len;
    double t0;

    snprintf(via, sizeof via, "redis://127.0.0.1:%d", start_proxy(url));
    s = open_store(via);
    cr_assert_eq(rdv_store_set(s, "a", "1", 1, 0), RDV_OK, "%s",
                 rdv_store_errmsg(s));
    proxy_say("latency 100\n", "ok latency 100");
    t0 = now_ms();
    cr_assert_eq(rdv_store_get(s, "a", &v, &len, 10000), RDV_OK, "%s",
                 rdv_store_errmsg(s));
    free(v);
    cr_assert_geq(now_ms() - t0, 190.0, "latency not observed");
    proxy_say("pass\n", "ok pass");
    proxy_say("reset\n", "ok reset");
    v = NULL;
    cr_assert_eq(rdv_store_get(s, "a", &v, &len, 10000), RDV_OK,
                 "the redis store must reconnect after a reset: %s",
                 rdv_store_errmsg(s));
    cr_assert_eq(len, 1);
    free(v);
    close_store(s);
}

Test(server_driver, fires_the_timeline_through_the_proxy)
{
    const char *url = redis_url();
    rdv_fault_plan *p = plan_of("server.latency(ms=100); server.blackhole("
                                "after=500, ms=300); server.restart(after="
                                "900)");
    rdv_fault_server *drv;
    char rank_url[512], err[256];
    int next = -2, restart = -1;
    rdv_store *s;
    void *v = NULL;
    size_t len;
    double t0;

    if (rdv_fault_server_check(p, url, err, sizeof err))
        cr_skip_test("the proxy cannot serve this URL: %s", err);
    cr_assert_eq(rdv_fault_server_start(p, 1, url, rank_url, sizeof rank_url,
                                        &drv, err, sizeof err), RDV_OK, "%s",
                 err);
    cr_assert(strstr(rank_url, "127.0.0.1:") && strcmp(rank_url, url),
              "ranks must go through the proxy: %s", rank_url);
    s = open_store(rank_url);
    cr_assert_eq(rdv_store_set(s, "a", "1", 1, 0), RDV_OK);
    cr_assert_eq(rdv_fault_server_poll(drv, 0, &next, &restart, err,
                                       sizeof err), RDV_OK, "%s", err);
    cr_assert_eq(next, 500);
    cr_assert_eq(restart, 0);
    t0 = now_ms();
    cr_assert_eq(rdv_store_get(s, "a", &v, &len, 10000), RDV_OK);
    free(v);
    cr_assert_geq(now_ms() - t0, 190.0, "latency 100 each way not seen");
    cr_assert_eq(rdv_fault_server_poll(drv, 500, &next, &restart, err,
                                       sizeof err), RDV_OK, "%s", err);
    cr_assert_eq(next, 300, "pass comes 300 ms after the blackhole");
    cr_assert_eq(rdv_fault_server_poll(drv, 800, &next, &restart, err,
                                       sizeof err), RDV_OK, "%s", err);
    cr_assert_eq(next, 100);
    cr_assert_eq(rdv_fault_server_poll(drv, 950, &next, &restart, err,
                                       sizeof err), RDV_OK, "%s", err);
    cr_assert_eq(restart, 1, "the restart is the caller's to do");
    cr_assert_eq(next, -1);
    v = NULL;
    cr_assert_eq(rdv_store_get(s, "a", &v, &len, 10000), RDV_OK, "%s",
                 rdv_store_errmsg(s));
    free(v);
    close_store(s);
    rdv_fault_server_stop(drv);
    rdv_fault_plan_free(p);
}

Test(server_driver, refuses_a_proxy_in_front_of_a_unix_socket)
{
    rdv_fault_plan *p = plan_of("server.reset(after=10)");
    rdv_fault_server *drv = NULL;
    char rank_url[256], err[256];

    cr_assert_eq(rdv_fault_server_start(p, 1, "unix:///tmp/r.sock", rank_url,
                                        sizeof rank_url, &drv, err,
                                        sizeof err), RDV_EINVAL);
    cr_assert_null(drv);
    cr_assert(strstr(err, "needs a redis://host[:port] store URL, not "
                         "'unix:///tmp/r.sock'"), "%s", err);
    rdv_fault_plan_free(p);
}

Test(server_driver, without_server_faults_it_changes_nothing)
{
    rdv_fault_plan *p = plan_of("store.delay(ms=1)");
    rdv_fault_server *drv;
    char rank_url[256], err[256];
    int next = 0, restart = 1;

    cr_assert_eq(rdv_fault_server_start(p, 1, "file:///tmp/x", rank_url,
                                        sizeof rank_url, &drv, err,
                                        sizeof err), RDV_OK, "%s", err);
    cr_assert_str_eq(rank_url, "file:///tmp/x");
    cr_assert_eq(rdv_fault_server_poll(drv, 0, &next, &restart, err,
                                       sizeof err), RDV_OK);
    cr_assert_eq(next, -1);
    cr_assert_eq(restart, 0);
    rdv_fault_server_stop(drv);
    rdv_fault_plan_free(p);
}
