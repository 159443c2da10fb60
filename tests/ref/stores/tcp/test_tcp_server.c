/*
 * test_tcp_server.c - the store server against clients that misbehave or
 * crowd it, spoken to over real loopback sockets, most of them raw (the
 * wire protocol by hand, tcp_util.c): garbage, oversized frames,
 * requests before the hello, a wrong token or version, 1024 clients
 * parked at once, a client killed while it waits, and the stale reply
 * c10d's TCPStore gives after a timed-out get.
 *
 * The server runs in a child process (tcp_util.c) and chooses its
 * backend from $RDV_TRANSPORT, so this suite runs once per backend.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
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

static void start_server(const char *token)
{
    char err[512];

    cr_assert_eq(tcp_server_spawn(&server, "127.0.0.1:0", token, 0, err,
                                  sizeof err), 0, "%s", err);
}

static void stop_server(void)
{
    tcp_server_stop(&server);
}

/* A connection past its hello. */
static int hello_ok(const char *token)
{
    int fd = raw_connect(server.port);

    cr_assert_geq(fd, 0, "connect to the server");
    cr_assert_eq(raw_hello(fd, token), RDV_OK, "hello");
    return fd;
}

/* Polls the server's counters until ok(st) or 10 s pass. */
static int stats_until(int (*ok)(const rdv_store_server_stats *, long),
                       long arg, rdv_store_server_stats *st)
{
    struct timespec tick = {0, 10 * 1000 * 1000};

    for (int i = 0; i < 1000; i++) {
        if (raw_stats(server.port, NULL, st) == 0 && ok(st, arg))
            return 1;
        nanosleep(&tick, NULL);
    }
    return 0;
}

static int dropped_at_least(const rdv_store_server_stats *st, long n)
{
    return (long)st->dropped >= n;
}

/* The connection must be closed by the server (EOF, not a reply). */
static void expect_dropped(int fd, const char *what)
{
    rdv_tcp_msg m;
    unsigned char *frame;
    int rc = raw_read(fd, &m, &frame, 5000);

    free(frame);
    cr_assert_eq(rc, -1, "%s: the server should close the connection "
                 "(raw_read %d)", what, rc);
    close(fd);
}

/* The server still serves a well-behaved client: set then get. */
static void expect_serving(void)
{
    char err[512];
    rdv_store *s;
    void *v;
    size_t len;

    cr_assert_eq(rdv_store_open(server.url, &s, err, sizeof err), RDV_OK,
                 "%s", err);
    cr_assert_eq(rdv_store_set(s, "alive", "yes", 3, 0), RDV_OK, "%s",
                 rdv_store_errmsg(s));
    cr_assert_eq(rdv_store_get(s, "alive", &v, &len, 1000), RDV_OK);
    cr_assert_eq(len, 3);
    free(v);
    rdv_store_close(s);
}

static void expect_log(const char *needle)
{
    rdv_store_server_stats st;
    char *log;

    cr_assert(stats_until(dropped_at_least, 0, &st));
    log = tcp_server_log(&server);
    cr_assert(strstr(log, needle), "the log should say '%s': %s", needle,
              log);
    free(log);
}

TestSuite(server, .init = NULL, .fini = stop_server, .timeout = 120);

Test(server, garbage_is_dropped_with_a_reason)
{
    static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    rdv_store_server_stats st;
    int fd;

    start_server(NULL);
    fd = raw_connect(server.port);
    cr_assert_geq(fd, 0);
    cr_assert_eq(raw_send(fd, http, sizeof http - 1), 0);
    expect_dropped(fd, "an HTTP request");
    cr_assert(stats_until(dropped_at_least, 1, &st), "dropped stays %llu",
              (unsigned long long)st.dropped);
    expect_log("dropped: bytes that are no frame");
    expect_serving();
}

Test(server, oversized_frame_is_dropped_before_it_is_read)
{
    rdv_tcp_buf b = {0};
    int fd;

    start_server(NULL);
    fd = hello_ok(NULL);
    /* a header announcing one byte more than any frame may have, and
     * nothing after it: the server must not wait for (or allocate) it */
    raw_begin(&b, RDV_TCP_SET, 1);
    cr_assert_eq(b.len, RDV_TCP_HDR);
    b.p[4] = (unsigned char)((RDV_TCP_BODY_MAX + 1) & 0xff);
    b.p[5] = (unsigned char)((RDV_TCP_BODY_MAX + 1) >> 8);
    b.p[6] = (unsigned char)((RDV_TCP_BODY_MAX + 1) >> 16);
    b.p[7] = (unsigned char)((RDV_TCP_BODY_MAX + 1) >> 24);
    cr_assert_eq(raw_send_buf(fd, &b), 0);
    expect_dropped(fd, "an oversized frame");
    expect_log("exceeds the");
    expect_serving();
}

