/*
 * test_redis_faults.c - the redis store under server faults, against
 * real servers the test controls by PID:
 *   - a private redis-server killed and restarted on the same port: an op
 *     keeps reconnecting until its own deadline, and one that never gets
 *     through ends with RDV_ECONN at that deadline, not early;
 *   - a loopback socket that accepts and never answers: open fails in
 *     time, wherever it is in its login;
 *   - the fault library's proxy (rdv/fault_proxy.h, in a forked child)
 *     blackholing a live server: calls time out within the deadline, and
 *     a call caught by the blackhole completes once it ends instead of
 *     waiting on a dead connection.
 * Every failure must arrive within its deadline + 1 s and name host:port
 * and the key. Waits for a thread to be inside its call are short naps:
 * if the machine is slow the call merely starts later, and the assertions
 * still hold.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rdv/fault_proxy.h"
#include "rdv/store.h"
#include "redis_util.h"

static redis_server srv;

/* The proxy child: its PID, the pipe ends that carry commands and
 * replies, and the port it listens on. */
typedef struct proxy_child {
    pid_t pid;
    int cmd;
    int reply;
    int port;
} proxy_child;

static proxy_child px = {.cmd = -1, .reply = -1};

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Reads one reply line from the proxy child, at most 10 s. */
static void proxy_read_line(char *buf, size_t cap)
{
    size_t n = 0;

    while (n + 1 < cap) {
        struct pollfd p = {px.reply, POLLIN, 0};
        ssize_t r;

        cr_assert_gt(poll(&p, 1, 10000), 0, "the proxy child went quiet");
        r = read(px.reply, buf + n, 1);
        if (r < 0 && errno == EINTR)
            continue;
        cr_assert_eq(r, 1, "the proxy child exited");
        if (buf[n] == '\n')
            break;
        n++;
    }
    buf[n] = '\0';
}

static void proxy_child_main(int in, int out, int target)
{
    rdv_fault_proxy *p;
    char err[256], line[32];
    int rc;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (rdv_fault_proxy_create(0, "127.0.0.1", target, &p, err, sizeof err)) {
        fprintf(stderr, "proxy: %s\n", err);
        exit(1);
    }
    snprintf(line, sizeof line, "%d\n", rdv_fault_proxy_port(p));
    if (write(out, line, strlen(line)) < 0)
        exit(1);
    rc = rdv_fault_proxy_serve(p, in, out);
    rdv_fault_proxy_destroy(p);
    exit(rc == RDV_OK ? 0 : 1);
}

/* Forks a proxy child in front of 127.0.0.1:target. */
static void proxy_start(int target)
{
    int down[2], up[2];
    char line[32];

    cr_assert_eq(pipe2(down, O_CLOEXEC), 0);
    cr_assert_eq(pipe2(up, O_CLOEXEC), 0);
    px.pid = fork();
    cr_assert_geq(px.pid, 0, "fork: %s", strerror(errno));
    if (px.pid == 0) {
        close(down[1]);
        close(up[0]);
        proxy_child_main(down[0], up[1], target);
    }
    close(down[0]);
    close(up[1]);
    px.cmd = down[1];
    px.reply = up[0];
    proxy_read_line(line, sizeof line);
    px.port = atoi(line);
    cr_assert_gt(px.port, 0, "the proxy child said '%s'", line);
}

/* Runs one proxy command; the reply must be "ok ...". */
static void proxy_say(const char *cmd)
{
    char line[256];

    cr_assert_gt(dprintf(px.cmd, "%s\n", cmd), 0);
    proxy_read_line(line, sizeof line);
    cr_assert(strncmp(line, "ok", 2) == 0, "proxy '%s': %s", cmd, line);
}

static void proxy_stop(void)
{
    if (px.pid > 0) {
        close(px.cmd); /* end of input: the child stops serving */
        while (waitpid(px.pid, NULL, 0) < 0 && errno == EINTR)
            ;
        close(px.reply);
    }
    px = (proxy_child){.cmd = -1, .reply = -1};
}

static void fini(void)
{
    proxy_stop();
    redis_server_stop(&srv);
}

/* "redis://127.0.0.1:port" plus an optional "?..." tail. */
static void url_of(char *buf, size_t cap, int port, const char *tail)
{
    snprintf(buf, cap, "redis://127.0.0.1:%d%s", port, tail ? tail : "");
}

/* A call run on another thread while the test breaks the server. */
typedef struct call {
    pthread_t thread;
    rdv_store *s;
    const char *url; /* open_get: the store to open */
    const char *key;
    int timeout_ms;
    atomic_int started;
    int rc;
    int64_t n;
    void *val;
    size_t len;
    char err[1024];
} call;

static void *get_main(void *arg)
{
    call *c = arg;

    atomic_store(&c->started, 1);
    c->rc = rdv_store_get(c->s, c->key, &c->val, &c->len, c->timeout_ms);
    snprintf(c->err, sizeof c->err, "%s", rdv_store_errmsg(c->s));
    return NULL;
}

