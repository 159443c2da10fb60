/*
 * test_tcp_store.c - the tcp:// store's client across the server's life:
 * a restart (clients reconnect within their deadline, a parked get is
 * sent again), serve=1 (the first opener serves, the next one after it
 * closes serves again), an add whose connection breaks (outcome
 * unknown), threads sharing one handle, and URLs it refuses.
 *
 * Servers run in child processes (tcp_util.c); clients that must block
 * while the test acts run in children too, so this process never has a
 * thread when it forks. Durations are bounded generously (label
 * timing): a reconnect must land within the call's deadline + 1 s.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rdv/store.h"
#include "tcp_util.h"

static tcp_server_proc server;

static void cleanup(void)
{
    tcp_server_stop(&server);
}

TestSuite(store, .fini = cleanup, .timeout = 120);

static void spawn_on(const char *bind)
{
    char err[512];

    cr_assert_eq(tcp_server_spawn(&server, bind, NULL, 0, err, sizeof err),
                 0, "%s", err);
}

static rdv_store *open_ok(const char *url)
{
    char err[512];
    rdv_store *s = NULL;

    cr_assert_eq(rdv_store_open(url, &s, err, sizeof err), RDV_OK, "%s: %s",
                 url, err);
    return s;
}

static void sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000};

    nanosleep(&t, NULL);
}

static double now_ms(void)
{
    return (double)rdv_now_ns() / 1e6;
}

/* Reaps pid; true when it exited 0. */
static int reaped_ok(pid_t pid)
{
    int st;

    cr_assert_eq(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* A child that gets key through s (inherited: it must reconnect in the
 * child) within timeout_ms and checks the value. */
static pid_t get_in_child(rdv_store *s, const char *key, const char *want,
                          int timeout_ms)
{
    pid_t pid;

    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        void *v = NULL;
        size_t len = 0;
        int rc = rdv_store_get(s, key, &v, &len, timeout_ms);
        int ok = rc == RDV_OK && len == strlen(want) &&
                 memcmp(v, want, len) == 0;

        if (!ok)
            fprintf(stderr, "child get '%s': %s: %s\n", key,
                    rdv_status_name(rc), rdv_store_errmsg(s));
        free(v);
        exit(ok ? 0 : 1);
    }
    return pid;
}

Test(store, clients_reconnect_to_a_restarted_server)
{
    char bind[64];
    rdv_store *s, *t;
    double t0;
    pid_t getter;
    int port;

    spawn_on("127.0.0.1:0");
    port = server.port;
    snprintf(bind, sizeof bind, "127.0.0.1:%d", port);
    s = open_ok(server.url);
    cr_assert_eq(rdv_store_set(s, "before", "1", 1, 0), RDV_OK);

    /* a get parked on the server when it dies is sent again to the next */
    getter = get_in_child(s, "after", "2", 8000);
    sleep_ms(300);
    tcp_server_kill(&server, SIGKILL);
    sleep_ms(300);
    spawn_on(bind);
    cr_assert_eq(server.port, port);
    t = open_ok(server.url);
    cr_assert_eq(rdv_store_set(t, "after", "2", 1, 0), RDV_OK, "%s",
                 rdv_store_errmsg(t));
    cr_assert(reaped_ok(getter), "the parked get did not survive the "
              "restart");

    /* a set while no server runs lands once the next one is up */
    tcp_server_kill(&server, SIGKILL);
    fflush(NULL);
    t0 = now_ms();
    pid_t setter = fork();
    if (setter == 0) {
        int rc = rdv_store_set(s, "during", "3", 1, 0);

        if (rc)
            fprintf(stderr, "child set: %s\n", rdv_store_errmsg(s));
        exit(rc == RDV_OK ? 0 : 1);
    }
    sleep_ms(400);
    spawn_on(bind);
    cr_assert(reaped_ok(setter), "the set did not reconnect within its "
              "deadline (5 s)");
    cr_assert_lt(now_ms() - t0, 6000, "took %.0f ms", now_ms() - t0);
    rdv_store_close(t);
    t = open_ok(server.url);
    {
        void *v;
        size_t len;

        cr_assert_eq(rdv_store_get(t, "during", &v, &len, 1000), RDV_OK);
        free(v);
        /* the keys of the killed server are gone with it */
        cr_assert_eq(rdv_store_try_get(t, "before", &v, &len),
                     RDV_ENOTFOUND);
    }
    rdv_store_close(t);
    rdv_store_close(s);
}

Test(store, no_server_fails_at_the_deadline_naming_it)
{
    char url[256];
    rdv_store *s;
    double t0;
    int rc;

    spawn_on("127.0.0.1:0");
    snprintf(url, sizeof url, "%s?timeout_ms=500", server.url);
    tcp_server_stop(&server);
    s = open_ok(url);
    t0 = now_ms();
    rc = rdv_store_set(s, "k", "v", 1, 0);
    cr_assert_eq(rc, RDV_ECONN, "%s", rdv_status_name(rc));
    cr_assert_lt(now_ms() - t0, 1500, "took %.0f ms", now_ms() - t0);
    cr_assert(strstr(rdv_store_errmsg(s), "127.0.0.1") &&
                  strstr(rdv_store_errmsg(s), "refused"),
              "%s", rdv_store_errmsg(s));
    rdv_store_close(s);
}

Test(store, add_on_a_broken_connection_says_its_outcome_is_unknown)
{
    int up[2], down[2];
    char c = 0;
    pid_t adder;

    spawn_on("127.0.0.1:0");
    cr_assert_eq(pipe(up), 0);
    cr_assert_eq(pipe(down), 0);
    fflush(NULL);
    adder = fork();
    if (adder == 0) {
        rdv_store *s = open_ok(server.url);
        int64_t v;
        int rc, ok;

        /* connected and past the hello before the server stops */
        if (rdv_store_set(s, "warm", "up", 2, 0) != RDV_OK ||
            write(up[1], "r", 1) != 1 || read(down[0], &c, 1) != 1)
            exit(2);
        rc = rdv_store_add(s, "counter", 1, &v);
        ok = rc == RDV_ECONN &&
             strstr(rdv_store_errmsg(s), "outcome is unknown");
        if (!ok)
            fprintf(stderr, "child add: %s: %s\n", rdv_status_name(rc),
                    rdv_store_errmsg(s));
        rdv_store_close(s);
        exit(ok ? 0 : 1);
    }
    cr_assert_eq(read(up[0], &c, 1), 1, "the child did not connect");
    tcp_server_kill(&server, SIGSTOP); /* the add will go unanswered */
    cr_assert_eq(write(down[1], "g", 1), 1);
    sleep_ms(500); /* the add is on the wire by now */
    tcp_server_kill(&server, SIGKILL);
    cr_assert(reaped_ok(adder), "an add cut off by a dying server must "
              "fail RDV_ECONN saying its outcome is unknown");
}

/* A child holding tcp://...?serve=1 open until its pipe closes; it says
 * "1" once open, and whether it serves. */
static pid_t holder(const char *url, int *ctl, int *serving)
{
    int up[2], down[2];
    char c = 0;
    pid_t pid;

    cr_assert_eq(pipe(up), 0);
    cr_assert_eq(pipe(down), 0);
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        char err[512];
        rdv_store *s;
        int rc;

        close(up[0]);
        close(down[1]);
        rc = rdv_store_open(url, &s, err, sizeof err);
        c = rc == RDV_OK ? '1' : '0';
        if (write(up[1], &c, 1) != 1 || rc != RDV_OK)
            exit(1);
        while (read(down[0], &c, 1) > 0)
            ;
        rdv_store_close(s);
        exit(0);
    }
    close(up[1]);
    close(down[0]);
    cr_assert_eq(read(up[0], &c, 1), 1);
    close(up[0]);
    *ctl = down[1];
    *serving = c == '1';
    return pid;
}