/* Found while writing tests/fuzz/fuzz_tcp_frame.c: a stranger's header
 * announcing a frame under max_frame but larger than any hello made the
 * server allocate it and wait for it before knowing who was talking. */
Test(server, a_stranger_cannot_announce_more_than_a_hello)
{
    rdv_tcp_buf b = {0};
    uint32_t len = 1u << 20;
    int fd;

    start_server(NULL);
    fd = raw_connect(server.port);
    cr_assert_geq(fd, 0);
    raw_begin(&b, RDV_TCP_HELLO, 1);
    for (int i = 0; i < 4; i++)
        b.p[4 + i] = (unsigned char)(len >> (8 * i));
    cr_assert_eq(raw_send_buf(fd, &b), 0);
    expect_dropped(fd, "a 1 MiB hello");
    expect_log("exceeds the 1036-byte limit");
    expect_serving();
}

Test(server, request_before_hello_and_bad_hellos_are_dropped)
{
    rdv_tcp_buf b = {0};
    size_t st;
    int fd;

    start_server(NULL);
    fd = raw_connect(server.port);
    st = raw_begin(&b, RDV_TCP_NKEYS, 1);
    rdv_tcp_end(&b, st);
    cr_assert_eq(raw_send_buf(fd, &b), 0);
    expect_dropped(fd, "a request before the hello");
    expect_log("before its hello");

    fd = raw_connect(server.port);
    /* 0x12345678: not "RDVS" */
    cr_assert_eq(raw_hello_send(fd, 0x12345678, RDV_TCP_VERSION, NULL), 0);
    expect_dropped(fd, "a hello with the wrong magic");
    expect_log("wrong magic");

    fd = raw_connect(server.port);
    cr_assert_eq(raw_hello_send(fd, RDV_TCP_MAGIC, 99, NULL), 0);
    {
        rdv_tcp_msg m;
        unsigned char *frame;

        cr_assert_eq(raw_read(fd, &m, &frame, 5000), 0);
        cr_assert_eq(m.status, RDV_ENOTSUP, "version 99: %d", m.status);
        cr_assert(memmem(m.value.p, m.value.len, "version 99", 10));
        free(frame);
    }
    expect_dropped(fd, "a hello of another version, once answered");
    expect_serving();
}

Test(server, wrong_token_is_refused_without_printing_it)
{
    static const char secret[] = "s3cret-T0ken", guess[] = "guess-7f3a";
    char url[256], err[512];
    rdv_store *s;
    char *log;
    int fd;

    start_server(secret);
    fd = raw_connect(server.port);
    cr_assert_eq(raw_hello(fd, guess), RDV_EAUTH);
    expect_dropped(fd, "a refused client, once answered");

    snprintf(url, sizeof url, "%s?token=%s&timeout_ms=2000", server.url,
             guess);
    cr_assert_eq(rdv_store_open(url, &s, err, sizeof err), RDV_OK, "%s",
                 err);
    cr_assert_eq(rdv_store_set(s, "k", "v", 1, 0), RDV_EAUTH, "%s",
                 rdv_store_errmsg(s));
    cr_assert(strstr(rdv_store_errmsg(s), "refused the token"), "%s",
              rdv_store_errmsg(s));
    cr_assert_null(strstr(rdv_store_errmsg(s), guess), "%s",
                   rdv_store_errmsg(s));
    cr_assert_null(strstr(rdv_store_errmsg(s), secret));
    rdv_store_close(s);

    cr_assert_eq(rdv_store_open(server.url, &s, err, sizeof err), RDV_OK);
    cr_assert_eq(rdv_store_set(s, "k", "v", 1, 0), RDV_EAUTH);
    cr_assert(strstr(rdv_store_errmsg(s), "requires a token"), "%s",
              rdv_store_errmsg(s));
    rdv_store_close(s);

    snprintf(url, sizeof url, "%s?token=%s", server.url, secret);
    cr_assert_eq(rdv_store_open(url, &s, err, sizeof err), RDV_OK);
    cr_assert_eq(rdv_store_set(s, "k", "v", 1, 0), RDV_OK, "%s",
                 rdv_store_errmsg(s));
    rdv_store_close(s);

    log = tcp_server_log(&server);
    cr_assert(strstr(log, "refused: wrong token"), "%s", log);
    cr_assert(strstr(log, "refused: no token"), "%s", log);
    cr_assert_null(strstr(log, guess), "the log shows the guess: %s", log);
    cr_assert_null(strstr(log, secret), "the log shows the token: %s", log);
    free(log);
}