/* A create-only set, then an add of 5: neither may run twice. */
static void *set_add_main(void *arg)
{
    call *c = arg;

    atomic_store(&c->started, 1);
    c->rc = rdv_store_set(c->s, "once/key", "v", 1, RDV_SET_CREATE_ONLY);
    if (c->rc == RDV_OK)
        c->rc = rdv_store_add(c->s, "once/ctr", 5, &c->n);
    snprintf(c->err, sizeof c->err, "%s", rdv_store_errmsg(c->s));
    return NULL;
}

/* Opens c->url, then gets c->key. */
static void *open_get_main(void *arg)
{
    call *c = arg;

    atomic_store(&c->started, 1);
    c->rc = rdv_store_open(c->url, &c->s, c->err, sizeof c->err);
    if (c->rc == RDV_OK)
        get_main(c);
    return NULL;
}

/* Starts fn on c and returns once the thread is about to make its call,
 * plus ms, so the call is under way when the test acts. */
static void call_start(call *c, void *(*fn)(void *), long ms)
{
    cr_assert_eq(pthread_create(&c->thread, NULL, fn, c), 0);
    while (!atomic_load(&c->started))
        nap_ms(1);
    nap_ms(ms);
}

Test(redis_faults, an_op_begun_while_the_server_is_down_waits_for_it,
     .fini = fini, .timeout = 60)
{
    call c = {.key = "restart/late", .timeout_ms = 10000};
    rdv_store *writer;
    double t0;

    redis_server_start(&srv, 0, NULL);
    c.s = redis_open_ok(srv.url);
    redis_server_kill(&srv, SIGKILL);
    t0 = redis_now_s();
    /* Refused for 400 ms, well past the ~40 ms an early give-up took. */
    call_start(&c, get_main, 400);
    redis_server_start(&srv, srv.port, NULL);
    writer = redis_open_ok(srv.url);
    cr_assert_eq(rdv_store_set(writer, c.key, "late", 4, 0), RDV_OK);
    pthread_join(c.thread, NULL);
    cr_expect_eq(c.rc, RDV_OK, "the get ended with %s: %s",
                 rdv_status_name(c.rc), c.err);
    cr_expect(c.rc != RDV_OK || (c.len == 4 && !memcmp(c.val, "late", 4)),
              "wrong value");
    cr_expect(redis_now_s() - t0 < 11.0, "the get outlived its deadline");
    free(c.val);
    rdv_store_close(writer);
    rdv_store_close(c.s);
}

Test(redis_faults, refused_writes_that_never_left_are_retried_once,
     .fini = fini, .timeout = 60)
{
    char url[160];
    call c = {0};
    redisContext *admin;
    redisReply *r;

    redis_server_start(&srv, 0, NULL);
    url_of(url, sizeof url, srv.port, "?timeout_ms=10000");
    c.s = redis_open_ok(url);
    redis_server_kill(&srv, SIGKILL);
    /* Not idempotent, but refused before a byte was sent: safe to retry
     * until the server is back, and then run exactly once. */
    call_start(&c, set_add_main, 400);
    redis_server_start(&srv, srv.port, NULL);
    pthread_join(c.thread, NULL);
    cr_expect_eq(c.rc, RDV_OK, "set/add ended with %s: %s",
                 rdv_status_name(c.rc), c.err);
    cr_expect_eq(c.n, 5, "add returned %lld", (long long)c.n);
    admin = redis_admin(srv.url);
    r = redisCommand(admin, "GET once/ctr");
    cr_expect(r && r->type == REDIS_REPLY_STRING && !strcmp(r->str, "5"),
              "the server's counter is not 5");
    freeReplyObject(r);
    redisFree(admin);
    rdv_store_close(c.s);
}

Test(redis_faults, refused_to_the_end_is_econn_at_the_deadline,
     .fini = fini, .timeout = 60)
{
    const char *keys[] = {"down/a", "down/b"};
    rdv_store *s;
    void *v = NULL;
    size_t len;
    double t0, took;
    int rc;

    redis_server_start(&srv, 0, NULL);
    s = redis_open_ok(srv.url);
    redis_server_kill(&srv, SIGKILL);

    t0 = redis_now_s();
    rc = rdv_store_get(s, "down/key", &v, &len, 1500);
    took = redis_now_s() - t0;
    cr_expect_eq(rc, RDV_ECONN, "get: %s: %s", rdv_status_name(rc),
                 rdv_store_errmsg(s));
    /* It kept trying until its deadline, and no longer. */
    cr_expect(took >= 1.45 && took < 2.5,
              "get with a 1500 ms timeout gave up after %.3f s", took);
    redis_expect_named("get", rdv_store_errmsg(s), "down/key", srv.port);
    cr_expect(strstr(rdv_store_errmsg(s), "attempts in"), "%s",
              rdv_store_errmsg(s));

    t0 = redis_now_s();
    rc = rdv_store_wait(s, keys, 2, 700);
    took = redis_now_s() - t0;
    cr_expect_eq(rc, RDV_ECONN, "wait: %s: %s", rdv_status_name(rc),
                 rdv_store_errmsg(s));
    cr_expect(took >= 0.65 && took < 1.7,
              "wait with a 700 ms timeout gave up after %.3f s", took);
    redis_expect_named("wait", rdv_store_errmsg(s), "down/a", srv.port);
    rdv_store_close(s);
}