Test(store, serve_1_first_opener_serves_and_the_next_one_after_it)
{
    char url[256];
    rdv_store *h;
    void *v;
    size_t len;
    int ctl, ok, port;
    pid_t a, d;

    spawn_on("127.0.0.1:0"); /* only to learn a free port */
    port = server.port;
    tcp_server_stop(&server);
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d?serve=1", port);

    a = holder(url, &ctl, &ok);
    cr_assert(ok, "the first serve=1 opener failed");
    h = open_ok(url); /* the address is taken: a plain client */
    cr_assert_eq(rdv_store_set(h, "x", "1", 1, 0), RDV_OK, "%s",
                 rdv_store_errmsg(h));
    close(ctl); /* the serving handle closes: its server goes */
    cr_assert(reaped_ok(a));

    d = holder(url, &ctl, &ok); /* the next opener serves */
    cr_assert(ok);
    cr_assert_eq(rdv_store_set(h, "z", "2", 1, 0), RDV_OK, "%s",
                 rdv_store_errmsg(h));
    cr_assert_eq(rdv_store_try_get(h, "x", &v, &len), RDV_ENOTFOUND,
                 "the first server's keys went with it");
    cr_assert_eq(rdv_store_get(h, "z", &v, &len, 1000), RDV_OK);
    free(v);
    rdv_store_close(h);
    close(ctl);
    cr_assert(reaped_ok(d));
}

typedef struct blocked {
    rdv_store *s;
    int rc;
} blocked;

static void *get_slow(void *arg)
{
    blocked *b = arg;
    void *v = NULL;
    size_t len;

    b->rc = rdv_store_get(b->s, "from-main", &v, &len, 10000);
    free(v);
    return NULL;
}

Test(store, threads_share_a_handle_without_waiting_on_each_other)
{
    blocked b = {NULL, -1};
    pthread_t t;

    spawn_on("127.0.0.1:0");
    b.s = open_ok(server.url);
    cr_assert_eq(pthread_create(&t, NULL, get_slow, &b), 0);
    sleep_ms(200); /* the get is parked on the server */
    cr_assert_eq(rdv_store_set(b.s, "from-main", "hi", 2, 0), RDV_OK, "%s",
                 rdv_store_errmsg(b.s));
    pthread_join(t, NULL);
    cr_assert_eq(b.rc, RDV_OK, "the other thread's get: %s",
                 rdv_status_name(b.rc));
    rdv_store_close(b.s);
}

Test(store, bad_urls_are_refused_naming_the_part)
{
    static const struct {
        const char *url, *want;
    } cases[] = {
        {"tcp:", "expected tcp://host:port"},
        {"tcp://:29500", "expected tcp://host:port"},
        {"tcp://h:1/path", "takes no path"},
        {"tcp://u:pw@h:1", "takes no login"},
        {"tcp://h:1?timeout_ms=0", "timeout_ms"},
        {"tcp://h:1?serve=2", "serve"},
        {"tcp://h:1?spin_us=1001", "spin_us"},
        {"tcp://h:1?spin_us=-1", "spin_us"},
        {"tcp://h:1?tokn=x", "tokn"},
        {"tcp://h:1?token=SECRET&bogus=1", "bogus"},
    };
    char err[512];
    rdv_store *s;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_eq(rdv_store_open(cases[i].url, &s, err, sizeof err),
                     RDV_EINVAL, "%s was accepted", cases[i].url);
        cr_assert(strstr(err, cases[i].want), "%s: '%s', want '%s'",
                  cases[i].url, err, cases[i].want);
        cr_assert_null(strstr(err, "SECRET"), "the token shows: %s", err);
    }
}