/* GET key with a timeout (ns; <0 none) as request id. */
static void send_get(int fd, uint64_t id, const char *key, int64_t timeout)
{
    rdv_tcp_buf b = {0};
    size_t st = raw_begin(&b, RDV_TCP_GET, id);

    rdv_tcp_put_u64(&b, (uint64_t)timeout);
    rdv_tcp_put_bytes(&b, key, strlen(key));
    rdv_tcp_end(&b, st);
    cr_assert_eq(raw_send_buf(fd, &b), 0);
}

/* SET key=val (overwrite) as request id. */
static void send_set(int fd, uint64_t id, const char *key, const char *val)
{
    rdv_tcp_buf b = {0};
    size_t st = raw_begin(&b, RDV_TCP_SET, id);

    rdv_tcp_put_u32(&b, 0);
    rdv_tcp_put_bytes(&b, key, strlen(key));
    rdv_tcp_put_bytes(&b, val, strlen(val));
    rdv_tcp_end(&b, st);
    cr_assert_eq(raw_send_buf(fd, &b), 0);
}

static void expect_reply(int fd, uint64_t id, int status, const char *val)
{
    rdv_tcp_msg m;
    unsigned char *frame;

    cr_assert_eq(raw_read(fd, &m, &frame, 5000), 0, "reply to id %llu",
                 (unsigned long long)id);
    cr_assert_eq(m.id, id, "got the reply of id %llu, want %llu",
                 (unsigned long long)m.id, (unsigned long long)id);
    cr_assert_eq(m.status, status, "id %llu: status %d, want %d",
                 (unsigned long long)id, m.status, status);
    if (val)
        cr_assert(m.value.len == strlen(val) &&
                      memcmp(m.value.p, val, m.value.len) == 0,
                  "id %llu: value '%.*s', want '%s'",
                  (unsigned long long)id, (int)m.value.len,
                  (const char *)m.value.p, val);
    free(frame);
}

/* c10d's TCPStore answers a later request with the value of a get that
 * timed out once another client sets the key. Here the server answers
 * the timeout itself, once, and nothing after it. */
Test(server, a_timed_out_get_never_answers_a_later_request)
{
    char err[512];
    rdv_store *a, *b;
    rdv_tcp_msg m;
    unsigned char *frame;
    void *v;
    size_t len;
    int64_t n;
    int fd;

    start_server(NULL);
    fd = hello_ok(NULL);
    send_get(fd, 7, "late", 100 * 1000 * 1000);
    expect_reply(fd, 7, RDV_ETIMEDOUT, NULL);
    cr_assert_eq(rdv_store_open(server.url, &b, err, sizeof err), RDV_OK);
    cr_assert_eq(rdv_store_set(b, "late", "stale!", 6, 0), RDV_OK);
    send_get(fd, 8, "other", 0);
    expect_reply(fd, 8, RDV_ETIMEDOUT, NULL);
    cr_assert_eq(raw_read(fd, &m, &frame, 300), -2,
                 "a frame arrived after every request was answered");
    close(fd);

    /* and through the store API */
    cr_assert_eq(rdv_store_open(server.url, &a, err, sizeof err), RDV_OK);
    cr_assert_eq(rdv_store_get(a, "later", &v, &len, 100), RDV_ETIMEDOUT);
    cr_assert_eq(rdv_store_set(b, "later", "stale!", 6, 0), RDV_OK);
    cr_assert_eq(rdv_store_set(a, "mine", "x", 1, 0), RDV_OK);
    cr_assert_eq(rdv_store_get(a, "mine", &v, &len, 1000), RDV_OK);
    cr_assert(len == 1 && memcmp(v, "x", 1) == 0, "got '%.*s'", (int)len,
              (char *)v);
    free(v);
    cr_assert_eq(rdv_store_add(a, "counter", 5, &n), RDV_OK);
    cr_assert_eq(n, 5);
    cr_assert_eq(rdv_store_try_get(a, "later", &v, &len), RDV_OK);
    cr_assert(len == 6 && memcmp(v, "stale!", 6) == 0);
    free(v);
    rdv_store_close(a);
    rdv_store_close(b);
}

Test(server, pipelined_requests_are_answered_in_order_by_id)
{
    rdv_tcp_buf b = {0};
    size_t st;
    int fd;

    start_server(NULL);
    fd = hello_ok(NULL);
    /* all 50 in one write */
    for (uint64_t id = 1; id <= 50; id++) {
        char key[16];

        snprintf(key, sizeof key, "k%llu", (unsigned long long)id);
        st = raw_begin(&b, RDV_TCP_SET, id);
        rdv_tcp_put_u32(&b, 0);
        rdv_tcp_put_bytes(&b, key, strlen(key));
        rdv_tcp_put_bytes(&b, key, strlen(key));
        rdv_tcp_end(&b, st);
    }
    cr_assert_eq(raw_send_buf(fd, &b), 0);
    for (uint64_t id = 1; id <= 50; id++)
        expect_reply(fd, id, RDV_OK, NULL);
    send_get(fd, 51, "k42", -1);
    expect_reply(fd, 51, RDV_OK, "k42");
    close(fd);
}