Test(redis_faults, open_against_a_silent_server_times_out_in_its_login,
     .fini = fini, .timeout = 60)
{
    /* PING, AUTH, SELECT: each step of a login must be bounded. */
    const char *tails[] = {"?timeout_ms=700", "/3?timeout_ms=700",
                           "?timeout_ms=700&password=pw"};
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    /* Listens, so connects succeed, and never accepts or answers. */
    cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
              listen(fd, 64) == 0 &&
              getsockname(fd, (struct sockaddr *)&a, &alen) == 0);
    for (size_t i = 0; i < sizeof tails / sizeof *tails; i++) {
        char url[160], err[512];
        rdv_store *s = NULL;
        double t0 = redis_now_s(), took;
        int rc;

        url_of(url, sizeof url, ntohs(a.sin_port), tails[i]);
        rc = rdv_store_open(url, &s, err, sizeof err);
        took = redis_now_s() - t0;
        cr_expect_eq(rc, RDV_ETIMEDOUT, "%s: %s: %s", url,
                     rdv_status_name(rc), err);
        cr_expect(took < 1.7, "%s: open took %.2f s", url, took);
        redis_expect_named(url, err, NULL, ntohs(a.sin_port));
        cr_expect_null(s);
    }
    close(fd);
}

Test(redis_faults, blackholed_calls_end_in_time_and_the_store_recovers,
     .fini = fini, .timeout = 60)
{
    char url[160];
    rdv_store *s;
    void *v = NULL;
    size_t len;
    int64_t n = 0;
    double t0, took;
    int rc;

    redis_server_start(&srv, 0, NULL);
    proxy_start(srv.port);
    url_of(url, sizeof url, px.port, "?timeout_ms=700");
    s = redis_open_ok(url);
    cr_assert_eq(rdv_store_set(s, "bh/key", "v", 1, 0), RDV_OK);
    proxy_say("blackhole");

    t0 = redis_now_s();
    rc = rdv_store_get(s, "bh/key", &v, &len, 800);
    took = redis_now_s() - t0;
    cr_expect_eq(rc, RDV_ETIMEDOUT, "get: %s: %s", rdv_status_name(rc),
                 rdv_store_errmsg(s));
    cr_expect(took < 1.8, "get with an 800 ms timeout took %.2f s", took);
    redis_expect_named("get", rdv_store_errmsg(s), "bh/key", px.port);

    /* Not idempotent: never resent, so it waits out timeout_ms and says
     * that its outcome is unknown. */
    t0 = redis_now_s();
    rc = rdv_store_add(s, "bh/ctr", 1, &n);
    took = redis_now_s() - t0;
    cr_expect_eq(rc, RDV_ETIMEDOUT, "add: %s: %s", rdv_status_name(rc),
                 rdv_store_errmsg(s));
    cr_expect(took < 1.7, "add with timeout_ms=700 took %.2f s", took);
    redis_expect_named("add", rdv_store_errmsg(s), "bh/ctr", px.port);
    cr_expect(strstr(rdv_store_errmsg(s), "outcome is unknown"), "%s",
              rdv_store_errmsg(s));

    /* The timed-out connections were dropped; new ones work. */
    proxy_say("pass");
    cr_expect_eq(rdv_store_get(s, "bh/key", &v, &len, 2000), RDV_OK, "%s",
                 rdv_store_errmsg(s));
    free(v);
    rdv_store_close(s);
}

Test(redis_faults, a_call_caught_by_a_blackhole_completes_when_it_ends,
     .fini = fini, .timeout = 60)
{
    char url[160];
    call get = {.key = "bh/key", .timeout_ms = 8000};
    call open = {.url = url, .key = "bh/key", .timeout_ms = 8000};
    rdv_store *s;
    double t0;

    redis_server_start(&srv, 0, NULL);
    proxy_start(srv.port);
    url_of(url, sizeof url, px.port, "?timeout_ms=8000");
    s = redis_open_ok(url);
    cr_assert_eq(rdv_store_set(s, "bh/key", "v", 1, 0), RDV_OK);
    get.s = s;
    proxy_say("blackhole");
    /* A get in flight, and a store being opened (PING lost), both
     * swallowed; they must not wait on their dead connections for 8 s. */
    t0 = redis_now_s();
    call_start(&get, get_main, 0);
    call_start(&open, open_get_main, 600);
    proxy_say("pass");
    pthread_join(get.thread, NULL);
    pthread_join(open.thread, NULL);
    cr_expect_eq(get.rc, RDV_OK, "get: %s: %s", rdv_status_name(get.rc),
                 get.err);
    cr_expect_eq(open.rc, RDV_OK, "open+get: %s: %s",
                 rdv_status_name(open.rc), open.err);
    cr_expect(redis_now_s() - t0 < 8.0, "recovery took %.2f s",
              redis_now_s() - t0);
    free(get.val);
    free(open.val);
    if (open.s)
        rdv_store_close(open.s);
    rdv_store_close(s);
}