/* A timeout too far to add to any clock waits like no timeout (and
 * does not overflow into an immediate one). */
Test(server, a_huge_timeout_waits_for_the_key)
{
    rdv_tcp_msg m = {0};
    unsigned char *frame;
    int fd, setter;

    start_server(NULL);
    fd = hello_ok(NULL);
    send_get(fd, 3, "far", INT64_MAX - 1);
    cr_assert_eq(raw_read(fd, &m, &frame, 300), -2,
                 "answered at once (status %d)", m.status);
    setter = hello_ok(NULL);
    send_set(setter, 1, "far", "away");
    expect_reply(fd, 3, RDV_OK, "away");
    close(setter);
    close(fd);
}

static int waiting_is(const rdv_store_server_stats *st, long n)
{
    return (long)st->waiting == n;
}

static int clients_at_most(const rdv_store_server_stats *st, long n)
{
    return (long)st->clients <= n;
}

/* A child that blocks in get(key) with no timeout until it is killed. */
static pid_t waiter_child(const char *url, const char *key)
{
    pid_t pid;

    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        char err[512];
        rdv_store *s;
        void *v = NULL;
        size_t len;
        int rc = rdv_store_open(url, &s, err, sizeof err);

        if (rc == RDV_OK) {
            rc = rdv_store_get(s, key, &v, &len, -1);
            free(v);
            rdv_store_close(s);
        }
        exit(rc == RDV_OK ? 0 : 1);
    }
    return pid;
}

Test(server, a_client_killed_mid_wait_is_cleaned_up)
{
    rdv_store_server_stats st;
    pid_t doomed, other;
    char err[512];
    rdv_store *s;
    int status;

    start_server(NULL);
    doomed = waiter_child(server.url, "never");
    other = waiter_child(server.url, "shared");
    cr_assert(stats_until(waiting_is, 2, &st), "waiting %llu, want 2",
              (unsigned long long)st.waiting);
    kill(doomed, SIGKILL);
    waitpid(doomed, &status, 0);
    cr_assert(stats_until(waiting_is, 1, &st),
              "the killed client's wait is still parked (%llu waiting)",
              (unsigned long long)st.waiting);
    cr_assert(stats_until(clients_at_most, 2, &st),
              "%llu clients (the other waiter and this one expected)",
              (unsigned long long)st.clients);
    cr_assert_eq(rdv_store_open(server.url, &s, err, sizeof err), RDV_OK);
    cr_assert_eq(rdv_store_set(s, "shared", "go", 2, 0), RDV_OK);
    cr_assert_eq(waitpid(other, &status, 0), other);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "the other waiter did not get its key: 0x%x", status);
    rdv_store_close(s);
    cr_assert(stats_until(waiting_is, 0, &st));
    cr_assert_eq(st.dropped, 0, "a killed client is a disconnect, not a "
                 "protocol violation");
}

#define CROWD 1024

/* 1024 clients connected at once, each with a get parked on one key;
 * one set answers them all. */
Test(server, serves_1024_clients_at_once)
{
    static int fds[CROWD];
    rdv_store_server_stats st;
    long limit = tcp_raise_nofile(CROWD + 256);
    int setter;

    if (limit < CROWD + 64)
        cr_skip_test("RLIMIT_NOFILE is %ld (hard limit): 1024 clients "
                     "need about %d fds here", limit, CROWD + 64);
    start_server(NULL);
    for (int i = 0; i < CROWD; i++) {
        fds[i] = raw_connect(server.port);
        cr_assert_geq(fds[i], 0, "client %d could not connect", i);
        cr_assert_eq(raw_hello(fds[i], NULL), RDV_OK, "client %d", i);
        send_get(fds[i], (uint64_t)i + 1, "go", -1);
    }
    cr_assert(stats_until(waiting_is, CROWD, &st), "%llu waiting, want %d",
              (unsigned long long)st.waiting, CROWD);
    cr_assert_geq(st.clients, CROWD);
    setter = hello_ok(NULL);
    send_set(setter, 1, "go", "now");
    expect_reply(setter, 1, RDV_OK, NULL);
    for (int i = 0; i < CROWD; i++) {
        expect_reply(fds[i], (uint64_t)i + 1, RDV_OK, "now");
        close(fds[i]);
    }
    close(setter);
    cr_assert(stats_until(clients_at_most, 1, &st), "%llu clients left",
              (unsigned long long)st.clients);
    cr_assert_eq(st.waiting, 0);
    cr_assert_eq(st.dropped, 0);
}
